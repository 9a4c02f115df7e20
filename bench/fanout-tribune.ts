/**
 * Systems 1 and 3 of `npm run bench:fanout`: Tribune behind its nginx edge,
 * and nginx serving the same bytes as static files (the upper bound on this
 * machine). Each run reports the keys every system of the comparison
 * reports, and its own details.
 *
 * runTribuneFanout(N, seconds): Tribune's origin (bench/fanout-server.ts,
 * its own process, scaled mode: it answers listener routes only to the
 * edge), the nginx edge of src/edge/nginx-edge-config.ts (the same file
 * deploy/ ships) in front of it, a speaker bot (a real WebRTC peer in this
 * process) playing a 440 Hz tone so every part carries audio, and N
 * simulated hls.js listeners (bench/ll-hls-crowd.ts, in worker processes)
 * through the edge: blocking playlist reloads with delta updates, every
 * part, the state feed's long-poll and presence beacons every ~30 s.
 * Listeners start evenly over a ramp (N / 1,000 s, 2-10 s); the window is
 * `seconds` long and starts WARMUP_MS after the ramp.
 *
 * runStaticNginx(N, seconds): first (once per process) ~40 s of the live
 * stream are recorded from a Tribune origin: init, master, every part, and
 * for each part the delta playlist that announced it (the answer to the
 * blocking reload for it), with the time each part landed after its media
 * ended. The origin is then stopped, and a plain nginx (sendfile,
 * open_file_cache, the same keep-alive and access-log settings as the edge)
 * serves that directory. Static files cannot block, so the crowd releases
 * step j at the moment recorded part j would have become available (one per
 * second, looping over the recording): every listener waiting for it fetches
 * the playlist file recorded for it, then the part, then waits for the next.
 * Same bytes and the same media requests per listener per second (one
 * playlist, one part) as Tribune's listeners; no feed, no beacons (they need
 * an application behind the server), and no blocking or collapsing, which is
 * what makes it the upper bound. Its latency is counted from the same media
 * end as Tribune's (step time − the recorded publication delay).
 *
 * The figures (all over the window):
 * - cpu_s_per_listener_min: CPU seconds of every server-side process (the
 *   origin; nginx's master, workers, cache manager and loader; utime + stime
 *   from /proc/<pid>/stat) per listener per minute. The load generator's
 *   CPU is in details.cpu, separately; so is this process's (the speaker
 *   bot and the coordinator).
 * - late_parts_pct, latency_ms: see bench/ll-hls-crowd.ts (latency = arrival
 *   − the part's media end from PROGRAM-DATE-TIME; late = more than 1.5 s).
 * - origin_requests_per_s: read-path requests the origin answered (counted in
 *   the origin process; by kind in details): what the edge should keep flat.
 *   Presence beacons are writes, not cacheable, and grow with N (N / ~28 per
 *   second): write_path_requests_per_s.
 * - edge_requests_per_s: access-log lines of the edge in the window.
 * - rss_mb: the peak over 2 s samples of the sum of VmRSS of the origin and
 *   every nginx process (shared pages counted once per process: PSS in details).
 *
 *   tsx bench/fanout-tribune.ts     BENCH_LISTENERS=1000,5000,10000 BENCH_SECONDS=30
 *                                   BENCH_SYSTEMS=tribune-edge,nginx-static
 * prints one JSON line per run and, last, {"runs": [...]}.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../src/tools/free-port.js';
import type { FanoutRun } from './fanout-chart.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NGINX, nginxInstalled, startNginxEdge, type RunningEdge } from '../src/edge/nginx-process.js';
import { SpeakerBot } from '../src/tools/speaker-bot.js';
import { CLOCK_TICKS_PER_S, createSpace, hostBusyMs, percentile, positive, round, sleep, withTimeout, writeJsonLine } from './bench-util.js';
import type { FanoutParentMessage, FanoutServerAnswer, OriginRequestKind, OriginStats } from './fanout-server.js';
import { defaultWorkers, parseMediaPlaylist, startCrowd, type CrowdReport, type StaticSchedule } from './ll-hls-crowd.js';
import { ServerProcess } from './server-process.js';
import { stagePassKeys } from '../src/control/stage-tokens.js';

const WARMUP_MS = 5000;
const RSS_SAMPLE_MS = 2000;
const RECORD_PARTS = 40;
const TONE_HZ = 440;

/** One run, in the keys every system of `npm run bench:fanout` reports, and its own details. */
export type FanoutResult = FanoutRun & {
  system: 'tribune-edge' | 'nginx-static';
  /** Presence beacons reaching the origin (writes; zero for nginx-static). */
  write_path_requests_per_s?: number;
  details: FanoutDetails;
};

export interface FanoutDetails {
  window_s: number;
  ramp_s: number;
  cpu: {
    server_pct_of_core: number;
    origin_pct_of_core: number;
    nginx_pct_of_core: number;
    nginx_processes: number;
    load_generator_workers: number;
    load_generator_pct_of_core: number;
    load_generator_s_per_listener_min: number;
    /** This process: the speaker bot (a WebRTC peer) and the coordinator. */
    bench_process_pct_of_core: number;
    /** The whole machine (/proc/stat), in % of one core (200 = both cores busy). */
    host_busy_pct_of_core: number;
    /** What the machine did besides the server, the load generator and this process (other work on a shared machine skews every figure). */
    other_pct_of_core: number;
    cores: number;
  };
  rss: { origin_mb: number; nginx_mb: number; nginx_pss_mb: number };
  origin_requests_per_s_by_kind: Partial<Record<OriginRequestKind, number>>;
  origin_statuses: Record<string, number>;
  /** Per part, landing at the origin − the wall-clock end of its audio, ms. */
  publish_delay_ms: { p50: number; p99: number; max: number };
  edge: { requests: number; cache_status: Record<string, number>; statuses: Record<string, number>; bytes_per_s_per_listener: number };
  crowd: {
    latency_ms: CrowdReport['latency_ms'];
    late_after_ms: number;
    parts_ok: number;
    parts_late: number;
    missing_parts: number;
    listeners_started: number;
    listeners_with_missing: number;
    listeners_with_late: number;
    requests_per_s_per_listener: CrowdReport['requests_per_s_per_listener'];
    errors: Record<string, number>;
    statuses: Record<string, number>;
    load_generator: CrowdReport['load_generator'];
    missing_samples: CrowdReport['missing_samples'];
    late_samples: CrowdReport['late_samples'];
  };
  notes: string[];
}

const log = (message: string): void => {
  process.stderr.write(`[fanout-tribune] ${message}\n`);
};

// ---------------------------------------------------------------- /proc

interface ProcStat {
  ppid: number;
  cpuMs: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state is field 3, ppid 4, utime 14, stime 15 (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S };
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const walk = (p: number): void => {
    tree.push(p);
    for (const child of children.get(p) ?? []) walk(child);
  };
  walk(pid);
  return tree;
}

/** CPU ms of each pid now (a process gone since counts 0 from then on: the caller keeps the last value). */
function cpuMsOf(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) out.set(pid, procStat(pid)?.cpuMs ?? 0);
  return out;
}

function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0;
  for (const [pid, ms] of after) sum += Math.max(0, ms - (before.get(pid) ?? 0));
  return sum;
}

function statusKb(pid: number, field: string, file = 'status'): number {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return Number(match?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const rssMb = (pids: number[]): number => pids.reduce((sum, pid) => sum + statusKb(pid, 'VmRSS'), 0) / 1024;
const pssMb = (pids: number[]): number => pids.reduce((sum, pid) => sum + statusKb(pid, 'Pss', 'smaps_rollup'), 0) / 1024;

/** A child nginx (daemon off) would outlive this process if it exited without stopping it: stop it then (SIGTERM: the master takes its workers down). */
function killOnExit(child: ChildProcess): void {
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.once('exit', kill);
  child.once('exit', () => process.removeListener('exit', kill));
}


// ---------------------------------------------------------------- the edge's access log

interface LogWindow {
  requests: number;
  bytes: number;
  cacheStatus: Record<string, number>;
  statuses: Record<string, number>;
}

/**
 * Lines of an access log in `log_format '$msec $status $upstream_cache_status
 * "$request_uri" $upstream_addr $request_time'` (plus, for the static server,
 * `$body_bytes_sent` last) whose time falls in [fromMs, toMs).
 */
async function readAccessLog(path: string, fromMs: number, toMs: number): Promise<LogWindow> {
  const out: LogWindow = { requests: 0, bytes: 0, cacheStatus: {}, statuses: {} };
  if (!existsSync(path)) return out;
  let rest = '';
  const take = (line: string): void => {
    const space = line.indexOf(' ');
    const ms = Number(line.slice(0, space)) * 1000;
    if (!(ms >= fromMs && ms < toMs)) return;
    out.requests++;
    const status = line.slice(space + 1, space + 4);
    out.statuses[status] = (out.statuses[status] ?? 0) + 1;
    const cache = line.slice(space + 5, line.indexOf(' ', space + 5));
    out.cacheStatus[cache] = (out.cacheStatus[cache] ?? 0) + 1;
  };
  for await (const chunk of createReadStream(path, { encoding: 'latin1', highWaterMark: 1 << 20 })) {
    const lines = (rest + (chunk as string)).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line) take(line);
  }
  if (rest) take(rest);
  return out;
}

// ---------------------------------------------------------------- shared run steps

type FanoutServer = ServerProcess<FanoutParentMessage, FanoutServerAnswer>;

interface LiveOrigin {
  server: FanoutServer;
  url: string;
  edgeSecret: string;
  idKey: string;
  stagePassKey: { x: string; y: string };
  spaceId: string;
  bot: SpeakerBot;
  stop(): Promise<void>;
}

/** A Tribune origin in its own process with a live Space and a speaker bot playing a tone. */
async function startLiveOrigin(): Promise<LiveOrigin> {
  const edgeSecret = randomBytes(24).toString('hex');
  const idKey = randomBytes(32).toString('hex');
  const secretHex = randomBytes(32).toString('hex');
  const { server, url } = await ServerProcess.start<FanoutParentMessage, FanoutServerAnswer>(new URL('./fanout-server.ts', import.meta.url), {
    env: { FANOUT_EDGE_SECRET: edgeSecret, FANOUT_ID_KEY: idKey, FANOUT_SECRET_HEX: secretHex },
  });
  let bot: SpeakerBot | undefined;
  try {
    const created = await createSpace(url, 'Fan-out bench');
    bot = new SpeakerBot({ spaceUrl: created.hostPass.socketUrl, name: 'bench tone', program: { kind: 'tone', hz: TONE_HZ, amplitude: 0.3 } });
    await withTimeout(bot.start(), 15_000, 'the speaker bot to join');
    await bot.connected(15_000);
    const watching = await server.ask({ type: 'watch', spaceId: created.space.id }, 'watching').catch((error: unknown) => {
      throw new Error(`watch: ${String(error)}`);
    });
    void watching;
    const running = bot;
    return {
      server,
      url,
      edgeSecret,
      idKey,
      stagePassKey: stagePassKeys(Buffer.from(secretHex, 'hex')).point,
      spaceId: created.space.id,
      bot: running,
      async stop() {
        try {
          running.stop();
        } catch {
          // A bot that failed half-way may not stop cleanly.
        }
        await server.stop();
      },
    };
  } catch (error) {
    try {
      bot?.stop();
    } catch {
      // ignore
    }
    await server.stop();
    throw error;
  }
}

/** Waits until `playlistUrl` answers with parts that carry the tone (at least `parts` of them). */
async function waitForParts(playlistUrl: string, headers: Record<string, string>, parts: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(playlistUrl, { headers, signal: AbortSignal.timeout(5000) });
      if (response.status === 200) {
        const playlist = parseMediaPlaylist(await response.text());
        if (playlist.lastSeq >= 0 && playlist.lastSeq - playlist.firstSeq + 1 >= parts) return;
      }
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`no ${parts} parts at ${playlistUrl} within ${timeoutMs} ms`);
    await sleep(250);
  }
}

function rampMsFor(listeners: number): number {
  return Math.min(10_000, Math.max(2000, listeners));
}

interface Sampler {
  peakRssMb: number;
  peakOriginMb: number;
  peakNginxMb: number;
  peakNginxPssMb: number;
  stop(): void;
}

function sampleMemory(originPid: number | undefined, nginxPid: number): Sampler {
  const sampler: Sampler = {
    peakRssMb: 0,
    peakOriginMb: 0,
    peakNginxMb: 0,
    peakNginxPssMb: 0,
    stop: () => clearInterval(timer),
  };
  const sample = (): void => {
    const nginx = processTree(nginxPid);
    const origin = originPid === undefined ? 0 : rssMb([originPid]);
    const nginxMb = rssMb(nginx);
    sampler.peakOriginMb = Math.max(sampler.peakOriginMb, origin);
    sampler.peakNginxMb = Math.max(sampler.peakNginxMb, nginxMb);
    sampler.peakNginxPssMb = Math.max(sampler.peakNginxPssMb, pssMb(nginx));
    sampler.peakRssMb = Math.max(sampler.peakRssMb, origin + nginxMb);
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  sample();
  return sampler;
}

interface CpuWindow {
  origin: number;
  nginx: number;
  nginxProcesses: number;
  crowd: number;
  benchProcess: number;
  host: number;
}

/** CPU ms of each group between two moments. */
function cpuSnapshot(originPid: number | undefined, nginxPid: number, crowdPids: number[]) {
  const nginx = processTree(nginxPid);
  return {
    origin: cpuMsOf(originPid === undefined ? [] : [originPid]),
    nginx: cpuMsOf(nginx),
    crowd: cpuMsOf(crowdPids),
    bench: process.cpuUsage(),
    host: hostBusyMs(),
  };
}

function cpuBetween(a: ReturnType<typeof cpuSnapshot>, b: ReturnType<typeof cpuSnapshot>): CpuWindow {
  const bench = (b.bench.user + b.bench.system - a.bench.user - a.bench.system) / 1000;
  return {
    origin: cpuDelta(a.origin, b.origin),
    nginx: cpuDelta(a.nginx, b.nginx),
    nginxProcesses: b.nginx.size,
    crowd: cpuDelta(a.crowd, b.crowd),
    benchProcess: bench,
    host: b.host - a.host,
  };
}

function summary(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((x, y) => x - y);
  return { p50: round(percentile(sorted, 50), 1), p99: round(percentile(sorted, 99), 1), max: round(sorted.at(-1) ?? NaN, 1) };
}

function crowdDetails(report: CrowdReport): FanoutDetails['crowd'] {
  const topStatuses = Object.fromEntries(Object.entries(report.statuses).sort((a, b) => b[1] - a[1]).slice(0, 12));
  return {
    latency_ms: report.latency_ms,
    late_after_ms: report.late_after_ms,
    parts_ok: report.parts_ok,
    parts_late: report.parts_late,
    missing_parts: report.missing_parts,
    listeners_started: report.listeners_started,
    listeners_with_missing: report.listeners_with_missing,
    listeners_with_late: report.listeners_with_late,
    requests_per_s_per_listener: report.requests_per_s_per_listener,
    errors: report.errors,
    statuses: topStatuses,
    load_generator: report.load_generator,
    missing_samples: report.missing_samples.slice(0, 10),
    late_samples: report.late_samples.slice(0, 10),
  };
}

/** Sleeps until the absolute time `atMs`. */
async function until(atMs: number): Promise<void> {
  const ms = atMs - Date.now();
  if (ms > 0) await sleep(ms);
}

// ---------------------------------------------------------------- Tribune behind the edge

export async function runTribuneFanout(N: number, seconds = 30): Promise<FanoutResult> {
  if (!nginxInstalled()) throw new Error(`nginx is not installed (${NGINX})`);
  const rampMs = rampMsFor(N);
  const budgetMs = 90_000 + rampMs + WARMUP_MS + seconds * 1000 + 30_000;
  const active: { origin?: LiveOrigin; edge?: RunningEdge; memory?: Sampler; abort?: () => void } = {};
  const teardown = async (): Promise<void> => {
    active.memory?.stop();
    active.abort?.();
    await active.edge?.stop().catch(() => undefined);
    await active.origin?.stop().catch(() => undefined);
  };
  const run = async (): Promise<FanoutResult> => {
    log(`N=${N}: starting the origin, a speaker and the edge`);
    const origin = (active.origin = await startLiveOrigin());
    const logDir = mkdtempSync(join(tmpdir(), 'tribune-fanout-'));
    const accessLog = join(logDir, 'access.log');
    try {
      const edge = (active.edge = await startNginxEdge({
        port: await freePort(),
        origin: `127.0.0.1:${new URL(origin.url).port}`,
        edgeSecret: origin.edgeSecret,
        idKey: origin.idKey,
        stagePassKey: origin.stagePassKey,
        unlimited: ['127.0.0.0/8'],
        accessLog,
      }));
      const nginxPid = edge.process.pid;
      if (nginxPid === undefined) throw new Error('nginx has no pid');
      killOnExit(edge.process);
      await waitForParts(`${edge.url}/hls/${origin.spaceId}/live.m3u8`, {}, 2, 20_000);
      const crowd = await startCrowd({
        url: edge.url,
        spaceId: origin.spaceId,
        listeners: N,
        seconds: (WARMUP_MS + seconds * 1000) / 1000,
        rampMs,
        warmupMs: WARMUP_MS,
        workers: defaultWorkers(N),
      });
      active.abort = crowd.abort;
      log(`N=${N}: ${crowd.pids.length} crowd workers; ramp ${rampMs / 1000} s, warm-up ${WARMUP_MS / 1000} s, window ${seconds} s`);
      await until(crowd.windowFromMs);
      const memory = (active.memory = sampleMemory(origin.server.pid, nginxPid));
      const cpuBefore = cpuSnapshot(origin.server.pid, nginxPid, crowd.pids);
      const statsBefore = await origin.server.ask({ type: 'stats' }, 'stats');
      await until(crowd.windowToMs);
      const cpuAfter = cpuSnapshot(origin.server.pid, nginxPid, crowd.pids);
      const statsAfter = await origin.server.ask({ type: 'stats' }, 'stats');
      memory.stop();
      const windowMs = crowd.windowToMs - crowd.windowFromMs;
      log(`N=${N}: window over; draining the crowd`);
      const report = await crowd.done;
      const edgeLog = await readAccessLog(accessLog, crowd.windowFromMs, crowd.windowToMs);
      return tribuneResult(N, rampMs, windowMs, cpuBetween(cpuBefore, cpuAfter), memory, statsBefore, statsAfter, edgeLog, report);
    } finally {
      await teardown();
      rmSync(logDir, { recursive: true, force: true });
    }
  };
  try {
    return await withTimeout(run(), budgetMs, `the tribune-edge run of ${N} listeners`);
  } finally {
    await teardown();
  }
}

function tribuneResult(
  N: number,
  rampMs: number,
  windowMs: number,
  cpu: CpuWindow,
  memory: Sampler,
  before: OriginStats,
  after: OriginStats,
  edgeLog: LogWindow,
  report: CrowdReport,
): FanoutResult {
  const windowS = windowMs / 1000;
  const minutes = windowMs / 60_000;
  const byKind: Partial<Record<OriginRequestKind, number>> = {};
  let originRequests = 0;
  let writeRequests = 0;
  for (const kind of Object.keys(after.requests) as OriginRequestKind[]) {
    const n = after.requests[kind] - before.requests[kind];
    // The read path (what the edge caches) is the origin's fan-out load;
    // presence beacons are writes, one per listener per ~30 s by design,
    // and are counted apart (write_path_requests_per_s).
    if (kind === 'presence') writeRequests += n;
    else originRequests += n;
    if (n > 0) byKind[kind] = round(n / windowS, 2);
  }
  const statuses: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.statuses)) statuses[k] = v - (before.statuses[k] ?? 0);
  const serverMs = cpu.origin + cpu.nginx;
  return {
    system: 'tribune-edge',
    listeners: N,
    cpu_s_per_listener_min: round(serverMs / 1000 / N / minutes, 5),
    late_parts_pct: report.late_parts_pct,
    latency_ms: { p50: report.latency_ms.p50, p99: report.latency_ms.p99 },
    origin_requests_per_s: round(originRequests / windowS, 2),
    edge_requests_per_s: round(edgeLog.requests / windowS, 1),
    rss_mb: Math.round(memory.peakRssMb),
    write_path_requests_per_s: round(writeRequests / windowS, 2),
    details: {
      window_s: round(windowS, 1),
      ramp_s: rampMs / 1000,
      cpu: cpuDetails(cpu, windowMs, N, report.workers),
      rss: { origin_mb: Math.round(memory.peakOriginMb), nginx_mb: Math.round(memory.peakNginxMb), nginx_pss_mb: Math.round(memory.peakNginxPssMb) },
      origin_requests_per_s_by_kind: byKind,
      origin_statuses: statuses,
      publish_delay_ms: summary(after.publishDelaysMs),
      edge: { requests: edgeLog.requests, cache_status: edgeLog.cacheStatus, statuses: edgeLog.statuses, bytes_per_s_per_listener: round(report.window.partBytes / windowS / N, 1) },
      crowd: crowdDetails(report),
      notes: [
        'latency: arrival − the part’s media end (segment PROGRAM-DATE-TIME + offset + duration), publication delay included; late: > 1.5 s',
        'cpu_s_per_listener_min: origin + all nginx processes; the load generator and the speaker bot are in details.cpu',
        'the edge writes one access-log line per request (counted in its CPU)',
        'origin_requests_per_s: the read path through the edge (playlists, parts, segments, init, feed, master); presence beacons are writes, not cacheable, one per listener per ~28 s: write_path_requests_per_s',
      ],
    },
  };
}

function cpuDetails(cpu: CpuWindow, windowMs: number, N: number, workers: number): FanoutDetails['cpu'] {
  const pct = (ms: number): number => round((100 * ms) / windowMs, 1);
  return {
    server_pct_of_core: pct(cpu.origin + cpu.nginx),
    origin_pct_of_core: pct(cpu.origin),
    nginx_pct_of_core: pct(cpu.nginx),
    nginx_processes: cpu.nginxProcesses,
    load_generator_workers: workers,
    load_generator_pct_of_core: pct(cpu.crowd),
    load_generator_s_per_listener_min: round(cpu.crowd / 1000 / N / (windowMs / 60_000), 5),
    bench_process_pct_of_core: pct(cpu.benchProcess),
    host_busy_pct_of_core: pct(cpu.host),
    other_pct_of_core: pct(Math.max(0, cpu.host - cpu.origin - cpu.nginx - cpu.crowd - cpu.benchProcess)),
    cores: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
  };
}

// ---------------------------------------------------------------- nginx serving the same bytes as static files

interface Recording {
  /** Document root: <root>/hls/<spaceId>/{master.m3u8, init.mp4, part/…, live-<msn>.<part>.m3u8}. */
  root: string;
  spaceId: string;
  playlists: string[];
  publishDelayMs: number;
}

let recording: Promise<Recording> | undefined;

/** Records the live stream once per process (see the header); removed when the process exits. */
function recordOnce(): Promise<Recording> {
  recording ??= recordStream().catch((error: unknown) => {
    recording = undefined;
    throw error;
  });
  return recording;
}

async function recordStream(): Promise<Recording> {
  log(`recording ${RECORD_PARTS} parts of a live stream for the static server`);
  const origin = await startLiveOrigin();
  const root = mkdtempSync(join(tmpdir(), 'tribune-static-'));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  try {
    const headers = { 'x-tribune-edge': origin.edgeSecret };
    const base = `${origin.url}/hls/${origin.spaceId}/`;
    const dir = join(root, 'hls', origin.spaceId);
    mkdirSync(join(dir, 'part'), { recursive: true });
    const get = async (path: string): Promise<Buffer> => {
      const response = await fetch(base + path, { headers, signal: AbortSignal.timeout(20_000) });
      if (response.status !== 200) throw new Error(`recording ${path}: ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    };
    await waitForParts(`${base}live.m3u8`, headers, 2, 20_000);
    writeFileSync(join(dir, 'master.m3u8'), await get('master.m3u8'));
    writeFileSync(join(dir, 'init.mp4'), await get('init.mp4'));
    let last = parseMediaPlaylist((await get('live.m3u8')).toString('utf8')).lastSeq;
    const playlists: string[] = [];
    const delays: number[] = [];
    while (playlists.length < RECORD_PARTS) {
      const want = last + 1;
      const text = (await get(`live.m3u8?_HLS_msn=${Math.floor(want / 4)}&_HLS_part=${want % 4}&_HLS_skip=YES`)).toString('utf8');
      const landedAt = Date.now();
      const playlist = parseMediaPlaylist(text);
      for (let seq = Math.max(want, playlist.firstSeq); seq <= playlist.lastSeq; seq++) {
        const uri = playlist.uris[seq - playlist.firstSeq] ?? '';
        writeFileSync(join(dir, uri), await get(uri));
      }
      const newest = playlist.lastSeq;
      const name = `live-${Math.floor(newest / 4)}.${newest % 4}.m3u8`;
      writeFileSync(join(dir, name), text);
      playlists.push(name);
      const endMs = playlist.ends[newest - playlist.firstSeq] ?? NaN;
      if (newest === want && Number.isFinite(endMs)) delays.push(landedAt - endMs);
      last = newest;
    }
    const sorted = delays.sort((a, b) => a - b);
    return { root, spaceId: origin.spaceId, playlists, publishDelayMs: Math.round(percentile(sorted, 50)) };
  } finally {
    await origin.stop();
  }
}

function renderStaticNginxConfig(prefix: string, listen: string, root: string, accessLog: string): string {
  return `worker_processes auto;
worker_rlimit_nofile 200000;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
${process.getuid?.() === 0 ? 'user root;\n' : ''}
events {
  worker_connections 65536;
  multi_accept on;
}

http {
  log_format edge '$msec $status $upstream_cache_status "$request_uri" $upstream_addr $request_time';
  access_log ${accessLog} edge;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  server_tokens off;
  keepalive_timeout 65s;
  keepalive_requests 100000;
  open_file_cache max=10000 inactive=60s;
  open_file_cache_valid 60s;
  client_body_temp_path ${prefix}/client_temp;
  proxy_temp_path ${prefix}/proxy_temp;
  fastcgi_temp_path ${prefix}/fastcgi_temp;
  uwsgi_temp_path ${prefix}/uwsgi_temp;
  scgi_temp_path ${prefix}/scgi_temp;
  types {
    application/vnd.apple.mpegurl m3u8;
    audio/mp4 m4s mp4;
  }

  server {
    listen ${listen} reuseport backlog=65535;
    root ${root};
    location /hls/ {
      add_header cache-control "public, max-age=31536000, immutable";
    }
  }
}
`;
}

interface StaticServer {
  url: string;
  pid: number;
  accessLog: string;
  stop(): Promise<void>;
}

async function startStaticNginx(root: string): Promise<StaticServer> {
  const prefix = mkdtempSync(join(tmpdir(), 'tribune-static-nginx-'));
  for (const dir of ['client_temp', 'proxy_temp', 'fastcgi_temp', 'uwsgi_temp', 'scgi_temp']) mkdirSync(join(prefix, dir));
  const port = await freePort();
  const accessLog = join(prefix, 'access.log');
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, renderStaticNginxConfig(prefix, `127.0.0.1:${port}`, root, accessLog));
  execFileSync(NGINX, ['-t', '-q', '-p', prefix, '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const child: ChildProcess = spawn(NGINX, ['-p', prefix, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  killOnExit(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('static nginx exited');
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error('static nginx did not start');
      await sleep(100);
    }
  }
  return {
    url,
    pid: child.pid ?? 0,
    accessLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

export async function runStaticNginx(N: number, seconds = 30): Promise<FanoutResult> {
  if (!nginxInstalled()) throw new Error(`nginx is not installed (${NGINX})`);
  const rampMs = rampMsFor(N);
  const budgetMs = 120_000 + RECORD_PARTS * 1000 + rampMs + WARMUP_MS + seconds * 1000;
  const active: { server?: StaticServer; memory?: Sampler; abort?: () => void } = {};
  const teardown = async (): Promise<void> => {
    active.memory?.stop();
    active.abort?.();
    await active.server?.stop().catch(() => undefined);
  };
  const run = async (): Promise<FanoutResult> => {
    const recorded = await recordOnce();
    const server = (active.server = await startStaticNginx(recorded.root));
    const schedule: StaticSchedule = { playlists: recorded.playlists, t0Ms: Date.now() + 1000, stepMs: 1000, publishDelayMs: recorded.publishDelayMs };
    const crowd = await startCrowd({
      url: server.url,
      spaceId: recorded.spaceId,
      listeners: N,
      seconds: (WARMUP_MS + seconds * 1000) / 1000,
      rampMs,
      warmupMs: WARMUP_MS,
      workers: defaultWorkers(N),
      feed: false,
      beaconIntervalMs: 0,
      leaveAtEnd: false,
      static: schedule,
    });
    active.abort = crowd.abort;
    log(`N=${N} (static): ${crowd.pids.length} crowd workers; ramp ${rampMs / 1000} s, warm-up ${WARMUP_MS / 1000} s, window ${seconds} s`);
    await until(crowd.windowFromMs);
    const memory = (active.memory = sampleMemory(undefined, server.pid));
    const cpuBefore = cpuSnapshot(undefined, server.pid, crowd.pids);
    await until(crowd.windowToMs);
    const cpuAfter = cpuSnapshot(undefined, server.pid, crowd.pids);
    memory.stop();
    const windowMs = crowd.windowToMs - crowd.windowFromMs;
    const report = await crowd.done;
    const edgeLog = await readAccessLog(server.accessLog, crowd.windowFromMs, crowd.windowToMs);
    const cpu = cpuBetween(cpuBefore, cpuAfter);
    const windowS = windowMs / 1000;
    return {
      system: 'nginx-static',
      listeners: N,
      cpu_s_per_listener_min: round(cpu.nginx / 1000 / N / (windowMs / 60_000), 5),
      late_parts_pct: report.late_parts_pct,
      latency_ms: { p50: report.latency_ms.p50, p99: report.latency_ms.p99 },
      origin_requests_per_s: 0,
      edge_requests_per_s: round(edgeLog.requests / windowS, 1),
      rss_mb: Math.round(memory.peakNginxMb),
      details: {
        window_s: round(windowS, 1),
        ramp_s: rampMs / 1000,
        cpu: cpuDetails(cpu, windowMs, N, report.workers),
        rss: { origin_mb: 0, nginx_mb: Math.round(memory.peakNginxMb), nginx_pss_mb: Math.round(memory.peakNginxPssMb) },
        origin_requests_per_s_by_kind: {},
        origin_statuses: {},
        publish_delay_ms: { p50: recorded.publishDelayMs, p99: NaN, max: NaN },
        edge: { requests: edgeLog.requests, cache_status: edgeLog.cacheStatus, statuses: edgeLog.statuses, bytes_per_s_per_listener: round(report.window.partBytes / windowS / N, 1) },
        crowd: crowdDetails(report),
        notes: [
          `static files recorded from a live Tribune stream (${recorded.playlists.length} parts, looped); step j released when recorded part j became available, one per second`,
          'per listener per second: one playlist file and one part, no blocking, no collapsing, no feed, no beacons (the media requests of Tribune’s listeners, not the rest)',
          'latency from the same media end as Tribune’s (step time − the recorded publication delay)',
        ],
      },
    };
  };
  try {
    return await withTimeout(run(), budgetMs, `the nginx-static run of ${N} listeners`);
  } finally {
    await teardown();
  }
}

// ---------------------------------------------------------------- command line

async function main(): Promise<number> {
  const sizes = (process.env.BENCH_LISTENERS ?? '1000,5000,10000').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 50_000)) throw new Error(`BENCH_LISTENERS: integers 1..50000, got ${process.env.BENCH_LISTENERS}`);
  const seconds = positive('BENCH_SECONDS', 30);
  const systems = (process.env.BENCH_SYSTEMS ?? 'tribune-edge,nginx-static').split(',');
  const runs: FanoutResult[] = [];
  let failed = 0;
  for (const system of systems) {
    for (const N of sizes) {
      try {
        const result = system === 'nginx-static' ? await runStaticNginx(N, seconds) : system === 'tribune-edge' ? await runTribuneFanout(N, seconds) : undefined;
        if (!result) throw new Error(`unknown system ${system}`);
        runs.push(result);
        await writeJsonLine(result);
      } catch (error) {
        failed++;
        log(`${system} N=${N} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
      // Let the sockets of the last run leave TIME_WAIT's way and the machine settle.
      await sleep(3000);
    }
  }
  await writeJsonLine({ runs });
  return failed > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    },
  );
}


