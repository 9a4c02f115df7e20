/**
 * Accounts, sessions, API tokens, scheduled Spaces, roles, blocks,
 * reminders. The spaces table is rebuilt rather than altered: its state
 * CHECK gains 'scheduled' and 'cancelled', and SQLite cannot change a
 * CHECK in place; copying works the same on both databases.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('username', 'varchar(32)', (c) => c.notNull().unique())
    .addColumn('display_name', 'varchar(80)', (c) => c.notNull())
    .addColumn('password_hash', 'varchar(200)', (c) => c.notNull())
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('spaces_v2')
    .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('title', 'varchar(200)', (c) => c.notNull())
    .addColumn('description', 'varchar(2000)', (c) => c.notNull().defaultTo(''))
    .addColumn('state', 'varchar(16)', (c) =>
      c.notNull().check(sql`state in ('scheduled', 'live', 'ended', 'interrupted', 'cancelled')`),
    )
    .addColumn('host_account_id', 'varchar(16)', (c) => c.references('accounts.id'))
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .addColumn('starts_at_ms', 'bigint')
    .addColumn('started_at_ms', 'bigint')
    .addColumn('ended_at_ms', 'bigint')
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await sql`insert into spaces_v2 (id, title, description, state, host_account_id, created_at_ms, starts_at_ms, started_at_ms, ended_at_ms, revision)
            select id, title, '', state, null, created_at_ms, null, created_at_ms, ended_at_ms, revision from spaces`.execute(db);
  await db.schema.dropTable('spaces').execute();
  await db.schema.alterTable('spaces_v2').renameTo('spaces').execute();
  await db.schema.createIndex('spaces_state_starts').on('spaces').columns(['state', 'starts_at_ms']).execute();

  await db.schema
    .createTable('sessions')
    .addColumn('token_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_account').on('sessions').column('account_id').execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('name', 'varchar(80)', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at_ms', 'bigint')
    .execute();

  await db.schema
    .createTable('space_roles')
    .addColumn('space_id', 'varchar(16)', (c) => c.notNull().references('spaces.id').onDelete('cascade'))
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('role', 'varchar(16)', (c) => c.notNull().check(sql`role in ('host', 'cohost', 'speaker')`))
    .addColumn('granted_at_ms', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('space_roles_pk', ['space_id', 'account_id'])
    .execute();

  await db.schema
    .createTable('space_blocks')
    .addColumn('space_id', 'varchar(16)', (c) => c.notNull().references('spaces.id').onDelete('cascade'))
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('blocked_by', 'varchar(16)', (c) => c.notNull())
    .addColumn('blocked_at_ms', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('space_blocks_pk', ['space_id', 'account_id'])
    .execute();

  await db.schema
    .createTable('subscriptions')
    .addColumn('space_id', 'varchar(16)', (c) => c.notNull().references('spaces.id').onDelete('cascade'))
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('subscriptions_pk', ['space_id', 'account_id'])
    .execute();

  await db.schema
    .createTable('notifications')
    .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('account_id', 'varchar(16)', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('space_id', 'varchar(16)', (c) => c.notNull().references('spaces.id').onDelete('cascade'))
    .addColumn('kind', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .addColumn('read_at_ms', 'bigint')
    .execute();
  await db.schema.createIndex('notifications_account').on('notifications').columns(['account_id', 'created_at_ms']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['notifications', 'subscriptions', 'space_blocks', 'space_roles', 'api_tokens', 'sessions']) {
    await db.schema.dropTable(table).execute();
  }
  await db.schema.dropIndex('spaces_state_starts').execute();
  await db.schema
    .createTable('spaces_v1')
    .addColumn('id', 'varchar(16)', (c) => c.primaryKey())
    .addColumn('title', 'varchar(200)', (c) => c.notNull())
    .addColumn('state', 'varchar(16)', (c) => c.notNull().check(sql`state in ('live', 'ended', 'interrupted')`))
    .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
    .addColumn('ended_at_ms', 'bigint')
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await sql`insert into spaces_v1 select id, title, state, created_at_ms, ended_at_ms, revision from spaces where state in ('live', 'ended', 'interrupted')`.execute(db);
  await db.schema.dropTable('spaces').execute();
  await db.schema.alterTable('spaces_v1').renameTo('spaces').execute();
  await db.schema.createIndex('spaces_state_created').on('spaces').columns(['state', 'created_at_ms']).execute();
  await db.schema.dropTable('accounts').execute();
}
