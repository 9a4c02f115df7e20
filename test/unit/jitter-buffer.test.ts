import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FRAME_SAMPLES, JitterBuffer, seqDiff16, tsDiff32, type Playout } from '../../src/mixer/jitter-buffer.js';

const payload = (n: number): Uint8Array => Uint8Array.of(n & 0xff);
const packet = (i: number, base = { seq: 100, ts: 5000 }) => ({
  seq16: (base.seq + i) & 0xffff,
  timestamp32: (base.ts + i * FRAME_SAMPLES) >>> 0,
  payload: payload(i),
});

/** Pulls `frames` output frames of 20 ms starting at `startMs`. */
function pullFrames(buffer: JitterBuffer, startMs: number, frames: number): Playout[] {
  const out: Playout[] = [];
  for (let f = 0; f < frames; f++) out.push(buffer.pull(startMs + f * 20));
  return out;
}
const kinds = (out: Playout[]): string => out.map((p) => (p.kind === 'packet' || p.kind === 'fec' ? `${p.kind[0]}${p.payload[0]}` : p.kind[0])).join(' ');

test('in-order packets play in order after the target delay', () => {
  const buffer = new JitterBuffer({ targetDelayMs: 60 });
  for (let i = 0; i < 5; i++) buffer.push(packet(i), 1000 + i * 20);
  assert.equal(kinds(pullFrames(buffer, 1000, 3)), 's s s', 'nothing plays before the target delay');
  assert.equal(kinds(pullFrames(buffer, 1060, 5)), 'p0 p1 p2 p3 p4');
});

test('reordered packets play in timestamp order', () => {
  const buffer = new JitterBuffer();
  for (const i of [0, 2, 1, 4, 3]) buffer.push(packet(i), 1000 + i * 20);
  assert.equal(kinds(pullFrames(buffer, 1060, 5)), 'p0 p1 p2 p3 p4');
});

test('a lost packet is recovered from the next packet with FEC, and a longer loss is concealed', () => {
  const buffer = new JitterBuffer();
  for (const i of [0, 1, 3, 6, 7]) buffer.push(packet(i), 1000 + i * 20);
  // 2 is lost but 3 is there: FEC from 3. 4 is lost with 6 two frames
  // away: PLC. 5 is lost with 6 next: FEC from 6.
  assert.equal(kinds(pullFrames(buffer, 1060, 8)), 'p0 p1 f3 p3 c f6 p6 p7');
  assert.equal(buffer.stats.fecRecovered, 2);
  assert.equal(buffer.stats.concealed, 1);
});

test('a DTX pause (sequence numbers continue, the timestamp jumps) plays silence, not concealment', () => {
  const buffer = new JitterBuffer();
  buffer.push(packet(0), 1000);
  buffer.push({ seq16: 101, timestamp32: 5000 + 10 * FRAME_SAMPLES, payload: payload(10) }, 1200);
  assert.equal(kinds(pullFrames(buffer, 1060, 11)), 'p0 s s s s s s s s s p10');
  assert.equal(buffer.stats.concealed, 0);
});

test('concealment stops after a few frames when the speaker goes away', () => {
  const buffer = new JitterBuffer({ maxConcealFrames: 5 });
  buffer.push(packet(0), 1000);
  const out = kinds(pullFrames(buffer, 1060, 10));
  assert.equal(out, 'p0 c c s s s s s s s');
});

test('duplicates and packets that come after their frame played are dropped', () => {
  const buffer = new JitterBuffer();
  buffer.push(packet(0), 1000);
  buffer.push(packet(0), 1001);
  buffer.push(packet(1), 1020);
  assert.equal(buffer.stats.duplicate, 1);
  assert.equal(kinds(pullFrames(buffer, 1060, 2)), 'p0 p1');
  buffer.push(packet(1), 1100);
  assert.equal(buffer.stats.late, 1);
});

test('wild timestamps from a misbehaving sender are dropped and do not move playout', () => {
  const buffer = new JitterBuffer();
  for (let i = 0; i < 3; i++) buffer.push(packet(i), 1000 + i * 20);
  const random = [0x7fffffff, 5000 + 48 * 60_000, 0xdeadbeef, 999999999];
  for (const ts of random) buffer.push({ seq16: 7, timestamp32: ts, payload: payload(99) }, 1050);
  for (let i = 3; i < 6; i++) buffer.push(packet(i), 1000 + i * 20);
  assert.equal(kinds(pullFrames(buffer, 1060, 6)), 'p0 p1 p2 p3 p4 p5');
  assert.equal(buffer.stats.wild, random.length);
  assert.equal(buffer.stats.resyncs, 0);
});

test('a sender that restarts on a new timeline is followed after a few consistent packets', () => {
  const buffer = new JitterBuffer({ resyncPackets: 5 });
  buffer.push(packet(0), 1000);
  pullFrames(buffer, 1060, 1);
  const restarted = { seq: 40000, ts: 900_000_000 };
  for (let i = 0; i < 8; i++) buffer.push(packet(i, restarted), 1100 + i * 20);
  assert.equal(buffer.stats.resyncs, 1);
  const out = kinds(pullFrames(buffer, 1160 + 4 * 20, 4));
  assert.equal(out, 'p4 p5 p6 p7');
});

test('a burst bigger than the buffer keeps it bounded', () => {
  const buffer = new JitterBuffer({ maxPackets: 16 });
  for (let i = 0; i < 200; i++) buffer.push(packet(i), 1000);
  assert.ok(buffer.depth <= 16);
  // Packets more than 2 s ahead are wild; the rest overflow the buffer.
  assert.equal(buffer.stats.overflow + buffer.stats.wild, 184);
});

test('timestamps and sequence numbers wrap around', () => {
  assert.equal(tsDiff32(5, 0xfffffffb), 10);
  assert.equal(tsDiff32(0xfffffffb, 5), -10);
  assert.equal(seqDiff16(2, 65534), 4);
  const buffer = new JitterBuffer();
  const base = { seq: 65534, ts: 0xffffffff - FRAME_SAMPLES * 2 + 1 };
  for (let i = 0; i < 5; i++) buffer.push(packet(i, base), 1000 + i * 20);
  assert.equal(kinds(pullFrames(buffer, 1060, 5)), 'p0 p1 p2 p3 p4');
});

test('a sender whose packets arrive later and later is followed with more delay', () => {
  const buffer = new JitterBuffer({ lateResyncPackets: 3 });
  // Packet i arrives at 1000 + 20 i, and from packet 5 on 200 ms later.
  const arrival = (i: number): number => 1000 + i * 20 + (i >= 5 ? 200 : 0);
  const played: Playout[] = [];
  let next = 0;
  for (let t = 1000; t < 1800; t += 20) {
    while (next < 40 && arrival(next) <= t) buffer.push(packet(next), arrival(next++));
    played.push(buffer.pull(t));
  }
  assert.equal(buffer.stats.resyncs, 1, kinds(played));
  const tail = kinds(played.slice(-10));
  assert.match(tail, /^(p\d+ ?){10}$/, `playout resumed in order: ${tail}`);
});
