import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore, type Store, type StoreOptions } from '../../src/store/database.js';
import { SpaceStore } from '../../src/store/space-store.js';
import { startPostgres } from '../helpers/postgres.js';
import { startTribune } from '../helpers/tribune.js';

const dir = mkdtempSync(join(tmpdir(), 'tribune-store-'));
let postgres: { url: string; stop(): Promise<void> } | undefined;

before(async () => {
  postgres = await startPostgres();
});
after(async () => {
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The same tests against both databases: one code path. */
const backends: [string, () => StoreOptions][] = [
  ['SQLite', () => ({ databaseUrl: undefined, sqlitePath: join(dir, 'store.db') })],
  ['PostgreSQL', () => ({ databaseUrl: postgres?.url, sqlitePath: ':memory:' })],
];

for (const [name, options] of backends) {
  describe(`the store on ${name}`, () => {
    let store: Store;
    before(async () => {
      store = await openStore(options());
    });
    after(async () => {
      await store.close();
    });

    test('migrations run once and opening again changes nothing', async () => {
      assert.equal(store.dialect, name === 'SQLite' ? 'sqlite' : 'postgres');
      const again = await openStore(options());
      await again.close();
    });

    test('a Space is kept with its state, and finishing it twice changes nothing', async () => {
      const spaces = new SpaceStore(store);
      await spaces.insert({ id: `${name.toLowerCase().slice(0, 3)}aaaaaaa`, title: 'Kept', createdAtMs: 1_700_000_000_000 });
      const id = `${name.toLowerCase().slice(0, 3)}aaaaaaa`;
      assert.deepEqual(await spaces.get(id), { id, title: 'Kept', state: 'live', createdAtMs: 1_700_000_000_000, endedAtMs: null });
      await spaces.finish(id, 'ended', 1_700_000_100_000);
      await spaces.finish(id, 'interrupted', 1_700_000_200_000);
      assert.deepEqual(await spaces.get(id), { id, title: 'Kept', state: 'ended', createdAtMs: 1_700_000_000_000, endedAtMs: 1_700_000_100_000 });
    });

    test('at start, Spaces still live are marked interrupted and ended ones are left alone', async () => {
      const spaces = new SpaceStore(store);
      await spaces.insert({ id: `${name.toLowerCase().slice(0, 3)}bbbbbbb`, title: 'Cut off', createdAtMs: 1 });
      const interrupted = await spaces.markInterrupted(5);
      assert.ok(interrupted >= 1);
      assert.equal((await spaces.get(`${name.toLowerCase().slice(0, 3)}bbbbbbb`))?.state, 'interrupted');
      assert.equal((await spaces.get(`${name.toLowerCase().slice(0, 3)}aaaaaaa`))?.state, 'ended');
    });

    test('a second Space with the same id is refused and the first is unchanged', async () => {
      const spaces = new SpaceStore(store);
      const id = `${name.toLowerCase().slice(0, 3)}aaaaaaa`;
      await assert.rejects(spaces.insert({ id, title: 'Impostor', createdAtMs: 9 }));
      assert.equal((await spaces.get(id))?.title, 'Kept');
    });
  });
}

test('a restart loses no Space: one that was live when the process died is interrupted', async () => {
  const sqlitePath = join(dir, 'restart.db');
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

test('a Space its host ended stays ended after a restart, and a clean stop interrupts live ones', async () => {
  const sqlitePath = join(dir, 'ended.db');
  const first = await startTribune({ store: { databaseUrl: undefined, sqlitePath } });
  const ended = await first.createSpace('Ended by the host');
  const live = await first.createSpace('Live at the stop');
  const end = await fetch(`${first.url}/api/spaces/${ended.space.id}/end`, { method: 'POST', headers: { authorization: `Bearer ${ended.hostToken}`, 'content-type': 'application/json' }, body: '{}' });
  assert.equal(end.status, 200);
  await first.close();
  const second = await startTribune({ store: { databaseUrl: undefined, sqlitePath } });
  try {
    const states = await Promise.all(
      [ended, live].map(async (c) => ((await (await fetch(`${second.url}/api/spaces/${c.space.id}`)).json()) as { space: { state: string } }).space.state),
    );
    assert.deepEqual(states, ['ended', 'interrupted']);
  } finally {
    await second.close();
  }
});
