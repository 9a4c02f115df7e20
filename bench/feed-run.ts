/**
 * One run of the state-feed benchmark: N simulated listeners against a fresh
 * Tribune server in a child process (bench/feed-server.ts). bench/feed-bench.ts
 * runs this once per N, each in its own process; its last stdout line is the
 * run's JSON (FeedRunResult).
 *
 *   tsx bench/feed-run.ts <listeners>
 *
 * Each listener, like the listener page: draws a random id, sends a presence
 * beacon at once and then every 0.85–1 × the beacon interval, and
 * long-polls GET /api/spaces/:id/feed?v=<last version> in a loop. Listeners
 * start spread evenly over one beacon interval (the ramp). Meanwhile a few
 * signed-in accounts react (each at 1 per 1.2 s, under the 1/s limit), so
 * the hub has something new to publish at every 1 s tick, as in a lively
 * Space.
 *
 * Time is compressed: the product beacons every 30 s and counts a listener
 * for 70 s; here beacons come every FEED_BENCH_BEACON_MS (default 5 s) and
 * the server's window is FEED_BENCH_WINDOW_MS (default 12 s, the same 2.4:1
 * ratio), so a run reaches steady state in seconds. That makes beacons 6×
 * more frequent than in the product (reported as beacons_per_s and
 * beacons_per_s_product_equivalent). The feed itself is not compressed: one
 * version per 1 s tick, held polls up to the product's 20 s.
 *
 * HTTP: a minimal HTTP/1.1 client on raw TCP sockets (RawConnection below;
 * undici is not a dependency and node:http costs several times more CPU per
 * request): one keep-alive connection per listener for its long-poll, as
 * each browser tab holds one, and a pool of max(64, N / 20) keep-alive
 * connections for the beacons of all listeners (fire and forget, as the page sends them:
 * the next one is due 0.85–1 × the interval later, whatever the answer).
 *
 * Measured over BENCH_SECONDS (default 40) after the ramp and a warm-up of
 * one more beacon interval:
 * - feed_p99_ms: p99 over every (listener, new version) delivery of
 *   (time the answer's body was complete at the listener, Date.now()) −
 *   (the version number, which is Date.now() on the server when it was
 *   built: StateFeed takes max(previous + 1, Date.now())). Both processes
 *   read the same system clock. Only answers to a poll with v=<older
 *   version> whose version was published inside the window count; a
 *   listener that comes back late for a version (it was busy with the
 *   previous answer) counts from the publication, so the figure is what a
 *   listener sees.
 * - feed_builds_per_version: (hub.feed.builds delta) / (versions published)
 *   over the window, both read in the server process.
 * - beacons_per_s: beacons the hub accepted per second over the window.
 * - count_error_pct: |listeners.count in the feed − N| / N × 100 over every
 *   version published in the window (as the listeners received it): the
 *   median, and the worst as count_error_pct_max.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { REACTION_EMOJI } from '../src/wire/limits.js';
import type { CreatedSpace } from '../src/wire/api.js';
import { TestAccount } from '../test/helpers/accounts.js';
import { hostBusyMs, openFilesLimits, percentile, positive, round, sleep, writeJsonLine } from './bench-util.js';
import type { ParentMessage, ServerStats } from './feed-server.js';
import { ServerProcess, cpuProfileArgs } from './server-process.js';

const BEACON_INTERVAL_MS = positive('FEED_BENCH_BEACON_MS', 5000);
const PRESENCE_WINDOW_MS = positive('FEED_BENCH_WINDOW_MS', 12_000);
const MEASURE_MS = positive('BENCH_SECONDS', 40) * 1000;
const REACTORS = 3;
/** Connections for the beacons of all listeners: enough that beacons never queue behind a fan-out. */
const beaconConnections = (listeners: number): number => Math.max(64, Math.ceil(listeners / 20));
const REACTION_EVERY_MS = 1200;
const PRODUCT_BEACON_MS = 30_000;
const PRODUCT_WINDOW_MS = 70_000;

export interface FeedRunResult {
  listeners: number;
  feed_builds_per_version: number;
  feed_p99_ms: number;
  beacons_per_s: number;
  count_error_pct: number;
  count_error_pct_max: number;
  feed_delivery_ms: { p50: number; p90: number; p99: number; max: number; mean: number; samples: number };
  versions_published: number;
  feed_builds: number;
  versions_per_s: number;
  feed_answers: number;
  feed_answers_per_s: number;
  /** Share of (listener, version) pairs in the window never delivered (a newer version came first). */
  versions_skipped_pct: number;
  /** Versions whose body differed between two listeners (must be 0: one body per version). */
  versions_with_differing_bodies: number;
  feed_body_bytes: number;
  released_per_version: { p50: number; min: number };
  /** Per version: publication to the last released poll's answer handed to the kernel (server side). */
  server_fanout_ms: { p50: number; p99: number; max: number; versions: number };
  /** Per released poll: publication to its answer handed to the kernel (server side). */
  server_write_ms: { p50: number; p99: number; max: number; samples: number };
  listener_count_reported: { median: number; min: number; max: number };
  count_after_leaving: number;
  beacons_per_s_product_equivalent: number;
  beacons_sent_ok: number;
  /** Client side: beacon queued to its answer (204), ms, and the longest queue for a connection of the pool. */
  beacon_round_trip_ms: { p50: number; p99: number; max: number };
  beacon_queue_max: number;
  beacon_connections: number;
  beacon_errors: number;
  poll_errors: number;
  poll_timeouts: number;
  reactions_accepted: number;
  reactions_refused: number;
  compressed_time: { beacon_interval_ms: number; presence_window_ms: number; product_beacon_interval_ms: number; product_presence_window_ms: number };
  server_cpu_pct: number;
  server_event_loop_delay_ms: { p50: number; p99: number; max: number };
  server_rss_mb: number;
  server_gc: { totalMs: number; maxMs: number; count: number };
  bench_cpu_pct: number;
  bench_event_loop_delay_p99_ms: number;
  host_busy_pct_of_one_core: number;
  other_processes_pct_of_one_core: number;
  fd_limit: number;
  measure_s: number;
  setup_s: number;
}

// ---------------------------------------------------------------- the server

type ServerAnswer = { type: 'watching' } | { type: 'error'; message: string } | ({ type: 'stats' } & ServerStats);
type FeedServer = ServerProcess<ParentMessage, ServerAnswer>;

function startServer(): Promise<{ server: FeedServer; url: string }> {
  // Extra node flags for the server only, for experiments (e.g. --max-semi-space-size=64).
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return ServerProcess.start<ParentMessage, ServerAnswer>(new URL('./feed-server.ts', import.meta.url), {
    nodeArgs: [...cpuProfileArgs(), ...extra],
    env: { FEED_BENCH_PRESENCE_WINDOW_MS: String(PRESENCE_WINDOW_MS) },
  });
}

// ---------------------------------------------------------------- HTTP

interface Answer {
  status: number;
  body: Buffer;
  /** Date.now() when the whole answer had arrived. */
  at: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * A minimal HTTP/1.1 client on one keep-alive TCP connection, one request at
 * a time, reconnecting when the server closes it. node:http's client costs
 * several times more CPU per request, and at 5,000 answers a second on a
 * shared core that cost, not the server, would decide the delivery times.
 * Understands what Tribune sends here: content-length bodies (no chunked
 * encoding; refused loudly if it ever appears).
 */
class RawConnection {
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: { resolve: (answer: Answer) => void; reject: (error: Error) => void; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly port: number,
    private readonly host: string,
  ) {}

  request(data: string, timeoutMs: number): Promise<Answer> {
    if (this.pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error('timeout')), timeoutMs);
      this.pending = { resolve, reject, timer };
      this.connection().write(data);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connection(): net.Socket {
    if (this.socket) return this.socket;
    const socket = net.connect(this.port, this.host);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.fail(new Error('connection closed'));
    });
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const headEnd = this.buffer.indexOf(HEAD_END);
    if (headEnd < 0) return;
    const head = this.buffer.toString('latin1', 0, headEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length && /\r\ntransfer-encoding:/i.test(head)) return this.fail(new Error('chunked answers are not supported'), true);
    const bodyLength = Number(length?.[1] ?? 0);
    if (this.buffer.length < headEnd + 4 + bodyLength) return;
    const at = Date.now();
    const body = this.buffer.subarray(headEnd + 4, headEnd + 4 + bodyLength);
    this.buffer = Buffer.alloc(0);
    const pending = this.pending;
    this.pending = undefined;
    if (/\r\nconnection: *close/i.test(head)) this.close();
    if (!pending) return;
    clearTimeout(pending.timer);
    pending.resolve({ status: Number(head.slice(9, 12)), body, at });
  }

  private fail(error: Error, closeSocket = false): void {
    if (closeSocket || error.message === 'timeout') this.close();
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    clearTimeout(pending.timer);
    pending.reject(error);
  }
}

/** Beacons of every listener go out through a pool of connections (a browser would use its own). */
class BeaconPool {
  private readonly idle: RawConnection[];
  private readonly all: RawConnection[];
  private readonly queue: { data: string; queuedAt: number; done: (ok: boolean) => void }[] = [];
  /** Queued to answered, ms, while `recording`. */
  readonly roundTrips: number[] = [];
  recording = false;
  queueMax = 0;

  constructor(size: number, port: number, host: string) {
    this.all = Array.from({ length: size }, () => new RawConnection(port, host));
    this.idle = [...this.all];
  }

  send(data: string): Promise<boolean> {
    return new Promise((done) => {
      this.queue.push({ data, queuedAt: Date.now(), done });
      if (this.recording) this.queueMax = Math.max(this.queueMax, this.queue.length);
      this.pump();
    });
  }

  close(): void {
    for (const connection of this.all) connection.close();
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const connection = this.idle.pop();
      const job = this.queue.shift();
      if (!connection || !job) return;
      connection
        .request(job.data, 10_000)
        .then(
          (answer) => {
            if (this.recording) this.roundTrips.push(answer.at - job.queuedAt);
            job.done(answer.status === 204);
          },
          () => job.done(false),
        )
        .finally(() => {
          this.idle.push(connection);
          this.pump();
        });
    }
  }
}

// ---------------------------------------------------------------- the run

interface Window {
  /** Versions published in [from, to] count. */
  from: number;
  to: number;
}

class Listeners {
  readonly latencies: number[] = [];
  /** version -> body, the first one any listener got (to check every listener gets the same bytes). */
  readonly bodies = new Map<number, Buffer>();
  /** version -> listeners.count in it. */
  readonly counts = new Map<number, number>();
  /** Deliveries of versions inside the window (one per listener and version). */
  deliveriesInWindow = 0;
  readonly differing = new Set<number>();
  answersInWindow = 0;
  pollErrors = 0;
  pollTimeouts = 0;
  beaconsOk = 0;
  beaconErrors = 0;
  running = true;
  window: Window = { from: Infinity, to: Infinity };
  private readonly ids: string[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly connections: RawConnection[] = [];
  private readonly hostHeader: string;

  constructor(
    readonly count: number,
    private readonly base: URL,
    private readonly spaceId: string,
    private readonly beacons: BeaconPool,
  ) {
    this.ids = Array.from({ length: count }, () => randomBytes(12).toString('base64url'));
    this.hostHeader = base.host;
  }

  /** Starts listener i at i/N of the ramp. */
  start(rampMs: number): void {
    this.ids.forEach((id, i) => {
      this.later(() => {
        this.beaconLoop(id);
        const connection = new RawConnection(Number(this.base.port), this.base.hostname);
        this.connections.push(connection);
        void this.pollLoop(connection);
      }, (rampMs * i) / this.count);
    });
  }

  /** Stops every loop, then every listener says it leaves (as the page does on pagehide). */
  async leaveAll(): Promise<void> {
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const connection of this.connections) connection.close();
    await Promise.all(this.ids.map((id) => this.beacons.send(this.beacon(id, true))));
  }

  private beacon(id: string, leaving: boolean): string {
    const body = JSON.stringify(leaving ? { listener: id, leaving: true } : { listener: id });
    return `POST /api/spaces/${this.spaceId}/presence HTTP/1.1\r\nhost: ${this.hostHeader}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  /** Like src/web/listener/presence-beacon.ts: fire and forget, the next one U(0.85, 1) × the interval later. */
  private beaconLoop(id: string): void {
    if (!this.running) return;
    void this.beacons.send(this.beacon(id, false)).then((ok) => (ok ? this.beaconsOk++ : this.beaconErrors++));
    this.later(() => this.beaconLoop(id), BEACON_INTERVAL_MS * (0.85 + 0.15 * Math.random()));
  }

  private async pollLoop(connection: RawConnection): Promise<void> {
    let version: number | undefined;
    const path = `/api/spaces/${this.spaceId}/feed`;
    while (this.running) {
      let answer: Answer;
      try {
        answer = await connection.request(`GET ${path}${version === undefined ? '' : `?v=${version}`} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n\r\n`, 30_000);
      } catch {
        if (!this.running) return;
        this.pollErrors++;
        await sleep(100 + Math.random() * 400);
        continue;
      }
      const got = answer.status === 200 ? this.record(answer.body) : undefined;
      if (got === undefined) {
        this.pollErrors++;
        await sleep(100 + Math.random() * 400);
        continue;
      }
      if (version !== undefined && got === version) this.pollTimeouts++;
      if (version !== undefined && got > version && got >= this.window.from && got <= this.window.to) {
        this.latencies.push(answer.at - got);
        this.deliveriesInWindow++;
      }
      if (answer.at >= this.window.from && answer.at <= this.window.to) this.answersInWindow++;
      version = got;
    }
  }

  /** The answer's version; parses each version's body once, and checks every listener got the same bytes. */
  private record(body: Buffer): number | undefined {
    const match = /^\{"version":(\d+),/.exec(body.toString('latin1', 0, 32));
    if (!match) return undefined;
    const version = Number(match[1]);
    const seen = this.bodies.get(version);
    if (seen === undefined) {
      this.bodies.set(version, body);
      const parsed = JSON.parse(body.toString('utf8')) as { listeners: { count: number } };
      this.counts.set(version, parsed.listeners.count);
    } else if (!seen.equals(body)) {
      this.differing.add(version);
    }
    return version;
  }
}

async function run(count: number): Promise<FeedRunResult> {
  const setupStart = Date.now();
  const fdLimit = openFilesLimits().soft;
  if (fdLimit < count + 1000) throw new Error(`open files limit ${fdLimit} is too low for ${count} listeners (need about ${count + 1000}); run through npm run bench:feed, which raises it, or ulimit -n`);
  const { server, url } = await startServer();
  const stats = (): Promise<ServerStats> => server.ask({ type: 'stats' }, 'stats');
  const base = new URL(url);
  const beacons = new BeaconPool(beaconConnections(count), Number(base.port), base.hostname);
  let reactTimer: NodeJS.Timeout | undefined;
  try {
    const host = await TestAccount.signUp(url);
    const reactors = await Promise.all(Array.from({ length: REACTORS }, () => TestAccount.signUp(url)));
    const created = await host.bot<CreatedSpace>('POST', '/api/spaces', { title: 'Feed benchmark' });
    if (created.status !== 201) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
    const spaceId = created.body.space.id;
    await server.ask({ type: 'watch', spaceId }, 'watching');
    const setupS = (Date.now() - setupStart) / 1000;

    // Reactions: reactor k reacts at k/REACTORS of every REACTION_EVERY_MS.
    let reactionsAccepted = 0;
    let reactionsRefused = 0;
    let tick = 0;
    reactTimer = setInterval(
      () => {
        const reactor = reactors[tick % REACTORS];
        const emoji = REACTION_EMOJI[tick % REACTION_EMOJI.length];
        tick++;
        if (!reactor) return;
        void reactor.bot('POST', `/api/spaces/${spaceId}/reactions`, { emoji }).then(
          (answer) => (answer.status === 202 ? reactionsAccepted++ : reactionsRefused++),
          () => reactionsRefused++,
        );
      },
      REACTION_EVERY_MS / REACTORS,
    );

    const listeners = new Listeners(count, base, spaceId, beacons);
    log(`N=${count}: ramp over ${BEACON_INTERVAL_MS} ms, warm-up ${BEACON_INTERVAL_MS} ms, then ${MEASURE_MS / 1000} s measured`);
    listeners.start(BEACON_INTERVAL_MS);
    await sleep(2 * BEACON_INTERVAL_MS);

    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    const before = { server: await stats(), cpu: process.cpuUsage(), hostMs: hostBusyMs(), at: Date.now() };
    loopDelay.enable();
    beacons.recording = true;
    listeners.window = { from: before.at, to: before.at + MEASURE_MS };
    const beaconsBefore = listeners.beaconsOk;
    await sleep(MEASURE_MS);
    const after = { server: await stats(), cpu: process.cpuUsage(), hostMs: hostBusyMs(), at: Date.now() };
    loopDelay.disable();
    beacons.recording = false;
    const wallMs = after.at - before.at;
    const beaconsSentOk = listeners.beaconsOk - beaconsBefore;
    // Deliveries of the window's last versions are still arriving.
    await sleep(3000);
    log(`N=${count}: measured; listeners leave`);

    clearInterval(reactTimer);
    await listeners.leaveAll();
    // The hub publishes the new count at its next 1 s tick.
    await sleep(2500);
    const afterLeave = await stats();

    const inWindow = after.server.published.filter((p) => p.version >= before.at && p.version <= after.at);
    const versionsPublished = after.server.published.length - before.server.published.length;
    const builds = after.server.builds - before.server.builds;
    const latencies = listeners.latencies.sort((a, b) => a - b);
    const beaconTrips = beacons.roundTrips.sort((a, b) => a - b);
    const counts = inWindow.map((p) => listeners.counts.get(p.version)).filter((c): c is number => c !== undefined);
    const errors = counts.map((c) => (100 * Math.abs(c - count)) / count).sort((a, b) => a - b);
    const sortedCounts = [...counts].sort((a, b) => a - b);
    const fanout = inWindow.map((p) => p.fanoutMs).filter((ms) => typeof ms === 'number' && Number.isFinite(ms)).sort((a, b) => a - b);
    const released = inWindow.map((p) => p.released).sort((a, b) => a - b);
    const serverCpuPct = (100 * (after.server.cpuUs - before.server.cpuUs)) / 1000 / wallMs;
    const benchCpuPct = (100 * (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system)) / 1000 / wallMs;
    const hostBusyPct = (100 * (after.hostMs - before.hostMs)) / wallMs;
    const sampleBody = [...listeners.bodies.values()].at(-1) ?? '';
    const mean = latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length);

    return {
      listeners: count,
      feed_builds_per_version: round(builds / Math.max(1, versionsPublished), 3),
      feed_p99_ms: round(percentile(latencies, 99), 1),
      beacons_per_s: round((1000 * (after.server.beaconsAccepted - before.server.beaconsAccepted)) / wallMs, 1),
      count_error_pct: round(percentile(errors, 50), 2),
      count_error_pct_max: round(errors.at(-1) ?? NaN, 2),
      feed_delivery_ms: {
        p50: round(percentile(latencies, 50), 1),
        p90: round(percentile(latencies, 90), 1),
        p99: round(percentile(latencies, 99), 1),
        max: round(latencies.at(-1) ?? NaN, 1),
        mean: round(mean, 1),
        samples: latencies.length,
      },
      versions_published: versionsPublished,
      feed_builds: builds,
      versions_per_s: round((1000 * versionsPublished) / wallMs, 2),
      feed_answers: listeners.answersInWindow,
      feed_answers_per_s: round((1000 * listeners.answersInWindow) / wallMs, 1),
      versions_skipped_pct: round(100 * (1 - listeners.deliveriesInWindow / Math.max(1, count * inWindow.length)), 2),
      versions_with_differing_bodies: listeners.differing.size,
      feed_body_bytes: Buffer.byteLength(sampleBody),
      released_per_version: { p50: percentile(released, 50), min: released[0] ?? NaN },
      server_fanout_ms: { p50: round(percentile(fanout, 50), 1), p99: round(percentile(fanout, 99), 1), max: round(fanout.at(-1) ?? NaN, 1), versions: fanout.length },
      server_write_ms: after.server.serverWriteMs,
      listener_count_reported: { median: percentile(sortedCounts, 50), min: sortedCounts[0] ?? NaN, max: sortedCounts.at(-1) ?? NaN },
      count_after_leaving: afterLeave.listenerCount,
      beacons_per_s_product_equivalent: round(count / (PRODUCT_BEACON_MS / 1000), 1),
      beacons_sent_ok: beaconsSentOk,
      beacon_round_trip_ms: { p50: percentile(beaconTrips, 50), p99: percentile(beaconTrips, 99), max: beaconTrips.at(-1) ?? NaN },
      beacon_queue_max: beacons.queueMax,
      beacon_connections: beaconConnections(count),
      beacon_errors: listeners.beaconErrors,
      poll_errors: listeners.pollErrors,
      poll_timeouts: listeners.pollTimeouts,
      reactions_accepted: reactionsAccepted,
      reactions_refused: reactionsRefused,
      compressed_time: {
        beacon_interval_ms: BEACON_INTERVAL_MS,
        presence_window_ms: PRESENCE_WINDOW_MS,
        product_beacon_interval_ms: PRODUCT_BEACON_MS,
        product_presence_window_ms: PRODUCT_WINDOW_MS,
      },
      server_cpu_pct: round(serverCpuPct, 1),
      server_event_loop_delay_ms: after.server.eventLoopDelayMs,
      server_rss_mb: after.server.rssMb,
      server_gc: after.server.gc,
      bench_cpu_pct: round(benchCpuPct, 1),
      bench_event_loop_delay_p99_ms: round(loopDelay.percentile(99) / 1e6, 1),
      host_busy_pct_of_one_core: round(hostBusyPct, 1),
      other_processes_pct_of_one_core: round(Math.max(0, hostBusyPct - serverCpuPct - benchCpuPct), 1),
      fd_limit: fdLimit,
      measure_s: round(wallMs / 1000, 1),
      setup_s: round(setupS, 1),
    };
  } finally {
    clearInterval(reactTimer);
    beacons.close();
    await server.stop();
  }
}

function log(message: string): void {
  process.stderr.write(`[feed-run] ${message}\n`);
}

const count = Number(process.argv[2]);
if (!Number.isInteger(count) || count < 1) throw new Error('usage: tsx bench/feed-run.ts <listeners>');
const result = await run(count);
await writeJsonLine(result);
process.exit(0);
