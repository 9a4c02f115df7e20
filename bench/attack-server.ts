/**
 * The Tribune origin of the attack harness (bench/attack-bench.ts spawns it
 * with an IPC channel), alone in its own process so its memory and
 * liveness are its own. Configured as a deployment behind an edge is:
 * scaled mode (listener routes only with the edge's secret,
 * ATTACK_EDGE_SECRET), the edge's address trusted for X-Forwarded-For
 * (TRIBUNE_TRUST_PROXY=127.0.0.1, so per-address limits apply to the client
 * behind the edge, not to the edge), a known signing key (ATTACK_SECRET_HEX,
 * so the harness can mint an expired stage pass), every other option at
 * its default.
 *
 * It counts what reaches it, by who sent it (a second 'request', 'upgrade',
 * 'connection' and 'clientError' listener beside fastify's; nothing in src/
 * changes). The client's address is X-Forwarded-For on connections from the
 * edge (127.0.0.1), else the socket's. The harness gives legitimate clients
 * addresses in 127.0.0.0/24 and attack n the addresses 127.n.x.y, so every
 * request is attributed to its attack by the address alone.
 *
 * Protocol over IPC (`process.send`):
 *   child -> parent  { type: 'ready', url }   once listening
 *   parent -> child  { type: 'stats', spaceId }  answers { type: 'stats', ...AttackOriginStats } (cumulative)
 *   parent -> child  { type: 'loop-delay', fromMs, toMs }  answers { type: 'loop-delay', ms, atMs }: its worst event-loop delay then
 *   parent -> child  { type: 'close' }        ends every Space and exits 0
 * It exits on its own when the parent goes away (IPC disconnect).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { configFromEnv } from '../src/config.js';
import { buildServer } from '../src/server.js';
import { LoopDelayLog } from './attack-loop-delay.js';
import { closeAndExit } from './bench-util.js';

/** Who sent something: the legitimate side, or attack n (the second octet of its address). */
export type Sender = 'legit' | `attack${number}`;

export interface Tally {
  /** Requests that reached a route handler's door (counted on arrival), by route kind ("direct …" when not through the edge). */
  requests: Record<string, number>;
  /** Their answers, by status (counted when the answer finished). */
  statuses: Record<string, number>;
  /** WebSocket upgrade requests (through the edge and direct), and of those the direct ones. */
  upgrades: number;
  directUpgrades: number;
  /** TCP connections accepted straight from the client (not through the edge). */
  directConnections: number;
}

export interface AttackOriginStats {
  by: Record<string, Tally>;
  /** Requests Node's parser refused (431, 400, 408), by code: attributed to the socket's sender ("edge" for the edge's connections). */
  clientErrors: Record<string, number>;
  shedder: { level: number; delayP50Ms: number; delayP99Ms: number; heapShare: number; shed: Record<string, number> };
  /** The most the shedder's level reached since the previous stats call. */
  maxShedLevel: number;
  rssMb: number;
  heapUsedMb: number;
  /** Per stage member name (members who left included): the SFU's border counters (src/sfu/sfu-types.ts PeerDropStats). */
  sfu: Record<string, Record<string, number>>;
  uptimeS: number;
}

export type AttackParentMessage = { type: 'stats'; spaceId: string } | { type: 'loop-delay'; fromMs: number; toMs: number } | { type: 'close' };
export type AttackServerAnswer = ({ type: 'stats' } & AttackOriginStats) | { type: 'loop-delay'; ms: number; atMs: number };

const edgeSecret = process.env.ATTACK_EDGE_SECRET;
const secretHex = process.env.ATTACK_SECRET_HEX;
const idKey = process.env.ATTACK_ID_KEY;
if (!edgeSecret || !secretHex || !idKey) throw new Error('ATTACK_EDGE_SECRET, ATTACK_SECRET_HEX and ATTACK_ID_KEY must be set');

const replayDir = mkdtempSync(join(tmpdir(), 'tribune-attack-replays-'));
process.once('exit', () => rmSync(replayDir, { recursive: true, force: true }));

const tribune = await buildServer({
  // Only the edge may connect (TRIBUNE_ACCEPT_FROM); the harness's own probes come from 127.0.0.1 too.
  ...configFromEnv({ TRIBUNE_TRUST_PROXY: '127.0.0.1', TRIBUNE_SECRET: secretHex, TRIBUNE_ID_KEY: idKey, TRIBUNE_ACCEPT_FROM: '127.0.0.1' }),
  host: '127.0.0.1',
  port: 0,
  secureCookies: false,
  edgeSecret,
  store: { databaseUrl: undefined, sqlitePath: ':memory:' },
  // The bench Space is recorded, as a host's usually is: every part is synced to its journal before it is published.
  replay: { ...configFromEnv({}).replay, dir: join(replayDir, 'store'), journalDir: join(replayDir, 'journal') },
});

const by: Record<string, Tally> = {};
const clientErrors: Record<string, number> = {};
let maxShedLevel = 0;
const loopDelay = new LoopDelayLog();

function senderOf(address: string | undefined): Sender {
  const match = /^(?:::ffff:)?127\.(\d{1,3})\.\d{1,3}\.\d{1,3}$/.exec(address ?? '');
  const octet = Number(match?.[1] ?? 0);
  return octet === 0 ? 'legit' : `attack${octet}`;
}

/** The client's address: X-Forwarded-For when the edge (127.0.0.1) forwarded it, else the socket's. */
function clientAddress(request: IncomingMessage): string | undefined {
  const socketAddress = request.socket.remoteAddress;
  const forwarded = request.headers['x-forwarded-for'];
  if (socketAddress === '127.0.0.1' && typeof forwarded === 'string') return forwarded.split(',')[0]?.trim();
  return socketAddress;
}

function tally(sender: string): Tally {
  return (by[sender] ??= { requests: {}, statuses: {}, upgrades: 0, directUpgrades: 0, directConnections: 0 });
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/** A coarse route name from the path, enough to tell what an attack got through. */
export function routeKind(method: string, url: string): string {
  const path = url.split('?')[0] ?? '';
  if (path.startsWith('/hls/')) {
    if (/\/part\/[^/]+$/.test(path)) return 'hls part';
    if (/\/seg\/[^/]+$/.test(path)) return 'hls segment';
    if (path.endsWith('/init.mp4')) return 'hls init';
    if (path.endsWith('/master.m3u8')) return 'hls master';
    if (path.endsWith('/live.m3u8')) return url.includes('_HLS_msn=') ? 'hls blocking playlist' : 'hls playlist';
    return 'hls other';
  }
  const api = /^\/api\/spaces\/[^/]+\/(feed|presence|reactions|requests|stage|stage-pass|me)$/.exec(path);
  if (api) return `${method} ${api[1]}`;
  if (/^\/api\/spaces\/[^/]+$/.test(path)) return `${method} space`;
  if (path === '/api/session' || path === '/api/accounts' || path === '/api/tokens') return `${method} ${path.slice(5)}`;
  if (path.startsWith('/api/')) return `${method} api other`;
  if (path.startsWith('/replay/') || path.startsWith('/clips/')) return 'replay';
  if (path === '/healthz') return 'healthz';
  if (/^\/(|index\.html|app\.js|styles\.css|s\/[^/]+|signin|host|new)$/.test(path)) return 'page';
  return 'other';
}

const server = tribune.app.server;
server.on('request', (request: IncomingMessage, response: ServerResponse) => {
  const sender = tally(senderOf(clientAddress(request)));
  const direct = request.socket.remoteAddress !== '127.0.0.1';
  bump(sender.requests, `${direct ? 'direct ' : ''}${routeKind(request.method ?? 'GET', request.url ?? '')}`);
  response.once('finish', () => bump(sender.statuses, String(response.statusCode)));
});
server.on('upgrade', (request: IncomingMessage) => {
  const sender = tally(senderOf(clientAddress(request)));
  sender.upgrades++;
  if (request.socket.remoteAddress !== '127.0.0.1') sender.directUpgrades++;
});
server.on('connection', (socket: Socket) => {
  if (socket.remoteAddress !== '127.0.0.1') tally(senderOf(socket.remoteAddress)).directConnections++;
});
server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
  const address = (socket as Socket).remoteAddress;
  bump(clientErrors, `${address === '127.0.0.1' ? 'edge' : senderOf(address)} ${error.code ?? 'error'}`);
});
const levelTimer = setInterval(() => {
  maxShedLevel = Math.max(maxShedLevel, tribune.shedder.state().level);
}, 100);
levelTimer.unref();

const url = await tribune.listen();
const close = closeAndExit(tribune);

/**
 * Every stage member seen (looked for every 250 ms), with its peer's
 * counters object (live: werift's side keeps counting into it until the
 * peer closes), so a member who left still counts.
 */
const membersSeen = new Map<string, { name: string; stats: Record<string, number> }>();
let watchedSpace: string | undefined;
const memberTimer = setInterval(() => {
  const space = watchedSpace === undefined ? undefined : tribune.spaces.loaded(watchedSpace)?.stage;
  for (const member of space?.memberViews() ?? []) {
    const stats = space?.router.peer(member.id)?.stats;
    if (stats && !membersSeen.has(member.id)) membersSeen.set(member.id, { name: member.name, stats: stats as unknown as Record<string, number> });
  }
}, 250);
memberTimer.unref();

/** The SFU's border counters, summed per member name over every member seen with that name. */
function sfuCounters(spaceId: string): AttackOriginStats['sfu'] {
  watchedSpace = spaceId;
  const out: AttackOriginStats['sfu'] = {};
  for (const { name, stats } of membersSeen.values()) {
    const into = (out[name] ??= {});
    for (const [key, value] of Object.entries(stats)) if (typeof value === 'number') into[key] = (into[key] ?? 0) + value;
  }
  return out;
}

process.on('message', (message: AttackParentMessage) => {
  if (message.type === 'close') return close(0);
  if (message.type === 'loop-delay') {
    process.send?.({ type: 'loop-delay', ...loopDelay.worst(message.fromMs, message.toMs) } satisfies AttackServerAnswer);
    return;
  }
  if (message.type === 'stats') {
    const memory = process.memoryUsage();
    const answer: AttackServerAnswer = {
      type: 'stats',
      by: structuredClone(by),
      clientErrors: { ...clientErrors },
      shedder: tribune.shedder.state(),
      maxShedLevel,
      rssMb: Math.round(memory.rss / 2 ** 20),
      heapUsedMb: Math.round(memory.heapUsed / 2 ** 20),
      sfu: sfuCounters(message.spaceId),
      uptimeS: Math.round(process.uptime()),
    };
    maxShedLevel = tribune.shedder.state().level;
    process.send?.(answer);
  }
});
process.on('disconnect', () => close(0));
process.on('SIGTERM', () => close(0));
process.send?.({ type: 'ready', url });
