/**
 * System 2 of `npm run bench:fanout`: Icecast (Debian's icecast2), the
 * classic audio fan-out server, streaming Tribune's bitrate (Opus, mono,
 * 48 kHz, 32 kbit/s CBR, in Ogg) to N HTTP listeners on loopback.
 *
 * The pieces:
 * - icecast2 (its own process), with the icecast.xml of
 *   bench/icecast-config.ts (loopback bind, one mount, burst and queue
 *   sized for low latency);
 * - the source (bench/icecast-source.ts): this process writes a 440 Hz tone
 *   as raw PCM, 20 ms at a time on a real-time schedule, into ffmpeg (its
 *   own process), which encodes it with libopus (CBR, 20 ms frames, 100 ms
 *   Ogg pages, or BENCH_ICECAST_PAGE_MS) and sends it over its icecast:// protocol (HTTP PUT) through
 *   a transparent tap in this process that notes when each page left ffmpeg;
 * - the listeners: bench/icecast-listeners.ts worker processes (one per
 *   2,500 listeners, BENCH_ICECAST_WORKERS to change), raw sockets, one GET
 *   each, reading and walking the Ogg pages without decoding. They connect
 *   evenly over the ramp (BENCH_ICECAST_RAMP_PER_S, default 500 a second,
 *   at least 3 s); like players, one with no byte after 10 s, or whose
 *   connection ends, reconnects after 1 s.
 *
 * Measurements, all over the measurement window, which starts once every
 * listener receives audio (or 60 s after the ramp, whatever there is then),
 * plus a 2 s settle, on a 1 s boundary of the source's timeline:
 * - latency_ms, Icecast's latency behind the source: for every Ogg page
 *   every listener receives in the window, its arrival time − the time the
 *   page left ffmpeg (the tap's read; the tap relays it on at once, so the
 *   relay hop, tens of µs, is counted in Icecast's share). Pages are matched
 *   by granule position. Both ends read CLOCK_MONOTONIC, the same clock in
 *   every process, once per socket read; the error is the two processes'
 *   event-loop delays before the read (µs to a few ms under load, both
 *   sides) and the 1 ms histogram buckets.
 * - details.capture_to_listener_ms, end to end: arrival − the capture time
 *   of the page's newest sample. Sample k is due at t0 + k / 48 kHz and the
 *   20 ms chunk holding it is written to ffmpeg when its last sample is due
 *   (as a sound card hands over a period); a page's granule position G
 *   counts the samples the encoder had consumed (pre-skip included: with
 *   this ffmpeg the first audio page of 5 × 20 ms packets has G = 4800), so
 *   the page cannot exist before t0 + G / 48 kHz. This adds ffmpeg's share
 *   (details.capture_to_source_write_ms): its Ogg muxer holds each page until
 *   the next one is complete, about one page plus a frame (121 ms). Chunk
 *   writes that run late (details.source_write_lag_ms) only add to it. A
 *   page's oldest sample is a further page older.
 * - late_parts_pct: LL-HLS delivers 1 s parts; here the source timeline is
 *   cut into 1 s slots, and a slot is late for a listener when by the slot's
 *   end + 1.5 s the listener had not yet received all the slot's audio (a
 *   page whose granule reaches the slot's end), i.e. a player with a 1.5 s
 *   buffer would have stalled. Slots never received (a dropped listener) are
 *   late. This is the slot's share of bytes made exact: the stream is CBR,
 *   so bytes and granules advance together, but the granules do not count
 *   the burst a reconnecting listener gets again as progress.
 * - cpu_s_per_listener_min: the CPU time (utime + stime of all threads,
 *   /proc/<pid>/stat) of icecast2 and of its source encoder (ffmpeg: Opus
 *   encoding and Ogg muxing) over the window, / N / window minutes. The
 *   encoder is counted because Tribune's figure counts its origin, whose
 *   mixer encodes and packages the same audio: the same work on both sides.
 *   icecast2 alone is details.cpu.icecast_only_s_per_listener_min; the load
 *   generator's and this process's (the PCM feeder standing in for a
 *   microphone, like Tribune's speaker bot) are in details, not counted.
 * - rss_mb: icecast2's VmRSS, the peak of 1 s samples over the window.
 * - origin_requests_per_s = edge_requests_per_s: connections opened per
 *   second in the window (Icecast is origin and edge at once). A listener
 *   holds one connection for good, so this is 0 after the ramp unless
 *   listeners are dropped and reconnect.
 * - details: the same latencies at more percentiles, time to first byte and
 *   the age of the first audio page (Icecast's burst: where a player starting
 *   on it plays, behind the source), bytes/s served, the load generator's,
 *   ffmpeg's and this process's CPU, the whole machine's busy share (other
 *   benchmarks running at the same time show there), and the ramp.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../src/tools/free-port.js';
import type { FanoutRun } from './fanout-chart.js';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOCK_TICKS_PER_S, hostBusyMs, openFilesLimits, positive, round, withTimeout } from './bench-util.js';
import {
  ACCESS_LOG_NAME,
  BITRATE_KBPS,
  BURST_SIZE_BYTES,
  ERROR_LOG_NAME,
  FRAME_MS,
  MOUNT,
  PAGE_MS,
  QUEUE_SIZE_BYTES,
  SAMPLE_RATE,
  WIRE_BYTES_PER_S,
  renderIcecastXml,
} from './icecast-config.js';
import type { WorkerResult, WorkerStart, WorkerWindow } from './icecast-listeners.js';
import { MsHistogram, OggHttpReader } from './icecast-ogg.js';
import { SourceTap, ToneSource, now } from './icecast-source.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('./icecast-listeners.ts', import.meta.url));
const ICECAST_BIN = '/usr/bin/icecast2';

/** One run, in the keys every system of `npm run bench:fanout` reports, and Icecast's own details. */
export type IcecastFanoutResult = FanoutRun & {
  system: 'icecast';
  details: IcecastDetails;
};
export type Result = IcecastFanoutResult;

export interface IcecastDetails {
  icecast_version: string;
  /** <clients> in icecast.xml: N + 200, or less when the open-files hard limit is lower. */
  icecast_clients_limit: number;
  stream: { codec: string; bitrate_kbps: number; page_ms: number; wire_bytes_per_s: number; burst_size_bytes: number; queue_size_bytes: number };
  window_s: number;
  /**
   * Listeners connect evenly over planned_s; all_receiving_after_s is when the last one got audio
   * (null: not within 60 s after the ramp); listen_overflows counts the machine's accept-queue
   * overflows during the ramp (other processes' too).
   */
  ramp: { planned_s: number; all_receiving_after_s: number | null; listen_overflows: number };
  listeners_receiving: { window_start: number; window_end: number };
  connections: { opened: number; opened_in_window: number; dropped: number; dropped_in_window: number; rejected: number; errors: Record<string, number> };
  bytes_per_s_served: number;
  bytes_per_s_per_listener: number;
  pages_received_in_window: number;
  slots: { checked: number; late: number; missing: number };
  /** Source write (a page leaving ffmpeg, seen by the tap) → listener: Icecast's latency behind the source. */
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number; negative: number; unmatched: number };
  /** Capture of a page's newest sample → listener: end to end, ffmpeg's encoding and Ogg muxing included. */
  capture_to_listener_ms: { p50: number; p99: number; max: number };
  /** Capture → the page leaving ffmpeg (at the tap). */
  capture_to_source_write_ms: { p50: number; p99: number; max: number };
  ttfb_ms: { p50: number; p99: number; max: number };
  /** Age of the first audio page a listener gets: how far behind the source a player starting on Icecast's burst plays. */
  first_audio_age_ms: { p50: number; p99: number };
  cpu: {
    icecast_pct_of_core: number;
    load_generator_workers: number;
    load_generator_pct_of_core: number;
    load_generator_s_per_listener_min: number;
    icecast_only_s_per_listener_min: number;
    ffmpeg_pct_of_core: number;
    source_feeder_pct_of_core: number;
    host_busy_pct: number;
    loadavg_1m_at_end: number;
  };
  source_write_lag_ms: { p50: number; p99: number; max: number };
}

const log = (message: string): void => {
  process.stderr.write(`[fanout-icecast] ${message}\n`);
};

function sudoPrefix(): string[] {
  return process.getuid?.() === 0 ? [] : ['sudo', '-n'];
}

function run(argv: string[], env: NodeJS.ProcessEnv = process.env): void {
  const [command, ...args] = argv;
  execFileSync(command!, args, { stdio: ['ignore', 'pipe', 'pipe'], env, timeout: 300_000 });
}

/**
 * Installs icecast2 from Debian's packages when it is missing (noninteractive,
 * so debconf's questions take their defaults), and stops the system service
 * the package may have started. Call once before the runs; the runs call it too.
 */
export function ensureIcecast(): string {
  if (!existsSync(ICECAST_BIN)) {
    log('installing icecast2 from Debian packages');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = [...sudoPrefix(), 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '--no-install-recommends', 'icecast2'];
    try {
      run(install, env);
    } catch {
      run([...sudoPrefix(), 'apt-get', 'update'], env);
      run(install, env);
    }
    // The package's postinst may start (and enable) the system service; this benchmark runs its own.
    for (const stop of [
      ['systemctl', 'stop', 'icecast2'],
      ['systemctl', 'disable', 'icecast2'],
      ['invoke-rc.d', 'icecast2', 'stop'],
    ]) {
      try {
        run([...sudoPrefix(), ...stop]);
      } catch {
        // No systemd, or no running service: nothing to stop.
      }
    }
  }
  return icecastVersion();
}

function icecastVersion(): string {
  try {
    return execFileSync(ICECAST_BIN, ['-v'], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch (error) {
    throw new Error(`icecast2 is not runnable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** ffmpeg must have libopus and the icecast protocol. */
function checkFfmpeg(): void {
  const encoders = execFileSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8', timeout: 10_000 });
  if (!/\blibopus\b/.test(encoders)) throw new Error('ffmpeg has no libopus encoder (needed for the Opus source)');
  const protocols = execFileSync('ffmpeg', ['-hide_banner', '-protocols'], { encoding: 'utf8', timeout: 10_000 });
  if (!/\bicecast\b/.test(protocols)) throw new Error('ffmpeg has no icecast protocol');
}

/** Spawns `argv` with its open-files soft limit raised to the hard limit (exec keeps the pid). */
function spawnWithFileLimit(argv: string[], options: Parameters<typeof spawn>[2]): ChildProcess {
  return spawn('/bin/sh', ['-c', 'ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...argv], options);
}

/**
 * Runs its arguments in the background with the open-files soft limit raised to the hard limit,
 * prints the server's pid, and ends the server (TERM, then KILL after 3 s) once its own stdin, a pipe
 * from this process, closes: on teardown, and when this process dies, even by SIGKILL. It exits with
 * the server. (A parent-death signal would not do for Icecast: switching user clears it.)
 */
const GUARD_SCRIPT = `ulimit -Sn "$(ulimit -Hn)" 2>/dev/null
exec 3<&0
"$@" </dev/null >&2 &
pid=$!
echo "$pid"
{ while read -r _; do :; done; kill -TERM "$pid"; sleep 3; kill -KILL "$pid"; } <&3 >/dev/null 2>&1 &
watcher=$!
exec 3<&-
wait "$pid"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"`;

/** A server process that cannot outlive this one (see GUARD_SCRIPT). */
class GuardedServer {
  private constructor(
    readonly shell: ChildProcess,
    readonly pid: number,
  ) {}

  static async start(argv: string[]): Promise<GuardedServer> {
    const shell = spawn('/bin/sh', ['-c', GUARD_SCRIPT, 'sh', ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    shell.stdin!.on('error', () => undefined);
    const pid = await withTimeout(
      new Promise<number>((resolve, reject) => {
        let out = '';
        shell.stdout!.setEncoding('utf8');
        shell.stdout!.on('data', (chunk: string) => {
          out += chunk;
          const line = out.split('\n')[0];
          if (out.includes('\n') && line) resolve(Number(line));
        });
        shell.once('exit', (code) => reject(new Error(`${argv[0]} did not start (exit ${code})`)));
        shell.once('error', reject);
      }),
      10_000,
      `${argv[0]} to start`,
    );
    return new GuardedServer(shell, pid);
  }

  get exited(): boolean {
    return this.shell.exitCode !== null || this.shell.signalCode !== null;
  }

  /** Closes the guard's stdin (the server gets TERM); KILLs what is left after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.shell.once('exit', () => resolve()));
    this.shell.stdin!.end();
    const timer = setTimeout(() => this.killSync(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  killSync(): void {
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    if (!this.exited) this.shell.kill('SIGKILL');
  }
}


function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return NaN;
  }
}

function rssKbOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** TcpExt ListenOverflows from /proc/net/netstat: SYNs or handshakes dropped because an accept queue was full (the whole machine). */
function listenOverflows(): number {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    if (names[0] !== 'TcpExt:') continue;
    const at = names.indexOf('ListenOverflows');
    return at < 0 ? NaN : Number(values[at]);
  }
  return NaN;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Keeps the last `max` characters a child wrote to a stream, for error messages. */
function tail(stream: NodeJS.ReadableStream | null, max = 4000): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text = (text + chunk).slice(-max);
  });
  return () => text;
}

/** Resolves once `child` has exited; SIGKILL after `graceMs`. */
function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Waits until the mount answers 200 and sends an audio page: the source is live. */
async function waitForStream(port: number, deadlineMs: number): Promise<void> {
  let lastError = 'no answer';
  while (now() < deadlineMs) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => done(false), 3000);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(value);
      };
      const reader = new OggHttpReader({
        onHead(status) {
          if (status !== 200) {
            lastError = `HTTP ${status}`;
            done(false);
          }
        },
        onPage(granule) {
          if (granule > 0) done(true);
        },
        onError(reason) {
          lastError = reason;
          done(false);
        },
      });
      socket.on('connect', () => socket.write(`GET ${MOUNT} HTTP/1.0\r\nHost: 127.0.0.1:${port}\r\n\r\n`));
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      socket.on('error', (error) => {
        lastError = error.message;
        done(false);
      });
      socket.on('close', () => done(false));
    });
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`the Icecast mount never went live: ${lastError}`);
}

async function waitForPort(port: number, server: GuardedServer, deadlineMs: number): Promise<void> {
  while (now() < deadlineMs) {
    if (server.exited) throw new Error('icecast2 exited');
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(100);
  }
  throw new Error('icecast2 did not open its port');
}

interface Worker {
  child: ChildProcess;
  result?: WorkerResult;
  started?: boolean;
  status?: { open: number; unconnected: number };
}

async function startWorker(): Promise<Worker> {
  const child = spawnWithFileLimit([process.execPath, '--import', 'tsx', WORKER_ENTRY], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const worker: Worker = { child };
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.once('message', (message: { type: string }) => (message.type === 'ready' ? resolve() : reject(new Error(`unexpected worker message ${message.type}`))));
      child.once('exit', (code) => reject(new Error(`listener worker exited with ${code}`)));
    }),
    20_000,
    'a listener worker to start',
  );
  child.on('message', (message: WorkerResult | { type: 'status'; open: number; unconnected: number }) => {
    if (message.type === 'result') worker.result = message;
    else if (message.type === 'status') worker.status = message;
  });
  return worker;
}

/** Everything a run has started, so a failure or a timeout can end it all. */
interface Active {
  dir?: string;
  icecast?: GuardedServer;
  ffmpeg?: ChildProcess;
  source?: ToneSource;
  tap?: SourceTap;
  workers: Worker[];
}

async function teardown(active: Active): Promise<void> {
  active.source?.stop();
  active.source = undefined;
  await stopChild(active.ffmpeg, 'SIGTERM', 2000);
  active.tap?.close();
  active.tap = undefined;
  // Icecast closes the listeners' connections first: the TIME_WAITs stay on its side, not on the ephemeral ports.
  await active.icecast?.stop(3000);
  await Promise.all(
    active.workers.map((w) => {
      if (w.child.connected) w.child.send({ type: 'exit' });
      return stopChild(w.child, 'SIGTERM', 3000);
    }),
  );
  active.workers = [];
  if (active.dir) rmSync(active.dir, { recursive: true, force: true });
  active.dir = undefined;
}

function killAllSync(active: Active): void {
  active.icecast?.killSync();
  for (const child of [active.ffmpeg, ...active.workers.map((w) => w.child)]) {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

function lookupId(args: string[], fallback: number): number {
  try {
    const value = Number(execFileSync(args[0]!, args.slice(1), { encoding: 'utf8' }).trim().split(':')[2] ?? 'x');
    return Number.isInteger(value) ? value : fallback;
  } catch {
    return fallback;
  }
}

/**
 * Runs Icecast with N listeners: ramps them up over a few seconds, measures
 * for `seconds`, tears everything down. Bounded by a hard timeout.
 */
export async function runIcecastFanout(N: number, seconds = 30): Promise<Result> {
  if (!Number.isInteger(N) || N < 1) throw new Error(`listeners must be a positive integer, got ${N}`);
  if (!(seconds > 0)) throw new Error(`seconds must be positive, got ${seconds}`);
  const version = ensureIcecast();
  checkFfmpeg();
  // Icecast needs a descriptor per listener; past the hard limit the extra listeners are turned away
  // (403) and counted late, which is what this box would do.
  const clients = Math.min(N + 200, openFilesLimits().hard - 64);
  if (clients < N) log(`the open-files hard limit admits only ${clients} listeners; the other ${N - clients} will be refused`);

  // Icecast 2.4 listens with a backlog of 5 (hard-coded): a faster ramp overflows its accept queue and
  // the listeners wait for SYN retransmissions (1 s, 3 s, 7 s, ...). See details.ramp.
  const rampPerS = positive('BENCH_ICECAST_RAMP_PER_S', 500);
  const rampMs = Math.max(3000, Math.ceil((N / rampPerS) * 1000));
  const settleMs = 2000;
  const maxWaitMs = 60_000;
  const lateAfterMs = 1500;
  const hardTimeoutMs = 60_000 + rampMs + maxWaitMs + settleMs + seconds * 1000 + lateAfterMs;
  const active: Active = { workers: [] };
  const onExit = (): void => killAllSync(active);
  process.once('exit', onExit);
  try {
    return await withTimeout(measure(active, N, seconds, { version, clients, rampMs, settleMs, maxWaitMs, lateAfterMs }), hardTimeoutMs, `the Icecast run with ${N} listeners`);
  } finally {
    await teardown(active).catch((error: unknown) => {
      log(`teardown failed: ${String(error)}`);
      killAllSync(active);
    });
    process.removeListener('exit', onExit);
  }
}

async function measure(active: Active, N: number, seconds: number, o: { version: string; clients: number; rampMs: number; settleMs: number; maxWaitMs: number; lateAfterMs: number }): Promise<Result> {
  const port = await freePort();
  const sourcePassword = randomBytes(12).toString('hex');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tribune-icecast-'));
  active.dir = dir;
  chmodSync(dir, 0o755);
  symlinkSync('/dev/null', path.join(dir, ACCESS_LOG_NAME));
  const root = process.getuid?.() === 0;
  if (root) {
    // Icecast will not run as root without <changeowner>; it opens its logs after switching user.
    chownSync(dir, lookupId(['getent', 'passwd', 'nobody'], 65534), lookupId(['getent', 'group', 'nogroup'], 65534));
  }
  const configFile = path.join(dir, 'icecast.xml');
  writeFileSync(
    configFile,
    renderIcecastXml({ port, clients: o.clients, sourcePassword, adminPassword: randomBytes(12).toString('hex'), dir, changeOwner: root ? { user: 'nobody', group: 'nogroup' } : undefined }),
    { mode: 0o644 },
  );

  const icecast = await GuardedServer.start([ICECAST_BIN, '-c', configFile]);
  active.icecast = icecast;
  const icecastStderr = tail(icecast.shell.stderr);
  const errorLog = (): string => {
    try {
      return readFileSync(path.join(dir, ERROR_LOG_NAME), 'utf8').slice(-2000);
    } catch {
      return '';
    }
  };
  try {
    await waitForPort(port, icecast, now() + 10_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${icecastStderr()} ${errorLog()}`, { cause: error });
  }

  // ffmpeg → tap → Icecast: the tap notes when each page leaves the source and tells the listener workers.
  const clock = { t0: NaN };
  const tap = await SourceTap.start(
    port,
    () => clock.t0,
    (granule, ms) => {
      for (const w of active.workers) if (w.started && w.child.connected) w.child.send({ type: 'emit', granule, ms });
    },
  );
  active.tap = tap;
  const ffmpeg = spawn(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'warning'],
      ...['-f', 's16le', '-ar', String(SAMPLE_RATE), '-ac', '1', '-i', 'pipe:0'],
      ...['-c:a', 'libopus', '-b:a', `${BITRATE_KBPS}k`, '-vbr', 'off', '-application', 'voip', '-frame_duration', String(FRAME_MS)],
      ...['-f', 'ogg', '-page_duration', String(PAGE_MS * 1000), '-flush_packets', '1'],
      ...['-content_type', 'audio/ogg', '-ice_name', 'tribune-bench'],
      `icecast://source:${sourcePassword}@127.0.0.1:${tap.port}${MOUNT}`,
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  active.ffmpeg = ffmpeg;
  const ffmpegStderr = tail(ffmpeg.stderr);
  ffmpeg.stdin!.on('error', () => undefined); // EPIPE when ffmpeg dies; reported below
  const source = new ToneSource(ffmpeg.stdin!);
  active.source = source;
  const t0 = source.t0;
  clock.t0 = t0;
  try {
    await waitForStream(port, now() + 15_000);
  } catch (error) {
    throw new Error(`${(error as Error).message}; ffmpeg: ${ffmpegStderr()}; icecast: ${errorLog()}`, { cause: error });
  }
  log(`${o.version} on 127.0.0.1:${port}, source live; starting listener workers`);

  const workerCount = Math.min(8, Math.max(1, Number(process.env.BENCH_ICECAST_WORKERS) || Math.ceil(N / 2500)));
  active.workers = await Promise.all(Array.from({ length: workerCount }, () => startWorker()));

  const rampStartMs = now() + 500;
  const rampEndMs = rampStartMs + o.rampMs;
  active.workers.forEach((w, offset) => {
    const start: WorkerStart = {
      type: 'start',
      port,
      path: MOUNT,
      offset,
      stride: workerCount,
      total: N,
      rampStartMs,
      rampEndMs,
      t0Ms: t0,
      sampleRate: SAMPLE_RATE,
      slotMs: 1000,
      reconnectDelayMs: 1000,
      firstByteTimeoutMs: 10_000,
      maxConnectsPerListener: 20,
    };
    w.child.send(start);
    w.started = true;
  });
  log(`${N} listeners in ${workerCount} workers, ramp ${o.rampMs / 1000} s, window ${seconds} s`);
  const overflowsBefore = listenOverflows();

  const receiving = (): number => active.workers.reduce((sum, w) => sum + (w.status?.open ?? 0), 0);
  const statusLine = (): string => `${receiving()}/${N} listeners receiving, icecast RSS ${round(rssKbOf(icecast.pid) / 1024)} MB, load ${os.loadavg()[0]!.toFixed(2)}`;
  const checkAlive = (): void => {
    if (icecast.exited) throw new Error(`icecast2 exited: ${icecastStderr()} ${errorLog()}`);
    if (ffmpeg.exitCode !== null || ffmpeg.signalCode !== null) throw new Error(`ffmpeg exited: ${ffmpegStderr()}`);
    if (active.workers.some((w) => w.child.exitCode !== null)) throw new Error('a listener worker exited');
  };
  // Wait until every listener receives audio (or give up after maxWaitMs past the ramp and measure what there is).
  let allReceivingMs: number | undefined;
  while (now() < rampEndMs + o.maxWaitMs) {
    await sleep(1000);
    checkAlive();
    log(`ramp: ${statusLine()}`);
    if (now() > rampEndMs && receiving() >= N) {
      allReceivingMs = now();
      break;
    }
  }
  const overflowsAfterRamp = listenOverflows();
  // The window starts on a slot boundary of the source's timeline, after a settle time for the last bursts,
  // so it holds exactly `seconds` slots.
  const firstSlot = Math.ceil((now() + o.settleMs - t0) / 1000);
  const windowStartMs = t0 + firstSlot * 1000;
  const windowEndMs = windowStartMs + seconds * 1000;
  const lastSlot = firstSlot + Math.floor(seconds) - 1;
  const stopAtMs = windowEndMs + o.lateAfterMs + 500;
  const windowMessage: WorkerWindow = { type: 'window', windowStartMs, windowEndMs, firstSlot, lastSlot, lateAfterMs: o.lateAfterMs, stopAtMs };
  for (const w of active.workers) w.child.send(windowMessage);

  type Snapshot = { t: number; icecast: number; ffmpeg: number; workers: number; self: number; host: number };
  const snapshot = (): Snapshot => {
    const self = process.cpuUsage();
    return {
      t: now(),
      icecast: cpuMsOf(icecast.pid),
      ffmpeg: cpuMsOf(ffmpeg.pid),
      workers: active.workers.reduce((sum, w) => sum + cpuMsOf(w.child.pid), 0),
      self: (self.user + self.system) / 1000,
      host: hostBusyMs(),
    };
  };
  await sleep(windowStartMs - now());
  tap.window = { startMs: windowStartMs, endMs: windowEndMs };
  const first = snapshot();
  let peakRssKb = rssKbOf(icecast.pid);
  let lastLog = now();
  while (now() < windowEndMs) {
    await sleep(Math.min(1000, windowEndMs - now()));
    peakRssKb = Math.max(peakRssKb, rssKbOf(icecast.pid));
    checkAlive();
    if (now() - lastLog >= 5000) {
      lastLog = now();
      log(`window: ${statusLine()}`);
    }
  }
  const last = snapshot();
  const loadavg = os.loadavg()[0]!;

  await withTimeout(
    (async () => {
      while (active.workers.some((w) => !w.result)) {
        if (active.workers.some((w) => w.child.exitCode !== null && !w.result)) throw new Error('a listener worker exited without a result');
        await sleep(100);
      }
    })(),
    Math.max(0, stopAtMs - now()) + 15_000,
    'the listener workers’ results',
  );
  const results = active.workers.map((w) => w.result!);

  const latency = new MsHistogram();
  const captureLatency = new MsHistogram();
  const ttfb = new MsHistogram();
  const firstAudioAge = new MsHistogram();
  const errors: Record<string, number> = {};
  const sum = (pick: (r: WorkerResult) => number): number => results.reduce((total, r) => total + pick(r), 0);
  for (const r of results) {
    latency.mergeSparse(r.latency);
    captureLatency.mergeSparse(r.captureLatency);
    ttfb.mergeSparse(r.ttfb);
    firstAudioAge.mergeSparse(r.firstAudioAge);
    for (const [key, count] of Object.entries(r.errors)) errors[key] = (errors[key] ?? 0) + count;
  }
  const windowMs = last.t - first.t;
  const windowMin = windowMs / 60_000;
  const pctOfCore = (ms: number): number => round((ms / windowMs) * 100, 1);
  const icecastCpuMs = last.icecast - first.icecast;
  const encoderCpuMs = last.ffmpeg - first.ffmpeg;
  const workersCpuMs = last.workers - first.workers;
  const slotsChecked = sum((r) => r.slotsChecked);
  const slotsLate = sum((r) => r.slotsLate);
  const connectsInWindow = sum((r) => r.connectsInWindow);
  const bytesPerS = sum((r) => r.bytesInWindow) / (windowMs / 1000);
  const requestsPerS = round(connectsInWindow / (windowMs / 1000), 3);

  return {
    system: 'icecast',
    listeners: N,
    cpu_s_per_listener_min: round((icecastCpuMs + encoderCpuMs) / 1000 / N / windowMin, 6),
    late_parts_pct: round(slotsChecked > 0 ? (slotsLate / slotsChecked) * 100 : 100, 3),
    latency_ms: { p50: latency.percentile(50), p99: latency.percentile(99) },
    origin_requests_per_s: requestsPerS,
    edge_requests_per_s: requestsPerS,
    rss_mb: round(peakRssKb / 1024, 1),
    details: {
      icecast_version: o.version,
      icecast_clients_limit: o.clients,
      stream: { codec: 'opus/ogg CBR', bitrate_kbps: BITRATE_KBPS, page_ms: PAGE_MS, wire_bytes_per_s: WIRE_BYTES_PER_S, burst_size_bytes: BURST_SIZE_BYTES, queue_size_bytes: QUEUE_SIZE_BYTES },
      window_s: round(windowMs / 1000, 2),
      ramp: {
        planned_s: o.rampMs / 1000,
        all_receiving_after_s: allReceivingMs === undefined ? null : round((allReceivingMs - rampStartMs) / 1000, 1),
        listen_overflows: overflowsAfterRamp - overflowsBefore,
      },
      listeners_receiving: { window_start: sum((r) => r.openAtWindowStart), window_end: sum((r) => r.openAtWindowEnd) },
      connections: {
        opened: sum((r) => r.connects),
        opened_in_window: connectsInWindow,
        dropped: sum((r) => r.drops),
        dropped_in_window: sum((r) => r.dropsInWindow),
        rejected: sum((r) => r.rejected),
        errors,
      },
      bytes_per_s_served: Math.round(bytesPerS),
      bytes_per_s_per_listener: round(bytesPerS / N, 1),
      pages_received_in_window: sum((r) => r.pagesInWindow),
      slots: { checked: slotsChecked, late: slotsLate, missing: sum((r) => r.slotsMissing) },
      latency_ms: {
        p50: latency.percentile(50),
        p90: latency.percentile(90),
        p99: latency.percentile(99),
        p999: latency.percentile(99.9),
        max: latency.percentile(100),
        negative: sum((r) => r.negativeLatencies),
        unmatched: sum((r) => r.unmatchedPages),
      },
      capture_to_listener_ms: { p50: captureLatency.percentile(50), p99: captureLatency.percentile(99), max: captureLatency.percentile(100) },
      capture_to_source_write_ms: { p50: tap.sourceDelay.percentile(50), p99: tap.sourceDelay.percentile(99), max: tap.sourceDelay.percentile(100) },
      ttfb_ms: { p50: ttfb.percentile(50), p99: ttfb.percentile(99), max: ttfb.percentile(100) },
      first_audio_age_ms: { p50: firstAudioAge.percentile(50), p99: firstAudioAge.percentile(99) },
      cpu: {
        icecast_pct_of_core: pctOfCore(icecastCpuMs),
        icecast_only_s_per_listener_min: round(icecastCpuMs / 1000 / N / windowMin, 6),
        load_generator_workers: results.length,
        load_generator_pct_of_core: pctOfCore(workersCpuMs),
        load_generator_s_per_listener_min: round(workersCpuMs / 1000 / N / windowMin, 6),
        ffmpeg_pct_of_core: pctOfCore(encoderCpuMs),
        source_feeder_pct_of_core: pctOfCore(last.self - first.self),
        host_busy_pct: round(((last.host - first.host) / (windowMs * os.availableParallelism())) * 100, 1),
        loadavg_1m_at_end: round(loadavg, 2),
      },
      source_write_lag_ms: { p50: source.lag.percentile(50), p99: source.lag.percentile(99), max: source.lag.percentile(100) },
    },
  };
}
