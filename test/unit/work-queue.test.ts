/**
 * The bounded queue in front of password hashing (src/guard/work-queue.ts):
 * never more than its concurrency at once, a full queue and a long wait are
 * refused at once with 503 OVERLOADED and a Retry-After, and the jobs it
 * admits all finish.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkQueue } from '../../src/guard/work-queue.js';
import { TribuneError } from '../../src/wire/errors.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('at most `concurrency` jobs run at once; the waiting ones run in order as others finish', async () => {
  const queue = new WorkQueue({ concurrency: 2, maxQueued: 10, maxWaitMs: 5_000 });
  let running = 0;
  let most = 0;
  const order: number[] = [];
  const job = (n: number) => async () => {
    running++;
    most = Math.max(most, running);
    await sleep(20);
    running--;
    order.push(n);
    return n;
  };
  const results = await Promise.all(Array.from({ length: 8 }, (_, n) => queue.run(job(n))));
  assert.deepEqual(results, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(most, 2);
  assert.deepEqual(order.slice(0, 2).sort(), [0, 1]);
  assert.deepEqual(queue.stats(), { running: 0, waiting: 0, refused: 0 });
});

test('a full queue refuses at once with 503 OVERLOADED and a Retry-After; the admitted jobs still finish', async () => {
  const queue = new WorkQueue({ concurrency: 1, maxQueued: 2, maxWaitMs: 5_000 });
  const slow = () => sleep(50).then(() => 'done');
  const admitted = [queue.run(slow), queue.run(slow), queue.run(slow)];
  const startedAt = Date.now();
  const refused = await queue.run(slow).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(Date.now() - startedAt < 20, 'refused at once, not after a wait');
  assert.ok(refused instanceof TribuneError);
  assert.equal(refused.code, 'OVERLOADED');
  assert.equal(refused.status, 503);
  assert.ok((refused.retryAfterS ?? 0) >= 1);
  assert.deepEqual(await Promise.all(admitted), ['done', 'done', 'done']);
  assert.equal(queue.stats().refused, 1);
});

test('a job that waits longer than maxWaitMs is refused and leaves the queue; a failing job frees its slot', async () => {
  const queue = new WorkQueue({ concurrency: 1, maxQueued: 5, maxWaitMs: 30 });
  const blocker = queue.run(() => sleep(100));
  const late = await queue.run(async () => 'never').catch((error: unknown) => error);
  assert.ok(late instanceof TribuneError && late.code === 'OVERLOADED');
  assert.equal(queue.stats().waiting, 0);
  await blocker;
  await assert.rejects(queue.run(() => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await queue.run(async () => 'after'), 'after', 'the slot of a failed job is free again');
});
