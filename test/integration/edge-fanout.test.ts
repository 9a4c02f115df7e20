/**
 * The audience is a cache: an origin in scaled mode behind the nginx edge
 * of src/edge/nginx-edge-config.ts, a live Space with a speaker playing a
 * tone, and 500 simulated hls.js listeners (bench/ll-hls-crowd.ts, in a
 * worker process) following it through the edge for 30 s, with the state
 * feed and presence beacons. It checks:
 *  - every part reached every listener, from the part it started at to the
 *    newest part announced when the run stopped (no part missing, none
 *    failed);
 *  - the origin served each part, segment and init at most once, and each
 *    playlist version (a blocking key and the answer it got) at most once:
 *    counted at the origin, by the URL it saw (the edge's cache key: path and
 *    the _HLS_ directives, or the feed's v) and a hash of the body; a second
 *    request for the same key and body is allowed only once the first
 *    answer's own max-age had run out (an edge refreshing an expired copy is
 *    what the origin asked for; two requests within it would be a collapse
 *    failure);
 *  - junk query strings (a burst with random `x=` on playlists, parts, a
 *    segment, init and the feed, through the edge) never reached the origin
 *    and added no origin request for what they named;
 *  - the origin answers its listener routes only to the edge: without the
 *    edge's secret header, 403 EDGE_ONLY.
 * Late parts are reported (diagnostics), not asserted: timing on a busy
 * 2-core machine is the benchmark's business (bench/fanout-tribune.ts).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { freePort } from '../../src/tools/free-port.js';
import { after, before, test } from 'node:test';
import { nginxInstalled, startNginxEdge, type RunningEdge } from '../../src/edge/nginx-process.js';
import { EDGE_HEADER } from '../../src/guard/edge-only.js';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { parseMediaPlaylist, startCrowd, type CrowdReport } from '../../bench/ll-hls-crowd.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

const LISTENERS = 500;
const LISTEN_S = 28;
const RAMP_MS = 2000;
/** Copies of each junk request, each with its own random `x`. */
const JUNK_COPIES = 10;

/** One request the origin answered. */
interface OriginRequest {
  method: string;
  url: string;
  fromEdge: boolean;
  startedAt: number;
  endedAt: number;
  status: number;
  /** sha1 of the body, for playlists and the feed. */
  bodyHash: string | undefined;
  /** Seconds a shared cache may keep the answer (s-maxage, else max-age). */
  maxAgeS: number;
}

let server: RunningTribune;
let created: TestSpace;
let edge: RunningEdge;
let bot: SpeakerBot | undefined;
let edgeSecret: string;
const originLog: OriginRequest[] = [];

const isListenerRoute = (url: string): boolean => url.startsWith('/hls/') || /^\/api\/spaces\/[^/]+\/feed(\?|$)/.test(url);

/** Records every listener-route request the origin answers (beside fastify's own 'request' listener). */
function observeOrigin(http: Server): void {
  http.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '';
    if (!isListenerRoute(url)) return;
    const entry: OriginRequest = {
      method: request.method ?? '',
      url,
      fromEdge: request.headers[EDGE_HEADER] === edgeSecret,
      startedAt: Date.now(),
      endedAt: 0,
      status: 0,
      bodyHash: undefined,
      maxAgeS: 0,
    };
    originLog.push(entry);
    const keepBody = url.includes('.m3u8') || url.includes('/feed');
    const hash = createHash('sha1');
    if (keepBody) {
      const patchable = response as unknown as { write: (...args: unknown[]) => boolean; end: (...args: unknown[]) => ServerResponse };
      const write = patchable.write.bind(response);
      const end = patchable.end.bind(response);
      const take = (chunk: unknown): void => {
        if (typeof chunk === 'string' || chunk instanceof Uint8Array) hash.update(chunk);
      };
      patchable.write = (...args: unknown[]) => {
        take(args[0]);
        return write(...args);
      };
      patchable.end = (...args: unknown[]) => {
        take(args[0]);
        return end(...args);
      };
    }
    response.once('finish', () => {
      entry.endedAt = Date.now();
      entry.status = response.statusCode;
      if (keepBody) entry.bodyHash = hash.digest('hex');
      const cacheControl = String(response.getHeader('cache-control') ?? '');
      entry.maxAgeS = Number(/s-maxage=(\d+)/.exec(cacheControl)?.[1] ?? /max-age=(\d+)/.exec(cacheControl)?.[1] ?? 0);
    });
  });
}


const junk = (): string => `x=${randomBytes(6).toString('hex')}`;
const hlsPath = (path: string): string => `/hls/${created.space.id}/${path}`;

before(async () => {
  assert.ok(nginxInstalled(), 'nginx is not installed (/usr/sbin/nginx): the test command installs it from Debian’s packages');
  edgeSecret = randomBytes(24).toString('hex');
  server = await startTribune({ edgeSecret });
  observeOrigin(server.tribune.app.server);
  created = await server.createSpace('Edge fan-out');
  bot = new SpeakerBot({ spaceUrl: stageUrl(server.url, created.space.id, await created.speakerPass('tone')), name: 'tone', program: { kind: 'tone', hz: 440 } });
  await bot.start();
  await bot.connected(15_000);
  edge = await startNginxEdge({ port: await freePort(), origin: `127.0.0.1:${new URL(server.url).port}`, edgeSecret, idKey: server.tribune.idKey, stagePassKey: server.tribune.stagePassKey, unlimited: ['127.0.0.0/8'] });
  // Wait (through the edge) until the stream lists a few parts.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const response = await fetch(`${edge.url}${hlsPath('live.m3u8')}`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    const playlist = response?.status === 200 ? parseMediaPlaylist(await response.text()) : undefined;
    if (playlist && playlist.lastSeq - playlist.firstSeq >= 2) break;
    if (Date.now() > deadline) throw new Error('the live stream lists no parts through the edge');
    await sleep(250);
  }
});

after(async () => {
  bot?.stop();
  await edge?.stop();
  await server?.close();
});

test('the origin answers listener routes only to its edge: 403 EDGE_ONLY without the secret header', async () => {
  const id = created.space.id;
  const playlist = parseMediaPlaylist(await (await fetch(`${edge.url}${hlsPath('live.m3u8')}`)).text());
  const part = playlist.uris[playlist.uris.length - 1] ?? '';
  const routes = [hlsPath('master.m3u8'), hlsPath('live.m3u8'), hlsPath('live.m3u8?_HLS_msn=0&_HLS_part=0'), hlsPath('init.mp4'), hlsPath(part), `/api/spaces/${id}/feed`, `/api/spaces/${id}/feed?v=0`];
  for (const headers of [{}, { [EDGE_HEADER]: 'not-the-secret' }] as Record<string, string>[]) {
    for (const route of routes) {
      const response = await fetch(`${server.url}${route}`, { headers, signal: AbortSignal.timeout(5000) });
      const body = (await response.json()) as { error?: { code?: string } };
      assert.equal(response.status, 403, `${route} without the edge's secret: ${response.status}`);
      assert.equal(body.error?.code, 'EDGE_ONLY', route);
    }
  }
  // The same routes through the edge work, and the rest of the API is not guarded.
  for (const route of [hlsPath('master.m3u8'), hlsPath(part), `/api/spaces/${id}/feed?v=0`]) {
    assert.equal((await fetch(`${edge.url}${route}`, { signal: AbortSignal.timeout(5000) })).status, 200, `${route} through the edge`);
  }
  assert.equal((await fetch(`${server.url}/api/spaces/${id}`, { signal: AbortSignal.timeout(5000) })).status, 200, 'the API itself answers directly');
});

/** Junk query strings on everything a listener asks the edge for; returns what the edge answered. */
async function junkBurst(): Promise<{ sent: number; statuses: Record<string, number>; notHits: string[] }> {
  const id = created.space.id;
  const get = (path: string) => fetch(`${edge.url}${path}`, { signal: AbortSignal.timeout(20_000) });
  // Objects the crowd has fetched, or that we fetch once cleanly first.
  const playlist = parseMediaPlaylist(await (await get(hlsPath(`live.m3u8?${junk()}`))).text());
  // The newest complete segment (the crowd fetches parts, not segments): fetched once cleanly, then with junk.
  const segmentMsn = Math.floor(playlist.lastSeq / 4) - 1;
  assert.ok(segmentMsn >= 0, 'the stream has a complete segment');
  const segment = hlsPath(`seg/${segmentMsn}.m4s`);
  assert.equal((await get(segment)).status, 200, `clean request for ${segment}`);
  const feedV0 = `/api/spaces/${id}/feed?v=0`;
  assert.equal((await get(feedV0)).status, 200, 'clean request for the feed at v=0');
  const next = playlist.lastSeq + 1;
  const blocking = `_HLS_msn=${Math.floor(next / 4)}&_HLS_part=${next % 4}&_HLS_skip=YES`;
  const cached = [
    hlsPath(`master.m3u8?${junk()}`),
    hlsPath(`init.mp4?${junk()}`),
    // Parts the crowd has fetched: announced a second or more ago (not the newest, which may be in flight).
    ...playlist.uris.slice(-5, -1).map((uri) => hlsPath(`${uri}?${junk()}`)),
    `${segment}?${junk()}`,
    `${feedV0}&${junk()}`,
    `/api/spaces/${id}/feed?${junk()}&v=0`,
  ];
  const other = [
    // The blocking reload the crowd is waiting on, with junk before, between and after the directives.
    hlsPath(`live.m3u8?${blocking}&${junk()}`),
    hlsPath(`live.m3u8?${junk()}&${blocking}`),
    hlsPath(`live.m3u8?_HLS_msn=${Math.floor(next / 4)}&${junk()}&_HLS_part=${next % 4}&_HLS_skip=YES`),
    hlsPath(`live.m3u8?${junk()}`),
  ];
  const statuses: Record<string, number> = {};
  const notHits: string[] = [];
  const one = async (path: string, mustHit: boolean): Promise<void> => {
    const fresh = path.replace(/x=[0-9a-f]+/, junk);
    const response = await get(fresh);
    await response.arrayBuffer();
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    const cache = response.headers.get('x-cache');
    if (mustHit && cache !== 'HIT') notHits.push(`${fresh}: ${response.status} ${cache}`);
  };
  const all = [...cached.map((path) => ({ path, mustHit: true })), ...other.map((path) => ({ path, mustHit: false }))];
  await Promise.all(all.flatMap(({ path, mustHit }) => Array.from({ length: JUNK_COPIES }, () => one(path, mustHit))));
  return { sent: all.length * JUNK_COPIES, statuses, notHits };
}

/** Requests for one key (and, for playlists and the feed, one body) that came before the previous answer's max-age ran out. */
function collapseFailures(log: OriginRequest[]): string[] {
  const groups = new Map<string, OriginRequest[]>();
  for (const entry of log) {
    const key = `${entry.method} ${entry.url} ${entry.bodyHash ?? ''}`;
    const list = groups.get(key) ?? [];
    list.push(entry);
    groups.set(key, list);
  }
  const failures: string[] = [];
  for (const [key, list] of groups) {
    list.sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 1; i < list.length; i++) {
      const previous = list[i - 1] as OriginRequest;
      const entry = list[i] as OriginRequest;
      // An answer the edge may not keep (an error, no-store) may be asked for again at once; a kept one only once
      // it expired: nginx keeps it max-age whole seconds from the second it came in, so a refresh comes at least max-age later.
      if (previous.status !== 200 || previous.maxAgeS === 0) continue;
      // (Less 250 ms: nginx's clock is the one it cached at its last wake-up.)
      const refreshAllowedAt = previous.endedAt + previous.maxAgeS * 1000 - 250;
      if (entry.startedAt < refreshAllowedAt) {
        failures.push(
          `${key.slice(0, 160)}: request ${i + 1} (${entry.status}) at +${entry.startedAt - previous.endedAt} ms after the previous answer (${previous.status}, max-age ${previous.maxAgeS} s)`,
        );
      }
    }
  }
  return failures;
}

function crowdLine(report: CrowdReport): string {
  return (
    `${report.listeners_started} listeners: ${report.parts_ok} parts, ${report.parts_late} late (> ${report.late_after_ms} ms, ${report.late_parts_pct} %), ` +
    `latency behind the live edge p50 ${report.latency_ms.p50} ms, p99 ${report.latency_ms.p99} ms, max ${report.latency_ms.max} ms; ` +
    `${report.requests_per_s_per_listener.total} requests/s per listener (${JSON.stringify(report.requests_per_s_per_listener)}); ` +
    `load generator ${report.load_generator.cpu_s} s CPU`
  );
}

test(`${LISTENERS} listeners for 30 s through the edge: every part reaches every listener, the origin serves each object once, junk never reaches it`, { timeout: 120_000 }, async (t) => {
  const crowd = await startCrowd({
    url: edge.url,
    spaceId: created.space.id,
    listeners: LISTENERS,
    seconds: LISTEN_S,
    rampMs: RAMP_MS,
    workers: 1,
    perListener: true,
  });
  // Junk in the middle of the run, while the crowd's requests are in flight.
  await sleep(Math.max(0, crowd.startAtMs + RAMP_MS + 8000 - Date.now()));
  const burstStartedAt = Date.now();
  const burst = await junkBurst();
  const burstEndedAt = Date.now();
  const report = await crowd.done;
  t.diagnostic(crowdLine(report));
  t.diagnostic(`junk burst: ${burst.sent} requests in ${burstEndedAt - burstStartedAt} ms, answers ${JSON.stringify(burst.statuses)}`);

  // Every part reached every listener.
  const listeners = report.perListener ?? [];
  assert.equal(listeners.length, LISTENERS);
  assert.equal(report.listeners_started, LISTENERS, 'every listener started');
  assert.equal(
    report.missing_parts,
    0,
    `${report.missing_parts} parts missing for ${report.listeners_with_missing} listeners, e.g. ${JSON.stringify(report.missing_samples.slice(0, 10))}; errors ${JSON.stringify(report.errors)}`,
  );
  for (const listener of listeners) {
    assert.ok(listener.started && listener.firstSeq >= 0, `listener ${listener.index} never started following`);
    assert.ok(listener.lastSeq >= report.cut_seq.max, `listener ${listener.index} stopped at part ${listener.lastSeq}, the stream was at ${report.cut_seq.max}`);
    assert.equal(listener.partsOk, listener.lastSeq - listener.firstSeq + 1, `listener ${listener.index}: ${listener.partsOk} parts from ${listener.firstSeq} to ${listener.lastSeq}`);
    assert.ok(listener.partsOk >= 10, `listener ${listener.index} got only ${listener.partsOk} parts`);
  }
  assert.equal(report.total.partErrors + report.total.playlistErrors, 0, `media and playlist errors: ${JSON.stringify(report.errors)}`);
  // The beacons go through the edge too.
  assert.equal(report.total.beaconErrors, 0, `beacon errors: ${JSON.stringify(report.errors)}`);

  // What the origin served, as the edge asked for it.
  const fromEdge = originLog.filter((entry) => entry.fromEdge);
  assert.ok(fromEdge.length > 0, 'the origin saw requests from the edge');
  const junkAtOrigin = fromEdge.filter((entry) => /[?&]x=/.test(entry.url));
  assert.deepEqual(junkAtOrigin.map((e) => e.url), [], 'junk query strings reached the origin');
  const unknownParams = fromEdge.filter((entry) => /[?&](?!_HLS_msn=|_HLS_part=|_HLS_skip=|v=)[^=&]+=/.test(entry.url));
  assert.deepEqual(unknownParams.map((e) => e.url), [], 'only the LL-HLS directives and the feed version reach the origin');
  const failures = collapseFailures(fromEdge);
  assert.deepEqual(failures, [], 'the origin served an object (or a playlist version) twice');

  // The junk named objects the edge had: every one answered from the cache, and the origin saw each key at most once (above).
  assert.deepEqual(burst.notHits, [], 'junk requests for cached objects that were not cache hits');
  assert.ok(Object.keys(burst.statuses).every((status) => status === '200'), `junk answers: ${JSON.stringify(burst.statuses)}`);

  const errorsAtOrigin = fromEdge.filter((e) => e.status !== 200);
  if (errorsAtOrigin.length > 0) t.diagnostic(`origin answers to the edge other than 200: ${errorsAtOrigin.map((e) => `${e.status} ${e.url}`).slice(0, 10).join(', ')}`);
  const during = fromEdge.filter((e) => e.startedAt >= crowd.startAtMs);
  const kinds = { parts: 0, playlists: 0, feed: 0, other: 0 };
  for (const e of during) kinds[e.url.includes('/part/') ? 'parts' : e.url.includes('.m3u8') ? 'playlists' : e.url.includes('/feed') ? 'feed' : 'other']++;
  const t0 = report.total;
  const atEdge = t0.masterRequests + t0.playlistRequests + t0.initRequests + t0.partRequests + t0.feedRequests;
  t.diagnostic(`origin: ${during.length} listener-route requests from the edge during the run (${JSON.stringify(kinds)}) for ${atEdge} listener requests at the edge`);
  // Last: the state feed reached every listener through the edge (their first poll has no v, as the page's).
  const withoutFeed = listeners.filter((l) => l.feedVersions === 0);
  assert.equal(withoutFeed.length, 0, `${withoutFeed.length} listeners never got the state feed through the edge; errors ${JSON.stringify(report.errors)}`);
});
