import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs } from '../../src/client/backoff.js';

/** The largest value Math.random() can return. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;
const highest = (): number => ALMOST_ONE;
const lowest = (): number => 0;

test('the delay is uniform in [0, base * 2^attempt): random 0 gives 0 and random near 1 gives just under the ceiling', () => {
  assert.equal(backoffDelayMs(0, 500, 8000, lowest), 0);
  assert.equal(backoffDelayMs(0, 500, 8000, highest), 499);
  assert.equal(backoffDelayMs(3, 500, 8000, highest), 3999);
  assert.equal(backoffDelayMs(3, 500, 8000, () => 0.5), 2000);
});

test('the ceiling doubles with each attempt until it reaches the cap', () => {
  const ceilings = [0, 1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(attempt, 500, 8000, highest) + 1);
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
});

test('the delay never decreases with the attempt for the same random draw', () => {
  for (const draw of [0.01, 0.3, 0.77, ALMOST_ONE]) {
    let previous = -1;
    for (let attempt = 0; attempt < 20; attempt++) {
      const delay = backoffDelayMs(attempt, 500, 8000, () => draw);
      assert.ok(delay >= previous, `draw ${draw}, attempt ${attempt}: ${delay} < ${previous}`);
      previous = delay;
    }
  }
});

test('the delay stays below the cap for any attempt, even one where 2^attempt overflows', () => {
  for (const attempt of [5, 10, 31, 64, 1023, 1024, 5000]) {
    const delay = backoffDelayMs(attempt, 500, 8000, highest);
    assert.ok(Number.isInteger(delay) && delay >= 0 && delay < 8000, `attempt ${attempt}: ${delay}`);
  }
});

test('the delay is an integer number of milliseconds in [0, cap) for Math.random', () => {
  for (let i = 0; i < 1000; i++) {
    const delay = backoffDelayMs(i % 12);
    assert.ok(Number.isInteger(delay) && delay >= 0 && delay < 8000, `${delay}`);
  }
});

test('the injected random is called once per delay and scales it linearly', () => {
  let calls = 0;
  const random = (): number => {
    calls++;
    return 0.25;
  };
  assert.equal(backoffDelayMs(2, 100, 10_000, random), 100);
  assert.equal(calls, 1);
});

test('clients that failed together spread out instead of retrying together', () => {
  let seed = 42;
  const random = (): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  const delays = Array.from({ length: 200 }, () => backoffDelayMs(4, 500, 8000, random));
  const buckets = new Set(delays.map((delay) => Math.floor(delay / 1000)));
  assert.equal(buckets.size, 8, 'every second of the 8 s window gets some client');
});

test('the defaults are a 500 ms base and an 8 s cap', () => {
  assert.equal(backoffDelayMs(0, undefined, undefined, highest), 499);
  assert.equal(backoffDelayMs(10, undefined, undefined, highest), 7999);
});
