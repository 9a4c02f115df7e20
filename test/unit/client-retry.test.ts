/** The clients' retry policy (src/client/retry.ts): what is retried, how often, how long apart. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_RETRIES, fetchWithRetries, retryAfterMs } from '../../src/client/retry.js';

function scripted(answers: (number | 'network')[]): { send: () => Promise<Response>; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    send: async () => {
      const next = answers[Math.min(calls++, answers.length - 1)];
      if (next === 'network') throw new TypeError('fetch failed');
      return new Response('{}', { status: next ?? 200, headers: next === 503 ? { 'retry-after': '2' } : {} });
    },
  };
}

test('a refusal (503, 429) is retried for any method, after at least Retry-After, then the answer comes through', async () => {
  const slept: number[] = [];
  const server = scripted([503, 429, 200]);
  const response = await fetchWithRetries(server.send, { idempotent: false, sleep: async (ms) => void slept.push(ms), random: () => 0.5 });
  assert.equal(response.status, 200);
  assert.equal(server.calls(), 3);
  assert.ok(slept[0]! >= 2000, `waited ${slept[0]} ms after a Retry-After of 2 s`);
});

test(`at most ${MAX_RETRIES} retries: the last refusal is handed back`, async () => {
  const server = scripted([429]);
  const response = await fetchWithRetries(server.send, { idempotent: true, sleep: async () => undefined });
  assert.equal(response.status, 429);
  assert.equal(server.calls(), MAX_RETRIES + 1);
});

test('a POST that failed on the network is not repeated; a GET is', async () => {
  const post = scripted(['network', 200]);
  await assert.rejects(fetchWithRetries(post.send, { idempotent: false, sleep: async () => undefined }), TypeError);
  assert.equal(post.calls(), 1);
  const get = scripted(['network', 502, 200]);
  assert.equal((await fetchWithRetries(get.send, { idempotent: true, sleep: async () => undefined })).status, 200);
  assert.equal(get.calls(), 3);
});

test('errors that will not change (400, 401, 403, 404, 409, 500) are not retried', async () => {
  for (const status of [400, 401, 403, 404, 409, 500]) {
    const server = scripted([status, 200]);
    assert.equal((await fetchWithRetries(server.send, { idempotent: true, sleep: async () => undefined })).status, status);
    assert.equal(server.calls(), 1, `${status}`);
  }
});

test('a Retry-After beyond 30 s is not waited for: the caller hears it at once', async () => {
  let calls = 0;
  const response = await fetchWithRetries(async () => (calls++, new Response('', { status: 503, headers: { 'retry-after': '120' } })), { idempotent: true, sleep: async () => assert.fail('slept') });
  assert.equal(response.status, 503);
  assert.equal(calls, 1);
});

test('1,000 clients refused at once come back spread out, not in one wave (full jitter)', async () => {
  const firstRetryAt: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const server = scripted([503, 200]);
    await fetchWithRetries(server.send, { idempotent: true, sleep: async (ms) => void firstRetryAt.push(ms) });
  }
  // Retry-After 2 s plus jitter in [0, 500) ms: no 50 ms window holds more than a fifth of them.
  const buckets = new Map<number, number>();
  for (const ms of firstRetryAt) buckets.set(Math.floor(ms / 50), (buckets.get(Math.floor(ms / 50)) ?? 0) + 1);
  assert.ok(Math.max(...buckets.values()) < 200, `the busiest 50 ms holds ${Math.max(...buckets.values())} of 1,000`);
  assert.ok(Math.min(...firstRetryAt) >= 2000 && Math.max(...firstRetryAt) < 2500);
});

test('Retry-After parses delay-seconds and HTTP dates', () => {
  assert.equal(retryAfterMs('3'), 3000);
  assert.equal(retryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(null), undefined);
});
