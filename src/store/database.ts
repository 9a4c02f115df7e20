/**
 * Opens the store: an embedded SQLite file by default, PostgreSQL when a
 * `postgres://` URL is given, through one Kysely code path, and brings the
 * schema up to date with the migrations in src/store/migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration } from 'kysely';
import pg from 'pg';
import * as m0001 from './migrations/0001-spaces.js';
import * as m0002 from './migrations/0002-accounts-roles-schedules.js';
import * as m0003 from './migrations/0003-recordings-clips.js';
import * as m0004 from './migrations/0004-server-keys.js';
import type { Schema } from './store-types.js';

// int8 (bigint) columns come back from node-postgres as strings; our
// bigints are ms timestamps, well inside a double's exact range.
pg.types.setTypeParser(20, (value) => Number(value));

export interface StoreOptions {
  /** `postgres://…` to use PostgreSQL (DATABASE_URL); otherwise SQLite. */
  databaseUrl: string | undefined;
  /** SQLite file, or ':memory:'. Default ./data/tribune.db. */
  sqlitePath: string;
}

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Schema>;
  dialect: Dialect;
  /** Safe to call twice. */
  close(): Promise<void>;
}

/** Every migration, in order; names sort in the order they run. */
const MIGRATIONS: Record<string, Migration> = {
  '0001-spaces': m0001,
  '0002-accounts-roles-schedules': m0002,
  '0003-recordings-clips': m0003,
  '0004-server-keys': m0004,
};

export async function openStore(options: StoreOptions): Promise<Store> {
  const postgres = options.databaseUrl !== undefined && /^postgres(ql)?:\/\//.test(options.databaseUrl);
  let db: Kysely<Schema>;
  if (postgres) {
    db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: options.databaseUrl, max: 10 }) }) });
  } else {
    if (options.sqlitePath !== ':memory:') mkdirSync(dirname(options.sqlitePath), { recursive: true });
    const sqlite = new Database(options.sqlitePath);
    // WAL: readers do not block the writer; synchronous=NORMAL is durable
    // across a process crash (not a power cut), which is the failure we plan for.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw new Error(`the store's migrations failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  let closed = false;
  return {
    db,
    dialect: postgres ? 'postgres' : 'sqlite',
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}
