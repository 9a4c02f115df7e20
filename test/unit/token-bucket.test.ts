import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenBucket } from '../../src/guard/token-bucket.js';

/** Calls take() `count` times at `nowMs` and returns how many were allowed. */
function takeMany(bucket: TokenBucket, count: number, nowMs: number): number {
  let allowed = 0;
  for (let i = 0; i < count; i++) if (bucket.take(nowMs)) allowed++;
  return allowed;
}

test('a new bucket allows a full burst at once and refuses the next message', () => {
  const bucket = new TokenBucket(10, 40, 0);
  assert.equal(takeMany(bucket, 40, 0), 40);
  assert.equal(bucket.take(0), false);
});

test('an empty bucket refills at the configured rate per second', () => {
  const bucket = new TokenBucket(10, 40, 0);
  takeMany(bucket, 40, 0);
  assert.equal(bucket.take(99), false, '99 ms at 10/s is less than one token');
  assert.equal(bucket.take(100), true, '100 ms at 10/s is one token');
  assert.equal(bucket.take(100), false);
  assert.equal(takeMany(bucket, 10, 1100), 10, 'one more second gives ten tokens');
  assert.equal(bucket.take(1100), false);
});

test('a long idle time refills the bucket only up to its burst', () => {
  const bucket = new TokenBucket(10, 5, 0);
  takeMany(bucket, 5, 0);
  assert.equal(takeMany(bucket, 100, 60_000), 5);
});

test('a sender at exactly the sustained rate is never refused', () => {
  const bucket = new TokenBucket(10, 1, 0);
  for (let nowMs = 0; nowMs <= 10_000; nowMs += 100) assert.equal(bucket.take(nowMs), true, `at ${nowMs} ms`);
});

test('a sender at twice the sustained rate gets about the rate through once the burst is spent', () => {
  const bucket = new TokenBucket(10, 40, 0);
  let allowed = 0;
  for (let nowMs = 0; nowMs < 10_000; nowMs += 50) if (bucket.take(nowMs)) allowed++;
  // 40 from the burst plus 10 per second for 10 s, give or take one token of rounding.
  assert.ok(allowed >= 139 && allowed <= 140, `allowed ${allowed}`);
});

test('fractions of a token carry over between calls', () => {
  const bucket = new TokenBucket(10, 1, 0);
  bucket.take(0);
  assert.equal(bucket.take(50), false, 'half a token');
  assert.equal(bucket.take(100), true, 'the second half arrives 50 ms later');
});

test('a refused take() costs no token', () => {
  const bucket = new TokenBucket(1, 1, 0);
  bucket.take(0);
  for (let nowMs = 0; nowMs < 1000; nowMs += 100) assert.equal(bucket.take(nowMs), false);
  // Ten refills of 0.1 token sum to a hair under 1 in floating point, so the
  // token is asked for just after the second is up.
  assert.equal(bucket.take(1001), true);
});

test('a clock that steps backwards adds no tokens', () => {
  const bucket = new TokenBucket(10, 2, 10_000);
  takeMany(bucket, 2, 10_000);
  assert.equal(bucket.take(5_000), false);
  assert.equal(bucket.take(5_050), false, 'time is counted from the stepped-back clock');
  assert.equal(bucket.take(5_100), true);
});
