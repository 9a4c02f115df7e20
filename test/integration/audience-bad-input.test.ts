/**
 * Bad input on the audience routes (docs/DESIGN.md, "Bad input"): every
 * abuse of blocking reload, every part that will never exist and every
 * unknown or malformed Space gets a clear error with a stable code at
 * once, junk query strings never make distinct answers or grow the
 * origin, and through all of it a legitimate listener following the
 * stream with blocking reloads gets every part, in order.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { floodFromChild } from '../helpers/junk-flood.js';
import { LlHlsListener, nextPart } from '../helpers/ll-hls-listener.js';
import { hintedPart, listedParts, parsePlaylist, type PartRef } from '../helpers/m3u8.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

let server: RunningTribune;
let created: TestSpace;
let bot: SpeakerBot | undefined;
let listener: LlHlsListener | undefined;

/** The longest a clear refusal may take, in ms. */
const AT_ONCE_MS = 200;
/** Parts are 1 s: a blocking reload for the next part is answered within this, in ms. */
const NEXT_PART_HOLD_MS = 1500;

const hls = (path: string, id = created.space.id): string => `${server.url}/hls/${id}/${path}`;

interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  ms: number;
  code: string | undefined;
}

async function get(url: string, timeoutMs = 5000): Promise<Answer> {
  const startedAt = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = Buffer.from(await response.arrayBuffer());
  const ms = performance.now() - startedAt;
  let code: string | undefined;
  if ((response.headers.get('content-type') ?? '').startsWith('application/json')) {
    code = (JSON.parse(body.toString('utf8')) as { error?: { code?: string } }).error?.code;
  }
  return { status: response.status, headers: response.headers, body, ms, code };
}

/**
 * Waits for the next part to land (a blocking reload for the hinted part)
 * and returns the newest part: the live edge then stays put for about 1 s,
 * long enough for checks that depend on where it is.
 */
async function freshEdge(): Promise<{ head: PartRef; at: number }> {
  const plain = parsePlaylist((await get(hls('live.m3u8'))).body.toString('utf8'));
  const hint = hintedPart(plain);
  assert.ok(hint, 'the live playlist hints the next part');
  const answer = await get(hls(`live.m3u8?_HLS_msn=${hint.msn}&_HLS_part=${hint.part}`));
  assert.equal(answer.status, 200);
  const head = listedParts(parsePlaylist(answer.body.toString('utf8'))).at(-1);
  assert.ok(head);
  return { head, at: performance.now() };
}

/** Runs `check` with a live edge that will not move while it runs (re-synced when ~0.6 s old). */
async function withStableEdge<T>(cases: T[], check: (item: T, head: PartRef) => Promise<void>): Promise<void> {
  let edge = await freshEdge();
  for (const item of cases) {
    if (performance.now() - edge.at > 600) edge = await freshEdge();
    await check(item, edge.head);
  }
}

function assertError(answer: Answer, status: number, code: string, what: string): void {
  const body = answer.body.toString('utf8').slice(0, 300);
  assert.equal(answer.status, status, `${what}: ${answer.status} ${body}`);
  assert.equal(answer.code, code, `${what}: ${body}`);
  assert.equal(answer.headers.get('cache-control'), 'no-store', `${what}: an error is not cacheable`);
  assert.ok(answer.ms < AT_ONCE_MS, `${what}: answered after ${answer.ms.toFixed(0)} ms`);
}

before(async () => {
  server = await startTribune();
  created = await server.createSpace('Audience bad input');
  const spaceUrl = stageUrl(server.url, created.space.id, await created.speakerPass('tone 440'));
  bot = new SpeakerBot({ spaceUrl, name: 'tone 440', program: { kind: 'tone', hz: 440 } });
  await bot.start();
  await bot.connected(15_000);
  // A plain request before the first part waits for it.
  const first = await get(hls('live.m3u8'), 10_000);
  assert.equal(first.status, 200);
  listener = new LlHlsListener(hls('live.m3u8'));
  await listener.start();
});

after(async () => {
  await listener?.stop();
  bot?.stop();
  await server?.close();
});

test('each abuse of blocking reload gets its 400 and stable code at once', { timeout: 20_000 }, async () => {
  type Case = [query: (head: PartRef) => string, code: string];
  const cases: Case[] = [
    [() => '_HLS_part=0', 'HLS_PART_WITHOUT_MSN'],
    [() => '_HLS_part=2&_HLS_skip=YES', 'HLS_PART_WITHOUT_MSN'],
    [(h) => `_HLS_msn=${h.msn + 3}`, 'HLS_MSN_TOO_FAR'],
    [(h) => `_HLS_msn=${h.msn + 3}&_HLS_part=0`, 'HLS_MSN_TOO_FAR'],
    [() => '_HLS_msn=999999999', 'HLS_MSN_TOO_FAR'],
    [() => '_HLS_msn=999999999&_HLS_part=0', 'HLS_MSN_TOO_FAR'],
    [() => '_HLS_msn=99999999999999999999999', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=-1', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=-1&_HLS_part=0', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=1.5', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=abc', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=0x1', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=1e1', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=+1', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=%201', 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=NaN', 'HLS_QUERY_INVALID'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_part=-1`, 'HLS_QUERY_INVALID'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_part=1.0`, 'HLS_QUERY_INVALID'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_part=`, 'HLS_QUERY_INVALID'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_msn=${h.msn}`, 'HLS_QUERY_INVALID'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_part=0&_HLS_part=0`, 'HLS_QUERY_INVALID'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_msn=${h.msn + 1}&_HLS_part=0`, 'HLS_QUERY_INVALID'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_part=5`, 'HLS_PART_TOO_FAR'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_part=999999999`, 'HLS_PART_TOO_FAR'],
    [() => '_HLS_skip=NO', 'HLS_QUERY_INVALID'],
    [() => '_HLS_skip=yes', 'HLS_QUERY_INVALID'],
    [() => '_HLS_skip=', 'HLS_QUERY_INVALID'],
    [() => '_HLS_skip=v3', 'HLS_QUERY_INVALID'],
    [() => '_HLS_skip=YES&_HLS_skip=YES', 'HLS_QUERY_INVALID'],
    [(h) => `_HLS_msn=${h.msn}&_HLS_part=0&_HLS_skip=maybe`, 'HLS_QUERY_INVALID'],
    [() => '_HLS_msn=%E0%A4%A', 'HLS_QUERY_INVALID'],
  ];
  await withStableEdge(cases, async ([query, code], head) => {
    const q = query(head);
    const answer = await get(hls(`live.m3u8?${q}`));
    assertError(answer, 400, code, `?${q} (edge ${head.msn}.${head.part})`);
    assert.equal(answer.headers.get('access-control-allow-origin'), '*', `?${q}: a cross-origin player can read the error`);
  });
});

test('a part or segment that will never exist is 404 HLS_NOT_FOUND, no-store, at once', { timeout: 20_000 }, async () => {
  const paths: ((head: PartRef) => string)[] = [
    () => 'part/999999.0.m4s',
    () => 'part/999999999.3.m4s',
    // Past the hinted next part: only the next part may be waited for (RFC 8216bis §6.2.6).
    (h) => `part/${h.msn + 1}.2.m4s`,
    (h) => `part/${h.msn + 2}.0.m4s`,
    (h) => `part/${h.msn}.4.m4s`,
    (h) => `part/${h.msn}.99.m4s`,
    () => 'part/abc.m4s',
    () => 'part/1.m4s',
    () => 'part/1.0.0.m4s',
    () => 'part/1.0.mp4',
    () => 'part/-1.0.m4s',
    () => 'part/1.-1.m4s',
    () => 'part/1234567890.0.m4s',
    () => 'part/0.0.m4s.m4s',
    () => 'part/%2e%2e.m4s',
    () => 'part/0.0.m4s%00',
    () => `part/${'9'.repeat(80)}.0.m4s`,
    // The segment being written is not complete yet, the next one not begun.
    (h) => `seg/${h.msn}.m4s`,
    (h) => `seg/${h.msn + 1}.m4s`,
    () => 'seg/999999.m4s',
    () => 'seg/abc.m4s',
    () => 'seg/1',
    () => 'seg/1.m4s.m4s',
    () => 'seg/-1.m4s',
  ];
  await withStableEdge(paths, async (path, head) => {
    const p = path(head);
    // While the edge segment is incomplete its part index is below 3; at index 3 the segment is complete.
    if (p === `seg/${head.msn}.m4s` && head.part === 3) return;
    assertError(await get(hls(p)), 404, 'HLS_NOT_FOUND', `${p} (edge ${head.msn}.${head.part})`);
  });
});

test('an unknown Space is 404 SPACE_NOT_FOUND and a malformed Space id is 400 on every audience route, at once', { timeout: 20_000 }, async () => {
  const routes = ['master.m3u8', 'live.m3u8', 'live.m3u8?_HLS_msn=1&_HLS_part=0', 'init.mp4', 'seg/0.m4s', 'part/0.0.m4s', 'part/1.0.m4s'];
  const unknown = created.space.id === 'aaaaaaaaaaaaaa' ? 'bbbbbbbbbbbbbb' : 'aaaaaaaaaaaaaa';
  for (const route of routes) assertError(await get(hls(route, unknown)), 404, 'SPACE_NOT_FOUND', `unknown Space, ${route}`);
  const malformed = ['ABCDEFGHIJ', 'short', `${created.space.id}x`, 'aaaaaaaaa0', 'aaaaaaaaa1', 'aaaa%20aaaaa', '%00aaaaaaaaa', 'aaaaaaaaa_'];
  for (const id of malformed) {
    for (const route of routes) assertError(await get(hls(route, id)), 400, 'VALIDATION_FAILED', `Space id ${id}, ${route}`);
  }
});

test('a Space id or part name the router itself refuses (over 100 characters, bad percent-encoding) still gets a catalogue 400, no-store', { timeout: 10_000 }, async () => {
  // fastify answers these before any route runs (FST_ERR_MAX_PARAM_LENGTH,
  // FST_ERR_BAD_URL), so unless they are mapped they bypass the error
  // catalogue and its cache-control.
  const urls = [
    hls('live.m3u8', 'a'.repeat(150)),
    hls('live.m3u8', '%zz'),
    hls('init.mp4', '%E0%A4%A'),
    hls('part/%E0%A4%A.m4s'),
    hls(`part/${'1'.repeat(120)}.0.m4s`),
  ];
  const wrong: string[] = [];
  for (const url of urls) {
    const answer = await get(url);
    const path = url.slice(server.url.length, server.url.length + 70);
    if (answer.status !== 400 || answer.code === undefined || answer.headers.get('cache-control') !== 'no-store') {
      wrong.push(`${path}: ${answer.status}, cache-control ${answer.headers.get('cache-control')}, ${answer.body.toString('utf8').slice(0, 120)}`);
    }
    assert.ok(answer.ms < AT_ONCE_MS, `${path}: answered after ${answer.ms.toFixed(0)} ms`);
  }
  assert.deepEqual(wrong, []);
});

test('a blocking reload whose part does come waits for it, then answers 200 listing it', { timeout: 20_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const { head } = await freshEdge();
    const want = nextPart(head);
    const [reload, part] = await Promise.all([
      get(hls(`live.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`)),
      // The hinted part itself is held too, and comes with the same part.
      get(hls(`part/${want.msn}.${want.part}.m4s`)),
    ]);
    assert.equal(reload.status, 200);
    assert.ok(reload.ms > 500 && reload.ms < NEXT_PART_HOLD_MS, `the reload for ${want.msn}.${want.part} took ${reload.ms.toFixed(0)} ms`);
    const listed = listedParts(parsePlaylist(reload.body.toString('utf8')));
    assert.deepEqual(listed.at(-1), want, 'the answer lists the part waited for, as the newest');
    assert.equal(part.status, 200);
    assert.equal(part.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.ok(part.body.byteLength > 0);
    assert.ok(part.ms > 500 && part.ms < NEXT_PART_HOLD_MS, `the hinted part came after ${part.ms.toFixed(0)} ms`);
    // _HLS_part equal to the number of parts in a segment means part 0 of the next (§6.2.5.2).
    if (want.part === 0) {
      const wrapped = await get(hls(`live.m3u8?_HLS_msn=${want.msn - 1}&_HLS_part=4`));
      assert.equal(wrapped.status, 200);
      assert.ok(wrapped.ms < AT_ONCE_MS, 'a part that exists is answered at once');
    }
  }
});

/**
 * process.memoryUsage() after a full garbage collection, so growth means
 * memory still held, not garbage V8 has not got round to (the test runner
 * gives no --expose-gc; the flag can be turned on from inside).
 */
async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage();
}

test('10,000 junk query strings get the same playlist per version, and the origin neither grows nor holds them', { timeout: 90_000 }, async (t) => {
  const stream = server.tribune.spaces.streamOf(created.space.id);
  assert.ok(stream);
  const partListenersBefore = stream.listenerCount('part');
  const before = await settledMemory();

  const TOTAL = 10_000;
  const flood = await floodFromChild(hls('live.m3u8'), TOTAL, 50, 60_000);

  const settled = await settledMemory();
  const rssGrowthMb = (settled.rss - before.rss) / 2 ** 20;
  const heapGrowthMb = (settled.heapUsed - before.heapUsed) / 2 ** 20;
  t.diagnostic(
    `${TOTAL} junk requests in ${flood.elapsedMs.toFixed(0)} ms, slowest ${flood.slowestMs.toFixed(0)} ms; ${flood.versions.length} playlist versions; ` +
      `server RSS ${rssGrowthMb >= 0 ? '+' : ''}${rssGrowthMb.toFixed(1)} MB, heap ${heapGrowthMb >= 0 ? '+' : ''}${heapGrowthMb.toFixed(1)} MB`,
  );

  assert.deepEqual(flood.statuses, { 200: TOTAL }, flood.failures.join('\n'));
  // Junk never makes distinct answers: every answer of one version is byte-identical to the others.
  assert.deepEqual(flood.failures, []);
  assert.equal(flood.versions.reduce((sum, v) => sum + v.count, 0), TOTAL);
  // Versions follow the parts (about one a second), never the requests.
  assert.ok(flood.versions.length <= Math.ceil(flood.elapsedMs / 1000) + 2, `${flood.versions.length} distinct playlists in ${flood.elapsedMs.toFixed(0)} ms`);
  // No junk request was held: none waited anywhere near a part's length.
  assert.ok(flood.slowestMs < 1000, `the slowest junk request took ${flood.slowestMs.toFixed(0)} ms`);

  assert.ok(rssGrowthMb < 50, `the server's RSS grew ${rssGrowthMb.toFixed(1)} MB over ${TOTAL} junk requests`);
  assert.ok(heapGrowthMb < 10, `the server's heap kept ${heapGrowthMb.toFixed(1)} MB more after ${TOTAL} junk requests`);
  // The origin keeps no per-request state on the stream: still one 'part' listener (its coalesced waits).
  assert.equal(stream.listenerCount('part'), partListenersBefore);
});

test('500 blocking reloads for the next part, each with its own junk, are released together with one identical playlist and leave no per-request state', { timeout: 20_000 }, async () => {
  const stream = server.tribune.spaces.streamOf(created.space.id);
  assert.ok(stream);
  const partListenersBefore = stream.listenerCount('part');
  const { head } = await freshEdge();
  const want = nextPart(head);
  const sentAt = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 500 }, async (_, i) => {
      const response = await fetch(hls(`live.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}&j=${randomBytes(4).toString('hex')}&n=${i}`), {
        signal: AbortSignal.timeout(5000),
      });
      const headersAt = performance.now();
      return { status: response.status, body: await response.text(), headersAt };
    }),
  );
  for (const answer of answers) assert.equal(answer.status, 200);
  const bodies = new Set(answers.map((a) => a.body));
  assert.equal(bodies.size, 1, 'every waiter got the same playlist');
  assert.deepEqual(listedParts(parsePlaylist([...bodies][0] ?? '')).at(-1), want);
  const released = answers.map((a) => a.headersAt - sentAt);
  const [first, last] = [Math.min(...released), Math.max(...released)];
  assert.ok(first > 300, `the first waiter was answered after ${first.toFixed(0)} ms: it did not wait`);
  // Well within one part: nobody was left behind for a later part (the spread is mostly this process reading 500 answers).
  assert.ok(last - first < 700, `the 500 waiters were released over ${(last - first).toFixed(0)} ms`);
  assert.equal(stream.listenerCount('part'), partListenersBefore, 'waiting adds no per-request listener');
});

test('throughout, the legitimate listener got every part in order, each blocking reload within 1.5 s', { timeout: 20_000 }, async () => {
  assert.ok(listener);
  const report = await listener.stop();
  assert.deepEqual(report.failures, []);
  assert.ok(report.parts.length >= 10, `only ${report.parts.length} parts received`);
  for (let i = 1; i < report.parts.length; i++) assert.deepEqual(report.parts[i], nextPart(report.parts[i - 1]!), `part ${i}`);
  const slowest = Math.max(...report.blockingMs);
  assert.ok(slowest < NEXT_PART_HOLD_MS, `a blocking reload for the next part took ${slowest.toFixed(0)} ms (parts are 1 s)`);
});
