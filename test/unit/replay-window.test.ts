import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplayGuard, ReplayWindow } from '../../src/sfu/replay-window.js';

/** Feeds `seqs` in order and returns what the window answered for each. */
function feed(window: ReplayWindow, seqs: number[]): boolean[] {
  return seqs.map((seq) => window.accept(seq));
}

test('the first packet and every later new sequence number are accepted', () => {
  const window = new ReplayWindow();
  assert.deepEqual(feed(window, [1000, 1001, 1002, 1005, 1006]), [true, true, true, true, true]);
});

test('an exact duplicate of the newest packet is rejected', () => {
  const window = new ReplayWindow();
  assert.deepEqual(feed(window, [7, 8, 8]), [true, true, false]);
});

test('an exact duplicate of an older packet inside the window is rejected', () => {
  const window = new ReplayWindow();
  assert.deepEqual(feed(window, [10, 11, 12, 13, 11, 10]), [true, true, true, true, false, false]);
});

test('a packet arriving out of order within the window is accepted once', () => {
  const window = new ReplayWindow();
  assert.deepEqual(feed(window, [100, 103, 101, 102, 101, 102]), [true, true, true, true, false, false]);
});

test('a packet at the oldest slot of the window is accepted and one just past it is rejected', () => {
  const window = new ReplayWindow(64);
  // 1000 becomes the newest; the window then holds 937..1000 (64 indices).
  window.accept(900);
  window.accept(1000);
  assert.equal(window.accept(1000 - 63), true, 'delta 63 is the last slot of a 64-packet window');
  assert.equal(window.accept(1000 - 64), false, 'delta 64 is older than the window');
});

test('a packet older than the window is rejected even though it was never seen', () => {
  const window = new ReplayWindow(128);
  window.accept(5000);
  window.accept(5200);
  assert.equal(window.accept(5000 + 50), false);
  assert.equal(window.accept(5200 - 128), false);
  assert.equal(window.accept(5200 - 127), true);
});

test('the sequence number wrapping 65535 -> 0 -> 1 is accepted as new packets', () => {
  const window = new ReplayWindow();
  assert.deepEqual(feed(window, [65533, 65534, 65535, 0, 1, 2]), [true, true, true, true, true, true]);
});

test('a replay of a packet sent before the wrap is rejected after the wrap', () => {
  const window = new ReplayWindow();
  feed(window, [65534, 65535, 0, 1]);
  assert.equal(window.accept(65535), false);
  assert.equal(window.accept(65534), false);
  assert.equal(window.accept(0), false);
});

test('a packet from before the wrap that arrives late, after the wrap, is accepted once', () => {
  const window = new ReplayWindow();
  feed(window, [65533, 0, 1]);
  assert.equal(window.accept(65534), true);
  assert.equal(window.accept(65535), true);
  assert.equal(window.accept(65535), false);
});

test('a packet from after the wrap that arrives before the wrap is seen is accepted once', () => {
  const window = new ReplayWindow();
  feed(window, [65534, 1]);
  assert.deepEqual(feed(window, [65535, 0, 0, 1]), [true, true, false, false]);
});

test('the window keeps working across many wraps of the sequence number', () => {
  const window = new ReplayWindow();
  for (let index = 60_000; index < 60_000 + 4 * 65536; index++) {
    assert.equal(window.accept(index % 65536), true, `index ${index}`);
  }
  const newest = (60_000 + 4 * 65536 - 1) % 65536;
  assert.equal(window.accept(newest), false);
  assert.equal(window.accept((newest + 65536 - 10) % 65536), false);
});

test('a forward jump larger than the window is accepted and clears the history', () => {
  const window = new ReplayWindow(128);
  feed(window, [10, 11, 12]);
  assert.equal(window.accept(10 + 1000), true);
  // Nothing between the jump's old and new newest was ever seen.
  assert.equal(window.accept(10 + 1000 - 5), true);
  assert.equal(window.accept(10 + 1000 - 5), false);
  assert.equal(window.accept(12), false, 'old packets fell out of the window');
});

test('a forward jump of up to half the sequence space counts as new, a larger one as old (RFC 3711 Appendix A)', () => {
  const ahead = new ReplayWindow();
  ahead.accept(100);
  assert.equal(ahead.accept(100 + 32768), true, 'a jump of exactly 2^15 is read as forward');

  const behind = new ReplayWindow();
  behind.accept(100);
  assert.equal(behind.accept(100 + 32769), false, 'a jump past 2^15 is read as a packet from the previous roll-over');
});

test('a forward jump across the wrap is accepted and old packets before it are rejected', () => {
  const window = new ReplayWindow(128);
  feed(window, [60_000, 60_001]);
  assert.equal(window.accept(500), true, '60001 -> 500 is a jump of 6035 over the wrap');
  assert.equal(window.accept(60_001), false);
  assert.equal(window.accept(499), true);
});

test('a window smaller than 64 packets is refused with a RangeError (RFC 3711 §3.3.2)', () => {
  assert.throws(() => new ReplayWindow(63), RangeError);
  assert.throws(() => new ReplayWindow(0), RangeError);
  assert.equal(new ReplayWindow(64).size, 64);
  assert.equal(new ReplayWindow().size, 128, 'the default window holds 128 packets');
});

test('a larger window remembers further back', () => {
  const window = new ReplayWindow(1024);
  window.accept(0);
  window.accept(1000);
  assert.equal(window.accept(0), false, 'seen before');
  assert.equal(window.accept(1), true, 'inside a 1024-packet window, never seen');
});

test('the window agrees with an exact model of seen indices on a long shuffled stream with replays', () => {
  // A reference model that knows every true index: a packet is new when it
  // was never accepted and lies within `size` of the newest accepted one.
  let seed = 0x2545f491;
  const random = (): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
  for (const size of [64, 128, 200]) {
    const window = new ReplayWindow(size);
    const seen = new Set<number>();
    let newest = -Infinity;
    let cursor = 65_000;
    for (let i = 0; i < 20_000; i++) {
      const r = random();
      let index: number;
      if (r < 0.6) index = ++cursor;
      else if (r < 0.8) index = cursor - Math.floor(random() * size * 1.5);
      else if (r < 0.97) index = cursor - Math.floor(random() * 4);
      else index = cursor += Math.floor(random() * 3000);
      const expected = !seen.has(index) && index > newest - size;
      assert.equal(window.accept(index % 65536), expected, `size ${size}, step ${i}, index ${index}`);
      if (expected) {
        seen.add(index);
        newest = Math.max(newest, index);
      }
    }
  }
});

test('ReplayGuard keeps a separate window for each SSRC', () => {
  const guard = new ReplayGuard();
  assert.equal(guard.accept(0x1111, 5), true);
  assert.equal(guard.accept(0x2222, 5), true, 'the same sequence number on another SSRC is not a replay');
  assert.equal(guard.accept(0x1111, 5), false);
  assert.equal(guard.accept(0x2222, 5), false);
  assert.equal(guard.accept(0x2222, 6), true);
});

test('regression: a sender that changes SSRC past the cap is not silenced; the least recently heard window makes room', () => {
  const guard = new ReplayGuard(2);
  assert.equal(guard.accept(1, 100), true);
  assert.equal(guard.accept(2, 100), true);
  assert.equal(guard.accept(1, 101), true, 'SSRC 1 is now the most recent');
  assert.equal(guard.accept(3, 100), true, 'a third SSRC replaces SSRC 2, heard from least recently');
  assert.equal(guard.accept(3, 100), false, 'and has a replay window of its own');
  assert.equal(guard.accept(1, 101), false, 'SSRC 1 kept its window');
  assert.equal(guard.size, 2);
});

test('ReplayGuard keeps at most four windows by default, however many SSRCs come', () => {
  const guard = new ReplayGuard();
  for (let ssrc = 1; ssrc <= 1000; ssrc++) assert.equal(guard.accept(ssrc, 0), true, `ssrc ${ssrc}`);
  assert.equal(guard.size, 4);
});
