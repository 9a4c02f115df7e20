import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fillSine, goertzelPower, hasTone, meanPower } from '../../src/tools/tone.js';

const SAMPLE_RATE = 48_000;
/** 20 ms at 48 kHz, one Opus frame. */
const BLOCK = 960;

function sine(hz: number, amplitude: number, length = BLOCK, phase = 0): Int16Array {
  const out = new Int16Array(length);
  fillSine(out, hz, SAMPLE_RATE, amplitude, phase);
  return out;
}

/** Sample-wise sum, clipped to 16 bits as a mixer would. */
function mix(...blocks: Int16Array[]): Int16Array {
  const out = new Int16Array(blocks[0]?.length ?? 0);
  for (let i = 0; i < out.length; i++) {
    const sum = blocks.reduce((acc, block) => acc + (block[i] ?? 0), 0);
    out[i] = Math.max(-32768, Math.min(32767, sum));
  }
  return out;
}

/** Uniform white noise at `amplitude` of full scale, from a seeded generator so runs repeat. */
function whiteNoise(amplitude: number, length = BLOCK, seed = 12345): Int16Array {
  let state = seed >>> 0;
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    out[i] = Math.round((state / 2 ** 32 - 0.5) * 2 * amplitude * 32767);
  }
  return out;
}

test('hasTone finds a generated tone at the frequency it was generated at', () => {
  for (const hz of [440, 660, 880, 1000]) assert.equal(hasTone(sine(hz, 0.5), hz, SAMPLE_RATE), true, `${hz} Hz`);
});

test('hasTone finds a tone in blocks of 10, 20 and 60 ms', () => {
  for (const length of [480, 960, 2880]) assert.equal(hasTone(sine(440, 0.3, length), 440, SAMPLE_RATE), true, `${length} samples`);
});

test('hasTone finds a tone that starts at any phase', () => {
  for (const phase of [0, 1, 2, 3, 4, 5, 6]) assert.equal(hasTone(sine(660, 0.3, BLOCK, phase), 660, SAMPLE_RATE), true, `phase ${phase}`);
});

test('hasTone rejects a tone at another of the test frequencies', () => {
  const tones = [440, 660, 880];
  for (const played of tones) {
    for (const asked of tones.filter((hz) => hz !== played)) {
      assert.equal(hasTone(sine(played, 0.8), asked, SAMPLE_RATE), false, `played ${played} Hz, asked ${asked} Hz`);
    }
  }
});

test('hasTone rejects frequencies several bins away, above and below', () => {
  const block = sine(1000, 0.8);
  for (const hz of [300, 700, 850, 1200, 2000, 4000]) assert.equal(hasTone(block, hz, SAMPLE_RATE), false, `${hz} Hz`);
});

test('hasTone rejects digital silence', () => {
  const silence = new Int16Array(BLOCK);
  assert.equal(hasTone(silence, 440, SAMPLE_RATE), false);
  assert.equal(hasTone(new Int16Array(0), 440, SAMPLE_RATE), false, 'an empty block');
});

test('hasTone rejects a tone below the absolute floor of about -40 dBFS', () => {
  assert.equal(hasTone(sine(440, 0.005), 440, SAMPLE_RATE), false, '-46 dBFS');
  assert.equal(hasTone(sine(440, 0.02), 440, SAMPLE_RATE), true, '-34 dBFS');
});

test('hasTone rejects white noise at the test frequencies', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const noise = whiteNoise(0.8, BLOCK, seed);
    for (const hz of [440, 660, 880, 1000]) assert.equal(hasTone(noise, hz, SAMPLE_RATE), false, `seed ${seed}, ${hz} Hz`);
  }
});

test('hasTone finds a tone under white noise of similar level', () => {
  const block = mix(sine(880, 0.3), whiteNoise(0.3));
  assert.equal(hasTone(block, 880, SAMPLE_RATE), true);
});

test('hasTone finds both tones in a sum of two and not a third', () => {
  const block = mix(sine(440, 0.4), sine(880, 0.4));
  assert.equal(hasTone(block, 440, SAMPLE_RATE), true);
  assert.equal(hasTone(block, 880, SAMPLE_RATE), true);
  assert.equal(hasTone(block, 660, SAMPLE_RATE), false);
});

test('hasTone finds each of three tones in a one-second sum of three', () => {
  // 48,000 samples put every whole-hertz tone on a Goertzel bin: the recorder's case.
  const length = SAMPLE_RATE;
  const block = mix(sine(440, 0.3, length), sine(660, 0.3, length), sine(880, 0.3, length));
  for (const hz of [440, 660, 880]) assert.equal(hasTone(block, hz, SAMPLE_RATE), true, `${hz} Hz`);
  assert.equal(hasTone(block, 1200, SAMPLE_RATE), false);
});

test('regression (Goertzel bin rounding): hasTone finds 880 Hz in a 20 ms sum of 440, 660 and 880 Hz', () => {
  // goertzelPower measures bin round(n * hz / sampleRate): 880 Hz in 960
  // samples is bin 17.6, measured at bin 18 (900 Hz), which keeps only
  // sinc²(0.4) ≈ 57 % of its power; below the 10 % share of a three-tone mix.
  const block = mix(sine(440, 0.3), sine(660, 0.3), sine(880, 0.3));
  for (const hz of [440, 660, 880]) assert.equal(hasTone(block, hz, SAMPLE_RATE), true, `${hz} Hz`);
  assert.equal(hasTone(block, 1200, SAMPLE_RATE), false);
});

test('hasTone reads float samples when given a scale of 1', () => {
  const floats = Float32Array.from(sine(660, 0.5), (v) => v / 32768);
  assert.equal(hasTone(floats, 660, SAMPLE_RATE, 1), true);
  assert.equal(hasTone(floats, 440, SAMPLE_RATE, 1), false);
});

test('goertzelPower gives about amplitude²/4 for a sine centred on a bin', () => {
  // 1000 Hz is bin 20 of a 960-sample block at 48 kHz.
  for (const amplitude of [1, 0.5, 0.1]) {
    const power = goertzelPower(sine(1000, amplitude), 1000, SAMPLE_RATE);
    assert.ok(Math.abs(power - amplitude ** 2 / 4) < 0.01 * amplitude ** 2, `amplitude ${amplitude}: ${power}`);
  }
  assert.equal(goertzelPower(new Int16Array(0), 1000, SAMPLE_RATE), 0);
});

test('meanPower gives about amplitude²/2 for a sine and 0 for silence', () => {
  assert.ok(Math.abs(meanPower(sine(1000, 0.5)) - 0.125) < 0.001);
  assert.equal(meanPower(new Int16Array(BLOCK)), 0);
  assert.equal(meanPower(new Int16Array(0)), 0);
});

test('fillSine continues the phase so consecutive blocks join without a click', () => {
  const whole = sine(440, 0.5, 2 * BLOCK);
  const first = new Int16Array(BLOCK);
  const second = new Int16Array(BLOCK);
  const phase = fillSine(first, 440, SAMPLE_RATE, 0.5, 0);
  fillSine(second, 440, SAMPLE_RATE, 0.5, phase);
  for (let i = 0; i < BLOCK; i++) {
    assert.ok(Math.abs((second[i] ?? 0) - (whole[BLOCK + i] ?? 0)) <= 1, `sample ${i}`);
  }
  assert.ok(phase >= 0 && phase < 2 * Math.PI);
});

test('fillSine at full scale stays within 16 bits', () => {
  const block = sine(1000, 1);
  assert.equal(Math.max(...block), 32767);
  assert.equal(Math.min(...block), -32767);
});
