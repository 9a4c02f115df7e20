/**
 * The state feed listeners long-poll: one answer per version, the same
 * bytes for every listener and built once whatever their number, with
 * cache headers an edge can honour; the listener count from presence
 * beacons; and the feed's and the beacon's input validation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { httpCall } from '../helpers/accounts.js';
import { assertError, assertOk, feedUntil, readFeed } from '../helpers/spaces-api.js';
import { startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';

let server: RunningTribune;

before(async () => {
  // Long enough that a released long-poll always means a new version, not the hold timing out.
  server = await startTribune({ feedHoldMs: 25_000 });
});
after(async () => {
  await server?.close();
});

const beacon = (spaceId: string, body: unknown) => httpCall(server.url, 'POST', `/api/spaces/${spaceId}/presence`, { body });
const listenerId = (i: number) => `listener-${String(i).padStart(8, '0')}`;

describe('one answer per version', () => {
  test('200 listeners long-polling one version get byte-identical answers, built once per version', async () => {
    const space = await server.createSpace('Crowded');
    const id = space.space.id;
    const hub = await server.tribune.spaces.get(id);
    let { feed } = await readFeed(server.url, id);
    for (const title of ['Crowded, first change', 'Crowded, second change']) {
      const waiters = Array.from({ length: 200 }, () => readFeed(server.url, id, feed.version));
      await waitFor(() => hub.feed.waiting === 200, 20_000, 'all 200 long-polls to be held');
      const builds = hub.feed.builds;
      assertOk(await space.host.bot('PATCH', `/api/spaces/${id}`, { title }));
      const answers = await Promise.all(waiters);
      assert.equal(hub.feed.builds - builds, 1, 'one build for the new version');
      const [firstAnswer] = answers;
      assert.ok(firstAnswer);
      assert.ok(firstAnswer.feed.version > feed.version);
      assert.equal(firstAnswer.feed.space.title, title);
      for (const answer of answers) {
        assert.equal(answer.text, firstAnswer.text);
        assert.equal(answer.headers.get('etag'), `"${firstAnswer.feed.version}"`);
      }
      feed = firstAnswer.feed;
    }
    // Asking for the current version without waiting builds nothing either.
    const builds = hub.feed.builds;
    const again = await Promise.all(Array.from({ length: 50 }, () => readFeed(server.url, id)));
    assert.ok(again.every((a) => a.text === again[0]?.text));
    assert.equal(hub.feed.builds, builds);
  });

  test('cache headers: a moved version is cacheable for longer than the current one; ETag is the version', async () => {
    const space = await server.createSpace('Headers');
    const id = space.space.id;
    const now = await readFeed(server.url, id);
    assert.equal(now.headers.get('cache-control'), 'public, max-age=0, s-maxage=1');
    assert.equal(now.headers.get('etag'), `"${now.feed.version}"`);
    assert.match(now.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(now.headers.get('access-control-allow-origin'), '*');
    // A version older than the current one is answered at once, and that answer stays right for its URL.
    const stale = await readFeed(server.url, id, now.feed.version - 1);
    assert.equal(stale.feed.version, now.feed.version);
    assert.equal(stale.headers.get('cache-control'), 'public, max-age=30');
    // A version from the future (a client from before a restart) is answered at once too.
    const future = await readFeed(server.url, id, now.feed.version + 1_000_000);
    assert.equal(future.feed.version, now.feed.version);
    // Errors are never cached.
    const missing = await httpCall(server.url, 'GET', '/api/spaces/zzzzzzzzzzzzzz/feed');
    assert.equal(missing.headers.get('cache-control'), 'no-store');
  });

  test('a long-poll with nothing new is answered with the same version when the hold ends', async () => {
    const short = await startTribune({ feedHoldMs: 300 });
    try {
      const space = await short.createSpace('Quiet');
      const first = await readFeed(short.url, space.space.id);
      const held = await readFeed(short.url, space.space.id, first.feed.version);
      assert.equal(held.feed.version, first.feed.version);
      assert.equal(held.text, first.text);
      assert.equal(held.headers.get('cache-control'), 'public, max-age=0, s-maxage=1');
    } finally {
      await short.close();
    }
  });

  test('the feed of an unknown Space is 404; bad queries are 400 VALIDATION_FAILED', async () => {
    const space = await server.createSpace('Queries');
    const id = space.space.id;
    assertError(await httpCall(server.url, 'GET', '/api/spaces/zzzzzzzzzzzzzz/feed'), 404, 'SPACE_NOT_FOUND');
    assertError(await httpCall(server.url, 'GET', '/api/spaces/NOT_AN_ID/feed'), 400, 'VALIDATION_FAILED');
    for (const query of ['v=abc', 'v=-1', 'v=1.5', 'v=', `v=${'9'.repeat(16)}`, 'v=1&x=2', 'since=1']) {
      assertError(await httpCall(server.url, 'GET', `/api/spaces/${id}/feed?${query}`), 400, 'VALIDATION_FAILED', query);
    }
  });
});

describe('presence', () => {
  test('300 distinct listeners are counted after the next tick; leaving ones stop counting; the peak stays', async () => {
    const space = await server.createSpace('Presence');
    const id = space.space.id;
    for (let start = 0; start < 300; start += 50) {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => beacon(id, { listener: listenerId(start + i) })));
      assert.ok(answers.every((a) => a.status === 204));
    }
    let feed = await feedUntil(server.url, id, (f) => f.listeners.count === 300, '300 listeners');
    assert.equal(feed.listeners.peak, 300);
    // Beating again does not count anyone twice.
    await Promise.all(Array.from({ length: 300 }, (_, i) => beacon(id, { listener: listenerId(i) })));
    for (let i = 0; i < 100; i++) assert.equal((await beacon(id, { listener: listenerId(i), leaving: true })).status, 204);
    feed = await feedUntil(server.url, id, (f) => f.listeners.count !== 300, 'a change in the count');
    assert.deepEqual(feed.listeners, { count: 200, peak: 300 });
    const hub = await server.tribune.spaces.get(id);
    assert.deepEqual(hub.listenerCount(), { count: 200, peak: 300 });
  });

  test('5,000 simulated listeners: the count is exact within 2 % as some leave, some go silent and the rest keep beating', async () => {
    // Presence time compressed (70 s window -> 12 s) so the test takes seconds; 12 s
    // leaves room for the first 5,000 beacons to land within one window on a busy machine.
    const windowMs = 12_000;
    const crowd = await startTribune({ presenceWindowMs: windowMs });
    try {
      const space = await crowd.createSpace('Five thousand');
      const id = space.space.id;
      const send = async (ids: number[], leaving = false): Promise<void> => {
        let next = 0;
        const worker = async (): Promise<void> => {
          while (next < ids.length) {
            const i = ids[next++]!;
            const answer = await httpCall(crowd.url, 'POST', `/api/spaces/${id}/presence`, { body: leaving ? { listener: listenerId(i), leaving } : { listener: listenerId(i) } });
            assert.equal(answer.status, 204);
          }
        };
        await Promise.all(Array.from({ length: 64 }, worker));
      };
      const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
      // 0-999 close the tab without a word: they beat once and must age out.
      const leaving = range(1000, 1300); // say goodbye: stop counting at once
      const staying = range(1300, 5000); // beat again half a window later
      const firstBeat = Date.now();
      await send(range(0, 5000));
      const full = await feedUntil(crowd.url, id, (f) => f.listeners.count >= 4900, 'the crowd counted', 30_000);
      assert.ok(Math.abs(full.listeners.count - 5000) <= 100, `counted ${full.listeners.count} of 5,000`);
      await send(leaving, true);
      // The others beat again half a window after the first beacons (30 s into a 70 s window, in the product).
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstBeat + windowMs / 2 - Date.now())));
      await send(staying);
      // The silent thousand leave the count one window after their last beacon.
      const expected = staying.length;
      const settled = await feedUntil(crowd.url, id, (f) => f.listeners.count <= expected * 1.02, 'the silent listeners aged out', 30_000);
      const errorPct = (Math.abs(settled.listeners.count - expected) / expected) * 100;
      assert.ok(errorPct <= 2, `count ${settled.listeners.count}, expected ${expected} (error ${errorPct.toFixed(2)} %)`);
      assert.equal(settled.listeners.peak, full.listeners.peak);
      assert.ok(full.listeners.peak >= 4900);
    } finally {
      await crowd.close();
    }
  });

  test('beacons need no account and are validated: bad ids, unknown fields and wrong types are 400; unknown Spaces 404', async () => {
    const space = await server.createSpace('Beacon input');
    const id = space.space.id;
    for (const body of [
      { listener: 'short' },
      { listener: 'has spaces in it, sixteen+' },
      { listener: 'x'.repeat(65) },
      { listener: 1234567890123456 },
      { listener: listenerId(1), leaving: 'yes' },
      { listener: listenerId(1), count: 1000 },
      {},
    ]) {
      assertError(await beacon(id, body), 400, 'VALIDATION_FAILED', JSON.stringify(body));
    }
    assertError(await beacon('zzzzzzzzzzzzzz', { listener: listenerId(1) }), 404, 'SPACE_NOT_FOUND');
    assertError(await beacon('NOT_AN_ID', { listener: listenerId(1) }), 400, 'VALIDATION_FAILED');
    assert.equal((await beacon(id, { listener: listenerId(1) })).status, 204);
    await feedUntil(server.url, id, (f) => f.listeners.count === 1, 'only the valid beacon counted');
    assertOk(await space.host.bot('POST', `/api/spaces/${id}/end`, {}));
    assertError(await beacon(id, { listener: listenerId(2) }), 410, 'SPACE_ENDED');
  });
});
