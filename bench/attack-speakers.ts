/**
 * The two speakers of `npm run bench:attack`, in their own process (spawned
 * by bench/attack-bench.ts with an IPC channel) so that neither the
 * attacker nor the coordinator can delay their 10 ms audio clocks: real
 * speakers have devices of their own.
 *
 * Speaker A (the host) plays a steady 440 Hz tone, speaker B (a speaker)
 * 660 Hz, each through the speaker tool (SpeakerBot: a real libwebrtc peer).
 * A speaker's audio continuity is judged from what the OTHER receives from
 * it: every 10 ms block of the other's track is checked for the tone
 * (Goertzel, src/tools/tone.ts), and a gap is a run of blocks without it
 * (× 10 ms, audio time). libwebrtc's receiver hands over a block every
 * 10 ms whether packets came or not (concealment, then silence), so a
 * stalled or lost stream shows up as such a run. Kept beside it: the
 * wall-clock time between two blocks with the tone, minus 10 ms, which
 * also shows this process being late to read them (CPU starvation of the
 * receiver, not the server): reported, and judged only when blocks stopped
 * coming altogether (under 90 % of a window's). libwebrtc's concealment of
 * a steady tone can still sound like the tone for a while, so the
 * receiver's own count of concealed samples (getStats, inbound-rtp) is
 * kept too, per second: the audio that did not arrive in time.
 *
 *   parent -> child  { type: 'start', a, b }          stage socket URLs and display names; answers { type: 'started', targets }
 *   parent -> child  { type: 'gaps', fromMs, toMs }   answers { type: 'gaps', a, b } (Date.now() times)
 *   parent -> child  { type: 'close' }                leaves the stage and exits
 * It exits when the parent goes away.
 */
import { SpeakerBot } from '../src/tools/speaker-bot.js';
import { hasTone } from '../src/tools/tone.js';
import { LoopDelayLog } from './attack-loop-delay.js';
import type { SfuTarget } from './attack-types.js';

export const TONE_HZ = { a: 440, b: 660 } as const;
const BLOCK_MS = 10;
/** Gaps shorter than this are normal delivery jitter and are not kept. */
const KEEP_GAP_MS = 30;

export interface GapReport {
  /** The longest run without the tone that ended (or was still open) in the window, ms of audio. */
  longest_gap_ms: number;
  longest_run_without_tone_ms: number;
  longest_wall_clock_gap_ms: number;
  /** Blocks received in the window, and those with the tone. */
  blocks: number;
  tone_blocks: number;
  /** Runs without the tone of 100 ms or more in the window: [Date.now() at their end, ms of audio, wall-clock ms]. */
  gaps_of_100_ms_or_more: [number, number, number][];
  /** The worst event-loop delay of the speakers' own process in the window, and when: a stall here is the harness's, not the server's. */
  speakers_process_worst_loop_delay: { ms: number; atMs: number };
  /** The receiver's concealment of this speaker's audio in the window (getStats, sampled each second): ms in all, and the most in one second. */
  concealed_ms: number;
  concealed_ms_worst_second: number;
}

/** A speaker's stage socket URL and its account's display name (what the other sees it as). */
export interface SpeakerSeat {
  url: string;
  name: string;
}

export type SpeakersRequest = { type: 'start'; a: SpeakerSeat; b: SpeakerSeat } | { type: 'gaps'; fromMs: number; toMs: number } | { type: 'close' };
export type SpeakersAnswer = { type: 'started'; targets: SfuTarget[] } | { type: 'gaps'; a: GapReport; b: GapReport } | { type: 'error'; message: string };

/** The continuity of one speaker's audio as another member receives it. */
class Continuity {
  /** [Date.now(), concealed ms so far] each second, from the receiver's getStats. */
  readonly concealment: [number, number][] = [];
  private lastToneAt = NaN;
  private run = 0;
  /** [Date.now() at the end, run ms, wall-clock ms]. */
  private readonly gaps: [number, number, number][] = [];
  /** Per second (Date.now() / 1000): blocks and tone blocks. */
  private readonly perSecond = new Map<number, [number, number]>();

  block(tone: boolean, now: number): void {
    const second = Math.floor(now / 1000);
    const counts = this.perSecond.get(second) ?? [0, 0];
    counts[0]++;
    if (tone) counts[1]++;
    this.perSecond.set(second, counts);
    if (!tone) {
      this.run++;
      return;
    }
    const wall = Number.isFinite(this.lastToneAt) ? now - this.lastToneAt - BLOCK_MS : 0;
    const runMs = this.run * BLOCK_MS;
    if (Math.max(wall, runMs) >= KEEP_GAP_MS) this.gaps.push([now, runMs, Math.round(wall)]);
    this.lastToneAt = now;
    this.run = 0;
  }

  report(fromMs: number, toMs: number): GapReport {
    let run = 0;
    let wall = 0;
    const long: [number, number, number][] = [];
    for (const [at, runMs, wallMs] of this.gaps) {
      if (at < fromMs || at >= toMs) continue;
      run = Math.max(run, runMs);
      wall = Math.max(wall, wallMs);
      if (runMs >= 100) long.push([at, runMs, wallMs]);
    }
    // A run still open counts up to now.
    const open = this.run * BLOCK_MS;
    if (open > run && Date.now() >= fromMs) {
      run = open;
      if (open >= 100) long.push([Date.now(), open, NaN]);
    }
    // No block at all since the last tone (the track stopped): wall-clock, up to the window's end.
    const now = Math.min(Date.now(), toMs);
    if (Number.isFinite(this.lastToneAt) && this.lastToneAt < now) wall = Math.max(wall, now - this.lastToneAt - BLOCK_MS);
    let blocks = 0;
    let toneBlocks = 0;
    for (const [second, [n, t]] of this.perSecond) {
      if (second * 1000 >= fromMs && second * 1000 < toMs) {
        blocks += n;
        toneBlocks += t;
      }
    }
    let concealed = 0;
    let concealedWorst = 0;
    for (let i = 1; i < this.concealment.length; i++) {
      const [at, ms] = this.concealment[i] as [number, number];
      if (at <= fromMs || at > toMs) continue;
      const step = ms - (this.concealment[i - 1]?.[1] ?? ms);
      concealed += step;
      concealedWorst = Math.max(concealedWorst, step);
    }
    // Blocks missing altogether (under 90 % of the window's): the track stopped, and wall-clock time is the gap.
    const expected = (Math.min(Date.now(), toMs) - fromMs) / BLOCK_MS;
    const stopped = blocks < 0.9 * expected;
    return {
      longest_gap_ms: stopped ? Math.round(Math.max(run, wall)) : run,
      longest_run_without_tone_ms: run,
      longest_wall_clock_gap_ms: Math.round(wall),
      blocks,
      tone_blocks: toneBlocks,
      gaps_of_100_ms_or_more: long.slice(0, 20),
      speakers_process_worst_loop_delay: loopDelay.worst(fromMs, toMs),
      concealed_ms: Math.round(concealed),
      concealed_ms_worst_second: Math.round(concealedWorst),
    };
  }
}

/** The first channel of a block, as mono. */
function firstChannel(samples: Int16Array, channels: number): Int16Array {
  if (channels <= 1) return samples;
  const out = new Int16Array(Math.floor(samples.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = samples[i * channels] ?? 0;
  return out;
}

/** What an on-path attacker would read off this member's connection: the SFU's port, both ufrags, the SSRC it sends. */
async function sfuTarget(name: string, bot: SpeakerBot): Promise<SfuTarget> {
  const pc = bot.session.peerConnection;
  if (!pc) throw new Error(`${name} has no peer connection`);
  const report = await pc.getStats();
  let port: number | undefined;
  const entries = new Map<string, Record<string, unknown>>();
  report.forEach((entry: Record<string, unknown>) => entries.set(String(entry.id), entry));
  for (const entry of entries.values()) {
    if (entry.type === 'candidate-pair' && entry.state === 'succeeded' && entry.nominated) {
      const remote = entries.get(String(entry.remoteCandidateId));
      if (typeof remote?.port === 'number') port = remote.port;
    }
  }
  const remote = pc.remoteDescription?.sdp ?? '';
  const local = pc.localDescription?.sdp ?? '';
  port ??= Number(/^m=audio (\d+)/m.exec(remote)?.[1] ?? NaN);
  return {
    name,
    port,
    sfuUfrag: /^a=ice-ufrag:(\S+)/m.exec(remote)?.[1] ?? '',
    memberUfrag: /^a=ice-ufrag:(\S+)/m.exec(local)?.[1] ?? '',
    ssrc: Number(/^a=ssrc:(\d+)/m.exec(local)?.[1] ?? 0),
  };
}

const bots: SpeakerBot[] = [];
const loopDelay = new LoopDelayLog();
/** aHeard: what A receives from B (B's continuity); bHeard: what B receives from A (A's). */
const heardFromB = new Continuity();
const heardFromA = new Continuity();

async function start(aSeat: SpeakerSeat, bSeat: SpeakerSeat): Promise<SfuTarget[]> {
  const listenFor = (hz: number, speaker: string, into: Continuity, self: () => SpeakerBot) => (memberId: string, samples: Int16Array, sampleRate: number, channels: number) => {
    // Only the other speaker's track: the stage may also carry a hostile member.
    if (self().session.members.get(memberId)?.name !== speaker) return;
    into.block(hasTone(firstChannel(samples, channels), hz, sampleRate), Date.now());
  };
  const a: SpeakerBot = new SpeakerBot({ spaceUrl: aSeat.url, name: 'speaker a', program: { kind: 'tone', hz: TONE_HZ.a, amplitude: 0.3 }, onAudio: listenFor(TONE_HZ.b, bSeat.name, heardFromB, () => a) });
  bots.push(a);
  await a.start();
  await a.connected(20_000);
  const b: SpeakerBot = new SpeakerBot({ spaceUrl: bSeat.url, name: 'speaker b', program: { kind: 'tone', hz: TONE_HZ.b, amplitude: 0.3 }, onAudio: listenFor(TONE_HZ.a, aSeat.name, heardFromA, () => b) });
  bots.push(b);
  await b.start();
  await b.connected(20_000);
  // Each second: how much of the other's audio each receiver concealed so far.
  // (At the end the peer connections close under a pending tick: getStats then throws, and that is no finding.)
  const concealment = setInterval(() => {
    void concealedMs(a, bSeat.name).then((ms) => ms !== undefined && heardFromB.concealment.push([Date.now(), ms]), () => undefined);
    void concealedMs(b, aSeat.name).then((ms) => ms !== undefined && heardFromA.concealment.push([Date.now(), ms]), () => undefined);
  }, 1000);
  concealment.unref();
  return [await sfuTarget('speaker a', a), await sfuTarget('speaker b', b)];
}

/** ms of `from`'s audio that `bot`'s receiver has concealed so far (inbound-rtp concealedSamples of that track). */
async function concealedMs(bot: SpeakerBot, from: string): Promise<number | undefined> {
  const member = [...bot.session.members.values()].find((m) => m.name === from);
  const track = member ? bot.session.trackOf(member.id) : undefined;
  const pc = bot.session.peerConnection;
  if (!track || !pc) return undefined;
  const report = await pc.getStats();
  let ms: number | undefined;
  report.forEach((entry: Record<string, unknown>) => {
    if (entry.type === 'inbound-rtp' && entry.trackIdentifier === track.id && typeof entry.concealedSamples === 'number') {
      ms = (entry.concealedSamples / 48_000) * 1000;
    }
  });
  return ms;
}

const send = (message: SpeakersAnswer): void => {
  process.send?.(message);
};

function close(): void {
  for (const bot of bots.splice(0)) {
    try {
      bot.stop();
    } catch {
      // stopping is best effort; the exit ends it
    }
  }
  setTimeout(() => process.exit(0), 300).unref();
}

if (process.send) {
  process.on('message', (message: SpeakersRequest) => {
    if (message.type === 'close') return close();
    if (message.type === 'gaps') return send({ type: 'gaps', a: heardFromA.report(message.fromMs, message.toMs), b: heardFromB.report(message.fromMs, message.toMs) });
    start(message.a, message.b).then(
      (targets) => send({ type: 'started', targets }),
      (error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
    );
  });
  process.on('disconnect', close);
  process.on('SIGTERM', close);
}
