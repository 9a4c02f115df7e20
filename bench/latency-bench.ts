/**
 * Listener latency benchmark (`npm run bench:latency`): speaker mouth to
 * listener ear over LL-HLS, the listener's request rate, time to first audio,
 * and the mixer's CPU per speaker.
 *
 * Method:
 *  - a fresh server in its own process (bench/latency-server.ts), so its CPU
 *    time is its own; it also reports the mixer's own CPU counter
 *    (SpaceMixer.cpuMicros), the HLS requests it answered and when each part
 *    landed in the live stream;
 *  - 2 SpeakerBots (real libwebrtc peers) on stage: one plays a TONE_MS burst
 *    of TONE_HZ every BURST_EVERY_MS (not a multiple of the 1 s part, so
 *    bursts fall anywhere in a part) and digital silence otherwise; the other
 *    plays a steady quiet low tone (a second voice the mixer must decode all
 *    the time). Send time: the wall clock when the burst's first 10 ms frame
 *    is handed to RTCAudioSource;
 *  - listeners written here that follow the playlist the way hls.js 1.6/1.7
 *    does in low-latency mode: a plain GET of live.m3u8, then one blocking
 *    reload per part (_HLS_msn/_HLS_part of the next part, _HLS_skip=YES as
 *    hls.js sends it when CAN-SKIP-UNTIL is set) and one GET per part, init
 *    once, EXT-X-PRELOAD-HINT ignored. Every HTTP request is counted;
 *  - each part is demuxed (mediabunny) and decoded (@evan/opus, one decoder
 *    per listener, so the audio is continuous) as it arrives, and a 1 kHz
 *    onset detector (Goertzel, src/tools/tone.ts, 5 ms blocks) finds the
 *    bursts. A sample's position is its program date time: the part's
 *    EXT-X-PROGRAM-DATE-TIME plus its offset, minus the Opus pre-skip;
 *  - playout as a player does it: the clock starts when the first part is
 *    decoded, at LIVE_SYNC_S behind the live edge of the playlist the
 *    listener loaded (the end of its last part), clamped like hls.js's
 *    liveSyncPosition (at most one part target behind the edge). From then on
 *    a position p plays at p + offset. A part that is decoded after its
 *    playout time stalls playback: the offset grows by the wait (a stall,
 *    counted). Ear time of a burst = its position + the offset; latency = ear
 *    time - send time;
 *  - LISTENER_SLOTS listeners at a time, started at staggered times: one stays
 *    the whole run, the others leave after 6-12 s and a new one joins, so the
 *    run has 20+ joins for time to first audio (from the start of a listener,
 *    as if the page loaded, to its first part decoded). Joins are spread
 *    evenly over the phase of the 1 s part grid (JoinPhases), since that
 *    phase sets how old the live edge a listener starts from is;
 *  - mixer CPU: SpaceMixer.cpuMicros over a window with 2 speakers, then
 *    EXTRA_SPEAKERS more speakers (each a steady quiet tone) join and it is
 *    measured again. Per speaker = the slope, (cpu(5) - cpu(2)) / 3: what one
 *    more talking speaker costs. cpu(N)/N at both sizes is in the JSON too.
 *
 * Optional, BENCH_BROWSER=1: real hls.js 1.7 (lowLatencyMode, liveSyncDuration
 * LIVE_SYNC_S) in Debian's Chromium listens at the same time, as a cross-check
 * of the model above: its requests, time to first 'playing', and its playout
 * offset Date.now() - hls.playingDate.
 *
 * The last line of stdout is one JSON object; progress goes to stderr.
 * Environment: BENCH_MAIN_MS (2-speaker window, default 50000),
 * BENCH_EXTRA_MS (5-speaker window, default 15000), BENCH_BROWSER, and with
 * it BENCH_BROWSER_SESSIONS (per page, default 3) and BENCH_BROWSER_MAX_RATE
 * (hls.js maxLiveSyncPlaybackRate, default 1; an experiment, see
 * bench/latency-browser.ts).
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Decoder } from '@evan/opus';
import { BufferSource, EncodedPacketSink, Input, MP4 } from 'mediabunny';
import { SpeakerBot, SAMPLE_RATE } from '../src/tools/speaker-bot.js';
import { hasTone } from '../src/tools/tone.js';
import { OPUS_PRE_SKIP } from '../src/hls/opus-head.js';
import type { ParentMessage, ServerStats } from './latency-server.js';
import { browserListeners, type BrowserResult } from './latency-browser.js';
import { LIVE_SYNC_S as PAGE_LIVE_SYNC_S } from '../src/web/listener/player-config.js';
import { addStageMember, createSpace, percentile, positive, round, runMain, sleep, stopRun, withTimeout } from './bench-util.js';
import { BurstVoice } from './burst-voice.js';
import { ServerProcess, type Sample } from './server-process.js';

/** hls.js liveSyncDuration of the listener page, in s: the player starts this far behind the live edge. */
const LIVE_SYNC_S = PAGE_LIVE_SYNC_S;
/** A burst starts this often, in ms (not a multiple of the 1 s part). */
const BURST_EVERY_MS = 2300;
/** Length of one burst, in ms (whole 10 ms frames). */
const TONE_MS = 150;
const TONE_HZ = 1000;
/** Burst level, 0..1 of full scale (about -10 dBFS). */
const TONE_AMPLITUDE = 0.3;
/** The second speaker: a steady quiet low tone (about -30 dBFS). */
const BED_HZ = 220;
const BED_AMPLITUDE = 0.03;
/** Speakers added for the second mixer window, each a steady quiet tone. */
const EXTRA_SPEAKERS = 3;
const EXTRA_HZ = [300, 410, 520];
const EXTRA_AMPLITUDE = 0.02;
/** Listeners at a time; the first LONG_LISTENERS stay the whole run, the others come and go. */
const LISTENER_SLOTS = 5;
const LONG_LISTENERS = 1;
/** How long a coming-and-going listener stays, in ms (uniform). */
const SESSION_MS = [6000, 12_000] as const;
/** Pause before a slot's next listener joins, in ms (uniform). */
const REJOIN_GAP_MS = [200, 900] as const;
/** When each slot's first listener joins, after listening starts, in ms. */
const SLOT_START_MS = [0, 3100, 1100, 2300, 4700];
/** Detection block: 5 ms at 48 kHz. */
const BLOCK = 240;
/** Quiet blocks after which the detector looks for the next onset (50 ms). */
const REARM_BLOCKS = 10;
/** A detected onset belongs to the last burst sent at most this long before its position, in ms. */
const MATCH_WINDOW_MS = 1000;
const WARMUP_MS = 3000;
const MAIN_MS = positive('BENCH_MAIN_MS', 50_000);
const EXTRA_MS = positive('BENCH_EXTRA_MS', 15_000);
/** Settling after the extra speakers connect, before their window, in ms. */
const EXTRA_SETTLE_MS = 2000;
const SETUP_TIMEOUT_MS = 30_000;
/** The whole run, in ms: past it, the server is killed and the exit code is 1. */
const WATCHDOG_MS = 4 * 60_000 + MAIN_MS + EXTRA_MS;
const BROWSER = process.env.BENCH_BROWSER === '1';

/** Wall-clock time in ms since the epoch, with sub-ms resolution (the server's PDT uses Date.now()). */
const wallNow = (): number => performance.timeOrigin + performance.now();

/** The server of the run, in its own process (bench/latency-server.ts). */
type LatencyServer = ServerProcess<ParentMessage, ServerStats>;

// ---------------------------------------------------------------- the speaker

// ---------------------------------------------------------------- playlists

interface ListedPart {
  msn: number;
  index: number;
  uri: string;
  durationMs: number;
  /** Program date time of the part's first sample, in ms since the epoch. */
  pdtMs: number;
}

interface Playlist {
  parts: ListedPart[];
  partTargetMs: number;
  /** PDT of the first segment listed. */
  windowStartMs: number;
  ended: boolean;
}

const attribute = (line: string, name: string): string | undefined => new RegExp(`(?:^|[:,])${name}=("[^"]*"|[^,]*)`).exec(line)?.[1]?.replace(/"/g, '');

/** The parts of a media playlist (full or delta update), each with its program date time. */
function parsePlaylist(text: string): Playlist {
  const parts: ListedPart[] = [];
  let msn = 0;
  let segmentPdt: number | undefined;
  let windowStartMs: number | undefined;
  let partIndex = 0;
  let offsetMs = 0;
  let extinfMs: number | undefined;
  let partTargetMs = 0;
  let ended = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) msn = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-SKIP:')) msn += Number(attribute(line, 'SKIPPED-SEGMENTS') ?? 0);
    else if (line.startsWith('#EXT-X-PART-INF:')) partTargetMs = Number(attribute(line, 'PART-TARGET')) * 1000;
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      segmentPdt = Date.parse(line.slice(25));
      windowStartMs ??= segmentPdt;
      partIndex = 0;
      offsetMs = 0;
    } else if (line.startsWith('#EXT-X-PART:')) {
      const durationMs = Number(attribute(line, 'DURATION')) * 1000;
      const uri = attribute(line, 'URI');
      if (segmentPdt === undefined || !uri) throw new Error('a part without a program date time or URI');
      parts.push({ msn, index: partIndex++, uri, durationMs, pdtMs: segmentPdt + offsetMs });
      offsetMs += durationMs;
    } else if (line.startsWith('#EXTINF:')) extinfMs = Number(line.slice(8).split(',')[0]) * 1000;
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (line && !line.startsWith('#') && extinfMs !== undefined) {
      // A segment URI closes the segment.
      if (segmentPdt !== undefined) segmentPdt += extinfMs;
      msn++;
      partIndex = 0;
      offsetMs = 0;
      extinfMs = undefined;
    }
  }
  return { parts, partTargetMs, windowStartMs: windowStartMs ?? 0, ended };
}

const after = (a: { msn: number; index: number }, b: { msn: number; index: number }): boolean => a.msn > b.msn || (a.msn === b.msn && a.index > b.index);

// ---------------------------------------------------------------- decoding and detection

/** Finds 1 kHz burst onsets in a continuous decoded stream, 5 ms blocks at a time. */
class OnsetDetector {
  private readonly block = new Int16Array(BLOCK);
  private filled = 0;
  /** Index of the next sample, since the start of the stream. */
  private sampleIndex = 0;
  private armed = true;
  private quietBlocks = 0;
  private candidate: number | undefined;

  /** Sample indices (since the start of the stream) where a burst starts. */
  push(samples: Int16Array): number[] {
    const onsets: number[] = [];
    for (let i = 0; i < samples.length; i++) {
      this.block[this.filled++] = samples[i] ?? 0;
      if (this.filled < BLOCK) continue;
      const blockStart = this.sampleIndex + i + 1 - BLOCK;
      this.filled = 0;
      const tone = hasTone(this.block, TONE_HZ, SAMPLE_RATE);
      if (tone) {
        this.quietBlocks = 0;
        if (this.candidate !== undefined) {
          // Two tone blocks in a row: an onset, at the first of them.
          onsets.push(this.candidate);
          this.candidate = undefined;
          this.armed = false;
        } else if (this.armed) this.candidate = blockStart;
      } else {
        this.candidate = undefined;
        if (++this.quietBlocks >= REARM_BLOCKS) this.armed = true;
      }
    }
    this.sampleIndex += samples.length;
    return onsets;
  }
}

/** Demuxes init + part (mediabunny) and decodes its Opus packets with the listener's decoder. */
async function decodePart(init: Uint8Array, part: Uint8Array, decoder: Decoder): Promise<Int16Array> {
  const bytes = new Uint8Array(init.byteLength + part.byteLength);
  bytes.set(init, 0);
  bytes.set(part, init.byteLength);
  const input = new Input({ source: new BufferSource(bytes), formats: [MP4] });
  try {
    const track = await input.getPrimaryAudioTrack();
    if (!track) throw new Error('no audio track in the part');
    const chunks: Uint8Array[] = [];
    let length = 0;
    for await (const packet of new EncodedPacketSink(track).packets()) {
      const pcm = decoder.decode(packet.data);
      chunks.push(pcm);
      length += pcm.byteLength;
    }
    const out = new Int16Array(length >> 1);
    const view = new Uint8Array(out.buffer);
    let offset = 0;
    for (const chunk of chunks) {
      view.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  } finally {
    input.dispose();
  }
}

// ---------------------------------------------------------------- the listener

type RequestKind = 'playlist' | 'blockingPlaylist' | 'init' | 'part';

interface Detection {
  /** Program date time of the onset, in ms since the epoch. */
  pdtMs: number;
  /** When the playout clock reaches it, in ms since the epoch. */
  earMs: number;
}

/** One listener, from "page load" to leaving: follows the playlist like hls.js in low-latency mode and plays it out. */
class ListenerSession {
  readonly requests: Record<RequestKind, number> = { playlist: 0, blockingPlaylist: 0, init: 0, part: 0 };
  /** Requests sent before the first audio was playable (joining). */
  joinRequests = 0;
  readonly startedAt = wallNow();
  endedAt = 0;
  firstAudioAt: number | undefined;
  /** How old the live edge of the first playlist was when it arrived: its response time minus the end of its last part, in ms. */
  joinEdgeAgeMs: number | undefined;
  /** When the first playlist arrived. */
  playlistAt: number | undefined;
  /** Playout clock: a position p plays at p + offsetMs. */
  offsetMs: number | undefined;
  startPositionMs: number | undefined;
  stalls = 0;
  stallMs = 0;
  readonly detections: Detection[] = [];
  /** For each part after the first: its decode time minus the end of its audio (PDT), in ms. */
  readonly partReadyAfterEndMs: number[] = [];
  /** For each part after the first: playout time of its first sample minus its decode time (headroom; negative = stall), in ms. */
  readonly partMarginMs: number[] = [];
  errors = 0;
  private readonly abort = new AbortController();
  private readonly decoder = new Decoder({ channels: 1, sample_rate: 48000 });
  private readonly detector = new OnsetDetector();
  /** PDT of decoded sample 0 (the first part's start; the decoder's pre-skip is subtracted per sample). */
  private streamPdtMs = 0;
  private known: ListedPart[] = [];
  private wakeFetcher: (() => void) | undefined;
  private stopped = false;

  constructor(
    readonly id: number,
    private readonly hlsBase: string,
  ) {}

  get durationS(): number {
    return ((this.endedAt || wallNow()) - this.startedAt) / 1000;
  }

  get totalRequests(): number {
    return this.requests.playlist + this.requests.blockingPlaylist + this.requests.init + this.requests.part;
  }

  /** Runs until `stop()`; never throws. */
  async run(): Promise<void> {
    try {
      const playlist = await this.loadPlaylist('live.m3u8', 'playlist');
      const last = playlist.parts[playlist.parts.length - 1];
      if (!last) throw new Error('a live playlist without parts');
      const edgeMs = last.pdtMs + last.durationMs;
      this.playlistAt = wallNow();
      this.joinEdgeAgeMs = this.playlistAt - edgeMs;
      // hls.js's liveSyncPosition: edge - liveSyncDuration, clamped to [window start, edge - part target].
      const startMs = Math.min(Math.max(edgeMs - LIVE_SYNC_S * 1000, playlist.windowStartMs), edgeMs - (playlist.partTargetMs || last.durationMs));
      this.startPositionMs = startMs;
      const first = playlist.parts.find((p) => p.pdtMs <= startMs && startMs < p.pdtMs + p.durationMs) ?? last;
      this.merge(playlist);
      // hls.js issues the next blocking reload as soon as a playlist loads, and loads media alongside.
      const reloads = this.reloadLoop(playlist).catch((error: unknown) => this.fail(error));
      const init = await this.get('init.mp4', 'init');
      await this.playFrom(first, init);
      await reloads;
    } catch (error) {
      this.fail(error);
    }
  }

  /** An error ends the listener; the abort of leaving is no error. */
  private fail(error: unknown): void {
    if (this.stopped) return;
    this.errors++;
    log(`listener ${this.id}: ${error instanceof Error ? error.message : String(error)}`);
    this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.endedAt = wallNow();
    this.abort.abort();
    this.wakeFetcher?.();
  }

  /** The detections heard before the listener left. */
  heard(): Detection[] {
    return this.detections.filter((d) => d.earMs <= this.endedAt);
  }

  /** Positions the listener played: from its start position to what the clock had reached when it left. */
  playedSpan(): [number, number] | undefined {
    if (this.offsetMs === undefined || this.startPositionMs === undefined || this.firstAudioAt === undefined) return undefined;
    return [this.startPositionMs, this.endedAt - this.offsetMs];
  }

  private async reloadLoop(initial: Playlist): Promise<void> {
    let latest = initial;
    while (!this.stopped && !latest.ended) {
      const last = latest.parts[latest.parts.length - 1];
      if (!last) throw new Error('a live playlist without parts');
      // The next part; _HLS_part one past a segment's last asks for part 0 of the next (RFC 8216bis §6.2.5.2).
      latest = await this.loadPlaylist(`live.m3u8?_HLS_msn=${last.msn}&_HLS_part=${last.index + 1}&_HLS_skip=YES`, 'blockingPlaylist');
      this.merge(latest);
    }
  }

  private merge(playlist: Playlist): void {
    const newest = this.known[this.known.length - 1];
    for (const part of playlist.parts) if (!newest || after(part, newest)) this.known.push(part);
    // Keep what the fetcher may still need.
    if (this.known.length > 64) this.known = this.known.slice(-32);
    this.wakeFetcher?.();
  }

  private async nextPart(current: ListedPart): Promise<ListedPart | undefined> {
    for (;;) {
      if (this.stopped) return undefined;
      const next = this.known.find((p) => after(p, current));
      if (next) return next;
      await new Promise<void>((resolve) => (this.wakeFetcher = resolve));
      this.wakeFetcher = undefined;
    }
  }

  private async playFrom(first: ListedPart, init: Uint8Array): Promise<void> {
    let part: ListedPart | undefined = first;
    let isFirst = true;
    while (part && !this.stopped) {
      const bytes = await this.get(part.uri, 'part');
      const pcm = await decodePart(init, bytes, this.decoder);
      const readyAt = wallNow();
      if (isFirst) {
        isFirst = false;
        this.firstAudioAt = readyAt;
        this.joinRequests = this.totalRequests;
        this.streamPdtMs = part.pdtMs;
        this.offsetMs = readyAt - (this.startPositionMs ?? part.pdtMs);
      } else {
        const offset = this.offsetMs ?? 0;
        const margin = part.pdtMs + offset - readyAt;
        this.partMarginMs.push(margin);
        this.partReadyAfterEndMs.push(readyAt - (part.pdtMs + part.durationMs));
        if (margin < 0) {
          // The player ran dry: playback waits for this part, and everything after it plays later.
          this.stalls++;
          this.stallMs -= margin;
          this.offsetMs = readyAt - part.pdtMs;
        }
      }
      const offset = this.offsetMs ?? 0;
      for (const onset of this.detector.push(pcm)) {
        const pdtMs = this.streamPdtMs + ((onset - OPUS_PRE_SKIP) * 1000) / SAMPLE_RATE;
        if (pdtMs < (this.startPositionMs ?? 0)) continue; // before the start position: never played
        this.detections.push({ pdtMs, earMs: pdtMs + offset });
      }
      part = await this.nextPart(part);
    }
  }

  private async loadPlaylist(path: string, kind: RequestKind): Promise<Playlist> {
    const bytes = await this.get(path, kind);
    return parsePlaylist(new TextDecoder().decode(bytes));
  }

  private async get(path: string, kind: RequestKind): Promise<Uint8Array> {
    this.requests[kind]++;
    const response = await fetch(`${this.hlsBase}/${path}`, { signal: this.abort.signal });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
}

/** Ends every slot: resolves the wait of every listener and stops new joins. */
class SlotControl {
  stopped = false;
  private readonly waiters: (() => void)[] = [];

  stop(): void {
    this.stopped = true;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Sleeps `ms` (Infinity: until stopped); resolves early once stopped. */
  wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(resolve, ms) : undefined;
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * When listeners join, relative to the part grid. Where a join falls within
 * a part decides how old the live edge it starts from is (0 to 1 part), so
 * joins are spread evenly over the part with a golden-ratio sequence: a
 * handful of joins then sample that uniform distribution without the clumps
 * of random draws (or the fixed phase of a seeded schedule).
 */
class JoinPhases {
  private count = 0;

  constructor(
    /** PDT of any part start, in ms since the epoch (parts are PART_MS apart). */
    private readonly gridOriginMs: number,
    private readonly partMs: number,
  ) {}

  /** How long to wait so that the next join falls at its phase of the part grid, in ms. */
  delayToNext(): number {
    const phase = (0.5 + this.count++ * 0.6180339887) % 1;
    const now = (wallNow() - this.gridOriginMs) % this.partMs;
    return (phase * this.partMs - now + this.partMs) % this.partMs;
  }
}

/** Keeps a slot of listeners going: one that stays, or one after another with random stays. */
async function runSlot(slot: number, hlsBase: string, control: SlotControl, phases: JoinPhases, sessions: ListenerSession[], random: () => number): Promise<void> {
  await control.wait(SLOT_START_MS[slot] ?? 0);
  let count = 0;
  while (!control.stopped) {
    await control.wait(phases.delayToNext());
    if (control.stopped) return;
    const session = new ListenerSession(slot * 100 + count++, hlsBase);
    sessions.push(session);
    const running = session.run();
    await control.wait(slot < LONG_LISTENERS ? Infinity : uniform(random, SESSION_MS));
    session.stop();
    await running;
    if (slot < LONG_LISTENERS) return;
    await control.wait(uniform(random, REJOIN_GAP_MS));
  }
}

// ---------------------------------------------------------------- the run

type Window = Sample<ServerStats>;

interface Active {
  server?: LatencyServer;
  bots: SpeakerBot[];
  sessions: ListenerSession[];
  slots: SlotControl;
}

async function run(active: Active): Promise<Record<string, unknown>> {
  const runStartedAt = performance.now();
  const { server, url } = await ServerProcess.start<ParentMessage, ServerStats>(new URL('./latency-server.ts', import.meta.url));
  active.server = server;
  const created = await createSpace(url, 'Latency bench');
  const spaceId = created.space.id;
  server.send({ type: 'watch', spaceId });
  const hlsBase = `${url}/hls/${spaceId}`;

  /** Wall-clock send times of every burst, in ms since the epoch. */
  const sentAt: number[] = [];
  const voice = new BurstVoice({ ms: TONE_MS, hz: TONE_HZ, amplitude: TONE_AMPLITUDE }, () => sentAt.push(wallNow()));
  const programs = [
    { kind: 'custom' as const, fill: voice.fill },
    { kind: 'tone' as const, hz: BED_HZ, amplitude: BED_AMPLITUDE },
  ];
  for (const [i, program] of programs.entries()) {
    // One account per stage member: the host's own pass first, then an accepted speaker.
    const spaceUrl = i === 0 ? created.hostPass.socketUrl : (await addStageMember(url, created, `bench ${i + 1}`)).socketUrl;
    const bot = new SpeakerBot({ spaceUrl, name: `bench ${i + 1}`, program });
    active.bots.push(bot);
    await withTimeout(bot.start(), 15_000, `speaker ${i + 1} to join`);
  }
  await withTimeout(Promise.all(active.bots.map((bot) => bot.connected(SETUP_TIMEOUT_MS))), SETUP_TIMEOUT_MS, 'the speakers to connect');
  const setupS = (performance.now() - runStartedAt) / 1000;
  log(`2 speakers connected after ${setupS.toFixed(1)} s; warm-up ${WARMUP_MS} ms, then listeners for ${(MAIN_MS + EXTRA_MS) / 1000} s + the extra speakers' setup`);
  const burstTimer = setInterval(() => voice.request(), BURST_EVERY_MS);

  try {
    await sleep(WARMUP_MS);
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const listenStartedAt = wallNow();
    const burstsBefore = sentAt.length;
    // Listening lasts until both mixer windows are over.
    const random = mulberry32(0x7a1b);
    const grid = parsePlaylist(await (await fetch(`${hlsBase}/live.m3u8`, { signal: AbortSignal.timeout(5000) })).text());
    const firstPart = grid.parts[0];
    if (!firstPart) throw new Error('the live playlist lists no part');
    const phases = new JoinPhases(firstPart.pdtMs, firstPart.durationMs);
    const slotsDone = Promise.all(Array.from({ length: LISTENER_SLOTS }, (_, slot) => runSlot(slot, hlsBase, active.slots, phases, active.sessions, random)));
    const browserRun = BROWSER ? browserListeners(hlsBase, sentAt, MAIN_MS - 5000).catch((error: unknown) => ({ error: String(error) }) as BrowserResult) : undefined;

    // Mixer window 1: 2 speakers (skip the first seconds of listeners joining).
    await sleep(2000);
    const a0 = await server.sample({ type: 'stats', spaceId }, 'stats');
    await sleep(MAIN_MS - 2000);
    const a1 = await server.sample({ type: 'stats', spaceId }, 'stats');
    log(`2-speaker window done: ${active.sessions.length} listener sessions so far`);

    // Mixer window 2: EXTRA_SPEAKERS more, each a steady quiet tone.
    for (let i = 0; i < EXTRA_SPEAKERS; i++) {
      const bot = new SpeakerBot({
        spaceUrl: (await addStageMember(url, created, `bench extra ${i + 1}`)).socketUrl,
        name: `bench extra ${i + 1}`,
        program: { kind: 'tone', hz: EXTRA_HZ[i] ?? 300, amplitude: EXTRA_AMPLITUDE },
      });
      active.bots.push(bot);
      await withTimeout(bot.start(), 15_000, `extra speaker ${i + 1} to join`);
    }
    await withTimeout(Promise.all(active.bots.map((bot) => bot.connected(SETUP_TIMEOUT_MS))), SETUP_TIMEOUT_MS, 'the extra speakers to connect');
    await sleep(EXTRA_SETTLE_MS);
    const b0 = await server.sample({ type: 'stats', spaceId }, 'stats');
    await sleep(EXTRA_MS);
    const b1 = await server.sample({ type: 'stats', spaceId }, 'stats');
    const listenUntil = wallNow();
    active.slots.stop();
    await withTimeout(slotsDone, 15_000, 'the listeners to stop').catch(() => undefined);
    loopDelay.disable();
    const browser = browserRun ? await withTimeout(browserRun, 60_000, 'the browser listeners').catch((error: unknown) => ({ error: String(error) }) as BrowserResult) : undefined;
    const clockSkewMs = Date.now() - wallNow();
    // Bursts sent while anyone listened.
    const sends = sentAt.slice(Math.max(0, burstsBefore - 1));

    return summarise({
      sessions: active.sessions,
      sends,
      listenStartedAt,
      listenUntil,
      windows: { a0, a1, b0, b1 },
      setupS,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      clockSkewMs,
      browser,
      runS: (performance.now() - runStartedAt) / 1000,
    });
  } finally {
    clearInterval(burstTimer);
  }
}

interface RunData {
  sessions: ListenerSession[];
  sends: number[];
  listenStartedAt: number;
  listenUntil: number;
  windows: { a0: Window; a1: Window; b0: Window; b1: Window };
  setupS: number;
  loopDelayP99Ms: number;
  clockSkewMs: number;
  browser: BrowserResult | undefined;
  runS: number;
}

function summarise(data: RunData): Record<string, unknown> {
  const { sessions, sends, windows } = data;
  const joined = sessions.filter((s) => s.firstAudioAt !== undefined);

  // Latency: each onset heard, matched to the last burst sent before its position.
  const latencies: number[] = [];
  const captureMs: number[] = [];
  const offsets: number[] = [];
  let unmatched = 0;
  let missed = 0;
  const heardPerSession = joined.map((session) => {
    const matched = new Set<number>();
    for (const detection of session.heard()) {
      const sendIndex = lastIndexAtOrBefore(sends, detection.pdtMs);
      const sentAt = sends[sendIndex];
      if (sentAt === undefined || detection.pdtMs - sentAt > MATCH_WINDOW_MS || matched.has(sendIndex)) {
        unmatched++;
        continue;
      }
      matched.add(sendIndex);
      latencies.push(detection.earMs - sentAt);
      captureMs.push(detection.pdtMs - sentAt);
      offsets.push(detection.earMs - detection.pdtMs);
    }
    return matched;
  });
  // A burst counts as missed by a listener when its expected position (send + median capture delay) lies well inside what the listener played.
  const captureP50 = percentile(sorted(captureMs), 50);
  log(`speaker to mix PDT per heard burst, in order: ${captureMs.map((v) => Math.round(v)).join(' ')}`);
  joined.forEach((session, i) => {
    const span = session.playedSpan();
    if (!span || !Number.isFinite(captureP50)) return;
    sends.forEach((sentAt, sendIndex) => {
      const expected = sentAt + captureP50;
      if (expected >= span[0] + 100 && expected + TONE_MS <= span[1] - 100 && !heardPerSession[i]?.has(sendIndex)) missed++;
    });
  });

  const totalRequests = sessions.reduce((sum, s) => sum + s.totalRequests, 0);
  const listenerSeconds = sessions.reduce((sum, s) => sum + s.durationS, 0);
  const steadyRequests = joined.reduce((sum, s) => sum + s.totalRequests - s.joinRequests, 0);
  const steadySeconds = joined.reduce((sum, s) => sum + ((s.endedAt - (s.firstAudioAt ?? s.endedAt)) / 1000), 0);
  const longSessions = sessions.filter((s) => Math.floor(s.id / 100) < LONG_LISTENERS);
  const byKind = (kind: RequestKind): number => sessions.reduce((sum, s) => sum + s.requests[kind], 0);
  const ttfa = sorted(joined.map((s) => (s.firstAudioAt ?? 0) - s.startedAt));
  const edgeAges = sorted(joined.map((s) => s.joinEdgeAgeMs ?? NaN));
  const finalOffsets = sorted(joined.map((s) => s.offsetMs ?? NaN));
  const readyAfterEnd = sorted(joined.flatMap((s) => s.partReadyAfterEndMs));
  const margins = sorted(joined.flatMap((s) => s.partMarginMs));
  const lat = sorted(latencies);

  const { a0, a1, b0, b1 } = windows;
  const pctOfCore = (us: number, from: Window, to: Window): number => (100 * us) / 1000 / (to.wallMs - from.wallMs);
  const mixer2 = pctOfCore(a1.server.mixerCpuUs - a0.server.mixerCpuUs, a0, a1);
  const mixer5 = pctOfCore(b1.server.mixerCpuUs - b0.server.mixerCpuUs, b0, b1);
  const speakers2 = a1.server.mixerSpeakers;
  const speakers5 = b1.server.mixerSpeakers;
  const slope = (mixer5 - mixer2) / (speakers5 - speakers2);
  const serverCpu2 = (100 * (a1.serverCpuMs - a0.serverCpuMs)) / (a1.wallMs - a0.wallMs);
  const serverCpu5 = (100 * (b1.serverCpuMs - b0.serverCpuMs)) / (b1.wallMs - b0.wallMs);
  const benchCpu = pctOfCore(b1.benchCpuUs - a0.benchCpuUs, a0, b1);
  const hostBusy = (100 * (b1.hostBusyMs - a0.hostBusyMs)) / (b1.wallMs - a0.wallMs);
  const serverCpuAll = (100 * (b1.serverCpuMs - a0.serverCpuMs)) / (b1.wallMs - a0.wallMs);
  const originRequests = (stats: ServerStats): number => Object.values(stats.hlsRequests).reduce((a, b) => a + b, 0);
  const publish = sorted(b1.server.publishDelaysMs);

  return {
    listener_latency_ms: { p50: round(percentile(lat, 50)), p99: round(percentile(lat, 99)), min: round(lat[0] ?? NaN), max: round(lat[lat.length - 1] ?? NaN), mean: round(mean(lat)) },
    listener_requests_per_s: round(totalRequests / listenerSeconds, 3),
    time_to_first_audio_ms: { p50: round(percentile(ttfa, 50)), p95: round(percentile(ttfa, 95)), max: round(ttfa[ttfa.length - 1] ?? NaN) },
    mixer_cpu_pct_per_speaker: round(slope, 3),
    mixer_cpu_pct_per_speaker_method: `slope: (mixer(${speakers5}) - mixer(${speakers2})) / ${speakers5 - speakers2}, every added speaker talking all the time`,
    mixer_cpu_pct: { [`speakers_${speakers2}`]: round(mixer2, 3), [`speakers_${speakers5}`]: round(mixer5, 3) },
    mixer_cpu_pct_divided_by_speakers: { [`speakers_${speakers2}`]: round(mixer2 / speakers2, 3), [`speakers_${speakers5}`]: round(mixer5 / speakers5, 3) },
    mixer_fixed_cpu_pct: round(mixer2 - slope * speakers2, 3),
    latency_budget_ms: {
      speaker_to_mix_pdt_p50: round(captureP50),
      playout_offset_behind_pdt_p50: round(percentile(sorted(offsets), 50)),
      of_which_live_sync_duration: LIVE_SYNC_S * 1000,
      of_which_join_edge_age_p50: round(percentile(edgeAges, 50)),
      of_which_init_and_first_part_p50: round(percentile(sorted(joined.map((s) => (s.firstAudioAt ?? NaN) - (s.playlistAt ?? NaN))), 50)),
      stall_ms_total: round(joined.reduce((sum, s) => sum + s.stallMs, 0)),
    },
    speaker_to_mix_pdt_ms: summary(sorted(captureMs)),
    playout_offset_ms: summary(finalOffsets),
    join_edge_age_ms: summary(edgeAges),
    part_ready_after_its_end_ms: summary(readyAfterEnd),
    server_part_publish_delay_ms: summary(publish),
    part_margin_ms: summary(margins),
    stalls: joined.reduce((sum, s) => sum + s.stalls, 0),
    sessions_with_stalls: joined.filter((s) => s.stalls > 0).length,
    samples: lat.length,
    bursts_sent: sends.length,
    missed,
    unmatched_onsets: unmatched,
    joins: joined.length,
    sessions: sessions.length,
    listener_errors: sessions.reduce((sum, s) => sum + s.errors, 0),
    listener_seconds: round(listenerSeconds, 1),
    listener_requests_per_s_after_join: round(steadyRequests / steadySeconds, 3),
    listener_requests_per_s_whole_run_listener: round(longSessions.reduce((sum, s) => sum + s.totalRequests, 0) / longSessions.reduce((sum, s) => sum + s.durationS, 0), 3),
    listener_requests: { playlist: byKind('playlist'), blocking_playlist: byKind('blockingPlaylist'), init: byKind('init'), part: byKind('part'), total: totalRequests },
    origin_hls_requests: { ...b1.server.hlsRequests, total: originRequests(b1.server) },
    server_cpu_pct: { [`speakers_${speakers2}`]: round(serverCpu2, 2), [`speakers_${speakers5}`]: round(serverCpu5, 2) },
    mixer_decode_errors: b1.server.decodeErrors,
    mixer_jitter_buffers: b1.server.jitter,
    bench_cpu_pct: round(benchCpu, 1),
    bench_event_loop_delay_p99_ms: round(data.loopDelayP99Ms),
    host_busy_pct_of_one_core: round(hostBusy, 1),
    other_processes_pct_of_one_core: round(Math.max(0, hostBusy - serverCpuAll - benchCpu), 1),
    clock_skew_date_vs_monotonic_ms: round(data.clockSkewMs, 2),
    live_sync_duration_s: LIVE_SYNC_S,
    listen_s: round((data.listenUntil - data.listenStartedAt) / 1000, 1),
    mixer_windows_s: [round((a1.wallMs - a0.wallMs) / 1000, 1), round((b1.wallMs - b0.wallMs) / 1000, 1)],
    setup_s: round(data.setupS, 1),
    run_s: round(data.runS, 1),
    ...(data.browser ? { browser_hlsjs: data.browser } : {}),
  };
}

async function teardown(active: Active): Promise<void> {
  active.slots.stop();
  for (const session of active.sessions) session.stop();
  await stopRun(active);
}

// ---------------------------------------------------------------- helpers

/** Index of the last value ≤ x in ascending `values`, or -1. */
function lastIndexAtOrBefore(values: number[], x: number): number {
  let lo = 0;
  let hi = values.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((values[mid] ?? Infinity) <= x) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const sorted = (values: number[]): number[] => values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
const mean = (values: number[]): number => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);

function summary(values: number[]): { p50: number; p95: number; min: number; max: number; n: number } {
  return { p50: round(percentile(values, 50)), p95: round(percentile(values, 95)), min: round(values[0] ?? NaN), max: round(values[values.length - 1] ?? NaN), n: values.length };
}

/** A small seeded PRNG (mulberry32), so every run has the same listener pattern. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const uniform = (random: () => number, [lo, hi]: readonly [number, number]): number => lo + random() * (hi - lo);

function log(message: string): void {
  process.stderr.write(`[latency-bench] ${message}\n`);
}

// ---------------------------------------------------------------- main

const active: Active = { bots: [], sessions: [], slots: new SlotControl() };
const exitCode = await runMain(active, { watchdogMs: WATCHDOG_MS, log, teardown }, run);
// An explicit exit: @roamhq/wrtc crashes in its native teardown otherwise (see speaker-bot.ts).
process.exit(exitCode);
