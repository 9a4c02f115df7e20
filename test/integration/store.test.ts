/**
 * The SQL store on SQLite and on PostgreSQL through the same code: every
 * table (Spaces, accounts, sessions, API tokens, roles, blocks,
 * subscriptions, notifications) round-trips on both, multi-row changes are
 * all-or-nothing, migration 0002 upgrades a database that only had 0001,
 * and a restart of the whole server loses no account, session, schedule,
 * Space, role or block while live Spaces come back as interrupted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { AccountStore, type StoredAccount } from '../../src/store/account-store.js';
import { openStore, type Store, type StoreOptions } from '../../src/store/database.js';
import { newId } from '../../src/store/ids.js';
import * as m0001 from '../../src/store/migrations/0001-spaces.js';
import { RecordingStore } from '../../src/store/recording-store.js';
import { storedKey } from '../../src/store/server-keys.js';
import { ReminderStore } from '../../src/store/reminder-store.js';
import { SpaceStore, type StoredSpace } from '../../src/store/space-store.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { startTribune } from '../helpers/tribune.js';
import { restartScenario } from '../helpers/spaces-restart.js';

const dir = mkdtempSync(join(tmpdir(), 'tribune-store-'));
let postgres: PostgresServer | undefined;

before(async () => {
  postgres = await startPostgres();
}, { timeout: 120_000 });
after(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh, empty PostgreSQL database on the test server. */
async function freshPostgresDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: postgres?.url });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return (postgres?.url ?? '').replace(/\/tribune$/, `/${name}`);
}

/** The same tests against both databases: one code path. */
const backends: [string, (name: string) => Promise<StoreOptions>][] = [
  ['SQLite', async (name) => ({ databaseUrl: undefined, sqlitePath: join(dir, `${name}.db`) })],
  ['PostgreSQL', async (name) => ({ databaseUrl: await freshPostgresDatabase(name), sqlitePath: ':memory:' })],
];

const T0 = 1_700_000_000_000;

function spaceRecord(overrides: Partial<StoredSpace> = {}): StoredSpace {
  return { id: newId(10), title: 'A Space', description: '', state: 'live', hostAccountId: null, createdAtMs: T0, startsAtMs: null, startedAtMs: T0, endedAtMs: null, recorded: false, ...overrides };
}

for (const [name, optionsFor] of backends) {
  describe(`the store on ${name}`, () => {
    let store: Store;
    let options: StoreOptions;
    let accounts: AccountStore;
    let spaces: SpaceStore;
    let reminders: ReminderStore;
    const person = async (username = `p_${newId(8)}`): Promise<StoredAccount> => {
      const account = await accounts.create({ username, displayName: username.toUpperCase(), passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', nowMs: T0 });
      assert.ok(account);
      return account;
    };

    before(async () => {
      options = await optionsFor('roundtrip');
      store = await openStore(options);
      accounts = new AccountStore(store);
      spaces = new SpaceStore(store);
      reminders = new ReminderStore(store);
    });
    after(async () => {
      await store?.close();
    });

    test('migrations run once and opening again changes nothing', async () => {
      assert.equal(store.dialect, name === 'SQLite' ? 'sqlite' : 'postgres');
      const again = await openStore(options);
      const names = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(again.db);
      assert.deepEqual(names.rows.map((r) => r.name), ['0001-spaces', '0002-accounts-roles-schedules', '0003-recordings-clips', '0004-server-keys']);
      await again.close();
    });

    test('a server key is generated once: racing nodes and a reopened store all get the first one', async () => {
      const other = await openStore(options);
      try {
        const raced = await Promise.all([storedKey(store, 'test-key', 32), storedKey(other, 'test-key', 32), storedKey(store, 'test-key', 32)]);
        assert.equal(raced[0]?.length, 32);
        assert.ok(raced.every((key) => key.equals(raced[0] ?? Buffer.alloc(0))), 'every caller sees the same key');
        assert.ok((await storedKey(other, 'test-key', 32)).equals(raced[0] ?? Buffer.alloc(0)));
        assert.ok(!(await storedKey(store, 'another-key', 32)).equals(raced[0] ?? Buffer.alloc(0)), 'each name has its own key');
      } finally {
        await other.close();
      }
    });

    test('accounts: kept with their hash, unique by username, found by id', async () => {
      const account = await person('round_trip');
      assert.equal(await accounts.create({ username: 'round_trip', displayName: 'Impostor', passwordHash: 'x', nowMs: T0 + 1 }), undefined);
      const found = await accounts.byUsername('round_trip');
      assert.deepEqual(found, { ...account, passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' });
      assert.deepEqual(await accounts.byId(account.id), account);
      const other = await person();
      assert.deepEqual((await accounts.byIds([account.id, other.id, 'nobodynobody'])).map((a) => a.id).sort(), [account.id, other.id].sort());
      assert.deepEqual(await accounts.byIds([]), []);
    });

    test('sessions: open, found until they expire, closed, expired ones deleted', async () => {
      const account = await person();
      const secret = await accounts.openSession(account.id, T0, 1000);
      assert.match(secret, /^trs_/);
      assert.deepEqual(await accounts.sessionAccount(secret, T0 + 999), account);
      assert.equal(await accounts.sessionAccount(secret, T0 + 1000), undefined);
      assert.equal(await accounts.sessionAccount(`trs_${'x'.repeat(43)}`, T0), undefined);
      const kept = await accounts.openSession(account.id, T0, 10_000_000);
      await accounts.deleteExpiredSessions(T0 + 5000);
      assert.equal(await accounts.sessionAccount(secret, T0), undefined, 'the expired session row is gone');
      assert.deepEqual(await accounts.sessionAccount(kept, T0 + 5000), account);
      await accounts.closeSession(kept);
      assert.equal(await accounts.sessionAccount(kept, T0 + 5000), undefined);
    });

    test('API tokens: listed without secrets, resolve to their account, revoked only by their owner', async () => {
      const owner = await person();
      const stranger = await person();
      const token = await accounts.createApiToken(owner.id, 'bot', T0);
      assert.match(token.secret, /^trb_/);
      assert.deepEqual(await accounts.listApiTokens(owner.id), [{ id: token.id, name: 'bot', createdAtMs: T0, lastUsedAtMs: null }]);
      assert.deepEqual(await accounts.apiTokenAccount(token.secret, T0 + 5), owner);
      assert.equal((await accounts.listApiTokens(owner.id))[0]?.lastUsedAtMs, T0 + 5);
      assert.equal(await accounts.revokeApiToken(stranger.id, token.id), false);
      assert.deepEqual(await accounts.apiTokenAccount(token.secret, T0 + 6), owner);
      assert.equal(await accounts.revokeApiToken(owner.id, token.id), true);
      assert.equal(await accounts.apiTokenAccount(token.secret, T0 + 7), undefined);
      assert.deepEqual(await accounts.listApiTokens(owner.id), []);
    });

    test('Spaces: scheduled with their host role, edited and moved only from the states allowed, listed', async () => {
      const host = await person();
      const scheduled = spaceRecord({ title: 'Later', description: 'desc', state: 'scheduled', hostAccountId: host.id, startsAtMs: T0 + 3600_000, startedAtMs: null });
      await spaces.insert(scheduled);
      assert.deepEqual(await spaces.get(scheduled.id), scheduled);
      assert.deepEqual(await spaces.roles(scheduled.id), [{ accountId: host.id, role: 'host', grantedAtMs: T0 }]);
      assert.equal(await spaces.edit(scheduled.id, ['scheduled'], { title: 'Renamed', startsAtMs: T0 + 7200_000 }), true);
      assert.equal(await spaces.edit(scheduled.id, ['live'], { title: 'Wrong state' }), false);
      assert.deepEqual(await spaces.get(scheduled.id), { ...scheduled, title: 'Renamed', startsAtMs: T0 + 7200_000 });
      assert.deepEqual((await spaces.hostedBy(host.id, 10)).map((s) => s.id), [scheduled.id]);
      assert.ok((await spaces.listCurrent(T0, 100)).some((s) => s.id === scheduled.id));
      assert.ok(!(await spaces.listCurrent(T0 + 8000_000, 100)).some((s) => s.id === scheduled.id), 'long past its start');

      assert.equal(await spaces.transition(scheduled.id, ['scheduled'], 'live', T0 + 10), true);
      assert.equal(await spaces.transition(scheduled.id, ['scheduled'], 'cancelled', T0 + 11), false);
      assert.deepEqual(await spaces.get(scheduled.id), { ...scheduled, title: 'Renamed', startsAtMs: T0 + 7200_000, state: 'live', startedAtMs: T0 + 10 });
      await spaces.finish(scheduled.id, 'ended', T0 + 20);
      await spaces.finish(scheduled.id, 'interrupted', T0 + 30);
      const ended = await spaces.get(scheduled.id);
      assert.deepEqual([ended?.state, ended?.endedAtMs], ['ended', T0 + 20]);
      assert.deepEqual(await spaces.hostedBy(host.id, 10), []);
      await assert.rejects(spaces.insert({ ...scheduled, title: 'Impostor' }));
      assert.equal((await spaces.get(scheduled.id))?.title, 'Renamed');
    });

    test('at start, live Spaces are marked interrupted; scheduled and ended ones are left alone', async () => {
      const live = spaceRecord();
      const scheduled = spaceRecord({ state: 'scheduled', startsAtMs: T0 + 1, startedAtMs: null });
      await spaces.insert(live);
      await spaces.insert(scheduled);
      assert.ok((await spaces.markInterrupted(T0 + 50)) >= 1);
      assert.deepEqual([(await spaces.get(live.id))?.state, (await spaces.get(live.id))?.endedAtMs], ['interrupted', T0 + 50]);
      assert.equal((await spaces.get(scheduled.id))?.state, 'scheduled');
    });

    test('roles and blocks: granted, moved, handed over and blocked, each change all-or-nothing', async () => {
      const [host, cohost, speaker] = [await person(), await person(), await person()];
      const space = spaceRecord({ hostAccountId: host.id });
      await spaces.insert(space);
      await spaces.setRole(space.id, cohost.id, 'cohost', T0 + 1);
      await spaces.setRole(space.id, speaker.id, 'speaker', T0 + 2);
      await spaces.setRole(space.id, speaker.id, 'speaker', T0 + 3);
      assert.deepEqual((await spaces.roles(space.id)).map((r) => [r.accountId, r.role]), [[host.id, 'host'], [cohost.id, 'cohost'], [speaker.id, 'speaker']]);
      // A hand-over to an account that does not exist fails as a whole: the host keeps the Space.
      await assert.rejects(spaces.transferHost(space.id, host.id, 'nobodynobody', T0 + 4));
      assert.equal((await spaces.roles(space.id)).find((r) => r.role === 'host')?.accountId, host.id);
      assert.equal((await spaces.get(space.id))?.hostAccountId, host.id);
      await spaces.transferHost(space.id, host.id, cohost.id, T0 + 5);
      assert.deepEqual((await spaces.roles(space.id)).map((r) => [r.accountId, r.role]), [[speaker.id, 'speaker'], [cohost.id, 'host']]);
      assert.equal((await spaces.get(space.id))?.hostAccountId, cohost.id);

      await spaces.block(space.id, speaker.id, cohost.id, T0 + 6);
      await spaces.block(space.id, speaker.id, cohost.id, T0 + 7);
      assert.deepEqual(await spaces.blocks(space.id), [speaker.id]);
      assert.ok(!(await spaces.roles(space.id)).some((r) => r.accountId === speaker.id), 'a block takes the role away');
      // A block of an account that does not exist is refused.
      await assert.rejects(spaces.block(space.id, 'nobodynobody', cohost.id, T0 + 8));
      await spaces.unblock(space.id, speaker.id);
      assert.deepEqual(await spaces.blocks(space.id), []);
      await spaces.setRole(space.id, cohost.id, undefined, T0 + 9);
      assert.deepEqual(await spaces.roles(space.id), []);
    });

    test('subscriptions become notifications at start, one per subscriber, read by their owner only', async () => {
      const [fan, other, quitter] = [await person('sub_fan_' + name.slice(0, 3).toLowerCase()), await person(), await person()];
      const space = spaceRecord({ title: 'Reminded', state: 'scheduled', startsAtMs: T0 + 1, startedAtMs: null });
      await spaces.insert(space);
      await reminders.subscribe(space.id, fan.id, T0);
      await reminders.subscribe(space.id, fan.id, T0 + 1);
      await reminders.subscribe(space.id, quitter.id, T0);
      await reminders.unsubscribe(space.id, quitter.id);
      assert.equal(await reminders.isSubscribed(space.id, fan.id), true);
      assert.equal(await reminders.isSubscribed(space.id, quitter.id), false);
      assert.equal(await reminders.subscriberCount(space.id), 1);
      assert.deepEqual(await reminders.notifyStarted(space.id, T0 + 100), [{ accountId: fan.id, username: fan.username }]);
      const [note, ...rest] = await reminders.notifications(fan.id, 10);
      assert.deepEqual(rest, []);
      assert.deepEqual({ ...note, id: undefined }, { id: undefined, spaceId: space.id, spaceTitle: 'Reminded', kind: 'space-started', createdAtMs: T0 + 100, readAtMs: null });
      assert.deepEqual(await reminders.notifications(other.id, 10), []);
      assert.equal(await reminders.markRead(other.id, note?.id ?? '', T0 + 200), false);
      assert.equal(await reminders.markRead(fan.id, note?.id ?? '', T0 + 300), true);
      assert.equal((await reminders.notifications(fan.id, 10))[0]?.readAtMs, T0 + 300);
    });

    test('migrations 0002 and 0003 upgrade a database that only has 0001, and its Spaces survive', async () => {
      const upgrade = await optionsFor('upgrade');
      const db = upgrade.databaseUrl
        ? new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: upgrade.databaseUrl, max: 2 }) }) })
        : new Kysely<unknown>({ dialect: new SqliteDialect({ database: new Database(upgrade.sqlitePath) }) });
      const only0001 = new Migrator({ db, provider: { getMigrations: async () => ({ '0001-spaces': m0001 }) } });
      assert.equal((await only0001.migrateToLatest()).error, undefined);
      await sql`insert into spaces (id, title, state, created_at_ms, ended_at_ms) values
                ('old1endedx', 'Ended before accounts', 'ended', ${T0}, ${T0 + 60_000}),
                ('old2livexx', 'Live before accounts', 'live', ${T0 + 1}, null)`.execute(db);
      await db.destroy();

      const upgraded = await openStore(upgrade);
      try {
        const old = new SpaceStore(upgraded);
        assert.deepEqual(await old.get('old1endedx'), {
          id: 'old1endedx', title: 'Ended before accounts', description: '', state: 'ended', hostAccountId: null,
          createdAtMs: T0, startsAtMs: null, startedAtMs: T0, endedAtMs: T0 + 60_000, recorded: false,
        });
        assert.equal((await old.get('old2livexx'))?.state, 'live');
        assert.equal(await old.markInterrupted(T0 + 2), 1);
        assert.equal((await old.get('old2livexx'))?.state, 'interrupted');
        // The new tables work on the upgraded database, and the new states are allowed.
        const host = await new AccountStore(upgraded).create({ username: 'after_upgrade', displayName: 'A', passwordHash: 'h', nowMs: T0 });
        assert.ok(host);
        const next = spaceRecord({ state: 'scheduled', hostAccountId: host.id, startsAtMs: T0 + 5, startedAtMs: null });
        await old.insert(next);
        assert.equal((await old.get(next.id))?.state, 'scheduled');
        // Recording rows work on it too (0003).
        const recorded = spaceRecord({ hostAccountId: host.id, recorded: true });
        await old.insert(recorded);
        assert.equal((await old.get(recorded.id))?.recorded, true);
        await new RecordingStore(upgraded).begin(recorded.id, T0);
        assert.equal((await new RecordingStore(upgraded).get(recorded.id))?.state, 'recording');
      } finally {
        await upgraded.close();
      }
    });

    test('recordings and clips: begin, seal, expire, and clips by Space', async () => {
      const host = await person();
      const space = spaceRecord({ hostAccountId: host.id, recorded: true });
      await spaces.insert(space);
      const recordings = new RecordingStore(store);
      await recordings.begin(space.id, T0);
      await recordings.begin(space.id, T0 + 5); // a second begin keeps the first row
      await recordings.setMediaStart(space.id, T0 + 100);
      await recordings.setMediaStart(space.id, T0 + 999); // only the first sample counts
      assert.deepEqual((await recordings.unsealed()).map((r) => r.spaceId).filter((id) => id === space.id), [space.id]);
      await recordings.seal(space.id, { endedAtMs: T0 + 60_000, durationMs: 59_900, segments: 15, bytes: 240_000, lostParts: 0, expiresAtMs: T0 + 1_000_000 });
      assert.deepEqual(await recordings.get(space.id), {
        spaceId: space.id, state: 'ready', startedAtMs: T0, mediaStartMs: T0 + 100, endedAtMs: T0 + 60_000,
        durationMs: 59_900, segments: 15, bytes: 240_000, lostParts: 0, expiresAtMs: T0 + 1_000_000,
      });
      const clip = { id: newId(10), spaceId: space.id, accountId: host.id, title: 'A moment', state: 'ready' as const, startMs: 1_000, durationMs: 30_000, bytes: 120_000, createdAtMs: T0 + 70_000, expiresAtMs: T0 + 2_000_000 };
      await recordings.insertClip(clip);
      assert.deepEqual(await recordings.clip(clip.id), clip);
      assert.deepEqual((await recordings.clipsOf(space.id, 10)).map((c) => c.id), [clip.id]);
      assert.deepEqual(await recordings.expiredReplays(T0 + 999_999, 10), []);
      assert.ok((await recordings.expiredReplays(T0 + 1_000_000, 10)).includes(space.id));
      assert.equal(await recordings.markGone(space.id, 'expired'), true);
      assert.equal(await recordings.markGone(space.id, 'deleted'), false, 'only a ready replay goes');
      assert.ok((await recordings.expiredClips(T0 + 2_000_000, 10)).includes(clip.id));
      assert.equal(await recordings.markClipGone(clip.id, 'expired'), true);
      assert.deepEqual(await recordings.clipsOf(space.id, 10), []);
    });

    test('a restart of the server loses no account, session, schedule, Space, role or block; live Spaces are interrupted', async () => {
      await restartScenario(await optionsFor('restart'));
    });
  });
}

test('a crash loses no Space: one that was live when the process died is interrupted at the next start', async () => {
  const sqlitePath = join(dir, 'crash.db');
  const first = await startTribune({ store: { databaseUrl: undefined, sqlitePath } });
  const created = await first.createSpace('Before the crash');
  // The process "dies": a second server opens the same store without the first closing.
  const second = await startTribune({ store: { databaseUrl: undefined, sqlitePath } });
  try {
    const response = await fetch(`${second.url}/api/spaces/${created.space.id}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { space: { state: string; title: string } };
    assert.deepEqual({ state: body.space.state, title: body.space.title }, { state: 'interrupted', title: 'Before the crash' });
  } finally {
    await second.close();
    await first.close();
  }
});
