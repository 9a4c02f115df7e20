import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StateFeed, type FeedSnapshot } from '../../src/feed/state-feed.js';
import type { FeedState } from '../../src/wire/feed.js';

/** A feed whose document is { title, n } (the rest of FeedState does not matter here) and counts its builds itself too. */
function feed(): { feed: StateFeed; state: { n: number }; calls: () => number } {
  const state = { n: 0 };
  let calls = 0;
  const f = new StateFeed(() => {
    calls++;
    return { n: state.n } as unknown as Omit<FeedState, 'version'>;
  });
  return { feed: f, state, calls: () => calls };
}

const parse = (snapshot: FeedSnapshot): { version: number; n: number } => JSON.parse(snapshot.body.toString('utf8')) as { version: number; n: number };

/** Whether `promise` is settled once the microtasks queued so far have run. */
async function settledNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise<void>((resolve) => setImmediate(resolve));
  return settled;
}

test('the first version is built at once, numbered from the clock, with the version in the body', () => {
  const before = Date.now();
  const { feed: f, calls } = feed();
  const after = Date.now();
  assert.equal(f.builds, 1);
  assert.equal(calls(), 1);
  assert.ok(f.version >= before && f.version <= after, `version ${f.version} from the clock`);
  assert.deepEqual(parse(f.current()), { version: f.version, n: 0 });
  f.close();
});

test('nothing is built until something changed, and one publish builds once however many changes came', () => {
  const { feed: f, state } = feed();
  const first = f.current();
  f.publishIfDirty();
  assert.equal(f.builds, 1, 'a clean feed publishes nothing');
  assert.equal(f.current(), first);
  for (let i = 0; i < 100; i++) {
    state.n = i;
    f.changed();
  }
  assert.equal(f.builds, 1, 'changed() builds nothing by itself');
  f.publishIfDirty();
  assert.equal(f.builds, 2);
  assert.equal(parse(f.current()).n, 99);
  assert.ok(f.version > first.version);
  f.publishIfDirty();
  assert.equal(f.builds, 2, 'no second build without a new change');
  f.close();
});

test('versions only grow, by at least 1, even when published within one millisecond', () => {
  const { feed: f } = feed();
  let last = f.version;
  for (let i = 0; i < 1000; i++) {
    f.changed();
    f.publishIfDirty();
    assert.ok(f.version >= last + 1, `version ${f.version} after ${last}`);
    assert.ok(f.version >= Date.now() - 1000, 'and stays near the clock');
    last = f.version;
  }
  assert.equal(f.builds, 1001);
  f.close();
});

test('5,000 waiters released by one publish all get the same Buffer, built once', async () => {
  const { feed: f, state, calls } = feed();
  const asked = f.version;
  const waiters = Array.from({ length: 5000 }, () => f.next(asked, 60_000));
  assert.equal(f.waiting, 5000);
  const buildsBefore = f.builds;
  const callsBefore = calls();
  state.n = 42;
  f.changed();
  f.publishIfDirty();
  const answers = await Promise.all(waiters);
  assert.equal(f.builds, buildsBefore + 1);
  assert.equal(calls(), callsBefore + 1, 'the document function ran once');
  const first = answers[0];
  assert.ok(first);
  assert.ok(
    answers.every((a) => a === first && a.body === first.body),
    'every waiter got the very same snapshot and Buffer object',
  );
  assert.ok(first.version > asked);
  assert.equal(parse(first).n, 42);
  assert.equal(f.waiting, 0);
  f.close();
});

test('a waiter whose hold runs out gets the current snapshot again, and stops waiting', async () => {
  const { feed: f } = feed();
  const current = f.current();
  const answer = await f.next(current.version, 30);
  assert.equal(answer, current);
  assert.equal(f.waiting, 0);
  f.close();
});

test('without a version, with an older one, or with one from the future, next() answers at once', async () => {
  const { feed: f } = feed();
  const old = f.version;
  f.changed();
  f.publishIfDirty();
  const current = f.current();
  for (const after of [undefined, old, 0, current.version + 1, current.version + 86_400_000]) {
    const answer = f.next(after, 60_000);
    assert.equal(await settledNow(answer), true, `after=${after} answers at once`);
    assert.equal(await answer, current);
  }
  assert.equal(f.waiting, 0);
  const held = f.next(current.version, 60_000);
  assert.equal(await settledNow(held), false, 'the current version is held');
  f.close();
  assert.equal(await held, current);
});

test('close() publishes a pending change, releases every waiter with it, and answers later calls at once', async () => {
  const { feed: f, state } = feed();
  const asked = f.version;
  const waiters = Array.from({ length: 10 }, () => f.next(asked, 60_000));
  state.n = 7;
  f.changed();
  f.close();
  const answers = await Promise.all(waiters);
  assert.ok(answers.every((a) => a === answers[0]));
  assert.equal(answers[0] && parse(answers[0]).n, 7, 'the last change went out');
  assert.equal(f.waiting, 0);
  const late = f.next(f.version, 60_000);
  assert.equal(await settledNow(late), true, 'a closed feed holds nobody');
  const builds = f.builds;
  f.changed(true);
  f.publishIfDirty();
  await sleep(120);
  assert.equal(f.builds, builds, 'nothing is published after close');
});

test('close() without a pending change releases the waiters with the current version', async () => {
  const { feed: f } = feed();
  const current = f.current();
  const waiter = f.next(current.version, 60_000);
  f.close();
  assert.equal(await waiter, current);
  assert.equal(f.builds, 1);
});

test('an urgent change goes out within about 50 ms without a tick, and urgent changes close together make one version', async () => {
  const { feed: f, state } = feed();
  const asked = f.version;
  const waiter = f.next(asked, 60_000);
  const started = Date.now();
  for (let i = 1; i <= 5; i++) {
    state.n = i;
    f.changed(true);
  }
  const answer = await waiter;
  const tookMs = Date.now() - started;
  assert.ok(tookMs >= 40 && tookMs < 1000, `published after ${tookMs} ms`);
  assert.equal(parse(answer).n, 5);
  assert.equal(f.builds, 2, 'five urgent changes, one version');
  await sleep(150);
  assert.equal(f.builds, 2, 'and no second one later');
  f.close();
});

test('routine changes wait for the tick: none is published on its own', async () => {
  const { feed: f } = feed();
  const waiter = f.next(f.version, 60_000);
  f.changed();
  f.changed(false);
  await sleep(150);
  assert.equal(f.builds, 1, 'no build without a tick');
  assert.equal(await settledNow(waiter), false);
  f.publishIfDirty();
  await waiter;
  assert.equal(f.builds, 2);
  f.close();
});

test('a tick that comes before the urgent timer publishes the change once; the timer then finds nothing to do', async () => {
  const { feed: f } = feed();
  f.changed(true);
  f.publishIfDirty();
  assert.equal(f.builds, 2);
  await sleep(150);
  assert.equal(f.builds, 2);
  // A routine change after the urgent one rides on the urgent timer if it is still pending.
  f.changed(true);
  f.changed(false);
  await sleep(150);
  assert.equal(f.builds, 3, 'one version for both');
  f.close();
});

test('waiters that timed out are not woken again, and later waiters still get the next version', async () => {
  const { feed: f } = feed();
  const v = f.version;
  await f.next(v, 10);
  const waiter = f.next(v, 60_000);
  assert.equal(f.waiting, 1);
  f.changed();
  f.publishIfDirty();
  assert.ok((await waiter).version > v);
  f.close();
});
