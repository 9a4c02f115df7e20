import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KeyedBuckets } from '../../src/guard/keyed-buckets.js';
import { TokenBucket } from '../../src/guard/token-bucket.js';

const size = (buckets: KeyedBuckets): number => (buckets as unknown as { buckets: Map<string, unknown> }).buckets.size;

test('each key has its own bucket: one key spending its burst does not touch another', () => {
  const buckets = new KeyedBuckets(1, 5);
  for (let i = 0; i < 5; i++) assert.equal(buckets.take('alice', 0), true);
  assert.equal(buckets.take('alice', 0), false);
  for (let i = 0; i < 5; i++) assert.equal(buckets.take('bob', 0), true, 'bob starts with a full bucket');
  assert.equal(buckets.take('bob', 0), false);
});

test('a key refills at the sustained rate (reactions: 1 per second, burst 5)', () => {
  const buckets = new KeyedBuckets(1, 5);
  for (let i = 0; i < 5; i++) buckets.take('alice', 0);
  assert.equal(buckets.take('alice', 999), false);
  assert.equal(buckets.take('alice', 1000), true);
  assert.equal(buckets.take('alice', 1000), false);
  let allowed = 0;
  for (let t = 1000; t <= 61_000; t += 100) if (buckets.take('alice', t)) allowed++;
  assert.ok(allowed >= 59 && allowed <= 61, `${allowed} in 60 s at 1/s`);
});

test('a slow rate (sign-in tries: 1 per 12 s, burst 5)', () => {
  const buckets = new KeyedBuckets(1 / 12, 5);
  for (let i = 0; i < 5; i++) assert.equal(buckets.take('mallory', 0), true);
  assert.equal(buckets.take('mallory', 11_000), false);
  assert.equal(buckets.take('mallory', 12_001), true);
});

test('at maxKeys the key touched least recently is forgotten, and starts again with a full bucket', () => {
  const buckets = new KeyedBuckets(1, 2, 2);
  buckets.take('a', 0);
  buckets.take('a', 0);
  assert.equal(buckets.take('a', 0), false, 'a is empty');
  buckets.take('b', 0);
  buckets.take('c', 0); // evicts a, the oldest
  assert.equal(size(buckets), 2);
  assert.equal(buckets.take('a', 0), true, 'a was forgotten: full again (this evicts b)');
  assert.equal(buckets.take('c', 0), true, 'c is still known: its second token');
  assert.equal(buckets.take('c', 0), false, 'c is empty');
});

test('a take, even a refused one, makes a key the most recent, so an active key is not the one evicted', () => {
  const buckets = new KeyedBuckets(1, 1, 2);
  assert.equal(buckets.take('spammer', 0), true);
  buckets.take('other', 0);
  assert.equal(buckets.take('spammer', 0), false, 'refused, but touched');
  buckets.take('newcomer', 0); // evicts other, not spammer
  assert.equal(buckets.take('spammer', 0), false, 'spammer is still limited');
  assert.equal(size(buckets), 2);
});

test('property: never more than maxKeys buckets, and a key never evicted behaves exactly like its own TokenBucket', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.record({ key: fc.integer({ min: 0, max: 9 }), dt: fc.nat(700) }), { maxLength: 300 }),
      (maxKeys, takes) => {
        const buckets = new KeyedBuckets(2, 3, maxKeys);
        // The model: the same least-recently-used map of plain TokenBuckets.
        const model = new Map<number, TokenBucket>();
        let now = 0;
        for (const { key, dt } of takes) {
          now += dt;
          let bucket = model.get(key);
          if (bucket) model.delete(key);
          else {
            bucket = new TokenBucket(2, 3, now);
            if (model.size >= maxKeys) model.delete(model.keys().next().value as number);
          }
          model.set(key, bucket);
          assert.equal(buckets.take(`k${key}`, now), bucket.take(now));
          assert.ok(size(buckets) <= maxKeys);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a flood of distinct keys stays within maxKeys', () => {
  const buckets = new KeyedBuckets(1, 5, 1000);
  for (let i = 0; i < 20_000; i++) assert.equal(buckets.take(`key-${i}`, i), true, 'a new key is always let in');
  assert.equal(size(buckets), 1000);
});
