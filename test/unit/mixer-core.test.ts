/**
 * The mixer core (src/mixer/mixer-core.ts) with the real Opus codec: three
 * speakers, each a real Opus stream of one tone, through loss, reordering,
 * garbage and a misbehaving fourth speaker. The mix is decoded and its
 * spectrum must hold every speaker's tone and nothing else. Also the TOC
 * guard (src/mixer/toc-guard.ts) in front of each speaker's buffer.
 *
 * Every random choice comes from a seeded generator, so runs repeat.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JitterPacket } from '../../src/mixer/jitter-buffer.js';
import { FRAME_MS, MixerCore } from '../../src/mixer/mixer-core.js';
import { opusCodec } from '../../src/mixer/opus-codec.js';
import { TocGuard, opusPacketTenthsMs } from '../../src/mixer/toc-guard.js';
import { fillSine, goertzelPower, hasTone, meanPower } from '../../src/tools/tone.js';

const SAMPLE_RATE = 48_000;
const FRAME_SAMPLES = 960;
const TONES = [440, 660, 880];
/** Frequencies where nothing should be: between, below and above the tones, and their low harmonics. */
const ELSEWHERE = [300, 550, 770, 1000, 1320, 1500, 2000, 3000];
const AMPLITUDE = 0.2;
const START_MS = 1_700_000_000_000;
/** Frames rendered: 3 s. */
const FRAMES = 150;
/** The first 200 ms (jitter buffer delay, encoder start-up) are not judged. */
const SETTLE_SAMPLES = 0.2 * SAMPLE_RATE;

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const randomBytes = (random: () => number, length: number): Uint8Array => Uint8Array.from({ length }, () => Math.floor(random() * 256));

interface Arrival {
  speakerId: string;
  packet: JitterPacket;
  arrivalMs: number;
}

/** `count` 20 ms Opus packets of a sine, from a speaker's own encoder. */
function toneStream(hz: number, count: number): Uint8Array[] {
  const encoder = opusCodec.encoder();
  const pcm = new Int16Array(FRAME_SAMPLES);
  const out: Uint8Array[] = [];
  let phase = 0;
  for (let i = 0; i < count; i++) {
    phase = fillSine(pcm, hz, SAMPLE_RATE, AMPLITUDE, phase);
    out.push(encoder.encode(pcm));
  }
  return out;
}

const PACKETS = FRAMES + 10;
const STREAMS = TONES.map((hz) => toneStream(hz, PACKETS));

/**
 * A speaker's RTP stream (RFC 7587: 960 timestamp units per 20 ms), packet
 * i sent at START_MS + offsetMs + 20 i. The third speaker's timestamps wrap
 * around 2^32 and its sequence numbers around 2^16 during the run.
 */
function speakerArrivals(k: number): Arrival[] {
  const seqBase = [100, 30_000, 65_500][k] ?? 0;
  const tsBase = [12_345, 3_000_000_000, 0xffffffff - 40 * FRAME_SAMPLES][k] ?? 0;
  const offsetMs = [0, 7, 13][k] ?? 0;
  return (STREAMS[k] ?? []).map((payload, i) => ({
    speakerId: `speaker-${k}`,
    packet: { seq16: (seqBase + i) & 0xffff, timestamp32: (tsBase + i * FRAME_SAMPLES) >>> 0, payload },
    arrivalMs: START_MS + offsetMs + i * FRAME_MS,
  }));
}

const threeSpeakers = (): Arrival[] => [0, 1, 2].flatMap(speakerArrivals);

/** Drops each packet with probability `rate`. */
const withLoss = (arrivals: Arrival[], rate: number, random: () => number): Arrival[] => arrivals.filter(() => random() >= rate);

/** Delays each packet by 0..maxMs, which reorders packets less than maxMs apart. */
const withJitter = (arrivals: Arrival[], maxMs: number, random: () => number): Arrival[] => arrivals.map((a) => ({ ...a, arrivalMs: a.arrivalMs + random() * maxMs }));

/**
 * Before a share of the packets, the same speaker sends garbage with the
 * same sequence number and timestamp (so garbage that got through would
 * take the real packet's place): random bytes, empty payloads, 2 KB of
 * random bytes, and 2 KB behind this stream's own TOC byte (past the TOC
 * guard, then refused by the decoder: more than an Opus frame can hold).
 */
function withGarbage(arrivals: Arrival[], rate: number, random: () => number): Arrival[] {
  const out: Arrival[] = [];
  let kind = 0;
  for (const a of arrivals) {
    if (random() < rate) {
      const toc = a.packet.payload[0] ?? 0;
      const payloads = [randomBytes(random, 1 + Math.floor(random() * 300)), new Uint8Array(0), randomBytes(random, 2048), Uint8Array.of(toc & ~0x3, ...randomBytes(random, 2047))];
      const payload = payloads[kind++ % payloads.length] as Uint8Array;
      out.push({ ...a, packet: { ...a.packet, payload }, arrivalMs: a.arrivalMs - 1 });
    }
    out.push(a);
  }
  return out;
}

/**
 * A fourth speaker who sends garbage every 20 ms with wild timestamps and
 * sequence numbers, and at 1 s a burst of 500 packets at once.
 */
function misbehavingSpeaker(random: () => number): Arrival[] {
  const out: Arrival[] = [];
  const packet = (seq16: number, timestamp32: number, payload: Uint8Array): JitterPacket => ({ seq16, timestamp32, payload });
  for (let i = 0; i < PACKETS; i++) {
    const payload = randomBytes(random, Math.floor(random() * 2000));
    out.push({ speakerId: 'rogue', packet: packet(Math.floor(random() * 65536), Math.floor(random() * 2 ** 32), payload), arrivalMs: START_MS + i * FRAME_MS + random() * 20 });
  }
  // The burst: consecutive timestamps on one new timeline (enough to
  // re-anchor its buffer), garbage payloads of every kind.
  const base = Math.floor(random() * 2 ** 32);
  for (let i = 0; i < 500; i++) {
    const payload = i % 3 === 0 ? new Uint8Array(0) : randomBytes(random, 1 + Math.floor(random() * 400));
    out.push({ speakerId: 'rogue', packet: packet(i, (base + i * FRAME_SAMPLES) >>> 0, payload), arrivalMs: START_MS + 1000 });
  }
  return out;
}

/**
 * Feeds `arrivals` as a clock would (every packet that arrived by a
 * frame's start is in before the frame is rendered), renders `frames`
 * frames in order and decodes the mix with a listener's decoder.
 */
function mix(core: MixerCore, arrivals: Arrival[], frames = FRAMES): Int16Array {
  const queue = [...arrivals].sort((a, b) => a.arrivalMs - b.arrivalMs);
  const decoder = opusCodec.decoder();
  const out = new Int16Array(frames * FRAME_SAMPLES);
  let next = 0;
  for (let index = 0; index < frames; index++) {
    const frameMs = core.frameStartMs(index);
    while (next < queue.length && (queue[next]?.arrivalMs ?? Infinity) <= frameMs) {
      const a = queue[next++] as Arrival;
      core.push(a.speakerId, a.packet, a.arrivalMs);
    }
    const frame = core.render(index);
    assert.equal(frame.index, index);
    assert.equal(frame.wallClockMs, START_MS + index * FRAME_MS);
    const pcm = decoder.decode(frame.payload);
    assert.equal(pcm.length, FRAME_SAMPLES, `frame ${index} decodes to 20 ms`);
    out.set(pcm, index * FRAME_SAMPLES);
  }
  return out;
}

interface Spectrum {
  tones: number[];
  elsewhere: number[];
  mean: number;
}

function spectrum(pcm: Int16Array): Spectrum {
  const judged = pcm.subarray(SETTLE_SAMPLES);
  return {
    tones: TONES.map((hz) => goertzelPower(judged, hz, SAMPLE_RATE)),
    elsewhere: ELSEWHERE.map((hz) => goertzelPower(judged, hz, SAMPLE_RATE)),
    mean: meanPower(judged),
  };
}

/**
 * The mix holds every tone, near its level, and nothing else: no power at
 * other frequencies, and the tones explain the power. With `continuous`,
 * also every tone in every 200 ms window.
 *
 * Why not every window under loss: libopus's concealment of a lost frame
 * of a steady tone (Hybrid mode, as our voip encoder sends) dips for about
 * 100 ms and comes back with another phase, and Goertzel over a window
 * with a phase jump can cancel. Lossy runs are held instead to no window
 * losing most of its power.
 */
function assertOnlyTheTones(pcm: Int16Array, label: string, options: { continuous: boolean }): Spectrum {
  const judged = pcm.subarray(SETTLE_SAMPLES);
  const s = spectrum(pcm);
  const detail = `${label}: tones ${s.tones.map((p) => p.toExponential(2)).join(' ')}, elsewhere ${s.elsewhere.map((p) => p.toExponential(1)).join(' ')}, mean ${s.mean.toExponential(2)}`;
  // A sine of amplitude A has Goertzel power A²/4 (0.01) and mean power A²/2.
  const expected = (AMPLITUDE * AMPLITUDE) / 4;
  TONES.forEach((hz, i) => {
    assert.ok(hasTone(judged, hz, SAMPLE_RATE), `${detail}: ${hz} Hz present`);
    assert.ok((s.tones[i] ?? 0) > 0.6 * expected && (s.tones[i] ?? 0) < 1.3 * expected, `${detail}: ${hz} Hz at its level`);
  });
  const weakest = Math.min(...s.tones);
  ELSEWHERE.forEach((hz, i) => assert.ok((s.elsewhere[i] ?? 0) < weakest * 1e-3, `${detail}: nothing at ${hz} Hz`));
  const explained = 2 * s.tones.reduce((sum, p) => sum + p, 0);
  assert.ok(explained >= 0.8 * s.mean, `${detail}: the tones explain ${((100 * explained) / s.mean).toFixed(1)}% of the power`);
  const window = SAMPLE_RATE / 5;
  for (let start = 0; start + window <= judged.length; start += window) {
    const block = judged.subarray(start, start + window);
    const at = `${label}: the window at ${(0.2 + start / SAMPLE_RATE).toFixed(1)} s`;
    assert.ok(meanPower(block) > 0.5 * TONES.length * 2 * expected, `${at} keeps most of its power (${meanPower(block).toExponential(2)})`);
    if (options.continuous) for (const hz of TONES) assert.ok(hasTone(block, hz, SAMPLE_RATE), `${at} holds ${hz} Hz`);
  }
  return s;
}

const newCore = (): MixerCore => new MixerCore(opusCodec, { startMs: START_MS });

test('three clean speakers mix to exactly their three tones', () => {
  const core = newCore();
  assertOnlyTheTones(mix(core, threeSpeakers()), 'clean', { continuous: true });
  assert.equal(core.stats.speakers, 3);
  assert.equal(core.stats.decodeErrors, 0);
  assert.equal(core.stats.framesMixed, FRAMES);
});

test('with 5% random loss the mix still holds the three tones and nothing else', () => {
  const random = seeded(1);
  const arrivals = withLoss(threeSpeakers(), 0.05, random);
  assert.ok(arrivals.length < 3 * PACKETS - 10, `${3 * PACKETS - arrivals.length} packets lost`);
  assertOnlyTheTones(mix(newCore(), arrivals), '5% loss', { continuous: false });
});

test('packets reordered within 40 ms mix to the three tones and nothing else', () => {
  const random = seeded(2);
  const arrivals = withJitter(threeSpeakers(), 40, random);
  const bySpeaker = arrivals.filter((a) => a.speakerId === 'speaker-0').sort((a, b) => a.arrivalMs - b.arrivalMs);
  const outOfOrder = bySpeaker.filter((a, i) => i > 0 && a.packet.seq16 < (bySpeaker[i - 1]?.packet.seq16 ?? 0)).length;
  assert.ok(outOfOrder > 10, `${outOfOrder} packets of speaker 0 arrive out of order`);
  assertOnlyTheTones(mix(newCore(), arrivals), 'reordered', { continuous: true });
});

test('garbage payloads (random, empty, 2 KB) injected into the streams do not reach the mix', () => {
  const random = seeded(3);
  const arrivals = withGarbage(threeSpeakers(), 0.08, random);
  assert.ok(arrivals.length > 3 * PACKETS + 20, `${arrivals.length - 3 * PACKETS} garbage packets`);
  const core = newCore();
  assertOnlyTheTones(mix(core, arrivals), 'garbage', { continuous: false });
  assert.ok(core.stats.decodeErrors > 0, 'the 2 KB packets behind a real TOC byte reached the decoder and were refused');
});

test('a fourth speaker sending garbage, wild timestamps and a burst of 500 packets changes nothing', () => {
  const random = seeded(4);
  const core = newCore();
  const clean = spectrum(mix(newCore(), threeSpeakers()));
  const withRogue = assertOnlyTheTones(mix(core, [...threeSpeakers(), ...misbehavingSpeaker(random)]), 'rogue speaker', { continuous: true });
  assert.equal(core.stats.speakers, 4);
  TONES.forEach((hz, i) => {
    const ratio = (withRogue.tones[i] ?? 0) / (clean.tones[i] ?? 1);
    assert.ok(ratio > 0.95 && ratio < 1.05, `${hz} Hz at ${(100 * ratio).toFixed(1)}% of its level without the rogue speaker`);
  });
});

test('loss, reordering, garbage and a rogue speaker at once still mix to the three tones only', () => {
  const random = seeded(5);
  const arrivals = withGarbage(withJitter(withLoss(threeSpeakers(), 0.05, random), 40, random), 0.05, random);
  assertOnlyTheTones(mix(newCore(), [...arrivals, ...misbehavingSpeaker(random)]), 'everything', { continuous: false });
});

test('with no speakers the mix is silence and frames keep coming', () => {
  const core = newCore();
  const pcm = mix(core, [], 100);
  assert.ok(meanPower(pcm) < 1e-8, `mean power ${meanPower(pcm)}`);
  assert.equal(core.stats.framesMixed, 100);
  assert.equal(core.stats.speakers, 0);
});

test('a speaker whose packets all fail to decode costs only its own audio', () => {
  // Every packet passes the TOC guard (a steady Hybrid FB 20 ms TOC) but
  // holds 1,300 bytes, more than an Opus frame can: the decoder refuses each.
  const broken: Arrival[] = Array.from({ length: PACKETS }, (_, i) => ({
    speakerId: 'broken',
    packet: { seq16: i, timestamp32: 777 + i * FRAME_SAMPLES, payload: Uint8Array.of(0x78, ...new Uint8Array(1299).fill(0x55)) },
    arrivalMs: START_MS + 5 + i * FRAME_MS,
  }));
  assert.equal(new TocGuard().accept(broken[0]?.packet.payload ?? new Uint8Array(0)), true);
  const core = newCore();
  const clean = spectrum(mix(newCore(), threeSpeakers()));
  const s = assertOnlyTheTones(mix(core, [...threeSpeakers(), ...broken]), 'undecodable speaker', { continuous: true });
  assert.ok(core.stats.decodeErrors >= FRAMES - 10, `${core.stats.decodeErrors} decode errors counted`);
  TONES.forEach((hz, i) => {
    const ratio = (s.tones[i] ?? 0) / (clean.tones[i] ?? 1);
    assert.ok(ratio > 0.95 && ratio < 1.05, `${hz} Hz at ${(100 * ratio).toFixed(1)}% of its level without the broken speaker`);
  });
});

// --- TOC guard ---------------------------------------------------------------

test('opusPacketTenthsMs gives the duration of each configuration of RFC 6716 Table 2', () => {
  // [TOC byte, payload length, duration in 1/10 ms]: config << 3 | stereo << 2 | code.
  const cases: [number, number, number | undefined][] = [
    [(0 << 3) | 0, 10, 100], // SILK NB 10 ms
    [(1 << 3) | 0, 10, 200], // SILK NB 20 ms
    [(2 << 3) | 0, 10, 400], // SILK NB 40 ms
    [(3 << 3) | 0, 10, 600], // SILK NB 60 ms
    [(7 << 3) | 0, 10, 600], // SILK MB 60 ms
    [(9 << 3) | 0, 10, 200], // SILK WB 20 ms
    [(12 << 3) | 0, 10, 100], // Hybrid SWB 10 ms
    [(15 << 3) | 0, 10, 200], // Hybrid FB 20 ms: what our voip encoder sends
    [(16 << 3) | 0, 10, 25], // CELT NB 2.5 ms
    [(19 << 3) | 0, 10, 200], // CELT NB 20 ms
    [(21 << 3) | 0, 10, 50], // CELT WB 5 ms
    [(31 << 3) | 0, 10, 200], // CELT FB 20 ms
    [(31 << 3) | 0b100, 10, 200], // stereo flag changes nothing
    [(15 << 3) | 1, 10, 400], // code 1: two equal frames
    [(15 << 3) | 2, 10, 400], // code 2: two frames
    [(15 << 3) | 1, 1, undefined], // code 1 needs a byte past the TOC
    [(1 << 3) | 3, 10, undefined], // code 3, second byte 0 frames: set below
  ];
  for (const [toc, length, expected] of cases) {
    const payload = new Uint8Array(length);
    payload[0] = toc;
    assert.equal(opusPacketTenthsMs(payload), expected, `TOC 0x${toc.toString(16)} length ${length}`);
  }
  // Code 3: the frame count M is in the second byte (RFC 6716 §3.2.5); M > 0 and at most 120 ms.
  const code3 = (config: number, count: number): Uint8Array => Uint8Array.of((config << 3) | 3, count, 0, 0);
  assert.equal(opusPacketTenthsMs(code3(15, 3)), 600);
  assert.equal(opusPacketTenthsMs(code3(15, 6)), 1200);
  assert.equal(opusPacketTenthsMs(code3(15, 7)), undefined, '140 ms is more than a packet may hold');
  assert.equal(opusPacketTenthsMs(code3(16, 48)), 1200, '48 × 2.5 ms');
  assert.equal(opusPacketTenthsMs(code3(16, 49)), undefined);
  assert.equal(opusPacketTenthsMs(code3(3, 0)), undefined, 'M = 0');
  assert.equal(opusPacketTenthsMs(code3(3, 0x80 | 2)), 1200, 'the VBR and padding flags are not part of M');
  assert.equal(opusPacketTenthsMs(Uint8Array.of((15 << 3) | 3)), undefined, 'code 3 without its count byte');
  assert.equal(opusPacketTenthsMs(new Uint8Array(0)), undefined, 'no TOC byte');
});

test('the TOC guard accepts a steady real Opus stream', () => {
  const guard = new TocGuard();
  const stream = STREAMS[0] ?? [];
  assert.ok(stream.length > 100);
  for (const payload of stream) assert.equal(guard.accept(payload), true);
});

test('the TOC guard drops garbage whose packet duration is not the stream\'s, and empty packets', () => {
  const guard = new TocGuard();
  const random = seeded(6);
  const stream = STREAMS[1] ?? [];
  let garbage = 0;
  for (const payload of stream) {
    assert.equal(guard.accept(payload), true);
    const junk = randomBytes(random, 2 + Math.floor(random() * 300));
    if (opusPacketTenthsMs(junk) === 200) continue; // a 20 ms packet is indistinguishable by its TOC
    assert.equal(guard.accept(junk), false, `garbage TOC 0x${(junk[0] ?? 0).toString(16)}`);
    assert.equal(guard.accept(new Uint8Array(0)), false);
    garbage++;
  }
  assert.ok(garbage > 80);
});

test('regression: the TOC guard keeps the start of a talk spurt when the encoder changes mode (it dropped 40 ms of each)', () => {
  const guard = new TocGuard(3);
  const hybridSwb = Uint8Array.of(13 << 3, 1, 2); // DTX and silence
  const hybridFb = Uint8Array.of(15 << 3, 1, 2); // speech
  const celtFb = Uint8Array.of(31 << 3, 1, 2);
  const sequence = [hybridSwb, hybridSwb, hybridFb, hybridFb, hybridSwb, celtFb, hybridFb];
  assert.deepEqual(
    sequence.map((p) => guard.accept(p)),
    sequence.map(() => true),
    'every 20 ms packet passes, whatever its mode and bandwidth',
  );
});

test('the TOC guard takes a new packet duration only after three packets in a row, and a stray one resets the count', () => {
  const guard = new TocGuard(3);
  const twenty = Uint8Array.of(0x78, 1, 2); // Hybrid FB 20 ms
  const forty = Uint8Array.of(0x50, 1, 2); // SILK WB 40 ms
  assert.equal(guard.accept(twenty), true);
  assert.deepEqual([forty, forty, twenty, forty, forty, twenty].map((p) => guard.accept(p)), [false, false, true, false, false, true], 'interrupted: no switch');
  assert.deepEqual([forty, forty, forty, forty].map((p) => guard.accept(p)), [false, false, true, true], 'switched on the third');
  assert.equal(guard.accept(twenty), false, 'the old duration is now the stray one');
});
