/**
 * The remuxer (src/replay/remux.ts) on a real recording: 12 s of tones
 * (440 Hz 3 s, 660 Hz 3 s, silence 2 s, 880 Hz 4 s) through the mixer's
 * Opus encoder and the live CMAF packager, from frame 123456, its parts in
 * 4-part segments as the live stream keeps them. What it writes is read
 * back by independent tools: ffprobe for the container, the packet count
 * and sizes (equal to the encoder's: nothing was re-encoded), ffmpeg to
 * decode, and Goertzel per 20 ms block to find each tone.
 *
 * ffmpeg and ffprobe are required, not optional: scripts/test.sh installs
 * them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isCompleteInit, scanSegment } from '../../src/replay/fmp4-fragments.js';
import { cutClip, readRecording, RecordingFormatError, toOgg, type RecordingPackets, type TimeRange } from '../../src/replay/remux.js';
import {
  decodeFile,
  demuxPayloads,
  encodePlan,
  FRAME_SAMPLES,
  packageRecording,
  PLAN_FREQUENCIES,
  probeFile,
  SAMPLE_RATE,
  timeHourRemuxInChild,
  TONE_PLAN,
  toneRuns,
  type Recording,
  type ToneRun,
} from '../helpers/recording-fixture.js';

const FIRST_FRAME = 123_456;
const PRE_SKIP = 312; // src/hls/opus-head.ts
const TOLERANCE_S = 0.1;

let dir = '';
let payloads: Uint8Array[];
let recording: Recording;
let packets: RecordingPackets;

async function writeTemp(name: string, ...chunks: Uint8Array[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, Buffer.concat(chunks));
  return path;
}

/** Asserts the runs found match `expected` in order, each boundary within 100 ms. */
function assertRuns(actual: ToneRun[], expected: ToneRun[], label: string): void {
  const shown = JSON.stringify(actual);
  assert.deepEqual(
    actual.map((run) => run.hz),
    expected.map((run) => run.hz),
    `${label}: tones in order, found ${shown}`,
  );
  expected.forEach((want, i) => {
    const got = actual[i] as ToneRun;
    assert.ok(Math.abs(got.startS - want.startS) <= TOLERANCE_S, `${label}: ${want.hz} Hz starts at ${got.startS} s, ${want.startS} s expected (${shown})`);
    assert.ok(Math.abs(got.endS - want.endS) <= TOLERANCE_S, `${label}: ${want.hz} Hz ends at ${got.endS} s, ${want.endS} s expected (${shown})`);
  });
}

/** Pre-skip of the OpusHead inside an Ogg file (RFC 7845 §5.1: u16 LE at byte 10 of the header). */
function oggPreSkip(ogg: Uint8Array): number {
  const at = Buffer.from(ogg).indexOf('OpusHead');
  assert.ok(at >= 0, 'the Ogg holds an OpusHead');
  return Buffer.from(ogg).readUInt16LE(at + 10);
}

/** SNR in dB of `pcm` against `reference` from `offset`, per `blockSamples` block. */
function snrPerBlock(pcm: Int16Array, reference: Int16Array, offset: number, blockSamples: number, blocks: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < blocks; b++) {
    let error = 0;
    let signal = 0;
    for (let i = b * blockSamples; i < (b + 1) * blockSamples; i++) {
      const ref = reference[offset + i] ?? 0;
      error += ((pcm[i] ?? 0) - ref) ** 2;
      signal += ref ** 2;
    }
    out.push(10 * Math.log10(signal / Math.max(error, 1)));
  }
  return out;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tribune-remux-'));
  payloads = encodePlan(TONE_PLAN);
  recording = await packageRecording(payloads, FIRST_FRAME);
  packets = await readRecording(recording.init, recording.segments);
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the fixture is a real recording: 12 parts in three 4-part segments from frame 123456', () => {
  assert.equal(recording.parts.length, 12);
  assert.equal(recording.segments.length, 3);
  assert.equal(recording.parts[0]?.firstFrame, FIRST_FRAME);
});

test('readRecording gives every packet byte for byte, timed from 0 in 20 ms steps, with the OpusHead', () => {
  assert.equal(packets.packets.length, payloads.length);
  packets.packets.forEach((packet, i) => {
    assert.deepEqual(packet.data, payloads[i], `packet ${i}`);
    assert.equal(packet.timestampS, (i * FRAME_SAMPLES) / SAMPLE_RATE, `packet ${i} timestamp`);
    assert.equal(packet.durationS, 0.02);
  });
  assert.equal(packets.durationS, 12);
  assert.equal(packets.mediaStartS, (FIRST_FRAME * FRAME_SAMPLES) / SAMPLE_RATE);
  assert.equal(packets.preSkipSamples, PRE_SKIP);
  assert.equal(packets.truncated, undefined);
  assert.equal(packets.decoderConfig.codec, 'opus');
  assert.equal(packets.decoderConfig.numberOfChannels, 1);
  assert.equal(packets.decoderConfig.sampleRate, 48_000);
  assert.equal(Buffer.from(packets.decoderConfig.description.subarray(0, 8)).toString('latin1'), 'OpusHead');
});

test('a recording whose last segment is short (the Space ended mid-segment) reads and cuts to its end', async () => {
  const short = await packageRecording(payloads.slice(0, 575), FIRST_FRAME);
  assert.deepEqual(
    short.parts.map((part) => part.frames),
    [50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 25],
  );
  const read = await readRecording(short.init, short.segments);
  assert.equal(read.packets.length, 575);
  assert.equal(read.durationS, 11.5);
  assert.equal(read.truncated, undefined);
  const clip = await cutClip(read, { startS: 11, endS: 11.5 });
  assert.equal(clip.durationS, 0.5);
  const pcm = await decodeFile(await writeTemp('short.ogg', await toOgg(read, { startS: 8, endS: 11.5 })));
  assertRuns(toneRuns(pcm, PLAN_FREQUENCIES), [{ hz: 880, startS: 0, endS: 3.5 }], 'Ogg [8, 11.5) of the short recording');
});

test('toOgg of the whole recording is Ogg Opus holding the source packets unchanged', async () => {
  const path = await writeTemp('whole.ogg', await toOgg(packets));
  const probe = await probeFile(path);
  assert.equal(probe.format.format_name, 'ogg');
  assert.equal(probe.streams[0]?.codec_name, 'opus');
  assert.deepEqual(
    probe.packets.map((packet) => Number(packet.size)),
    payloads.map((payload) => payload.byteLength),
  );
  assert.ok((await demuxPayloads(path)).equals(Buffer.concat(payloads)), 'demuxed packets equal the encoded ones');
});

test('the whole-recording Ogg decodes to every tone at its time, within 100 ms', async () => {
  const pcm = await decodeFile(await writeTemp('whole-decode.ogg', await toOgg(packets)));
  // All 600 packets less the encoder's lookahead (RFC 7845 §4.2), which never reached a packet.
  assert.equal(pcm.length, payloads.length * FRAME_SAMPLES - PRE_SKIP);
  assertRuns(
    toneRuns(pcm, PLAN_FREQUENCIES),
    [
      { hz: 440, startS: 0, endS: 3 },
      { hz: 660, startS: 3, endS: 6 },
      { hz: 0, startS: 6, endS: 8 },
      { hz: 880, startS: 8, endS: 12 },
    ],
    'whole Ogg',
  );
});

test('a clip of [2.5, 7.5) is fMP4 of exactly its 250 source packets: 440 Hz, 660 Hz, then silence, boundaries within 100 ms', async (t) => {
  const clip = await cutClip(packets, { startS: 2.5, endS: 7.5 });
  assert.deepEqual([clip.startS, clip.endS, clip.durationS], [2.5, 7.5, 5]);
  const path = await writeTemp('clip.mp4', clip.init, clip.media);
  const probe = await probeFile(path);
  assert.equal(probe.format.format_name, 'mov,mp4,m4a,3gp,3g2,mj2');
  assert.equal(probe.streams[0]?.codec_name, 'opus');
  const source = payloads.slice(125, 375);
  assert.deepEqual(
    probe.packets.map((packet) => Number(packet.size)),
    source.map((payload) => payload.byteLength),
  );
  assert.ok((await demuxPayloads(path)).equals(Buffer.concat(source)), 'demuxed packets equal the encoded ones');
  const pcm = await decodeFile(path);
  const decodedS = pcm.length / SAMPLE_RATE;
  t.diagnostic(`clip decodes to ${decodedS} s (5 s less the ${PRE_SKIP}-sample pre-skip)`);
  assert.ok(Math.abs(decodedS - 5) <= 0.02, `decoded ${decodedS} s`);
  assertRuns(
    toneRuns(pcm, PLAN_FREQUENCIES),
    [
      { hz: 440, startS: 0, endS: 0.5 },
      { hz: 660, startS: 0.5, endS: 3.5 },
      { hz: 0, startS: 3.5, endS: 5 },
    ],
    'clip [2.5, 7.5)',
  );
});

test("a clip's init is ftyp + moov and its media fragments of at most 1 s from decode time 0, as an HLS segment behind EXT-X-MAP", async () => {
  const clip = await cutClip(packets, { startS: 2.5, endS: 7.5 });
  assert.ok(isCompleteInit(clip.init));
  const scan = scanSegment(clip.media);
  assert.equal(scan.completeBytes, clip.media.byteLength, 'the media is whole fragments and nothing else (no mfra)');
  assert.deepEqual(
    scan.fragments.map((fragment) => fragment.samples),
    [50, 50, 50, 50, 50],
  );
  assert.equal(scan.fragments[0]?.decodeTime, 0);

  await writeTemp('init.mp4', clip.init);
  await writeTemp('clip.m4s', clip.media);
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:5', '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MAP:URI="init.mp4"', '#EXTINF:5.000,', 'clip.m4s', '#EXT-X-ENDLIST', ''];
  const pcm = await decodeFile(await writeTemp('clip.m3u8', Buffer.from(playlist.join('\n'))));
  assert.ok(Math.abs(pcm.length / SAMPLE_RATE - 5) <= 0.02, `ffmpeg played the HLS VOD playlist: ${pcm.length} samples`);
});

test('cutClip snaps a range off the packet grid outward to whole 20 ms packets', async () => {
  const cases: [TimeRange, number, number][] = [
    [{ startS: 2.51, endS: 7.495 }, 2.5, 7.5],
    [{ startS: 2.5, endS: 2.5001 }, 2.5, 2.52],
    [{ startS: 0, endS: 12 }, 0, 12],
    [{ startS: 11.999, endS: 12 }, 11.98, 12],
    [{ startS: 0.1, endS: 0.3 }, 0.1, 0.3],
  ];
  for (const [range, startS, endS] of cases) {
    const clip = await cutClip(packets, range);
    assert.ok(Math.abs(clip.startS - startS) < 1e-9 && Math.abs(clip.endS - endS) < 1e-9, `${JSON.stringify(range)} -> [${clip.startS}, ${clip.endS})`);
    assert.ok(Math.abs(clip.durationS - (endS - startS)) < 1e-9);
    assert.ok(clip.startS <= range.startS && clip.endS >= range.endS && clip.startS > range.startS - 0.02 && clip.endS < range.endS + 0.02);
  }
});

test('a ranged Ogg carries 80 ms of pre-roll in its pre-skip and decodes to exactly the range', async () => {
  const ogg = await toOgg(packets, { startS: 2.5, endS: 7.5 });
  assert.equal(oggPreSkip(ogg), PRE_SKIP + 3840);
  const path = await writeTemp('range.ogg', ogg);
  const probe = await probeFile(path);
  // 4 packets of pre-roll, the 250 of the range, and one whose output is trimmed to the lookahead (RFC 7845 §4.4).
  assert.deepEqual(
    probe.packets.map((packet) => Number(packet.size)),
    payloads.slice(121, 376).map((payload) => payload.byteLength),
  );
  const pcm = await decodeFile(path);
  assert.equal(pcm.length, 5 * SAMPLE_RATE);
  assertRuns(
    toneRuns(pcm, PLAN_FREQUENCIES),
    [
      { hz: 440, startS: 0, endS: 0.5 },
      { hz: 660, startS: 0.5, endS: 3.5 },
      { hz: 0, startS: 3.5, endS: 5 },
    ],
    'Ogg [2.5, 7.5)',
  );
  // At the recording's start there is nothing to pre-roll.
  assert.equal(oggPreSkip(await toOgg(packets, { startS: 0, endS: 1 })), PRE_SKIP);
});

test('decoder warm-up: a mid-stream MP4 clip differs from the continuous decode for its first ~50 ms, the pre-rolled Ogg matches from its first sample', async (t) => {
  const whole = await decodeFile(await writeTemp('warm-whole.ogg', await toOgg(packets)));
  const clip = await cutClip(packets, { startS: 2.5, endS: 7.5 });
  const mp4 = await decodeFile(await writeTemp('warm.mp4', clip.init, clip.media));
  const ogg = await decodeFile(await writeTemp('warm.ogg', await toOgg(packets, { startS: 2.5, endS: 7.5 })));
  const offset = 2.5 * SAMPLE_RATE;
  const block = SAMPLE_RATE / 100;
  const mp4Snr = snrPerBlock(mp4, whole, offset, block, 10);
  const oggSnr = snrPerBlock(ogg, whole, offset, block, 10);
  t.diagnostic(`SNR vs the continuous decode per 10 ms from the cut, MP4 (no pre-roll): ${mp4Snr.map((db) => db.toFixed(0)).join(' ')} dB`);
  t.diagnostic(`SNR vs the continuous decode per 10 ms from the cut, Ogg (80 ms pre-roll): ${oggSnr.map((db) => db.toFixed(0)).join(' ')} dB`);
  assert.ok(oggSnr.every((db) => db > 30), 'the pre-rolled Ogg matches the continuous decode from its first sample');
  assert.ok((mp4Snr[9] ?? 0) > 30, 'the MP4 clip has converged 100 ms in');
});

test('a recording whose last fragment a crash tore reads up to its last complete fragment and says so', async () => {
  const last = recording.segments[2] as Uint8Array;
  const fourthPart = recording.parts[11]?.bytes as Uint8Array;
  const partStart = last.byteLength - fourthPart.byteLength;
  // Torn inside the last part's mdat, and inside its moof header.
  for (const cut of [last.byteLength - 100, partStart + 10]) {
    const torn = await readRecording(recording.init, [recording.segments[0] as Uint8Array, recording.segments[1] as Uint8Array, last.subarray(0, cut)]);
    assert.deepEqual(torn.truncated, { segmentIndex: 2, keptBytes: partStart, droppedBytes: cut - partStart, droppedSegments: 0 }, `cut at ${cut}`);
    assert.equal(torn.packets.length, 550);
    assert.equal(torn.durationS, 11);
    assert.deepEqual(torn.packets[549]?.data, payloads[549]);
    const pcm = await decodeFile(await writeTemp(`torn-${cut}.ogg`, await toOgg(torn)));
    assert.equal(pcm.length, 550 * FRAME_SAMPLES - PRE_SKIP);
    const clip = await cutClip(torn, { startS: 10, endS: 11 });
    assert.equal(clip.durationS, 1);
    await assert.rejects(cutClip(torn, { startS: 10, endS: 12 }), RangeError);
  }
});

test('bad ranges throw RangeError from cutClip and toOgg', async () => {
  const bad: TimeRange[] = [
    { startS: -0.02, endS: 1 },
    { startS: 1, endS: 1 },
    { startS: 2, endS: 1 },
    { startS: 0, endS: 12.02 },
    { startS: 12, endS: 13 },
    { startS: Number.NaN, endS: 1 },
    { startS: 0, endS: Number.NaN },
    { startS: 0, endS: Number.POSITIVE_INFINITY },
    { startS: Number.NEGATIVE_INFINITY, endS: 1 },
    { startS: '1' as unknown as number, endS: 2 },
  ];
  for (const range of bad) {
    await assert.rejects(cutClip(packets, range), RangeError, `cutClip ${JSON.stringify(range)}`);
    await assert.rejects(toOgg(packets, range), RangeError, `toOgg ${JSON.stringify(range)}`);
  }
});

test('readRecording rejects a torn init and a recording with no complete fragment with RecordingFormatError', async () => {
  await assert.rejects(readRecording(recording.init.subarray(0, recording.init.byteLength - 1), recording.segments), (error: unknown) => error instanceof RecordingFormatError && error.reason === 'bad-init');
  await assert.rejects(readRecording(recording.init, []), (error: unknown) => error instanceof RecordingFormatError && error.reason === 'no-packets');
  const firstPart = recording.parts[0]?.bytes as Uint8Array;
  await assert.rejects(readRecording(recording.init, [firstPart.subarray(0, 20)]), (error: unknown) => error instanceof RecordingFormatError && error.reason === 'no-packets');
});

test('an hour of recording (3,600 parts) remuxes to Ogg and gives a 30 s clip from its end', async (t) => {
  // Timed in a child process: see timeHourRemuxInChild for why not here.
  const clipPath = join(dir, 'hour-clip.mp4');
  const timing = await timeHourRemuxInChild(clipPath, 120_000);
  assert.equal(timing.packets, 3_600 * 50);
  assert.equal(timing.segments, 900);
  assert.deepEqual([timing.clipStartS, timing.clipDurationS], [3_570, 30]);
  const probe = await probeFile(clipPath);
  assert.equal(probe.packets.length, 1_500);
  assert.equal(probe.streams[0]?.codec_name, 'opus');

  t.diagnostic(`1 h recording: ${timing.segments} segments, ${(timing.cmafBytes / 1e6).toFixed(1)} MB of CMAF (built in ${timing.buildMs.toFixed(0)} ms)`);
  t.diagnostic(`readRecording: ${timing.readMs.toFixed(0)} ms for ${timing.packets} packets`);
  t.diagnostic(`toOgg, whole hour: ${timing.oggMs.toFixed(0)} ms, ${(timing.oggBytes / 1e6).toFixed(1)} MB`);
  t.diagnostic(`cutClip, last 30 s: ${timing.clipMs.toFixed(0)} ms (read + cut: ${(timing.readMs + timing.clipMs).toFixed(0)} ms)`);
});
