/**
 * The Tribune origin of the fan-out benchmark (bench/fanout-tribune.ts
 * spawns it with an IPC channel), alone in its own process so its CPU time
 * and memory are its own. Scaled mode: listener routes answer only requests
 * that carry the edge's secret (FANOUT_EDGE_SECRET), so every listener
 * request it serves came through the nginx edge.
 *
 * It counts every request it answers, by kind (a second 'request' listener
 * beside fastify's, nothing in src/ changes), and, for the watched Space,
 * when each part landed compared with the wall-clock end of its audio (the
 * publication delay every listener's latency starts with).
 *
 * Protocol over IPC (`process.send`):
 *   child -> parent  { type: 'ready', url }        once listening
 *   parent -> child  { type: 'watch', spaceId }    answers { type: 'watching' } (or { type: 'error' })
 *   parent -> child  { type: 'stats' }             answers { type: 'stats', ...OriginStats }
 *   parent -> child  { type: 'close' }             ends every Space and exits 0
 * It exits on its own when the parent goes away (IPC disconnect).
 */
import type { IncomingMessage } from 'node:http';
import { configFromEnv } from '../src/config.js';
import { buildServer } from '../src/server.js';
import { closeAndExit } from './bench-util.js';

export type OriginRequestKind = 'master' | 'playlist' | 'blockingPlaylist' | 'part' | 'segment' | 'init' | 'feed' | 'presence' | 'other';

export interface OriginStats {
  /** Requests answered since start, by kind (cumulative; the parent takes differences). */
  requests: Record<OriginRequestKind, number>;
  /** Answers by status class since start. */
  statuses: Record<string, number>;
  /** process.cpuUsage() user + system, µs. */
  cpuUs: number;
  rssMb: number;
  /** Parts appended to the watched stream. */
  parts: number;
  /** Per part since the previous stats call: landing time − the wall-clock end of its audio, ms. */
  publishDelaysMs: number[];
}

export type FanoutParentMessage = { type: 'watch'; spaceId: string } | { type: 'stats' } | { type: 'close' };
export type FanoutServerAnswer = { type: 'watching' } | { type: 'error'; message: string } | ({ type: 'stats' } & OriginStats);

const edgeSecret = process.env.FANOUT_EDGE_SECRET;
if (!edgeSecret) throw new Error('FANOUT_EDGE_SECRET must be set: the fan-out origin runs in scaled mode');
// The edge checks the ids the origin mints: both are given the same key.
const idKey = process.env.FANOUT_ID_KEY;
const secretHex = process.env.FANOUT_SECRET_HEX;
if (!idKey || !secretHex) throw new Error('FANOUT_ID_KEY and FANOUT_SECRET_HEX must be set: the edge checks the origin\'s ids and stage passes with them');

const tribune = await buildServer({
  ...configFromEnv({ TRIBUNE_ID_KEY: idKey, TRIBUNE_SECRET: secretHex }),
  host: '127.0.0.1',
  port: 0,
  secureCookies: false,
  edgeSecret,
  store: { databaseUrl: undefined, sqlitePath: ':memory:' },
  // Every simulated listener comes from 127.0.0.1: their beacons would share one
  // address's budget, where in production each person has their own.
  guard: { ...configFromEnv({}).guard, ipScale: 10_000 },
});
const requests: Record<OriginRequestKind, number> = { master: 0, playlist: 0, blockingPlaylist: 0, part: 0, segment: 0, init: 0, feed: 0, presence: 0, other: 0 };
const statuses: Record<string, number> = {};

function kindOf(url: string): OriginRequestKind {
  if (url.startsWith('/hls/')) {
    if (url.includes('/part/')) return 'part';
    if (url.includes('/seg/')) return 'segment';
    if (url.includes('/init.mp4')) return 'init';
    if (url.includes('/master.m3u8')) return 'master';
    if (url.includes('/live.m3u8')) return url.includes('_HLS_msn=') ? 'blockingPlaylist' : 'playlist';
    return 'other';
  }
  if (/^\/api\/spaces\/[^/]+\/feed(\?|$)/.test(url)) return 'feed';
  if (/^\/api\/spaces\/[^/]+\/presence$/.test(url)) return 'presence';
  return 'other';
}

tribune.app.server.on('request', (request: IncomingMessage, response) => {
  const kind = kindOf(request.url ?? '');
  response.once('finish', () => {
    requests[kind]++;
    const status = `${Math.floor(response.statusCode / 100)}xx`;
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
});

const url = await tribune.listen();
const close = closeAndExit(tribune);
let parts = 0;
let publishDelaysMs: number[] = [];

function watch(spaceId: string): string | undefined {
  const stream = tribune.spaces.streamOf(spaceId);
  if (!stream) return `no live stream for Space ${spaceId}`;
  stream.on('part', (head) => {
    const landedAt = Date.now();
    parts++;
    const part = stream.segment(head.msn)?.parts[head.part];
    if (part) publishDelaysMs.push(landedAt - (part.wallClockMs + part.durationS * 1000));
  });
  return undefined;
}

process.on('message', (message: FanoutParentMessage) => {
  if (message.type === 'close') return close(0);
  if (message.type === 'watch') {
    const problem = watch(message.spaceId);
    process.send?.(problem ? { type: 'error', message: problem } : { type: 'watching' });
    return;
  }
  if (message.type === 'stats') {
    const usage = process.cpuUsage();
    const answer: FanoutServerAnswer = {
      type: 'stats',
      requests: { ...requests },
      statuses: { ...statuses },
      cpuUs: usage.user + usage.system,
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
      parts,
      publishDelaysMs,
    };
    publishDelaysMs = [];
    process.send?.(answer);
  }
});
process.on('disconnect', () => close(0));
process.on('SIGTERM', () => close(0));
process.send?.({ type: 'ready', url });
