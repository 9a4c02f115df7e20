/**
 * ffmpeg as an independent HLS client: it reads a playlist over HTTP and
 * decodes what it fetched to 48 kHz mono s16le. Spawned asynchronously
 * (never execFileSync/spawnSync: the server under test shares this event
 * loop), with -nostdin and a hard timeout.
 */
import { spawn } from 'node:child_process';
import { runTool } from './child-process.js';
import { goertzelPower, hasTone, meanPower } from '../../src/tools/tone.js';

export const CAPTURE_RATE = 48_000;

export interface FfmpegCapture {
  samples: Int16Array;
  exitCode: number | null;
  stderr: string;
}

export async function captureHls(playlistUrl: string, seconds: number, timeoutMs: number, extraInputArgs: string[] = []): Promise<FfmpegCapture> {
  const args = ['-nostdin', '-hide_banner', '-v', 'error', ...extraInputArgs, '-i', playlistUrl, '-t', String(seconds), '-f', 's16le', '-ac', '1', '-ar', String(CAPTURE_RATE), '-'];
  const { stdout, stderr, exitCode } = await runTool('ffmpeg', args, timeoutMs);
  // Copy onto an aligned buffer: Buffer.concat may hand back a pooled, odd offset.
  const samples = new Int16Array(Math.floor(stdout.byteLength / 2));
  for (let i = 0; i < samples.length; i++) samples[i] = stdout.readInt16LE(i * 2);
  return { samples, exitCode, stderr };
}

/** Per 1 s window from `fromS` on: which of `frequencies` hasTone finds. */
export function tonesPerSecond(samples: Int16Array, frequencies: number[], fromS = 0): { startS: number; tones: number[] }[] {
  const windows: { startS: number; tones: number[] }[] = [];
  for (let start = fromS * CAPTURE_RATE; start + CAPTURE_RATE <= samples.length; start += CAPTURE_RATE) {
    const window = samples.subarray(start, start + CAPTURE_RATE);
    windows.push({ startS: start / CAPTURE_RATE, tones: frequencies.filter((hz) => hasTone(window, hz, CAPTURE_RATE)) });
  }
  return windows;
}

export interface GapReport {
  /** Longest run of bad 10 ms blocks, in blocks. */
  longestRunBlocks: number;
  /** Where that run starts, in s from the start of the capture. */
  longestRunAtS: number;
  blocks: number;
}

/**
 * Scans 10 ms blocks from `fromS` on. A block is bad when it is near
 * silent (mean power under -40 dBFS) or when one of the tones is missing
 * from it: a gap, a dropout or a part of the wrong audio all show as a run
 * of bad blocks.
 */
export function scanGaps(samples: Int16Array, frequencies: number[], fromS = 0): GapReport {
  const block = CAPTURE_RATE / 100;
  let run = 0;
  let longestRunBlocks = 0;
  let longestRunAtS = 0;
  let blocks = 0;
  for (let start = Math.floor(fromS * CAPTURE_RATE); start + block <= samples.length; start += block) {
    blocks++;
    const window = samples.subarray(start, start + block);
    const total = meanPower(window);
    // On 10 ms a tone's Goertzel power is reliable to a factor of ~2; ask for 5 % of the total (two equal tones give ~25 % each).
    const bad = total < 1e-4 || frequencies.some((hz) => goertzelPower(window, hz, CAPTURE_RATE) < total * 0.05);
    if (!bad) {
      run = 0;
      continue;
    }
    run++;
    if (run > longestRunBlocks) {
      longestRunBlocks = run;
      longestRunAtS = (start - (run - 1) * block) / CAPTURE_RATE;
    }
  }
  return { longestRunBlocks, longestRunAtS, blocks };
}

/**
 * The media duration of one CMAF part as ffprobe reads it (init segment +
 * the part, piped in), in s: from its first packet's timestamp to its last
 * one's, plus one packet (ffprobe gives no packet durations for it).
 */
export function probeDurationS(init: Uint8Array, part: Uint8Array, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', '-i', 'pipe:0'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ffprobe did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`ffprobe exited with ${code}: ${stderr}`));
      const pts = stdout.split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
      const first = pts[0];
      const last = pts[pts.length - 1];
      const beforeLast = pts[pts.length - 2];
      if (first === undefined || last === undefined || beforeLast === undefined || pts.some((t) => !Number.isFinite(t))) {
        return reject(new Error(`ffprobe read no timestamps: ${stdout.slice(0, 200)} ${stderr}`));
      }
      resolve(last - first + (last - beforeLast));
    });
    child.stdin.on('error', () => undefined); // ffprobe may close its input early; 'close' reports the outcome
    child.stdin.end(Buffer.concat([init, part]));
  });
}
