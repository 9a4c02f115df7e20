/**
 * Blocking playlist reload (RFC 8216bis §6.2.5.2): the delivery directives
 * (src/origin/hls-query.ts) and the coalesced waits for parts
 * (src/origin/part-waiters.ts) on a real LiveStream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PackagedPart } from '../../src/hls/cmaf-packager.js';
import { PARTS_PER_SEGMENT, PART_FRAMES, type PartPosition } from '../../src/hls/hls-types.js';
import { LiveStream } from '../../src/hls/live-stream.js';
import { parseHlsDirectives, type HlsDirectives } from '../../src/origin/hls-query.js';
import { PartWaiters } from '../../src/origin/part-waiters.js';
import { TribuneError, type ErrorCode } from '../../src/wire/errors.js';

const HEAD: PartPosition = { msn: 5, part: 1 };

/** The error code `parse` throws, or undefined when it returns. */
function codeOf(parse: () => unknown): ErrorCode | undefined {
  try {
    parse();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof TribuneError, `a TribuneError, not ${String(error)}`);
    assert.equal(error.status, 400, `${error.code} is a 400 (§6.2.5.2)`);
    return error.code;
  }
}

const directives = (target: PartPosition | undefined, wholeSegment = false, skip = false): HlsDirectives => ({ target, wholeSegment, skip });

test('a request without directives waits for nothing', () => {
  assert.deepEqual(parseHlsDirectives({}, HEAD), directives(undefined));
  assert.deepEqual(parseHlsDirectives({}, undefined), directives(undefined));
});

test('_HLS_msn alone asks for the whole segment, so its last part', () => {
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '5' }, HEAD), directives({ msn: 5, part: PARTS_PER_SEGMENT - 1 }, true));
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '0' }, HEAD), directives({ msn: 0, part: PARTS_PER_SEGMENT - 1 }, true));
});

test('_HLS_msn with _HLS_part asks for that part', () => {
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '5', _HLS_part: '2' }, HEAD), directives({ msn: 5, part: 2 }));
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '6', _HLS_part: '0' }, HEAD), directives({ msn: 6, part: 0 }));
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '5', _HLS_part: '3' }, HEAD), directives({ msn: 5, part: 3 }));
});

test('_HLS_part without _HLS_msn is HLS_PART_WITHOUT_MSN', () => {
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_part: '1' }, HEAD)), 'HLS_PART_WITHOUT_MSN');
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_part: '0', _HLS_skip: 'YES' }, HEAD)), 'HLS_PART_WITHOUT_MSN');
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_part: '1' }, undefined)), 'HLS_PART_WITHOUT_MSN');
});

test('_HLS_msn more than two segments past the live edge is HLS_MSN_TOO_FAR, and exactly two is fine', () => {
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '7' }, HEAD), directives({ msn: 7, part: 3 }, true));
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '7', _HLS_part: '0' }, HEAD), directives({ msn: 7, part: 0 }));
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_msn: '8' }, HEAD)), 'HLS_MSN_TOO_FAR');
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_msn: '8', _HLS_part: '0' }, HEAD)), 'HLS_MSN_TOO_FAR');
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_msn: '999999999' }, HEAD)), 'HLS_MSN_TOO_FAR');
  // Before the first part the edge is segment 0.
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '2', _HLS_part: '1' }, undefined), directives({ msn: 2, part: 1 }));
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_msn: '3' }, undefined)), 'HLS_MSN_TOO_FAR');
});

test('_HLS_part past the parts of a segment is HLS_PART_TOO_FAR', () => {
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_msn: '5', _HLS_part: String(PARTS_PER_SEGMENT + 1) }, HEAD)), 'HLS_PART_TOO_FAR');
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_msn: '5', _HLS_part: '999999999' }, HEAD)), 'HLS_PART_TOO_FAR');
});

test('_HLS_part equal to the parts of a segment is part 0 of the next segment', () => {
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '5', _HLS_part: String(PARTS_PER_SEGMENT) }, HEAD), directives({ msn: 6, part: 0 }));
  // Also at the +2 limit: the next segment is then three past the edge.
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '7', _HLS_part: String(PARTS_PER_SEGMENT) }, HEAD), directives({ msn: 8, part: 0 }));
});

test('a directive that is not a non-negative decimal integer, or is given twice, is HLS_QUERY_INVALID', () => {
  const bad: unknown[] = ['-1', '1.5', '1e2', '', ' 1', '1 ', '+1', '0x1', 'NaN', 'Infinity', 'abc', '1000000000', '12345678901234567890', ['1', '2'], ['1', '1']];
  for (const value of bad) {
    assert.equal(codeOf(() => parseHlsDirectives({ _HLS_msn: value }, HEAD)), 'HLS_QUERY_INVALID', `_HLS_msn=${JSON.stringify(value)}`);
    assert.equal(codeOf(() => parseHlsDirectives({ _HLS_msn: '5', _HLS_part: value }, HEAD)), 'HLS_QUERY_INVALID', `_HLS_part=${JSON.stringify(value)}`);
  }
  // A duplicate _HLS_part is invalid even before the missing _HLS_msn is noticed.
  assert.equal(codeOf(() => parseHlsDirectives({ _HLS_part: ['1', '2'] }, HEAD)), 'HLS_QUERY_INVALID');
});

test('_HLS_skip takes YES or v2 and nothing else', () => {
  assert.deepEqual(parseHlsDirectives({ _HLS_skip: 'YES' }, HEAD), directives(undefined, false, true));
  assert.deepEqual(parseHlsDirectives({ _HLS_skip: 'v2' }, HEAD), directives(undefined, false, true));
  assert.deepEqual(parseHlsDirectives({ _HLS_msn: '6', _HLS_part: '1', _HLS_skip: 'YES' }, HEAD), directives({ msn: 6, part: 1 }, false, true));
  for (const value of ['yes', 'NO', 'V2', 'v3', '', '1', ['YES', 'YES']]) {
    assert.equal(codeOf(() => parseHlsDirectives({ _HLS_skip: value }, HEAD)), 'HLS_QUERY_INVALID', `_HLS_skip=${JSON.stringify(value)}`);
  }
});

test('other query parameters are ignored: the answer is the same with and without them', () => {
  const junk = { foo: 'bar', _hls_msn: '99', _HLS_MSN: '99', '_HLS_msn ': 'x', _HLS_push: '1', cb: ['1', '2'], t: String(Date.now()) };
  const queries: Record<string, unknown>[] = [{}, { _HLS_msn: '5' }, { _HLS_msn: '6', _HLS_part: '2' }, { _HLS_msn: '5', _HLS_part: '4', _HLS_skip: 'v2' }];
  for (const query of queries) assert.deepEqual(parseHlsDirectives({ ...query, ...junk }, HEAD), parseHlsDirectives(query, HEAD));
  const failing: Record<string, unknown>[] = [{ _HLS_part: '1' }, { _HLS_msn: '8' }, { _HLS_msn: '5', _HLS_part: '9' }, { _HLS_msn: '-1' }];
  for (const query of failing) assert.equal(codeOf(() => parseHlsDirectives({ ...query, ...junk }, HEAD)), codeOf(() => parseHlsDirectives(query, HEAD)));
});

// --- PartWaiters on a real LiveStream ---------------------------------------

/** Appends the part with stream-wide `sequence` (segment sequence / 4, index sequence % 4). */
function appendPart(stream: LiveStream, sequence: number): void {
  const packaged: PackagedPart = { sequence, firstFrame: sequence * PART_FRAMES, frames: PART_FRAMES, bytes: Uint8Array.of(sequence & 0xff), wallClockMs: 1_700_000_000_000 + sequence * 1000 };
  stream.appendPart(packaged);
}

/** Lets settled promises run their callbacks. */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The part a request waits for, as the route computes it. */
const targetOf = (stream: LiveStream, query: Record<string, unknown>): PartPosition => {
  const target = parseHlsDirectives(query, stream.head).target;
  assert.ok(target);
  return target;
};

test('1,000 requests for the same part share one promise and one wake-up, and all see the part', async () => {
  const stream = new LiveStream();
  appendPart(stream, 0);
  const waiters = new PartWaiters(stream, 10_000);
  // Half name the part, half the same part with junk; all coalesce.
  const promises = Array.from({ length: 1000 }, (_, i) => waiters.wait(targetOf(stream, i % 2 ? { _HLS_msn: '0', _HLS_part: '2' } : { _HLS_msn: '0', _HLS_part: '2', r: String(i) })));
  assert.equal(new Set(promises).size, 1, 'one shared promise');
  assert.equal(waiters.pending, 1);
  let settled = 0;
  for (const promise of promises) void promise.then(() => settled++);

  appendPart(stream, 1);
  await flush();
  assert.equal(settled, 0, 'part 0.1 is not the part they wait for');
  assert.equal(waiters.wakeUps, 0);

  appendPart(stream, 2);
  assert.equal(waiters.wakeUps, 1, 'one wake-up for all 1,000');
  assert.equal(waiters.pending, 0);
  assert.deepEqual(new Set(await Promise.all(promises)), new Set([true]));
  assert.equal(settled, 1000);
});

test('a request for a part that exists already does not wait', async () => {
  const stream = new LiveStream();
  for (let sequence = 0; sequence < 6; sequence++) appendPart(stream, sequence);
  const waiters = new PartWaiters(stream, 10_000);
  assert.equal(await waiters.wait({ msn: 1, part: 1 }), true);
  assert.equal(await waiters.wait({ msn: 0, part: 3 }), true);
  assert.equal(waiters.pending, 0);
  assert.equal(waiters.wakeUps, 0);
});

test('waiters for different parts wake in order, each when its own part lands', async () => {
  const stream = new LiveStream();
  appendPart(stream, 0);
  const waiters = new PartWaiters(stream, 10_000);
  const woken: string[] = [];
  // Asked out of order; whole segment 0 (its part 3) and part 4 of segment 0 (part 0 of segment 1) included.
  const asks: Record<string, string>[] = [{ _HLS_msn: '1', _HLS_part: '2' }, { _HLS_msn: '0' }, { _HLS_msn: '0', _HLS_part: '1' }, { _HLS_msn: '0', _HLS_part: '4' }];
  for (const query of asks) {
    const target = targetOf(stream, query);
    void waiters.wait(target).then((available) => woken.push(`${target.msn}.${target.part}:${available}`));
  }
  assert.equal(waiters.pending, 4);
  const seen: string[][] = [];
  for (let sequence = 1; sequence <= 6; sequence++) {
    appendPart(stream, sequence);
    await flush();
    seen.push([...woken]);
  }
  assert.deepEqual(seen, [
    ['0.1:true'], // part 0.1
    ['0.1:true'], // part 0.2
    ['0.1:true', '0.3:true'], // part 0.3: the whole segment 0
    ['0.1:true', '0.3:true', '1.0:true'], // part 1.0
    ['0.1:true', '0.3:true', '1.0:true'], // part 1.1
    ['0.1:true', '0.3:true', '1.0:true', '1.2:true'], // part 1.2
  ]);
  assert.equal(waiters.wakeUps, 4);
  assert.equal(waiters.pending, 0);
});

test('a waiter whose part does not come within the hold limit resolves false', async () => {
  const stream = new LiveStream();
  appendPart(stream, 0);
  const waiters = new PartWaiters(stream, 50);
  const started = performance.now();
  const first = waiters.wait({ msn: 0, part: 1 });
  const second = waiters.wait({ msn: 0, part: 1 });
  assert.equal(first, second);
  assert.equal(await first, false);
  const heldMs = performance.now() - started;
  assert.ok(heldMs >= 45 && heldMs < 1000, `held ${heldMs.toFixed(0)} ms for a 50 ms limit`);
  assert.equal(waiters.pending, 0, 'the timed-out waiter is gone');
  assert.equal(waiters.wakeUps, 0);
  // A later request waits afresh, and sees the part when it lands.
  const again = waiters.wait({ msn: 0, part: 1 });
  assert.notEqual(again, first);
  appendPart(stream, 1);
  assert.equal(await again, true);
});

test('the end of the stream wakes every waiter, and later requests do not wait', async () => {
  const stream = new LiveStream();
  appendPart(stream, 0);
  const waiters = new PartWaiters(stream, 10_000);
  const promises = [waiters.wait({ msn: 0, part: 1 }), waiters.wait({ msn: 1, part: 0 }), waiters.wait({ msn: 2, part: 3 })];
  assert.equal(waiters.pending, 3);
  stream.end();
  assert.deepEqual(await Promise.all(promises), [true, true, true]);
  assert.equal(waiters.pending, 0);
  assert.equal(await waiters.wait({ msn: 9, part: 0 }), true);
  assert.equal(waiters.pending, 0);
});

test('pending waits stay bounded by what the directives allow, however many requests come', async () => {
  const stream = new LiveStream();
  for (let sequence = 0; sequence <= 21; sequence++) appendPart(stream, sequence); // head 5.1
  assert.deepEqual(stream.head, HEAD);
  const waiters = new PartWaiters(stream, 10_000);
  const promises: Promise<boolean>[] = [];
  let refused = 0;
  for (let round = 0; round < 50; round++) {
    for (let msn = 0; msn <= 12; msn++) {
      for (const part of [undefined, '0', '1', '2', '3', '4', '5', '99']) {
        const query: Record<string, unknown> = { _HLS_msn: String(msn), junk: String(round) };
        if (part !== undefined) query._HLS_part = part;
        let target: PartPosition | undefined;
        try {
          target = parseHlsDirectives(query, stream.head).target;
        } catch {
          refused++;
          continue;
        }
        if (target) promises.push(waiters.wait(target));
      }
    }
  }
  assert.ok(refused > 0);
  // Positions after the head 5.1 a request may name: 5.2, 5.3, 6.0-6.3, 7.0-7.3 and 8.0 (7 with _HLS_part=4).
  assert.equal(waiters.pending, 11);
  for (let sequence = 22; sequence <= 32; sequence++) appendPart(stream, sequence);
  assert.equal(waiters.pending, 0);
  assert.equal(waiters.wakeUps, 11);
  assert.deepEqual(new Set(await Promise.all(promises)), new Set([true]));
});
