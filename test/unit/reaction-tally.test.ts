import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ReactionTally } from '../../src/feed/reaction-tally.js';

const T0 = 1_700_000_000_000; // a whole second

test('reactions in one second add up per emoji, in one entry', () => {
  const tally = new ReactionTally();
  tally.add('👏', T0);
  tally.add('👏', T0 + 10);
  tally.add('🔥', T0 + 999);
  assert.deepEqual(tally.recent(), [{ second: T0 / 1000, counts: { '👏': 2, '🔥': 1 } }]);
});

test('each second with reactions gets its own entry, oldest first; quiet seconds get none', () => {
  const tally = new ReactionTally();
  tally.add('👏', T0);
  tally.add('❤️', T0 + 1000);
  tally.add('❤️', T0 + 3500);
  assert.deepEqual(tally.recent(), [
    { second: T0 / 1000, counts: { '👏': 1 } },
    { second: T0 / 1000 + 1, counts: { '❤️': 1 } },
    { second: T0 / 1000 + 3, counts: { '❤️': 1 } },
  ]);
});

test('the feed size does not grow with the number of reactions', () => {
  const tally = new ReactionTally();
  for (let i = 0; i < 100_000; i++) tally.add(i % 2 ? '👏' : '🔥', T0 + (i % 1000));
  const recent = tally.recent();
  assert.equal(recent.length, 1);
  assert.deepEqual(recent[0]?.counts, { '👏': 50_000, '🔥': 50_000 });
});

test('expire keeps the current second and the keepSeconds before it, and says whether it dropped anything', () => {
  const tally = new ReactionTally(5);
  tally.add('👏', T0);
  tally.add('🔥', T0 + 2000);
  assert.equal(tally.expire(T0 + 5999), false, 'second T0 is 5 seconds before second T0+5: kept');
  assert.equal(tally.recent().length, 2);
  assert.equal(tally.expire(T0 + 6000), true, 'at second T0+6, second T0 goes');
  assert.deepEqual(tally.recent(), [{ second: T0 / 1000 + 2, counts: { '🔥': 1 } }]);
  assert.equal(tally.expire(T0 + 6000), false, 'nothing left to drop');
  assert.equal(tally.expire(T0 + 60_000), true);
  assert.deepEqual(tally.recent(), []);
  assert.equal(tally.expire(T0 + 120_000), false, 'an empty tally never reports a change');
});

test('recent() is a copy: changing it does not change the tally', () => {
  const tally = new ReactionTally();
  tally.add('👏', T0);
  const first = tally.recent();
  const entry = first[0];
  assert.ok(entry);
  entry.counts['👏'] = 99;
  first.length = 0;
  tally.add('👏', T0 + 1);
  assert.deepEqual(tally.recent(), [{ second: T0 / 1000, counts: { '👏': 2 } }]);
});

test('property: with the clock moving forward, recent() is the naive per-second count of unexpired reactions', () => {
  const emoji = ['👏', '❤️', '😂', '🔥'];
  const op = fc.oneof(
    fc.record({ kind: fc.constant('add' as const), emoji: fc.constantFrom(...emoji), dt: fc.nat(1500) }),
    fc.record({ kind: fc.constant('expire' as const), dt: fc.nat(3000) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 8 }), fc.array(op, { maxLength: 200 }), (keep, ops) => {
      const tally = new ReactionTally(keep);
      const added: { second: number; emoji: string }[] = [];
      let oldestKept = -Infinity;
      let now = T0;
      for (const o of ops) {
        now += o.dt;
        if (o.kind === 'add') {
          tally.add(o.emoji, now);
          added.push({ second: Math.floor(now / 1000), emoji: o.emoji });
        } else {
          const before = added.filter((a) => a.second >= oldestKept).length;
          oldestKept = Math.floor(now / 1000) - keep;
          const after = added.filter((a) => a.second >= oldestKept).length;
          assert.equal(tally.expire(now), after < before, 'expire() reports a drop exactly when one happened');
        }
        const expected = new Map<number, Record<string, number>>();
        for (const a of added) {
          if (a.second < oldestKept) continue;
          const counts = expected.get(a.second) ?? {};
          counts[a.emoji] = (counts[a.emoji] ?? 0) + 1;
          expected.set(a.second, counts);
        }
        const want = [...expected].sort(([a], [b]) => a - b).map(([second, counts]) => ({ second, counts }));
        assert.deepEqual(tally.recent(), want);
      }
    }),
    { numRuns: 300 },
  );
});
