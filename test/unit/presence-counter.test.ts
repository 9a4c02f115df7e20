import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PresenceCounter } from '../../src/feed/presence-counter.js';

/**
 * The naive model: every listener's last beacon, counted when it is inside
 * the window (a beacon at t counts while now − t < window). When the model
 * is full (maxListeners listeners inside the window), a listener not already
 * counted is not added.
 */
class NaiveCounter {
  private readonly lastSeen = new Map<string, number>();
  peak = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxListeners = Infinity,
  ) {}

  beat(listener: string, nowMs: number): void {
    this.lastSeen.delete(listener);
    if (this.live(nowMs) >= this.maxListeners) return;
    this.lastSeen.set(listener, nowMs);
  }

  leave(listener: string): void {
    this.lastSeen.delete(listener);
  }

  count(nowMs: number): number {
    const count = this.live(nowMs);
    this.peak = Math.max(this.peak, count);
    return count;
  }

  private live(nowMs: number): number {
    let live = 0;
    for (const seen of this.lastSeen.values()) if (nowMs - seen < this.windowMs) live++;
    return live;
  }
}

type Op = { kind: 'beat'; id: number; dt: number } | { kind: 'leave'; id: number; dt: number } | { kind: 'count'; dt: number };

const ops = (ids: number, maxDt: number): fc.Arbitrary<Op[]> =>
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('beat' as const), id: fc.nat(ids - 1), dt: fc.nat(maxDt) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), id: fc.nat(ids - 1), dt: fc.nat(maxDt) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('count' as const), dt: fc.nat(maxDt) }) },
    ),
    { maxLength: 300 },
  );

/** Runs `sequence` on both, with time moving forward by each op's dt; checks every count and the peak. */
function agree(windowMs: number, maxListeners: number | undefined, sequence: Op[]): void {
  const counter = maxListeners === undefined ? new PresenceCounter(windowMs) : new PresenceCounter(windowMs, maxListeners);
  const model = new NaiveCounter(windowMs, maxListeners);
  let now = 1_700_000_000_000;
  for (const [i, op] of sequence.entries()) {
    now += op.dt;
    if (op.kind === 'beat') {
      counter.beat(`listener-${op.id}`, now);
      model.beat(`listener-${op.id}`, now);
    } else if (op.kind === 'leave') {
      counter.leave(`listener-${op.id}`);
      model.leave(`listener-${op.id}`);
    } else {
      assert.equal(counter.count(now), model.count(now), `count after op ${i}`);
      assert.equal(counter.peak, model.peak, `peak after op ${i}`);
    }
  }
  assert.equal(counter.count(now), model.count(now), 'final count');
  assert.equal(counter.peak, model.peak, 'final peak');
}

test('counts exactly the distinct listeners with a beacon inside the window (property, against a naive model)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), ops(30, 80), (windowMs, sequence) => agree(windowMs, undefined, sequence)),
    { numRuns: 500 },
  );
});

test('a full counter adds nobody new but keeps counting those it has (property, against a naive model)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 8 }), ops(20, 60), (windowMs, max, sequence) => agree(windowMs, max, sequence)),
    { numRuns: 500 },
  );
});

test('one listener counts once however often it beacons, until a window after its last beacon', () => {
  const counter = new PresenceCounter(70_000);
  for (let t = 0; t <= 60_000; t += 1000) counter.beat('a'.repeat(16), t);
  assert.equal(counter.count(60_000), 1);
  assert.equal(counter.count(60_000 + 69_999), 1, 'still inside the window');
  assert.equal(counter.count(60_000 + 70_000), 0, 'a full window after the last beacon it no longer counts');
});

test('a listener that keeps beaconing inside the window never drops out, while a silent one does', () => {
  const counter = new PresenceCounter(70_000);
  counter.beat('steady', 0);
  counter.beat('silent', 0);
  for (let t = 30_000; t <= 300_000; t += 30_000) {
    counter.beat('steady', t);
    assert.equal(counter.count(t), t < 70_000 ? 2 : 1, `at ${t} ms`);
  }
});

test('leave stops counting at once, and a later beacon counts again', () => {
  const counter = new PresenceCounter(70_000);
  counter.beat('a', 0);
  counter.beat('b', 0);
  assert.equal(counter.count(1), 2);
  counter.leave('a');
  assert.equal(counter.count(2), 1);
  counter.leave('a');
  counter.leave('never-seen');
  assert.equal(counter.count(3), 1, 'leaving twice, or without a beacon, changes nothing');
  counter.beat('a', 4);
  assert.equal(counter.count(5), 2);
});

test('peak is the highest count ever returned, and does not fall when listeners go', () => {
  const counter = new PresenceCounter(1000);
  assert.equal(counter.peak, 0);
  for (let i = 0; i < 5; i++) counter.beat(`l${i}`, 0);
  assert.equal(counter.peak, 0, 'peak follows count(), not beat()');
  assert.equal(counter.count(0), 5);
  assert.equal(counter.peak, 5);
  counter.leave('l0');
  assert.equal(counter.count(10), 4);
  assert.equal(counter.count(5000), 0);
  assert.equal(counter.peak, 5);
});

test('at maxListeners a new listener is refused, an expired one makes room, a known one keeps its place', () => {
  const counter = new PresenceCounter(1000, 3);
  counter.beat('a', 0);
  counter.beat('b', 100);
  counter.beat('c', 200);
  counter.beat('d', 300);
  assert.equal(counter.count(300), 3, 'd is not counted: the counter is full');
  counter.beat('a', 400);
  assert.equal(counter.count(400), 3, 'a known listener beacons as usual when full');
  counter.beat('d', 1150);
  // b's beacon (100) has expired by 1150 (window 1000), so d takes its place.
  assert.equal(counter.count(1150), 3);
  counter.leave('d');
  assert.equal(counter.count(1151), 2, 'd was counted');
});

test('memory stays bounded by maxListeners under a flood of new ids', () => {
  const max = 1000;
  const counter = new PresenceCounter(70_000, max);
  for (let i = 0; i < 50_000; i++) counter.beat(`flood-${i}`, i);
  assert.equal(counter.count(50_000), max);
  const entries = (counter as unknown as { lastSeen: Map<string, number> }).lastSeen.size;
  assert.ok(entries <= max, `${entries} entries kept`);
});

test('100,000 listeners: count is exact and expiring them all is one pass', () => {
  const counter = new PresenceCounter(70_000);
  // Beacons spread over 30 s in arrival order, 3.33 per ms.
  for (let i = 0; i < 100_000; i++) counter.beat(`listener-${i}`, Math.floor((i * 30_000) / 100_000));
  assert.equal(counter.count(30_000), 100_000);
  assert.equal(counter.count(70_000), 100_000 - 4, 'only the 4 beacons at t = 0 have expired');
  assert.equal(counter.count(85_000), 100_000 - Math.ceil((15_001 * 100_000) / 30_000), 'those at t <= 15 s have expired');
  assert.equal(counter.count(200_000), 0);
  assert.equal(counter.peak, 100_000);
});
