/**
 * Reads what the CMAF packager (src/hls/cmaf-packager.ts) writes back with an
 * independent parser and decoder, ffprobe and ffmpeg: 5.5 s of a 440 Hz tone
 * through the real Opus encoder, as a listener gets it (init + parts, a
 * join in the middle, whole segments as the origin serves them).
 *
 * ffmpeg and ffprobe are required, not optional: scripts/test.sh installs
 * them. Without them this test fails.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { CmafPackager, type PackagedPart } from '../../src/hls/cmaf-packager.js';
import { PARTS_PER_SEGMENT, PART_FRAMES } from '../../src/hls/hls-types.js';
import { LiveStream } from '../../src/hls/live-stream.js';
import { OPUS_PRE_SKIP } from '../../src/hls/opus-head.js';
import { opusCodec } from '../../src/mixer/opus-codec.js';
import { fillSine, hasTone, meanPower } from '../../src/tools/tone.js';

const run = promisify(execFile);
const SAMPLE_RATE = 48_000;
const FRAME_SAMPLES = 960;
const FRAMES = 275; // 5.5 s: five full parts and a half one
const TONE_HZ = 440;
const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);

interface Packaged {
  init: Uint8Array;
  parts: PackagedPart[];
  /** The Opus packets fed in, in order. */
  payloads: Uint8Array[];
}

let dir = '';
let packaged: Packaged;

async function packageTone(): Promise<Packaged> {
  let init: Uint8Array | undefined;
  const parts: PackagedPart[] = [];
  const packager = new CmafPackager(PART_FRAMES, { init: (bytes) => (init = bytes), part: (part) => parts.push(part) });
  const encoder = opusCodec.encoder();
  const pcm = new Int16Array(FRAME_SAMPLES);
  const payloads: Uint8Array[] = [];
  let phase = 0;
  for (let index = 0; index < FRAMES; index++) {
    phase = fillSine(pcm, TONE_HZ, SAMPLE_RATE, 0.3, phase);
    const payload = encoder.encode(pcm);
    payloads.push(payload);
    await packager.push({ payload, index, wallClockMs: T0 + index * 20 });
  }
  await packager.finish();
  await packager.finish(); // safe twice
  assert.ok(init, 'the packager wrote an init segment');
  return { init, parts, payloads };
}

async function writeMp4(name: string, ...chunks: Uint8Array[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, Buffer.concat(chunks));
  return path;
}

interface ProbePacket {
  pts: number;
  size: string;
  pos: string;
}
interface Probe {
  streams: { codec_name: string; sample_rate: string; channels: number; start_time: string }[];
  format: { duration: string; start_time: string };
  packets: ProbePacket[];
}

async function probe(path: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-show_packets', '-of', 'json', path], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as Probe;
}

/** Decodes to 48 kHz mono s16le with ffmpeg. */
async function decode(path: string): Promise<Int16Array> {
  const { stdout } = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', path, '-f', 's16le', '-ac', '1', '-ar', String(SAMPLE_RATE), '-'], { encoding: 'buffer', maxBuffer: 64 << 20 });
  // Copied: a Buffer's offset in its pool need not be 16-bit aligned.
  const pcm = new Int16Array(stdout.byteLength >> 1);
  new Uint8Array(pcm.buffer).set(stdout.subarray(0, pcm.byteLength));
  return pcm;
}

/** The packets' payloads, concatenated, as ffmpeg demuxes them (no decode). */
async function demuxedPayloads(path: string): Promise<Buffer> {
  const { stdout } = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', path, '-map', '0:a', '-c', 'copy', '-f', 'data', '-'], { encoding: 'buffer', maxBuffer: 64 << 20 });
  return stdout;
}

/** Asserts the 440 Hz tone in every 100 ms window of `pcm`, and no other of the test tones. */
function assertToneThroughout(pcm: Int16Array, label: string): void {
  const window = SAMPLE_RATE / 10;
  assert.ok(pcm.length >= window, `${label}: ${pcm.length} samples`);
  for (let start = 0; start + window <= pcm.length; start += window) {
    const block = pcm.subarray(start, start + window);
    assert.ok(hasTone(block, TONE_HZ, SAMPLE_RATE), `${label}: 440 Hz at ${(start / SAMPLE_RATE).toFixed(1)} s (power ${meanPower(block).toExponential(2)})`);
    assert.ok(!hasTone(block, 660, SAMPLE_RATE) && !hasTone(block, 1000, SAMPLE_RATE), `${label}: only 440 Hz at ${(start / SAMPLE_RATE).toFixed(1)} s`);
  }
}

/** Asserts `pcm` lasts `seconds` less the Opus pre-skip (RFC 7845 §4.2), within one 20 ms frame. */
function assertDecodedSeconds(pcm: Int16Array, seconds: number, label: string): void {
  const expected = seconds * SAMPLE_RATE - OPUS_PRE_SKIP;
  assert.ok(Math.abs(pcm.length - expected) <= FRAME_SAMPLES, `${label}: ${pcm.length} samples decoded, ${expected} expected`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tribune-cmaf-'));
  packaged = await packageTone();
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the packager cuts one part per 50 frames and a short last part on finish', () => {
  assert.deepEqual(
    packaged.parts.map((part) => [part.sequence, part.firstFrame, part.frames, part.wallClockMs - T0]),
    [
      [0, 0, 50, 0],
      [1, 50, 50, 1000],
      [2, 100, 50, 2000],
      [3, 150, 50, 3000],
      [4, 200, 50, 4000],
      [5, 250, 25, 5000],
    ],
  );
});

test('ffprobe reads init + parts as one Opus stream, 48 kHz mono, 5.5 s, 50 packets of 20 ms per part', async () => {
  const path = await writeMp4('all.mp4', packaged.init, ...packaged.parts.map((part) => part.bytes));
  const info = await probe(path);
  assert.equal(info.streams.length, 1);
  const [stream] = info.streams;
  assert.equal(stream?.codec_name, 'opus');
  assert.equal(stream?.sample_rate, '48000');
  assert.equal(stream?.channels, 1);
  assert.equal(Number(info.format.duration), 5.5);
  // Packets, grouped by the part whose bytes hold them (ffprobe gives each packet's file offset).
  assert.equal(info.packets.length, FRAMES);
  let offset = packaged.init.byteLength;
  const partRanges = packaged.parts.map((part) => {
    const range = { from: offset, to: offset + part.bytes.byteLength };
    offset = range.to;
    return range;
  });
  const byPart = partRanges.map((range) => info.packets.filter((packet) => Number(packet.pos) >= range.from && Number(packet.pos) < range.to));
  assert.deepEqual(
    byPart.map((packets) => packets.length),
    packaged.parts.map((part) => part.frames),
  );
  byPart.forEach((packets, p) => {
    const part = packaged.parts[p] as PackagedPart;
    // ffprobe gives no per-packet duration for these fragments; each packet
    // starts 960 samples (20 ms) after the one before, from the part's first frame.
    packets.forEach((packet, k) => assert.equal(packet.pts, (part.firstFrame + k) * FRAME_SAMPLES, `part ${p} packet ${k}`));
  });
  // The packets are the encoder's, byte for byte.
  assert.deepEqual(
    info.packets.map((packet) => Number(packet.size)),
    packaged.payloads.map((payload) => payload.byteLength),
  );
  assert.ok((await demuxedPayloads(path)).equals(Buffer.concat(packaged.payloads)), 'demuxed packets equal the encoded ones');
});

test('ffmpeg decodes init + parts to the tone for the whole 5.5 s', async () => {
  const path = await writeMp4('all-decode.mp4', packaged.init, ...packaged.parts.map((part) => part.bytes));
  const pcm = await decode(path);
  assertDecodedSeconds(pcm, FRAMES * 0.02, 'init + parts');
  assertToneThroughout(pcm, 'init + parts');
});

test('a listener joining mid-stream (init + parts 2..4) decodes the tone from 2 s on', async () => {
  const path = await writeMp4('join.mp4', packaged.init, ...packaged.parts.slice(2, 5).map((part) => part.bytes));
  const info = await probe(path);
  assert.equal(info.packets.length, 3 * PART_FRAMES);
  assert.equal(info.packets[0]?.pts, 2 * SAMPLE_RATE, 'the first packet keeps its time on the stream (tfdt)');
  assert.equal(Number(info.streams[0]?.start_time), 2);
  const pcm = await decode(path);
  assertDecodedSeconds(pcm, 3, 'init + parts 2..4');
  assertToneThroughout(pcm, 'init + parts 2..4');
});

test('a segment as the origin serves it (its parts concatenated) reads back as 4.0 s', async () => {
  const stream = new LiveStream();
  stream.setInit(packaged.init);
  for (const part of packaged.parts) stream.appendPart(part);
  const segment = stream.segment(0);
  assert.ok(segment?.complete);
  assert.equal(segment.parts.length, PARTS_PER_SEGMENT);
  // As src/origin/hls-routes.ts answers GET seg/<msn>.m4s.
  const path = await writeMp4('seg0.mp4', packaged.init, ...segment.parts.map((part) => part.bytes));
  const info = await probe(path);
  assert.equal(info.packets.length, PARTS_PER_SEGMENT * PART_FRAMES);
  const first = info.packets[0]?.pts ?? NaN;
  const last = info.packets[info.packets.length - 1]?.pts ?? NaN;
  assert.equal((last + FRAME_SAMPLES - first) / SAMPLE_RATE, 4.0);
  assert.equal(Number(info.format.duration), 4.0);
  const pcm = await decode(path);
  assertDecodedSeconds(pcm, 4, 'segment 0');
  assertToneThroughout(pcm, 'segment 0');

  // The last segment: a full part and the short last one, completed by it.
  const tail = stream.segment(1);
  assert.ok(tail?.complete);
  const tailInfo = await probe(await writeMp4('seg1.mp4', packaged.init, ...tail.parts.map((part) => part.bytes)));
  assert.equal(tailInfo.packets.length, 75);
  assert.equal(tailInfo.packets[0]?.pts, 4 * SAMPLE_RATE);
});
