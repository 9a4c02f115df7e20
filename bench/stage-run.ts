/**
 * One run of the stage benchmark: N stage members, one fresh server.
 * `bench/stage-bench.ts` runs it once per stage size, each in its own process
 * (so a native crash of @roamhq/wrtc costs one retry, not the benchmark);
 * by hand: `node --import tsx bench/stage-run.ts 13`.
 *
 * Method:
 *  - a fresh server in its own process (bench/stage-server.ts), so that its
 *    CPU time, read from /proc/<pid>/stat, is the server's alone;
 *  - N SpeakerBots (real libwebrtc peers) in this process join one Space;
 *  - the bots take turns: every TURN_MS the next one plays a BURST_MS tone
 *    of TONE_HZ, the rest of the time everyone plays digital silence (which
 *    Opus DTX, when negotiated, turns into a packet every 400 ms or so), so it
 *    looks like a conversation: one person talks at a time;
 *  - send time: performance.now() when the burst's first 10 ms frame is
 *    handed to RTCAudioSource; ear time: performance.now() when the first
 *    10 ms block holding the tone (Goertzel, src/tools/tone.ts) reaches a
 *    receiving bot's RTCAudioSink callback. Every other member is a receiver;
 *  - WARMUP_MS of bursts are thrown away, then MEASURE_MS are measured.
 *
 * The last line of stdout is the run's JSON; progress goes to stderr.
 * Environment: BENCH_MEASURE_MS, BENCH_WARMUP_MS, BENCH_CPU_PROF_DIR (runs the
 * server under --cpu-prof and writes its profile there).
 *
 * BENCH_WHAT_IF_DTX=1 is an experiment, not a measurement of Tribune as it is:
 * the bots put `usedtx=1` back into every offer they receive. The SFU offers
 * it (src/sfu/peer-config.ts) but werift drops it from re-offers, so today
 * only the last member to join sends DTX (see docs/BENCHMARKS.md). The
 * result says what forwarding would cost once that is fixed.
 */
import wrtc from '@roamhq/wrtc';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { SpeakerBot, SAMPLE_RATE } from '../src/tools/speaker-bot.js';
import { hasTone } from '../src/tools/tone.js';
import { createSpace, percentile, positive, round, runMain, sleep, stageMemberUrl, stopRun, withTimeout, type RunActive } from './bench-util.js';
import { BurstVoice } from './burst-voice.js';
import { ServerProcess, cpuProfileArgs } from './server-process.js';
import type { ParentMessage, ServerStats } from './stage-server.js';

/** A different member starts a burst this often, in ms. */
const TURN_MS = 450;
/** Length of one tone burst, in ms (whole 10 ms frames). */
const BURST_MS = 100;
const TONE_HZ = 1000;
/** Burst level, 0..1 of full scale (about -10 dBFS). */
const TONE_AMPLITUDE = 0.3;
const WARMUP_MS = positive('BENCH_WARMUP_MS', 3000);
const MEASURE_MS = positive('BENCH_MEASURE_MS', 18_000);
/** A burst not heard by a receiver within this long counts as missed, in ms. */
const DETECT_TIMEOUT_MS = 1000;
/** Joining and connecting all bots of one run, in ms. */
const SETUP_TIMEOUT_MS = 60_000;
/** One run, in ms: past it, the server is killed and the exit code is 1. */
const WATCHDOG_MS = 2 * 60_000;
const WHAT_IF_DTX = process.env.BENCH_WHAT_IF_DTX === '1';

/** The server of a run, in its own process (bench/stage-server.ts). */
type StageServer = ServerProcess<ParentMessage, ServerStats>;
type Active = RunActive & { server?: StageServer };

export interface RunResult {
  speakers: number;
  mouth_to_ear_ms: { p50: number; p99: number; min: number; max: number; mean: number };
  cpu_per_speaker_pct: number;
  server_cpu_pct: number;
  /** The same figure as the server reported it (process.cpuUsage), a cross-check of /proc. */
  server_cpu_self_reported_pct: number;
  mixer_cpu_pct: number;
  forwarding_cpu_pct: number;
  samples: number;
  bursts: number;
  missed: number;
  rtp_forwarded_per_s: number;
  /** RTP packets all bots sent per second (about 50 per member without DTX, a few with it). */
  bots_rtp_sent_per_s: number;
  /** Receivers' mean NetEq jitter buffer delay over the window (libwebrtc getStats), in ms. */
  receiver_jitter_buffer_ms: number;
  /** Share of received samples the receivers concealed (lost or late packets), in %. */
  receiver_concealed_pct: number;
  bench_cpu_pct: number;
  bench_event_loop_delay_p99_ms: number;
  host_busy_pct_of_one_core: number;
  /** Host busy time not spent by the server or this process: other tenants of the machine (noise). */
  other_processes_pct_of_one_core: number;
  measure_s: number;
  setup_s: number;
}

// ---------------------------------------------------------------- the bots

interface Pending {
  sentAtMs: number;
  measured: boolean;
}

/** Per receiver, the bursts of each source not heard yet; collects the latencies. */
class LatencyCollector {
  readonly latenciesMs: number[] = [];
  bursts = 0;
  missed = 0;
  measuring = false;
  /** receiver index -> source member id -> pending burst */
  private readonly pending: Map<string, Pending>[] = [];
  /** receiver index -> member ids heard at 48 kHz */
  readonly heard: Set<string>[] = [];

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      this.pending.push(new Map());
      this.heard.push(new Set());
    }
  }

  burstSent(sourceIndex: number, sourceMemberId: string, sentAtMs: number): void {
    if (this.measuring) this.bursts++;
    this.pending.forEach((byMember, receiver) => {
      if (receiver === sourceIndex) return;
      const stale = byMember.get(sourceMemberId);
      if (stale?.measured) this.missed++;
      byMember.set(sourceMemberId, { sentAtMs, measured: this.measuring });
    });
  }

  /** The onAudio of receiver `receiver`. */
  onAudio(receiver: number, memberId: string, samples: Int16Array, sampleRate: number, channels: number): void {
    const now = performance.now();
    if (sampleRate === SAMPLE_RATE) this.heard[receiver]?.add(memberId);
    const byMember = this.pending[receiver];
    const pending = byMember?.get(memberId);
    if (!byMember || !pending) return;
    if (now - pending.sentAtMs > DETECT_TIMEOUT_MS) {
      if (pending.measured) this.missed++;
      byMember.delete(memberId);
      return;
    }
    if (!hasTone(channels === 1 ? samples : firstChannel(samples, channels), TONE_HZ, sampleRate)) return;
    if (pending.measured) this.latenciesMs.push(now - pending.sentAtMs);
    byMember.delete(memberId);
  }

  /** Bursts still waiting; they end as heard or missed within DETECT_TIMEOUT_MS. */
  get outstanding(): number {
    let count = 0;
    for (const byMember of this.pending) for (const p of byMember.values()) if (p.measured) count++;
    return count;
  }

  /** Whatever is still pending counts as missed. */
  finish(): void {
    this.missed += this.outstanding;
    for (const byMember of this.pending) byMember.clear();
  }
}

/** The BENCH_WHAT_IF_DTX experiment: every offer a bot applies asks for Opus DTX (RFC 7587 §6.1). */
function putDtxBackIntoOffers(): void {
  type SetRemote = (this: unknown, description: RTCSessionDescriptionInit) => Promise<void>;
  const prototype = wrtc.RTCPeerConnection.prototype as unknown as { setRemoteDescription: SetRemote };
  const original = prototype.setRemoteDescription;
  prototype.setRemoteDescription = function (description) {
    if (description.type !== 'offer' || !description.sdp) return original.call(this, description);
    const sdp = description.sdp.replace(/^(a=fmtp:\d+ (?![^\r\n]*usedtx)[^\r\n]*useinbandfec[^\r\n]*)/gm, '$1;usedtx=1');
    return original.call(this, { type: 'offer', sdp });
  };
}

function firstChannel(samples: Int16Array, channels: number): Int16Array {
  const mono = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < mono.length; i++) mono[i] = samples[i * channels] ?? 0;
  return mono;
}

// ---------------------------------------------------------------- one run

async function runStage(size: number, active: Active): Promise<RunResult> {
  const setupStartedAt = performance.now();
  const { server, url } = await ServerProcess.start<ParentMessage, ServerStats>(new URL('./stage-server.ts', import.meta.url), { nodeArgs: cpuProfileArgs() });
  active.server = server;
  const created = await createSpace(url, `Stage bench ${size}`);
  const collector = new LatencyCollector(size);
  const voices: BurstVoice[] = [];
  const memberIds: string[] = [];

  for (let i = 0; i < size; i++) {
    const voice = new BurstVoice({ ms: BURST_MS, hz: TONE_HZ, amplitude: TONE_AMPLITUDE }, () => collector.burstSent(i, memberIds[i] ?? '', performance.now()));
    voices.push(voice);
    // One account per member: the host, then accepted speakers (co-hosts past the speaker limit).
    const spaceUrl = await withTimeout(stageMemberUrl(url, created, i, size, `bench ${i + 1}`), 15_000, `a stage pass for bot ${i + 1}`);
    const bot = new SpeakerBot({
      spaceUrl,
      name: `bench ${i + 1}`,
      program: { kind: 'custom', fill: voice.fill },
      onAudio: (memberId, samples, sampleRate, channels) => collector.onAudio(i, memberId, samples, sampleRate, channels),
    });
    active.bots.push(bot);
    await withTimeout(bot.start(), 15_000, `bot ${i + 1} to join`);
    const id = bot.session.me?.id;
    if (!id) throw new Error(`bot ${i + 1} joined without a member id`);
    memberIds.push(id);
  }
  const bots = active.bots;
  await withTimeout(Promise.all(bots.map((bot) => bot.connected(SETUP_TIMEOUT_MS))), SETUP_TIMEOUT_MS, 'all peers to connect');
  await waitUntil(() => collector.heard.every((set) => set.size === size - 1), SETUP_TIMEOUT_MS, 'every member to receive every other member at 48 kHz');
  const setupS = (performance.now() - setupStartedAt) / 1000;
  log(`N=${size}: ${size} bots connected and hearing each other after ${setupS.toFixed(1)} s; warm-up ${WARMUP_MS} ms, then measuring ${MEASURE_MS} ms`);

  let turn = 0;
  const turnTimer = setInterval(() => {
    voices[turn % size]?.request();
    turn++;
  }, TURN_MS);
  try {
    await sleep(WARMUP_MS);

    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    const botsBefore = await botStats(bots);
    const before = await server.sample({ type: 'stats', spaceId: created.space.id }, 'stats');
    collector.measuring = true;
    loopDelay.enable();
    await sleep(MEASURE_MS);
    collector.measuring = false;
    loopDelay.disable();
    const after = await server.sample({ type: 'stats', spaceId: created.space.id }, 'stats');
    const botsAfter = await botStats(bots);
    await waitUntil(() => collector.outstanding === 0, DETECT_TIMEOUT_MS + 500, 'the last bursts').catch(() => undefined);
    collector.finish();

    const wallMs = after.wallMs - before.wallMs;
    const serverCpuPct = (100 * (after.serverCpuMs - before.serverCpuMs)) / wallMs;
    const benchCpuPct = (100 * (after.benchCpuUs - before.benchCpuUs)) / 1000 / wallMs;
    const hostBusyPct = (100 * (after.hostBusyMs - before.hostBusyMs)) / wallMs;
    const mixerPct = (100 * (after.server.mixerCpuUs - before.server.mixerCpuUs)) / 1000 / wallMs;
    const latencies = collector.latenciesMs.slice().sort((a, b) => a - b);
    const result: RunResult = {
      speakers: size,
      mouth_to_ear_ms: {
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        min: round(latencies[0] ?? NaN),
        max: round(latencies[latencies.length - 1] ?? NaN),
        mean: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
      },
      cpu_per_speaker_pct: round(serverCpuPct / size, 2),
      server_cpu_pct: round(serverCpuPct, 2),
      server_cpu_self_reported_pct: round((100 * (after.server.cpuUs - before.server.cpuUs)) / 1000 / wallMs, 2),
      // The Space's audience mixer runs in the same process; the stage target is about forwarding.
      mixer_cpu_pct: round(mixerPct, 2),
      forwarding_cpu_pct: round(serverCpuPct - mixerPct, 2),
      samples: latencies.length,
      bursts: collector.bursts,
      missed: collector.missed,
      rtp_forwarded_per_s: round(((after.server.rtpForwarded - before.server.rtpForwarded) * 1000) / wallMs, 1),
      bots_rtp_sent_per_s: round(((botsAfter.packetsSent - botsBefore.packetsSent) * 1000) / wallMs, 1),
      receiver_jitter_buffer_ms: round(
        (1000 * (botsAfter.jitterBufferDelayS - botsBefore.jitterBufferDelayS)) / (botsAfter.jitterBufferEmitted - botsBefore.jitterBufferEmitted),
      ),
      receiver_concealed_pct: round((100 * (botsAfter.concealed - botsBefore.concealed)) / (botsAfter.samplesReceived - botsBefore.samplesReceived), 2),
      bench_cpu_pct: round(benchCpuPct, 1),
      bench_event_loop_delay_p99_ms: round(loopDelay.percentile(99) / 1e6),
      host_busy_pct_of_one_core: round(hostBusyPct, 1),
      other_processes_pct_of_one_core: round(Math.max(0, hostBusyPct - serverCpuPct - benchCpuPct), 1),
      measure_s: round(wallMs / 1000, 2),
      setup_s: round(setupS, 1),
    };
    return result;
  } finally {
    clearInterval(turnTimer);
    await stopRun(active);
  }
}

interface BotStats {
  packetsSent: number;
  jitterBufferDelayS: number;
  jitterBufferEmitted: number;
  concealed: number;
  samplesReceived: number;
}

/** Sums of the bots' own RTP statistics (W3C webrtc-stats names). */
async function botStats(bots: SpeakerBot[]): Promise<BotStats> {
  const total: BotStats = { packetsSent: 0, jitterBufferDelayS: 0, jitterBufferEmitted: 0, concealed: 0, samplesReceived: 0 };
  const reports = await withTimeout(Promise.all(bots.map((bot) => bot.session.peerConnection?.getStats())), 5000, 'bot stats');
  for (const report of reports) {
    report?.forEach((stat: Partial<Record<string, number | string>>) => {
      const n = (key: string): number => (typeof stat[key] === 'number' ? stat[key] : 0);
      if (stat.type === 'outbound-rtp') total.packetsSent += n('packetsSent');
      if (stat.type !== 'inbound-rtp') return;
      total.jitterBufferDelayS += n('jitterBufferDelay');
      total.jitterBufferEmitted += n('jitterBufferEmittedCount');
      total.concealed += n('concealedSamples');
      total.samplesReceived += n('totalSamplesReceived');
    });
  }
  return total;
}

// ---------------------------------------------------------------- helpers

async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function parseSize(value: string | undefined): number {
  const size = Number(value);
  if (!Number.isInteger(size) || size < 2 || size > 13) throw new Error(`usage: stage-run.ts N (people on stage, 2..13), got ${value}`);
  return size;
}

function log(message: string): void {
  process.stderr.write(`[stage-bench] ${message}\n`);
}

// ---------------------------------------------------------------- main

const size = parseSize(process.argv[2]);
const active: Active = { bots: [] };
const exitCode = await runMain(active, { watchdogMs: WATCHDOG_MS, log: (message) => log(`N=${size}: ${message}`), teardown: stopRun }, () => {
  if (WHAT_IF_DTX) {
    log('BENCH_WHAT_IF_DTX=1: bots restore usedtx=1 in every offer (an experiment, not Tribune as it is)');
    putDtxBackIntoOffers();
  }
  return runStage(size, active);
});
// An explicit exit: @roamhq/wrtc crashes in its native teardown otherwise (see speaker-bot.ts).
process.exit(exitCode);
