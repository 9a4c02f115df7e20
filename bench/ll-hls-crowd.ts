/**
 * A light crowd of LL-HLS listeners, for tests and benchmarks: N simulated
 * players that behave like hls.js in low-latency mode, without decoding a
 * byte of audio, light enough for 10,000 of them on a 2-core machine next
 * to the server and its edge.
 *
 * What each listener does (live mode), as hls.js 1.x does with
 * `lowLatencyMode: true`:
 *  1. GET master.m3u8, then live.m3u8 (no directives), then init.mp4; it
 *     starts at the newest part listed (its start-up part).
 *  2. Loop: fetch every part listed after the last one it has, once each,
 *     in order (parts are listed for the last three segments); then a
 *     blocking reload for the part after the newest it has:
 *     live.m3u8?_HLS_msn=M&_HLS_part=P, with &_HLS_skip=YES (a delta update)
 *     when the playlist advertises CAN-SKIP-UNTIL, as hls.js's
 *     getSkipValue() does once it holds a full playlist (YES, not v2: we
 *     offer no CAN-SKIP-DATERANGES). The part after (M, 3) is (M+1, 0), as
 *     hls.js asks once a segment's last part is listed.
 *  3. Beside it, the state feed long-poll (GET /api/spaces/:id/feed, then
 *     ?v=<last version>; an unchanged answer that came back in under 300 ms
 *     waits 1-2 s, like src/web/listener/feed-watcher.ts), and a presence
 *     beacon at once and then every 0.85-1 × 30 s (presence-beacon.ts), and
 *     `leaving` at the end.
 *  Errors: a failed reload is retried after 1-1.25 s (hls.js's manifest
 *  errorRetry), a failed part twice after 250 and 500 ms, then given up; a
 *  feed answered 400 or 404 is given up, as the page does, other feed
 *  failures are retried after 1-2 s.
 *
 * What it records, per listener and in total:
 *  - latency of a part: the time its body had fully arrived minus the
 *    wall-clock end of its media, i.e. its segment's EXT-X-PROGRAM-DATE-TIME
 *    plus the durations of the parts before it in the segment plus its own.
 *    That is how far behind the live edge the part reached the player (the
 *    origin's packaging delay included). The start-up part is left out: it
 *    is old by construction.
 *  - late: a part whose latency exceeds `lateAfterMs`, default 1.5 part
 *    durations (1,500 ms). A player holding PART-HOLD-BACK (3 s, what the
 *    playlist advertises) needs part k about 2 s after its media ends, so a
 *    part 1.5 s behind still plays without a stall but has used up most of
 *    the margin; operators call that late. Latency percentiles are reported
 *    too, so any other threshold can be read off.
 *  - missing: a part this listener should have played and did not get: one
 *    that left the playlist's part window before it was fetched, one whose
 *    fetch failed three times (4xx, 5xx, timeout), and, at the end, every
 *    part from its start-up part to the newest part any listener of its
 *    process had seen announced when the run stopped that it has not got
 *    (listeners finish the reload in flight and fetch up to that part during
 *    a drain), so a listener that stalls shows up as missing parts, not as
 *    silence.
 *  - requests by kind (master, playlist, init, part, feed, beacon), errors by
 *    kind and answers by status.
 *
 * Static mode (runStaticNginx in bench/fanout-tribune.ts): the same players
 * against recorded files on a plain static server, which cannot block: at
 * the moment recorded part j would have become available (one per second),
 * every listener waiting for it fetches the playlist file recorded for it,
 * then the part, then waits for the next. Same bytes, same request count.
 *
 * Lightness: every listener has one keep-alive connection for playlists and
 * parts (a blocking reload holds it while it waits; the parts go over it
 * between reloads, as they would over one HTTP/2 connection), one for the
 * feed's long-poll, and its process shares a small pool for beacons. No
 * pipelining, so the server sees what real players' connections send.
 * Requests are prebuilt Buffers shared by all listeners (they ask for the
 * same URLs), answers are read into one shared buffer (bench/raw-http.ts),
 * playlists are parsed once per distinct body per process (compared with
 * memcmp), latencies go into a 1 ms histogram, and timeouts and beacons are
 * handled by one sweep every 250 ms instead of a timer per request. The
 * listeners are split over worker processes (bench/ll-hls-crowd-worker.ts),
 * each with its own event loop and file limit; their reports are merged.
 *
 * Bounds: loopback addresses only; at most MAX_LISTENERS listeners and
 * MAX_SECONDS seconds per run; every worker is killed at a hard deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openFilesLimits } from './bench-util.js';
import { HttpConnection, RequestPool, assertLoopback, type AnswerCallback } from './raw-http.js';

export const MAX_LISTENERS = 50_000;
export const MAX_SECONDS = 900;
const PARTS_PER_SEGMENT = 4;
const HISTOGRAM_MAX_MS = 60_000;
const SWEEP_MS = 250;
const PLAYLIST_TIMEOUT_MS = 40_000;
const PART_TIMEOUT_MS = 10_000;
const FEED_TIMEOUT_MS = 40_000;
const BEACON_TIMEOUT_MS = 10_000;
const PART_RETRY_MS = [250, 500];
const LIST_CAP = 20;
const SAMPLE_CAP = 200;

// ---------------------------------------------------------------- options and reports

/** A recorded stream served as static files (static mode). */
export interface StaticSchedule {
  /** Playlist file of recorded step i, relative to the HLS base (…/hls/<id>/). */
  playlists: string[];
  /** When step 0 becomes available (Date.now() ms); step j at t0Ms + j × stepMs. */
  t0Ms: number;
  stepMs: number;
  /** Recorded median of (part available at the origin − its media end), ms: the media end of step j is t0Ms + j × stepMs − publishDelayMs. */
  publishDelayMs: number;
}

export interface CrowdOptions {
  /** Base URL of the edge (loopback only), e.g. http://127.0.0.1:8080. */
  url: string;
  spaceId: string;
  listeners: number;
  /** Listening time after the ramp, s. */
  seconds: number;
  /** Listeners start spread evenly over this long, ms (default 2,000). */
  rampMs?: number;
  /** The measured window starts this long after the ramp, ms (default 0). */
  warmupMs?: number;
  /** After the stop, how long listeners may take to fetch up to the newest announced part, ms (default 15,000). */
  drainMs?: number;
  /** Worker processes (0: in this process). Default: 1 per 2,500 listeners, at most 4. */
  workers?: number;
  /** Long-poll the state feed (default true). */
  feed?: boolean;
  /** Presence beacon interval, ms (0: none; default 30,000). */
  beaconIntervalMs?: number;
  /** Each listener says `leaving` at the end (default true). */
  leaveAtEnd?: boolean;
  /** A part is late when it arrives more than this after its media ends, ms (default 1,500). */
  lateAfterMs?: number;
  /** Include a summary per listener in the report (default false). */
  perListener?: boolean;
  /** Static mode: replay these recorded files instead of following a live playlist. */
  static?: StaticSchedule;
  /** Start this long after the workers are ready, ms (default 500). */
  startDelayMs?: number;
  /**
   * Live mode: also count parts per bucket of this many ms of media end
   * (judged, late, missing; the report's `timeline`), for runs whose phases
   * are judged apart (bench/attack-bench.ts). Default 0: off.
   */
  timelineMs?: number;
}

export interface Counters {
  masterRequests: number;
  playlistRequests: number;
  initRequests: number;
  partRequests: number;
  feedRequests: number;
  beaconRequests: number;
  partsOk: number;
  partsLate: number;
  partsMissing: number;
  startupParts: number;
  playlistErrors: number;
  partErrors: number;
  feedErrors: number;
  beaconErrors: number;
  partRetries: number;
  /** Reload answers that listed nothing new (a stale or early answer). */
  playlistsNotAdvanced: number;
  feedVersions: number;
  partBytes: number;
}

export interface ListenerSummary {
  index: number;
  started: boolean;
  firstSeq: number;
  lastSeq: number;
  partsOk: number;
  partsLate: number;
  partsMissing: number;
  /** The first parts it missed ("msn.part: why"). */
  missing: string[];
  /** The first parts that came late: [part, latency ms]. */
  late: [string, number][];
  requests: { playlist: number; part: number; feed: number; beacon: number };
  /** Feed versions it received. */
  feedVersions: number;
  errors: number;
}

export interface WorkerReport {
  worker: number;
  listeners: number;
  started: number;
  finished: number;
  /** The part every listener of this worker had to reach (see "missing"). */
  cutSeq: number;
  total: Counters;
  window: Counters;
  /** [ms, count] pairs of the latency histogram, all parts / parts whose media ended in the window. */
  latencyAll: [number, number][];
  latencyWindow: [number, number][];
  statuses: Record<string, number>;
  errors: Record<string, number>;
  lateSamples: { listener: number; part: string; ms: number }[];
  missingSamples: { listener: number; part: string; why: string }[];
  listenerSummaries?: ListenerSummary[];
  cpuUs: number;
  maxRssMb: number;
  /** Over the measured window. */
  eventLoopDelayMs: { p99: number; max: number };
  distinctPlaylistBodies: number;
  wallMs: number;
  /** With timelineMs: per bucket of media end, [bucket start ms, judged, late, missing]. */
  timeline?: TimelineBucket[];
}

/**
 * Parts whose media ended in [startMs, startMs + timelineMs): judged (arrived,
 * start-up parts left out, as in late_parts_pct), of those late, and missing.
 * A missing part whose media end is unknown is counted in the bucket of the
 * moment it was found missing.
 */
export type TimelineBucket = [startMs: number, judged: number, late: number, missing: number];

export interface CrowdReport {
  mode: 'live' | 'static';
  listeners: number;
  listeners_started: number;
  workers: number;
  late_after_ms: number;
  /** Over the measured window (parts whose media ended in it). */
  late_parts_pct: number;
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number; samples: number };
  missing_parts: number;
  listeners_with_missing: number;
  listeners_with_late: number;
  parts_ok: number;
  parts_late: number;
  /** Requests per second per listener over the window, by kind. */
  requests_per_s_per_listener: { total: number; playlist: number; part: number; feed: number; beacon: number };
  /** Requests per second, all listeners, over the window. */
  requests_per_s: number;
  window_s: number;
  total: Counters;
  window: Counters;
  latency_all_ms: { p50: number; p99: number; max: number; samples: number };
  statuses: Record<string, number>;
  errors: Record<string, number>;
  late_samples: { listener: number; part: string; ms: number }[];
  missing_samples: { listener: number; part: string; why: string }[];
  cut_seq: { min: number; max: number };
  load_generator: { cpu_s: number; max_rss_mb: number; event_loop_delay_ms: { p99: number; max: number } };
  perListener?: ListenerSummary[];
  /** With timelineMs: every worker's buckets, merged, in time order. */
  timeline?: TimelineBucket[];
}

/** What a worker gets: its share of the listeners and the absolute schedule. */
export interface CrowdWorkerConfig {
  worker: number;
  url: string;
  spaceId: string;
  /** Listeners first, first + stride, …, below total (interleaved over the ramp). */
  first: number;
  stride: number;
  total: number;
  startAtMs: number;
  rampMs: number;
  stopAtMs: number;
  drainMs: number;
  windowFromMs: number;
  windowToMs: number;
  feed: boolean;
  beaconIntervalMs: number;
  leaveAtEnd: boolean;
  lateAfterMs: number;
  perListener: boolean;
  static: StaticSchedule | undefined;
  /** 0: no timeline. */
  timelineMs: number;
}

export type WorkerToParent = { type: 'ready' } | { type: 'report'; report: WorkerReport } | { type: 'error'; message: string };
export type ParentToWorker = { type: 'start'; config: CrowdWorkerConfig };

// ---------------------------------------------------------------- playlists

/** What a listener needs from a media playlist. */
export interface ParsedPlaylist {
  ended: boolean;
  canSkip: boolean;
  /** Sequence number (msn × 4 + index) of the oldest and newest part listed; -1 when none. */
  firstSeq: number;
  lastSeq: number;
  /** Media end (wall clock, ms) of part firstSeq + i; NaN if unknown. */
  ends: Float64Array;
  /** URI of part firstSeq + i, as listed. */
  uris: string[];
  /** Parts not listed between the first and the last (must be 0). */
  holes: number;
}

const PART_URI = /URI="([^"]*?(\d+)\.(\d+)\.m4s)"/;
const DURATION = /DURATION=([\d.]+)/;

export function partLabel(seq: number): string {
  return `${Math.floor(seq / PARTS_PER_SEGMENT)}.${seq % PARTS_PER_SEGMENT}`;
}

/** A lenient, fast reader of our media playlists (test/helpers/m3u8.ts is the strict one). */
export function parseMediaPlaylist(text: string): ParsedPlaylist {
  let segmentStart = NaN;
  let offsetMs = 0;
  let ended = false;
  let canSkip = false;
  const seqs: number[] = [];
  const ends: number[] = [];
  const uris: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-PART:')) {
      const uri = PART_URI.exec(line);
      if (!uri) continue;
      offsetMs += Number(DURATION.exec(line)?.[1] ?? NaN) * 1000;
      seqs.push(Number(uri[2]) * PARTS_PER_SEGMENT + Number(uri[3]));
      ends.push(segmentStart + offsetMs);
      uris.push(uri[1] ?? '');
    } else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      segmentStart = Date.parse(line.slice(25));
      offsetMs = 0;
    } else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) {
      canSkip = line.includes('CAN-SKIP-UNTIL=');
    } else if (line === '#EXT-X-ENDLIST') {
      ended = true;
    }
  }
  const firstSeq = seqs[0] ?? -1;
  const lastSeq = seqs[seqs.length - 1] ?? -1;
  const span = lastSeq >= 0 ? lastSeq - firstSeq + 1 : 0;
  const byIndex = new Float64Array(span).fill(NaN);
  const uriByIndex: string[] = new Array<string>(span).fill('');
  seqs.forEach((seq, i) => {
    byIndex[seq - firstSeq] = ends[i] ?? NaN;
    uriByIndex[seq - firstSeq] = uris[i] ?? '';
  });
  return { ended, canSkip, firstSeq, lastSeq, ends: byIndex, uris: uriByIndex, holes: span - seqs.length };
}

// ---------------------------------------------------------------- statistics

function newCounters(): Counters {
  return {
    masterRequests: 0,
    playlistRequests: 0,
    initRequests: 0,
    partRequests: 0,
    feedRequests: 0,
    beaconRequests: 0,
    partsOk: 0,
    partsLate: 0,
    partsMissing: 0,
    startupParts: 0,
    playlistErrors: 0,
    partErrors: 0,
    feedErrors: 0,
    beaconErrors: 0,
    partRetries: 0,
    playlistsNotAdvanced: 0,
    feedVersions: 0,
    partBytes: 0,
  };
}

function addCounters(into: Counters, from: Counters): void {
  for (const key of Object.keys(into) as (keyof Counters)[]) into[key] += from[key];
}

class Histogram {
  readonly counts = new Uint32Array(HISTOGRAM_MAX_MS + 1);
  samples = 0;
  add(ms: number): void {
    const bucket = ms <= 0 ? 0 : ms >= HISTOGRAM_MAX_MS ? HISTOGRAM_MAX_MS : Math.round(ms);
    this.counts[bucket]!++;
    this.samples++;
  }
  sparse(): [number, number][] {
    const out: [number, number][] = [];
    this.counts.forEach((count, ms) => {
      if (count > 0) out.push([ms, count]);
    });
    return out;
  }
}

/** Nearest-rank percentile of a sparse histogram. */
function histogramPercentile(sparse: [number, number][], total: number, p: number): number {
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const [ms, count] of sparse) {
    seen += count;
    if (seen >= rank) return ms;
  }
  return sparse[sparse.length - 1]?.[0] ?? NaN;
}

function mergeSparse(lists: [number, number][][]): [number, number][] {
  const merged = new Map<number, number>();
  for (const list of lists) for (const [ms, count] of list) merged.set(ms, (merged.get(ms) ?? 0) + count);
  return [...merged.entries()].sort((a, b) => a[0] - b[0]);
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

// ---------------------------------------------------------------- one worker's listeners

interface Listener {
  readonly index: number;
  started: boolean;
  done: boolean;
  firstSeq: number;
  lastSeq: number;
  nextBeaconAt: number;
  /** The presence id it beacons with, drawn at its first beacon, and its prebuilt beacon. */
  beaconId: string | undefined;
  beat: Buffer | undefined;
  readonly stats: Counters;
  missingList: string[];
  lateList: [string, number][];
  readonly connections: HttpConnection[];
  start(): void;
  /** Called at the stop: finish now if idle between steps. */
  onStop(): void;
}

/** The listeners of one process, their shared caches and their statistics. */
export class CrowdSimulation {
  readonly port: number;
  readonly host: string;
  /** Each worker connects from its own loopback address, so N is not capped by one address's ephemeral ports. */
  readonly localAddress: string | undefined;
  readonly hlsBase: string;
  readonly feedPath: string;
  private readonly hostHeader: string;
  private readonly requestCache = new Map<string, Buffer>();
  private readonly playlistCache = new Map<string, { body: Buffer; parsed: ParsedPlaylist }>();
  distinctPlaylistBodies = 0;
  readonly listeners: Listener[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private sweepTimer: NodeJS.Timeout | undefined;
  readonly beacons: RequestPool | undefined;
  readonly total = newCounters();
  readonly window = newCounters();
  readonly latencyAll = new Histogram();
  readonly latencyWindow = new Histogram();
  readonly statuses: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly lateSamples: WorkerReport['lateSamples'] = [];
  readonly missingSamples: WorkerReport['missingSamples'] = [];
  /** Newest part seen announced in any playlist answer. */
  newestAnnounced = -1;
  stopping = false;
  /** Every listener must reach this part before it is done (set at the stop). */
  cutSeq = -1;
  drainDeadline = Infinity;
  /** Static mode: the newest step released, and the listeners waiting for the next. */
  releasedStep = -1;
  private waitingForStep: StaticListener[] = [];
  private finished = false;
  private startedAtCpu = process.cpuUsage();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });
  private readonly startedWall = Date.now();
  /** With timelineMs: counts per bucket of media end, and the media end of every part announced. */
  private readonly timeline = new Map<number, TimelineBucket>();
  private readonly endOfSeq = new Map<number, number>();

  constructor(
    readonly config: CrowdWorkerConfig,
    private readonly onDone: (report: WorkerReport) => void,
  ) {
    const url = new URL(config.url);
    assertLoopback(url);
    this.port = Number(url.port || 80);
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.hostHeader = url.host;
    this.localAddress = this.host === '127.0.0.1' ? `127.0.0.${10 + (config.worker % 200)}` : undefined;
    this.hlsBase = `/hls/${config.spaceId}/`;
    this.feedPath = `/api/spaces/${config.spaceId}/feed`;
    let count = 0;
    for (let i = config.first; i < config.total; i += config.stride) count++;
    if (config.beaconIntervalMs > 0) this.beacons = new RequestPool(Math.max(4, Math.ceil(count / 250)), this.port, this.host, BEACON_TIMEOUT_MS, this.localAddress);
    for (let i = config.first; i < config.total; i += config.stride) {
      this.listeners.push(config.static ? new StaticListener(this, i, config.static) : new LiveListener(this, i));
    }
  }

  start(): void {
    const { startAtMs, rampMs, total, stopAtMs, windowFromMs, windowToMs } = this.config;
    // This process's event-loop delay over the window: a late part the load generator made late itself shows here.
    this.at(windowFromMs, () => this.loopDelay.enable());
    this.at(windowToMs, () => this.loopDelay.disable());
    this.startedAtCpu = process.cpuUsage();
    for (const listener of this.listeners) {
      this.at(startAtMs + (rampMs * listener.index) / total, () => {
        if (!this.stopping) listener.start();
      });
    }
    if (this.config.static) this.scheduleStep(Math.max(0, Math.floor((startAtMs - this.config.static.t0Ms) / this.config.static.stepMs)));
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.at(stopAtMs, () => this.stop());
  }

  /** A prebuilt GET for `path`, shared by every listener asking for it. */
  get(path: string): Buffer {
    let request = this.requestCache.get(path);
    if (!request) {
      if (this.requestCache.size > 256) this.requestCache.clear();
      request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nUser-Agent: tribune-crowd\r\nAccept: */*\r\n\r\n`, 'latin1');
      this.requestCache.set(path, request);
    }
    return request;
  }

  post(path: string, body: string): Buffer {
    return Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nUser-Agent: tribune-crowd\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      'latin1',
    );
  }

  /** The parsed form of a playlist answer: parsed once per distinct body for the same request. */
  playlistFor(key: string, body: Buffer): ParsedPlaylist {
    const cached = this.playlistCache.get(key);
    if (cached && cached.body.equals(body)) return cached.parsed;
    const copy = Buffer.from(body);
    const parsed = parseMediaPlaylist(copy.toString('utf8'));
    this.distinctPlaylistBodies++;
    if (this.playlistCache.size > 64) this.playlistCache.delete(this.playlistCache.keys().next().value as string);
    this.playlistCache.set(key, { body: copy, parsed });
    return parsed;
  }

  announce(playlist: ParsedPlaylist): void {
    if (this.config.timelineMs > 0) {
      for (let seq = Math.max(playlist.firstSeq, this.newestAnnounced + 1); seq <= playlist.lastSeq; seq++) {
        const endMs = playlist.ends[seq - playlist.firstSeq] ?? NaN;
        if (Number.isFinite(endMs)) this.endOfSeq.set(seq, endMs);
      }
    }
    if (playlist.lastSeq > this.newestAnnounced) this.newestAnnounced = playlist.lastSeq;
  }

  /** The timeline bucket of media end `ms` (only called with timelineMs > 0). */
  private bucket(ms: number): TimelineBucket {
    const start = Math.floor(ms / this.config.timelineMs) * this.config.timelineMs;
    let entry = this.timeline.get(start);
    if (!entry) {
      entry = [start, 0, 0, 0];
      this.timeline.set(start, entry);
    }
    return entry;
  }

  inWindow(ms: number): boolean {
    return ms >= this.config.windowFromMs && ms < this.config.windowToMs;
  }

  /** Counts a request of `kind` for a listener, in total and in the window. */
  count(listener: Listener, kind: 'masterRequests' | 'playlistRequests' | 'initRequests' | 'partRequests' | 'feedRequests' | 'beaconRequests'): void {
    listener.stats[kind]++;
    this.total[kind]++;
    if (this.inWindow(Date.now())) this.window[kind]++;
  }

  status(status: number, error: string | undefined): void {
    bump(this.statuses, status === 0 ? `error:${error ?? '?'}` : String(status));
  }

  error(listener: Listener, kind: 'playlistErrors' | 'partErrors' | 'feedErrors' | 'beaconErrors', what: string): void {
    listener.stats[kind]++;
    this.total[kind]++;
    if (this.inWindow(Date.now())) this.window[kind]++;
    bump(this.errors, what);
  }

  /** A part arrived whole: its latency behind the live edge, unless it was the start-up part. */
  partArrived(listener: Listener, label: string, endMs: number, bytes: number, startup: boolean): void {
    const now = Date.now();
    listener.stats.partsOk++;
    listener.stats.partBytes += bytes;
    this.total.partsOk++;
    this.total.partBytes += bytes;
    const windowed = Number.isFinite(endMs) && this.inWindow(endMs);
    if (windowed) {
      this.window.partsOk++;
      this.window.partBytes += bytes;
    }
    if (startup) {
      listener.stats.startupParts++;
      this.total.startupParts++;
      if (windowed) this.window.startupParts++;
      return;
    }
    if (!Number.isFinite(endMs)) return;
    const latency = now - endMs;
    this.latencyAll.add(latency);
    if (windowed) this.latencyWindow.add(latency);
    const bucket = this.config.timelineMs > 0 ? this.bucket(endMs) : undefined;
    if (bucket) bucket[1]++;
    if (latency > this.config.lateAfterMs) {
      if (bucket) bucket[2]++;
      listener.stats.partsLate++;
      this.total.partsLate++;
      if (windowed) this.window.partsLate++;
      if (listener.lateList.length < LIST_CAP) listener.lateList.push([label, Math.round(latency)]);
      if (this.lateSamples.length < SAMPLE_CAP) this.lateSamples.push({ listener: listener.index, part: label, ms: Math.round(latency) });
    }
  }

  partMissing(listener: Listener, label: string, why: string, windowed: boolean): void {
    listener.stats.partsMissing++;
    this.total.partsMissing++;
    if (windowed) this.window.partsMissing++;
    if (this.config.timelineMs > 0 && !this.config.static) {
      const [msn, part] = label.split('.').map(Number);
      const endMs = this.endOfSeq.get((msn ?? NaN) * PARTS_PER_SEGMENT + (part ?? NaN));
      this.bucket(endMs ?? Date.now())[3]++;
    }
    if (listener.missingList.length < LIST_CAP) listener.missingList.push(`${label}: ${why}`);
    if (this.missingSamples.length < SAMPLE_CAP) this.missingSamples.push({ listener: listener.index, part: label, why });
  }

  /** Runs `fn` at absolute time `atMs` (a timer that stop/finish can clear). */
  at(atMs: number, fn: () => void): void {
    this.after(atMs - Date.now(), fn);
  }

  after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    this.timers.add(timer);
  }

  listenerDone(): void {
    if (this.stopping) this.maybeFinish();
  }

  // ---- static mode: steps released one per stepMs

  private scheduleStep(step: number): void {
    const schedule = this.config.static;
    if (!schedule || this.finished) return;
    this.at(schedule.t0Ms + step * schedule.stepMs, () => {
      this.releasedStep = step;
      const waiting = this.waitingForStep;
      this.waitingForStep = [];
      for (const listener of waiting) listener.fetchStep(step);
      if (!this.stopping) this.scheduleStep(step + 1);
    });
  }

  waitForStep(listener: StaticListener): void {
    this.waitingForStep.push(listener);
  }

  // ---- the sweep: timeouts and beacons

  private sweep(): void {
    const now = Date.now();
    const beaconEvery = this.config.beaconIntervalMs;
    for (const listener of this.listeners) {
      for (const connection of listener.connections) connection.expire(now);
      if (beaconEvery > 0 && listener.started && !this.stopping && now >= listener.nextBeaconAt) {
        listener.nextBeaconAt = now + beaconEvery * (0.85 + 0.15 * Math.random());
        this.beacon(listener, false);
      }
    }
    this.beacons?.expire(now);
    if (this.stopping && now > this.drainDeadline) this.finish();
  }

  beacon(listener: Listener, leaving: boolean): void {
    if (!this.beacons) return;
    const path = `/api/spaces/${this.config.spaceId}/presence`;
    listener.beaconId ??= `crowd${listener.index.toString(36)}${randomBytes(9).toString('base64url')}`;
    const request = leaving
      ? this.post(path, JSON.stringify({ listener: listener.beaconId, leaving: true }))
      : (listener.beat ??= this.post(path, JSON.stringify({ listener: listener.beaconId })));
    this.count(listener, 'beaconRequests');
    this.beacons.send(request, (status, _body, _bytes, error) => {
      if (status !== 204 && !(this.finished && status === 0)) this.error(listener, 'beaconErrors', `beacon ${status || error}`);
    });
  }

  // ---- the end

  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.cutSeq = this.config.static ? this.releasedStep : this.newestAnnounced;
    this.drainDeadline = Date.now() + this.config.drainMs;
    for (const listener of this.listeners) {
      if (!listener.started) listener.done = true;
      listener.onStop();
    }
    if (this.config.leaveAtEnd && this.beacons) for (const listener of this.listeners) if (listener.started) this.beacon(listener, true);
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished) return;
    for (const listener of this.listeners) if (!listener.done) return;
    // Give the leaving beacons a moment to go out.
    this.after(this.config.leaveAtEnd && this.beacons ? 1000 : 0, () => this.finish());
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.sweepTimer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    // Parts a listener never got up to the cut are missing.
    for (const listener of this.listeners) {
      listener.done = true;
      if (!listener.started || listener.firstSeq < 0) continue;
      for (let seq = listener.lastSeq + 1; seq <= this.cutSeq; seq++) {
        this.partMissing(listener, this.config.static ? `step ${seq}` : partLabel(seq), 'not reached by the end of the drain', true);
      }
    }
    for (const listener of this.listeners) for (const connection of listener.connections) connection.close();
    this.beacons?.close();
    this.loopDelay.disable();
    const delay = (ns: number): number => (Number.isFinite(ns) ? Math.round(ns / 1e5) / 10 : 0);
    const cpu = process.cpuUsage(this.startedAtCpu);
    const report: WorkerReport = {
      worker: this.config.worker,
      listeners: this.listeners.length,
      started: this.listeners.filter((l) => l.started).length,
      finished: this.listeners.filter((l) => l.started && l.lastSeq >= this.cutSeq).length,
      cutSeq: this.cutSeq,
      total: this.total,
      window: this.window,
      latencyAll: this.latencyAll.sparse(),
      latencyWindow: this.latencyWindow.sparse(),
      statuses: this.statuses,
      errors: this.errors,
      lateSamples: this.lateSamples,
      missingSamples: this.missingSamples,
      listenerSummaries: this.config.perListener ? this.listeners.map(summaryOf) : undefined,
      cpuUs: cpu.user + cpu.system,
      maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
      eventLoopDelayMs: { p99: delay(this.loopDelay.percentile(99)), max: delay(this.loopDelay.max) },
      distinctPlaylistBodies: this.distinctPlaylistBodies,
      wallMs: Date.now() - this.startedWall,
      ...(this.config.timelineMs > 0 ? { timeline: [...this.timeline.values()] } : {}),
    };
    this.onDone(report);
  }
}

function summaryOf(listener: Listener): ListenerSummary {
  const s = listener.stats;
  return {
    index: listener.index,
    started: listener.started,
    firstSeq: listener.firstSeq,
    lastSeq: listener.lastSeq,
    partsOk: s.partsOk,
    partsLate: s.partsLate,
    partsMissing: s.partsMissing,
    missing: listener.missingList,
    late: listener.lateList,
    requests: { playlist: s.playlistRequests + s.masterRequests, part: s.partRequests + s.initRequests, feed: s.feedRequests, beacon: s.beaconRequests },
    feedVersions: s.feedVersions,
    errors: s.playlistErrors + s.partErrors + s.feedErrors + s.beaconErrors,
  };
}

// ---------------------------------------------------------------- the feed long-poll (both modes)

class FeedPoller {
  readonly connection: HttpConnection;
  version: number | undefined;
  private askedAt = 0;
  private stopped = false;

  constructor(
    private readonly sim: CrowdSimulation,
    private readonly listener: Listener,
  ) {
    this.connection = new HttpConnection(sim.port, sim.host, sim.localAddress);
  }

  start(): void {
    this.poll();
  }

  stop(): void {
    this.stopped = true;
    this.connection.close();
  }

  private poll(): void {
    if (this.stopped) return;
    const path = this.version === undefined ? this.sim.feedPath : `${this.sim.feedPath}?v=${this.version}`;
    this.askedAt = Date.now();
    this.sim.count(this.listener, 'feedRequests');
    this.connection.request(this.sim.get(path), true, FEED_TIMEOUT_MS, this.onAnswer);
  }

  private readonly onAnswer: AnswerCallback = (status, body, _bytes, error) => {
    if (this.stopped) return;
    this.sim.status(status, error);
    const version = status === 200 && body ? feedVersion(body) : undefined;
    if (version === undefined) {
      // The page stops following the feed on a 400 or 404 (feed-watcher.ts: VALIDATION_FAILED, SPACE_NOT_FOUND).
      const givesUp = status === 400 || status === 404;
      this.sim.error(this.listener, 'feedErrors', `feed ${status || error}${givesUp ? ' (the page gives up the feed)' : ''}`);
      if (givesUp) this.stopped = true;
      else this.sim.after(1000 + Math.random() * 1000, () => this.poll());
      return;
    }
    if (version === this.version) {
      // Nothing new: a fast answer came from a cache; wait before asking again (feed-watcher.ts).
      if (Date.now() - this.askedAt < 300) this.sim.after(1000 + Math.random() * 1000, () => this.poll());
      else this.poll();
      return;
    }
    this.version = version;
    this.listener.stats.feedVersions++;
    this.sim.total.feedVersions++;
    this.poll();
  };
}

/** The version of a feed answer: it starts with {"version":N. */
function feedVersion(body: Buffer): number | undefined {
  const prefix = '{"version":';
  if (body.length < prefix.length + 1 || body.toString('latin1', 0, prefix.length) !== prefix) return undefined;
  let n = 0;
  let i = prefix.length;
  for (let c = body[i]; c !== undefined && c >= 48 && c <= 57; c = body[++i]) n = n * 10 + (c - 48);
  return i > prefix.length ? n : undefined;
}

// ---------------------------------------------------------------- live listeners

class LiveListener implements Listener {
  started = false;
  done = false;
  firstSeq = -1;
  lastSeq = -1;
  nextBeaconAt = 0;
  beaconId: string | undefined;
  beat: Buffer | undefined;
  readonly stats = newCounters();
  missingList: string[] = [];
  lateList: [string, number][] = [];
  readonly connections: HttpConnection[];
  private readonly connection: HttpConnection;
  private readonly feed: FeedPoller | undefined;
  private playlist: ParsedPlaylist | undefined;
  private reloadKey = '';
  private fetching = -1;
  private attempts = 0;
  /** Between steps: waiting on a retry timer (so the stop can finish it). */
  private idle = false;

  constructor(
    private readonly sim: CrowdSimulation,
    readonly index: number,
  ) {
    this.connection = new HttpConnection(sim.port, sim.host, sim.localAddress);
    this.feed = sim.config.feed ? new FeedPoller(sim, this) : undefined;
    this.connections = this.feed ? [this.connection, this.feed.connection] : [this.connection];
  }

  start(): void {
    this.started = true;
    this.nextBeaconAt = Date.now();
    this.feed?.start();
    this.loadMaster();
  }

  onStop(): void {
    this.feed?.stop();
    if (!this.playlist) this.finish();
    else if (this.idle && this.lastSeq >= this.sim.cutSeq) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.sim.listenerDone();
  }

  private later(ms: number, fn: () => void): void {
    this.idle = true;
    this.sim.after(ms, () => {
      this.idle = false;
      if (!this.done) fn();
    });
  }

  // ---- start-up: master, media playlist, init

  private loadMaster(): void {
    this.sim.count(this, 'masterRequests');
    this.connection.request(this.sim.get(`${this.sim.hlsBase}master.m3u8`), false, PART_TIMEOUT_MS, this.onMaster);
  }

  private readonly onMaster: AnswerCallback = (status, _body, _bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    if (status !== 200) {
      this.sim.error(this, 'playlistErrors', `master ${status || error}`);
      return this.later(1000, () => this.loadMaster());
    }
    this.loadFirstPlaylist();
  };

  private loadFirstPlaylist(): void {
    this.sim.count(this, 'playlistRequests');
    this.reloadKey = 'live.m3u8';
    this.connection.request(this.sim.get(`${this.sim.hlsBase}live.m3u8`), true, PLAYLIST_TIMEOUT_MS, this.onFirstPlaylist);
  }

  private readonly onFirstPlaylist: AnswerCallback = (status, body, _bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    const playlist = status === 200 && body ? this.sim.playlistFor(this.reloadKey, body) : undefined;
    if (!playlist || playlist.lastSeq < 0) {
      this.sim.error(this, 'playlistErrors', playlist ? 'playlist without parts' : `playlist ${status || error}`);
      return this.later(1000, () => this.loadFirstPlaylist());
    }
    this.playlist = playlist;
    this.sim.announce(playlist);
    this.loadInit();
  };

  private loadInit(): void {
    this.sim.count(this, 'initRequests');
    this.connection.request(this.sim.get(`${this.sim.hlsBase}init.mp4`), false, PART_TIMEOUT_MS, this.onInit);
  }

  private readonly onInit: AnswerCallback = (status, _body, bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    if (status !== 200 || bytes === 0) {
      this.sim.error(this, 'partErrors', `init ${status || error}`);
      return this.later(1000, () => this.loadInit());
    }
    const playlist = this.playlist as ParsedPlaylist;
    this.firstSeq = playlist.lastSeq;
    this.lastSeq = this.firstSeq - 1;
    this.next();
  };

  // ---- following: parts, then a blocking reload

  private next(): void {
    const playlist = this.playlist as ParsedPlaylist;
    if (this.lastSeq < playlist.lastSeq) {
      let seq = this.lastSeq + 1;
      if (seq < playlist.firstSeq) {
        for (; seq < playlist.firstSeq; seq++) this.sim.partMissing(this, partLabel(seq), 'left the playlist before it was fetched', true);
        this.lastSeq = playlist.firstSeq - 1;
      }
      this.attempts = 0;
      return this.fetchPart(seq);
    }
    if (playlist.ended) return this.finish();
    if (this.sim.stopping && (this.lastSeq >= this.sim.cutSeq || Date.now() > this.sim.drainDeadline)) return this.finish();
    this.reload();
  }

  private fetchPart(seq: number): void {
    const playlist = this.playlist as ParsedPlaylist;
    this.fetching = seq;
    this.sim.count(this, 'partRequests');
    this.connection.request(this.sim.get(this.sim.hlsBase + playlist.uris[seq - playlist.firstSeq]), false, PART_TIMEOUT_MS, this.onPart);
  }

  private readonly onPart: AnswerCallback = (status, _body, bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    const seq = this.fetching;
    const playlist = this.playlist as ParsedPlaylist;
    if (status === 200 && bytes > 0) {
      this.sim.partArrived(this, partLabel(seq), playlist.ends[seq - playlist.firstSeq] ?? NaN, bytes, seq === this.firstSeq);
      this.lastSeq = seq;
      return this.next();
    }
    this.sim.error(this, 'partErrors', `part ${status || error}`);
    const retryMs = PART_RETRY_MS[this.attempts];
    if (retryMs !== undefined) {
      this.attempts++;
      this.stats.partRetries++;
      this.sim.total.partRetries++;
      return this.later(retryMs, () => this.fetchPart(seq));
    }
    const endMs = playlist.ends[seq - playlist.firstSeq] ?? NaN;
    this.sim.partMissing(this, partLabel(seq), `${status || error} three times`, !Number.isFinite(endMs) || this.sim.inWindow(endMs));
    this.lastSeq = seq;
    this.next();
  };

  private reload(): void {
    const want = this.lastSeq + 1;
    const msn = Math.floor(want / PARTS_PER_SEGMENT);
    const part = want % PARTS_PER_SEGMENT;
    this.reloadKey = `live.m3u8?_HLS_msn=${msn}&_HLS_part=${part}${this.playlist?.canSkip ? '&_HLS_skip=YES' : ''}`;
    this.sim.count(this, 'playlistRequests');
    this.connection.request(this.sim.get(this.sim.hlsBase + this.reloadKey), true, PLAYLIST_TIMEOUT_MS, this.onReload);
  }

  private readonly onReload: AnswerCallback = (status, body, _bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    const playlist = status === 200 && body ? this.sim.playlistFor(this.reloadKey, body) : undefined;
    if (!playlist || playlist.lastSeq < 0) {
      this.sim.error(this, 'playlistErrors', playlist ? 'playlist without parts' : `reload ${status || error}`);
      if (this.sim.stopping && Date.now() > this.sim.drainDeadline) return this.finish();
      return this.later(1000 + Math.random() * 250, () => this.reload());
    }
    this.sim.announce(playlist);
    if (playlist.lastSeq <= this.lastSeq && !playlist.ended) {
      // Nothing new (an answer older than asked for): ask again shortly.
      this.stats.playlistsNotAdvanced++;
      this.sim.total.playlistsNotAdvanced++;
      return this.later(200, () => this.next());
    }
    this.playlist = playlist;
    this.next();
  };
}

// ---------------------------------------------------------------- static listeners

class StaticListener implements Listener {
  started = false;
  done = false;
  firstSeq = -1;
  lastSeq = -1;
  nextBeaconAt = 0;
  beaconId: string | undefined;
  beat: Buffer | undefined;
  readonly stats = newCounters();
  missingList: string[] = [];
  lateList: [string, number][] = [];
  readonly connections: HttpConnection[];
  private readonly connection: HttpConnection;
  private readonly feed: FeedPoller | undefined;
  private step = -1;
  private playlistPath = '';
  private playlist: ParsedPlaylist | undefined;
  private attempts = 0;
  private waiting = false;

  constructor(
    private readonly sim: CrowdSimulation,
    readonly index: number,
    private readonly schedule: StaticSchedule,
  ) {
    this.connection = new HttpConnection(sim.port, sim.host, sim.localAddress);
    this.feed = sim.config.feed ? new FeedPoller(sim, this) : undefined;
    this.connections = this.feed ? [this.connection, this.feed.connection] : [this.connection];
  }

  start(): void {
    this.started = true;
    this.nextBeaconAt = Date.now();
    this.feed?.start();
    this.sim.count(this, 'masterRequests');
    this.connection.request(this.sim.get(`${this.sim.hlsBase}master.m3u8`), false, PART_TIMEOUT_MS, this.onMaster);
  }

  onStop(): void {
    this.feed?.stop();
    if (this.firstSeq < 0 || (this.waiting && this.lastSeq >= this.sim.cutSeq)) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.sim.listenerDone();
  }

  private readonly onMaster: AnswerCallback = (status, _body, _bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    if (status !== 200) this.sim.error(this, 'playlistErrors', `master ${status || error}`);
    this.sim.count(this, 'initRequests');
    this.connection.request(this.sim.get(`${this.sim.hlsBase}init.mp4`), false, PART_TIMEOUT_MS, this.onInit);
  };

  private readonly onInit: AnswerCallback = (status, _body, _bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    if (status !== 200) this.sim.error(this, 'partErrors', `init ${status || error}`);
    if (this.sim.releasedStep < 0) {
      this.waiting = true;
      return this.sim.waitForStep(this);
    }
    this.firstSeq = this.sim.releasedStep;
    this.lastSeq = this.firstSeq - 1;
    this.fetchStep(this.firstSeq);
  };

  /** Fetches the playlist recorded for step `step`, then its newest part. */
  fetchStep(step: number): void {
    if (this.done) return;
    this.waiting = false;
    if (this.firstSeq < 0) {
      this.firstSeq = step;
      this.lastSeq = step - 1;
    }
    this.step = step;
    this.attempts = 0;
    this.playlistPath = this.schedule.playlists[step % this.schedule.playlists.length] ?? '';
    this.sim.count(this, 'playlistRequests');
    this.connection.request(this.sim.get(this.sim.hlsBase + this.playlistPath), true, PART_TIMEOUT_MS, this.onPlaylist);
  }

  private readonly onPlaylist: AnswerCallback = (status, body, _bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    const playlist = status === 200 && body ? this.sim.playlistFor(this.playlistPath, body) : undefined;
    if (!playlist || playlist.lastSeq < 0) {
      this.sim.error(this, 'playlistErrors', `static playlist ${status || error}`);
      return this.gaveUp();
    }
    this.playlist = playlist;
    this.fetchPart();
  };

  private fetchPart(): void {
    const playlist = this.playlist as ParsedPlaylist;
    this.sim.count(this, 'partRequests');
    this.connection.request(this.sim.get(this.sim.hlsBase + playlist.uris[playlist.uris.length - 1]), false, PART_TIMEOUT_MS, this.onPart);
  }

  private readonly onPart: AnswerCallback = (status, _body, bytes, error) => {
    if (this.done) return;
    this.sim.status(status, error);
    if (status === 200 && bytes > 0) {
      const endMs = this.schedule.t0Ms + this.step * this.schedule.stepMs - this.schedule.publishDelayMs;
      this.sim.partArrived(this, `step ${this.step}`, endMs, bytes, this.step === this.firstSeq);
      this.lastSeq = this.step;
      return this.nextStep();
    }
    this.sim.error(this, 'partErrors', `part ${status || error}`);
    const retryMs = PART_RETRY_MS[this.attempts];
    if (retryMs !== undefined) {
      this.attempts++;
      this.stats.partRetries++;
      this.sim.total.partRetries++;
      return this.sim.after(retryMs, () => {
        if (!this.done) this.fetchPart();
      });
    }
    this.gaveUp();
  };

  private gaveUp(): void {
    const endMs = this.schedule.t0Ms + this.step * this.schedule.stepMs - this.schedule.publishDelayMs;
    this.sim.partMissing(this, `step ${this.step}`, 'failed three times', this.sim.inWindow(endMs));
    this.lastSeq = this.step;
    this.nextStep();
  }

  private nextStep(): void {
    if (this.sim.stopping && (this.lastSeq >= this.sim.cutSeq || Date.now() > this.sim.drainDeadline)) return this.finish();
    if (this.sim.releasedStep > this.step) return this.fetchStep(this.step + 1);
    this.waiting = true;
    this.sim.waitForStep(this);
  }
}

// ---------------------------------------------------------------- the coordinator

export interface CrowdHandle {
  /** Worker process ids (empty when the crowd runs in this process). */
  pids: number[];
  startAtMs: number;
  windowFromMs: number;
  windowToMs: number;
  stopAtMs: number;
  done: Promise<CrowdReport>;
  /** Kills the workers (the done promise rejects). */
  abort(): void;
}

const WORKER_ENTRY = fileURLToPath(new URL('./ll-hls-crowd-worker.ts', import.meta.url));

export function defaultWorkers(listeners: number): number {
  return Math.max(1, Math.min(4, Math.ceil(listeners / 2500)));
}

/** Starts the crowd; resolves once its workers are ready and the schedule is set. */
export async function startCrowd(options: CrowdOptions): Promise<CrowdHandle> {
  const url = new URL(options.url);
  assertLoopback(url);
  const listeners = options.listeners;
  if (!Number.isInteger(listeners) || listeners < 1 || listeners > MAX_LISTENERS) throw new Error(`listeners must be 1..${MAX_LISTENERS}`);
  if (!(options.seconds > 0 && options.seconds <= MAX_SECONDS)) throw new Error(`seconds must be in (0, ${MAX_SECONDS}]`);
  const workers = options.workers ?? defaultWorkers(listeners);
  const rampMs = options.rampMs ?? 2000;
  const warmupMs = options.warmupMs ?? 0;
  const drainMs = options.drainMs ?? 15_000;
  const perWorker = Math.ceil(listeners / Math.max(1, workers));
  const base = {
    url: url.origin,
    spaceId: options.spaceId,
    total: listeners,
    stride: Math.max(1, workers),
    rampMs,
    drainMs,
    feed: options.feed ?? true,
    beaconIntervalMs: options.beaconIntervalMs ?? 30_000,
    leaveAtEnd: options.leaveAtEnd ?? true,
    lateAfterMs: options.lateAfterMs ?? 1500,
    perListener: options.perListener ?? false,
    static: options.static,
    timelineMs: options.timelineMs ?? 0,
  };
  const schedule = (): Pick<CrowdWorkerConfig, 'startAtMs' | 'stopAtMs' | 'windowFromMs' | 'windowToMs'> => {
    const startAtMs = Date.now() + (options.startDelayMs ?? 500);
    const stopAtMs = startAtMs + rampMs + options.seconds * 1000;
    return { startAtMs, stopAtMs, windowFromMs: Math.min(stopAtMs, startAtMs + rampMs + warmupMs), windowToMs: stopAtMs };
  };
  const hardTimeoutMs = (options.startDelayMs ?? 500) + rampMs + options.seconds * 1000 + drainMs + 60_000;

  if (workers === 0) {
    const times = schedule();
    let resolveDone!: (report: CrowdReport) => void;
    const done = new Promise<CrowdReport>((resolve) => (resolveDone = resolve));
    const sim = new CrowdSimulation({ ...base, ...times, worker: 0, first: 0, stride: 1 }, (report) => resolveDone(mergeReports([report], base.lateAfterMs, options, times.windowToMs - times.windowFromMs)));
    sim.start();
    return { pids: [], ...times, done, abort: () => sim.stop() };
  }

  const fdsNeeded = perWorker * 2 + 500;
  const children: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  const reports: Promise<WorkerReport>[] = [];
  for (let w = 0; w < workers; w++) {
    const child = spawnWorker(fdsNeeded);
    children.push(child);
    let onMessage: (message: WorkerToParent) => void = () => undefined;
    child.on('message', (message: WorkerToParent) => onMessage(message));
    ready.push(
      new Promise((resolve, reject) => {
        onMessage = (message) => {
          if (message.type === 'ready') resolve();
          else if (message.type === 'error') reject(new Error(`crowd worker ${w}: ${message.message}`));
        };
        child.once('exit', (code, signal) => reject(new Error(`crowd worker ${w} exited (${signal ?? code}) before it was ready`)));
      }),
    );
    reports.push(
      new Promise((resolve, reject) => {
        child.on('message', (message: WorkerToParent) => {
          if (message.type === 'report') resolve(message.report);
          else if (message.type === 'error') reject(new Error(`crowd worker ${w}: ${message.message}`));
        });
        child.once('exit', (code, signal) => reject(new Error(`crowd worker ${w} exited (${signal ?? code}) without a report`)));
      }),
    );
  }
  const kill = (): void => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  for (const report of reports) report.catch(() => undefined);
  try {
    await withDeadline(Promise.all(ready), 30_000, 'the crowd workers to start');
  } catch (error) {
    kill();
    throw error;
  }
  const times = schedule();
  children.forEach((child, w) => {
    const message: ParentToWorker = { type: 'start', config: { ...base, ...times, worker: w, first: w } };
    child.send(message);
  });
  // Workers exit by themselves after their report; the ones that do not are killed.
  const exited = (child: ChildProcess): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
  const done = withDeadline(Promise.all(reports), hardTimeoutMs, 'the crowd to finish')
    .then(async (all) => {
      await withDeadline(Promise.all(children.map(exited)), 5000, 'the crowd workers to exit').catch(() => undefined);
      return mergeReports(all, base.lateAfterMs, options, times.windowToMs - times.windowFromMs);
    })
    .finally(() => {
      kill();
      process.removeListener('exit', kill);
    });
  return { pids: children.map((c) => c.pid ?? 0), ...times, done, abort: kill };
}

/** Runs a crowd to the end and merges its workers' reports. */
export async function runCrowd(options: CrowdOptions): Promise<CrowdReport> {
  return (await startCrowd(options)).done;
}

function spawnWorker(fdsNeeded: number): ChildProcess {
  // Extra node flags for the workers only, for experiments (e.g. --cpu-prof).
  const extra = (process.env.CROWD_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const node = [process.execPath, '--import', 'tsx', ...extra, WORKER_ENTRY];
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (openFilesLimits().soft >= fdsNeeded) return spawn(node[0] as string, node.slice(1), { stdio });
  // Raise the worker's soft limit on open files (up to the hard limit unless we may raise that too).
  const script = `ulimit -n ${fdsNeeded} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  return spawn('/bin/sh', ['-c', script, 'sh', ...node], { stdio });
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const round = (value: number, digits = 2): number => (Number.isFinite(value) ? Math.round(value * 10 ** digits) / 10 ** digits : value);

export function mergeReports(reports: WorkerReport[], lateAfterMs: number, options: Pick<CrowdOptions, 'perListener' | 'static'>, windowMs: number): CrowdReport {
  const total = newCounters();
  const window = newCounters();
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const report of reports) {
    addCounters(total, report.total);
    addCounters(window, report.window);
    for (const [k, v] of Object.entries(report.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    for (const [k, v] of Object.entries(report.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  const windowHist = mergeSparse(reports.map((r) => r.latencyWindow));
  const allHist = mergeSparse(reports.map((r) => r.latencyAll));
  const windowSamples = windowHist.reduce((sum, [, c]) => sum + c, 0);
  const allSamples = allHist.reduce((sum, [, c]) => sum + c, 0);
  const summaries = reports.flatMap((r) => r.listenerSummaries ?? []).sort((a, b) => a.index - b.index);
  const listeners = reports.reduce((sum, r) => sum + r.listeners, 0);
  const started = reports.reduce((sum, r) => sum + r.started, 0);
  const windowS = Math.max(0.001, windowMs / 1000);
  const perListener = (n: number): number => round(n / windowS / Math.max(1, started), 3);
  const windowRequests = window.masterRequests + window.playlistRequests + window.initRequests + window.partRequests + window.feedRequests + window.beaconRequests;
  const late = window.partsLate;
  const judged = windowSamples;
  return {
    mode: options.static ? 'static' : 'live',
    listeners,
    listeners_started: started,
    workers: reports.length,
    late_after_ms: lateAfterMs,
    late_parts_pct: judged > 0 ? round((100 * late) / judged, 3) : NaN,
    latency_ms: {
      p50: histogramPercentile(windowHist, windowSamples, 50),
      p90: histogramPercentile(windowHist, windowSamples, 90),
      p99: histogramPercentile(windowHist, windowSamples, 99),
      p999: histogramPercentile(windowHist, windowSamples, 99.9),
      max: windowHist[windowHist.length - 1]?.[0] ?? NaN,
      samples: windowSamples,
    },
    missing_parts: total.partsMissing,
    listeners_with_missing: summaries.length > 0 ? summaries.filter((s) => s.partsMissing > 0).length : new Set(reports.flatMap((r) => r.missingSamples.map((m) => m.listener))).size,
    listeners_with_late: summaries.length > 0 ? summaries.filter((s) => s.partsLate > 0).length : new Set(reports.flatMap((r) => r.lateSamples.map((m) => m.listener))).size,
    parts_ok: window.partsOk,
    parts_late: late,
    requests_per_s_per_listener: {
      total: perListener(windowRequests),
      playlist: perListener(window.playlistRequests + window.masterRequests),
      part: perListener(window.partRequests + window.initRequests),
      feed: perListener(window.feedRequests),
      beacon: perListener(window.beaconRequests),
    },
    requests_per_s: round(windowRequests / windowS, 1),
    window_s: round(windowS, 1),
    total,
    window,
    latency_all_ms: {
      p50: histogramPercentile(allHist, allSamples, 50),
      p99: histogramPercentile(allHist, allSamples, 99),
      max: allHist[allHist.length - 1]?.[0] ?? NaN,
      samples: allSamples,
    },
    statuses,
    errors,
    late_samples: reports.flatMap((r) => r.lateSamples).slice(0, SAMPLE_CAP),
    missing_samples: reports.flatMap((r) => r.missingSamples).slice(0, SAMPLE_CAP),
    cut_seq: { min: Math.min(...reports.map((r) => r.cutSeq)), max: Math.max(...reports.map((r) => r.cutSeq)) },
    load_generator: {
      cpu_s: round(reports.reduce((sum, r) => sum + r.cpuUs, 0) / 1e6, 2),
      max_rss_mb: reports.reduce((sum, r) => sum + r.maxRssMb, 0),
      event_loop_delay_ms: { p99: Math.max(...reports.map((r) => r.eventLoopDelayMs.p99)), max: Math.max(...reports.map((r) => r.eventLoopDelayMs.max)) },
    },
    ...(options.perListener ? { perListener: summaries } : {}),
    ...(reports.some((r) => r.timeline) ? { timeline: mergeTimelines(reports.map((r) => r.timeline ?? [])) } : {}),
  };
}

function mergeTimelines(lists: TimelineBucket[][]): TimelineBucket[] {
  const merged = new Map<number, TimelineBucket>();
  for (const list of lists) {
    for (const [start, judged, late, missing] of list) {
      const entry = merged.get(start) ?? [start, 0, 0, 0];
      entry[1] += judged;
      entry[2] += late;
      entry[3] += missing;
      merged.set(start, entry);
    }
  }
  return [...merged.values()].sort((a, b) => a[0] - b[0]);
}
