/**
 * The Tribune server of the state-feed benchmark (bench/feed-run.ts spawns
 * it with an IPC channel), alone in its own process so the load generator
 * and the server do not share an event loop.
 *
 * Config: in-memory SQLite, 127.0.0.1 port 0, and the presence window from
 * FEED_BENCH_PRESENCE_WINDOW_MS (the benchmark compresses time: beacons come
 * more often than the product's 30 s, so the window shrinks with them).
 *
 * Protocol over IPC (`process.send`):
 *   child -> parent  { type: 'ready', url }          once listening
 *   parent -> child  { type: 'watch', spaceId }      wraps that Space's hub to count what the
 *                                                    benchmark needs (see below); answers { type: 'watching' }
 *   parent -> child  { type: 'stats' }               answers { type: 'stats', ...ServerStats }
 *   parent -> child  { type: 'close' }               ends every Space and exits 0
 * It exits on its own when the parent goes away (IPC disconnect).
 *
 * What `watch` wraps, on the hub instance only (nothing in src/ changes):
 * - `hub.beacon`: counts the beacons the hub accepted (it throws on refusal);
 * - `hub.feed.publishIfDirty`: records each version it publishes and how
 *   many long-polls it released.
 * And on the HTTP server (a second 'request' listener beside fastify's), for
 * every GET .../feed?v= that was waiting when a version was published: the
 * time from the publication to the return of its `response.end()` (the
 * answer handed to the kernel). `fanoutMs` of a version is that time for the
 * last poll it released.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { configFromEnv } from '../src/config.js';
import { buildServer } from '../src/server.js';
import type { SpaceHub } from '../src/control/space-hub.js';
import { closeAndExit, percentile } from './bench-util.js';

export interface PublishedVersion {
  version: number;
  /** Long-polls waiting when it was published (released by it). */
  released: number;
  /** Publication to the answer of the last poll it released handed to the kernel, ms (NaN if not all were answered before the next version). */
  fanoutMs: number;
}

export interface ServerStats {
  /** `hub.feed.builds`: serializations of the feed document so far. */
  builds: number;
  /** `hub.feed.version` now. */
  version: number;
  /** Every version published since `watch`, oldest first. */
  published: PublishedVersion[];
  beaconsAccepted: number;
  beaconsRefused: number;
  /** `hub.listenerCount()` now. */
  listenerCount: number;
  /** Long-polls waiting now. */
  waiting: number;
  /** process.cpuUsage() user + system, µs. */
  cpuUs: number;
  /** Event-loop delay since the previous stats call, ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  rssMb: number;
  /** Garbage-collection pauses since the previous stats call. */
  gc: { totalMs: number; maxMs: number; count: number };
  /** Per released long-poll, publication to its answer handed to the kernel, since the previous stats call. */
  serverWriteMs: { p50: number; p99: number; max: number; samples: number };
}

export type ParentMessage = { type: 'watch'; spaceId: string } | { type: 'stats' } | { type: 'close' };

const presenceWindowMs = Number(process.env.FEED_BENCH_PRESENCE_WINDOW_MS ?? 70_000);
const tribune = await buildServer({
  ...configFromEnv({}),
  host: '127.0.0.1',
  port: 0,
  secureCookies: false,
  presenceWindowMs,
  store: { databaseUrl: undefined, sqlitePath: ':memory:' },
});
const url = await tribune.listen();
const close = closeAndExit(tribune);
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
let gcPauses: number[] = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push(entry.duration);
}).observe({ entryTypes: ['gc'] });

let hub: SpaceHub | undefined;
const published: PublishedVersion[] = [];
let beaconsAccepted = 0;
let beaconsRefused = 0;

function watch(watched: SpaceHub): void {
  hub = watched;
  const beacon = watched.beacon.bind(watched);
  watched.beacon = (listener, leaving) => {
    try {
      beacon(listener, leaving);
      beaconsAccepted++;
    } catch (error) {
      beaconsRefused++;
      throw error;
    }
  };
  const feed = watched.feed;
  const publish = feed.publishIfDirty.bind(feed);
  feed.publishIfDirty = () => {
    const before = feed.version;
    const released = feed.waiting;
    const at = performance.now();
    publish();
    if (feed.version === before) return;
    published.push({ version: feed.version, released, fanoutMs: NaN });
    publishedAt.push(at);
    answered.push(0);
  };
}

/** performance.now() of each publication, and how many of the polls it released have been answered. */
const publishedAt: number[] = [];
const answered: number[] = [];
let writeMs: number[] = [];

tribune.app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
  if (!request.url?.includes('/feed?v=')) return;
  // A poll that waits is released by the first publication after it arrived.
  const releasedBy = published.length;
  // Fastify answers with response.end(body), which hands the bytes to the
  // kernel before it returns (the socket is writable); 'finish' would come
  // later, from the write callback, on a later turn of the event loop.
  const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
  response.end = ((...args: unknown[]) => {
    const result = end(...args);
    const entry = published[releasedBy];
    const at = publishedAt[releasedBy];
    if (!entry || at === undefined) return result; // answered at once, or at the end of its hold
    const ms = performance.now() - at;
    writeMs.push(ms);
    const count = (answered[releasedBy] ?? 0) + 1;
    answered[releasedBy] = count;
    if (count === entry.released) entry.fanoutMs = Math.round(ms * 100) / 100;
    return result;
  }) as typeof response.end;
});

function stats(): ServerStats {
  const usage = process.cpuUsage();
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
  const delay = { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) };
  loopDelay.reset();
  const writes = writeMs.sort((a, b) => a - b);
  writeMs = [];
  const r = (x: number): number => Math.round(x * 10) / 10;
  const gc = { totalMs: r(gcPauses.reduce((a, b) => a + b, 0)), maxMs: r(Math.max(0, ...gcPauses)), count: gcPauses.length };
  gcPauses = [];
  return {
    gc,
    serverWriteMs: { p50: r(percentile(writes, 50)), p99: r(percentile(writes, 99)), max: r(writes.at(-1) ?? NaN), samples: writes.length },
    builds: hub?.feed.builds ?? 0,
    version: hub?.feed.version ?? 0,
    published,
    beaconsAccepted,
    beaconsRefused,
    listenerCount: hub?.listenerCount().count ?? 0,
    waiting: hub?.feed.waiting ?? 0,
    cpuUs: usage.user + usage.system,
    eventLoopDelayMs: delay,
    rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'close') return close(0);
  if (message.type === 'watch') {
    const found = tribune.spaces.loaded(message.spaceId);
    if (!found) {
      process.send?.({ type: 'error', message: `no Space ${message.spaceId} in memory` });
      return;
    }
    watch(found);
    process.send?.({ type: 'watching' });
    return;
  }
  if (message.type === 'stats') process.send?.({ type: 'stats', ...stats() });
});
process.on('disconnect', () => close(0));
process.on('SIGTERM', () => close(0));
process.send?.({ type: 'ready', url });
