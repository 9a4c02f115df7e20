/**
 * Replays and clips: whether a Space is recorded, the state of its
 * recording, and the clips cut from it. The media itself is not in SQL: it
 * is in the replay storage (src/replay), under keys these rows name.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // ADD COLUMN with a constant default is the same on SQLite and PostgreSQL.
  await db.schema.alterTable('spaces').addColumn('recorded', 'integer', (c) => c.notNull().defaultTo(0)).execute();

  await db.schema
    .createTable('recordings')
    .addColumn('space_id', 'varchar(16)', (c) => c.primaryKey().references('spaces.id').onDelete('cascade'))
    .addColumn('state', 'varchar(16)', (c) => c.notNull().check(sql`state in ('recording', 'ready', 'deleted', 'expired')`))
    .addColumn('started_at_ms', 'bigint', (c) => c.notNull())
    .addColumn('media_start_ms', 'bigint')
    .addColumn('ended_at_ms', 'bigint')
    .addColumn('duration_ms', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('segments', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('lost_parts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at_ms', 'bigint')
    .execute();
  await db.schema.createIndex('recordings_state_expiry').on('recordings').columns(['state', 'expires_at_ms']).execute();

  await db.schema
    .createTable('clips')
    .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('space_id', 'varchar(16)', (c) => c.notNull().references('spaces.id').onDelete('cascade'))
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('title', 'varchar(200)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull().check(sql`state in ('ready', 'deleted', 'expired')`))
    .addColumn('start_ms', 'bigint', (c) => c.notNull())
    .addColumn('duration_ms', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .addColumn('expires_at_ms', 'bigint')
    .execute();
  await db.schema.createIndex('clips_space').on('clips').columns(['space_id', 'created_at_ms']).execute();
  await db.schema.createIndex('clips_state_expiry').on('clips').columns(['state', 'expires_at_ms']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('clips').execute();
  await db.schema.dropTable('recordings').execute();
  await db.schema.alterTable('spaces').dropColumn('recorded').execute();
}
