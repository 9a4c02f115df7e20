/**
 * Real recordings for the replay tests: a tone plan through the project's
 * Opus encoder (src/mixer/opus-codec.ts) and CMAF packager
 * (src/hls/cmaf-packager.ts), its parts grouped into 4-part segments the way
 * src/hls/live-stream.ts groups them, plus independent readers of what the
 * remuxer writes: ffprobe for the container and its packets, ffmpeg to
 * decode to 48 kHz mono s16le, and a 20 ms-block Goertzel tone timeline.
 *
 * ffmpeg and ffprobe are spawned asynchronously with -nostdin and a hard
 * timeout (the project's habit, test/helpers/ffmpeg-capture.ts).
 */
import { runTool, type Spawned } from './child-process.js';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CmafPackager, type PackagedPart } from '../../src/hls/cmaf-packager.js';
import { PARTS_PER_SEGMENT, PART_FRAMES } from '../../src/hls/hls-types.js';
import { opusCodec } from '../../src/mixer/opus-codec.js';
import { cutClip, readRecording, toOgg } from '../../src/replay/remux.js';
import { fillSine, goertzelPower, meanPower } from '../../src/tools/tone.js';

export const SAMPLE_RATE = 48_000;
export const FRAME_SAMPLES = 960;
export const FRAME_S = 0.02;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

/** One stretch of the plan; `hz` 0 is digital silence. */
export interface ToneStep {
  hz: number;
  seconds: number;
}

/** 12 s: 440 Hz for 3 s, 660 Hz for 3 s, silence for 2 s, 880 Hz for 4 s. */
export const TONE_PLAN: readonly ToneStep[] = [
  { hz: 440, seconds: 3 },
  { hz: 660, seconds: 3 },
  { hz: 0, seconds: 2 },
  { hz: 880, seconds: 4 },
];
export const PLAN_FREQUENCIES = [440, 660, 880];

export interface Recording {
  init: Uint8Array;
  /** Each segment's media: its parts (moof + mdat each) concatenated. */
  segments: Uint8Array[];
  parts: PackagedPart[];
  /** The Opus packets fed to the packager, in order. */
  payloads: Uint8Array[];
}

/** Encodes the plan, 20 ms per packet, with the mixer's encoder settings. */
export function encodePlan(plan: readonly ToneStep[], amplitude = 0.3): Uint8Array[] {
  const encoder = opusCodec.encoder();
  const pcm = new Int16Array(FRAME_SAMPLES);
  const payloads: Uint8Array[] = [];
  let phase = 0;
  for (const step of plan) {
    const frames = Math.round(step.seconds / FRAME_S);
    for (let f = 0; f < frames; f++) {
      if (step.hz === 0) pcm.fill(0);
      else phase = fillSine(pcm, step.hz, SAMPLE_RATE, amplitude, phase);
      payloads.push(encoder.encode(pcm));
    }
  }
  return payloads;
}

/**
 * Packages `frames` packets (payloads repeated round-robin when `frames` is
 * larger, which builds an hour in seconds) as the live path does, from frame
 * index `firstFrame` on.
 */
export async function packageRecording(payloads: Uint8Array[], firstFrame: number, frames = payloads.length): Promise<Recording> {
  let init: Uint8Array | undefined;
  const parts: PackagedPart[] = [];
  const packager = new CmafPackager(PART_FRAMES, { init: (bytes) => (init = bytes), part: (part) => parts.push(part) });
  const fed: Uint8Array[] = [];
  for (let i = 0; i < frames; i++) {
    const payload = payloads[i % payloads.length] as Uint8Array;
    fed.push(payload);
    // Not awaited one by one: the packager chains pushes itself, and an await per frame costs an hour's build dearly.
    void packager.push({ payload, index: firstFrame + i, wallClockMs: T0 + i * 20 });
  }
  await packager.finish();
  if (!init) throw new Error('the packager wrote no init segment');
  return { init, segments: groupSegments(parts), parts, payloads: fed };
}

/** A segment is its parts concatenated (src/hls/live-stream.ts). */
function groupSegments(parts: PackagedPart[]): Uint8Array[] {
  const segments: Uint8Array[][] = [];
  for (const part of parts) {
    const msn = Math.floor(part.sequence / PARTS_PER_SEGMENT);
    (segments[msn] ??= []).push(part.bytes);
  }
  return segments.map((bytes) => Buffer.concat(bytes));
}


/** Decodes a file with ffmpeg to 48 kHz mono s16le. */
export async function decodeFile(path: string, timeoutMs = 30_000): Promise<Int16Array> {
  const args = ['-nostdin', '-hide_banner', '-v', 'error', '-i', path, '-f', 's16le', '-ac', '1', '-ar', String(SAMPLE_RATE), '-'];
  const { stdout, stderr, exitCode } = await runTool('ffmpeg', args, timeoutMs);
  if (exitCode !== 0) throw new Error(`ffmpeg exited with ${exitCode}: ${stderr}`);
  // Copied: a Buffer's offset in its pool need not be 16-bit aligned.
  const pcm = new Int16Array(stdout.byteLength >> 1);
  new Uint8Array(pcm.buffer).set(stdout.subarray(0, pcm.byteLength));
  return pcm;
}

export interface Probe {
  format: { format_name: string; duration?: string };
  streams: { codec_name: string; sample_rate: string; channels: number }[];
  packets: { size: string; pts?: number }[];
}

export async function probeFile(path: string, timeoutMs = 30_000): Promise<Probe> {
  const args = ['-v', 'error', '-show_format', '-show_streams', '-show_packets', '-select_streams', 'a:0', '-of', 'json', path];
  const { stdout, stderr, exitCode } = await runTool('ffprobe', args, timeoutMs);
  if (exitCode !== 0) throw new Error(`ffprobe exited with ${exitCode}: ${stderr}`);
  return JSON.parse(stdout.toString('utf8')) as Probe;
}

/** The packets' payloads as ffmpeg demuxes them, concatenated (no decode). */
export async function demuxPayloads(path: string, timeoutMs = 30_000): Promise<Buffer> {
  const args = ['-nostdin', '-v', 'error', '-i', path, '-map', '0:a', '-c', 'copy', '-f', 'data', '-'];
  const { stdout, stderr, exitCode } = await runTool('ffmpeg', args, timeoutMs);
  if (exitCode !== 0) throw new Error(`ffmpeg exited with ${exitCode}: ${stderr}`);
  return stdout;
}

/** A run of 20 ms blocks with the same dominant tone (0: none of the frequencies). */
export interface ToneRun {
  hz: number;
  startS: number;
  endS: number;
}

/**
 * Per 20 ms block, the strongest of `frequencies` if it holds most of the
 * block's energy, else 0 (silence or something else); then runs of equal
 * blocks, a run shorter than `minRunS` (a codec onset, a block that
 * straddles a change) merged into the run before it.
 */
export function toneRuns(pcm: Int16Array, frequencies: number[], minRunS = 0.1): ToneRun[] {
  const block = FRAME_SAMPLES;
  const labels: number[] = [];
  for (let start = 0; start + block <= pcm.length; start += block) {
    const window = pcm.subarray(start, start + block);
    const total = meanPower(window);
    let best = 0;
    let bestPower = 0;
    for (const hz of frequencies) {
      const power = goertzelPower(window, hz, SAMPLE_RATE);
      if (power > bestPower) {
        best = hz;
        bestPower = power;
      }
    }
    // A pure sine's Goertzel power is half its mean power (amplitude²/4 vs ²/2): ask for 60 % of that.
    labels.push(total > 1e-5 && bestPower > total * 0.3 ? best : 0);
  }
  const runs: ToneRun[] = [];
  labels.forEach((hz, i) => {
    const last = runs[runs.length - 1];
    if (last && last.hz === hz) last.endS = (i + 1) * FRAME_S;
    else runs.push({ hz, startS: i * FRAME_S, endS: (i + 1) * FRAME_S });
  });
  const merged: ToneRun[] = [];
  for (const run of runs) {
    const last = merged[merged.length - 1];
    if (last && (run.endS - run.startS < minRunS || last.hz === run.hz)) last.endS = run.endS;
    else merged.push({ ...run });
  }
  return merged;
}

export interface HourRemuxTiming {
  packets: number;
  segments: number;
  cmafBytes: number;
  buildMs: number;
  readMs: number;
  oggMs: number;
  oggBytes: number;
  clipMs: number;
  clipStartS: number;
  clipDurationS: number;
}

/**
 * Builds a 1-hour recording (3,600 parts of 50 packets, the tone plan's
 * packets repeated) and times readRecording, toOgg of the whole hour and
 * cutClip of its last 30 s, whose init + media it writes to `clipPath`.
 */
export async function timeHourRemux(clipPath: string): Promise<HourRemuxTiming> {
  const frames = 3_600 * 50;
  let started = performance.now();
  const hour = await packageRecording(encodePlan(TONE_PLAN), 123_456, frames);
  const buildMs = performance.now() - started;
  started = performance.now();
  const recording = await readRecording(hour.init, hour.segments);
  const readMs = performance.now() - started;
  started = performance.now();
  const ogg = await toOgg(recording);
  const oggMs = performance.now() - started;
  started = performance.now();
  const clip = await cutClip(recording, { startS: recording.durationS - 30, endS: recording.durationS });
  const clipMs = performance.now() - started;
  await writeFile(clipPath, Buffer.concat([clip.init, clip.media]));
  return {
    packets: recording.packets.length,
    segments: hour.segments.length,
    cmafBytes: hour.segments.reduce((sum, segment) => sum + segment.byteLength, 0),
    buildMs,
    readMs,
    oggMs,
    oggBytes: ogg.byteLength,
    clipMs,
    clipStartS: clip.startS,
    clipDurationS: clip.durationS,
  };
}

/**
 * timeHourRemux in a child process. Inside a node:test test every promise
 * pays for the runner's async_hooks (init and destroy tracking, to report
 * activity left after a test), and mediabunny awaits per packet: measured
 * there, an hour reads 5 to 9 times slower than in a server.
 */
export async function timeHourRemuxInChild(clipPath: string, timeoutMs: number): Promise<HourRemuxTiming> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const fixture = new URL(import.meta.url).href;
  const code = `import { timeHourRemux } from ${JSON.stringify(fixture)}; process.stdout.write(JSON.stringify(await timeHourRemux(${JSON.stringify(clipPath)})));`;
  const child = await new Promise<Spawned>((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the hour remux did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    proc.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    proc.on('close', (exitCode) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(chunks), stderr, exitCode });
    });
  });
  if (child.exitCode !== 0) throw new Error(`the hour remux exited with ${child.exitCode}: ${child.stderr}`);
  return JSON.parse(child.stdout.toString('utf8')) as HourRemuxTiming;
}
