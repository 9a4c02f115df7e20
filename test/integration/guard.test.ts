/**
 * The guard (issue 6, "Defences"): rate limits per address, account and
 * token at their real sizes, shared through Redis and held in memory when
 * Redis dies (never failing open); shedding by priority; slow-header
 * connections closed; connections per address bounded.
 *
 * Loopback is a /8: requests from 127.0.0.2, 127.0.0.3… are distinct client
 * addresses, so one machine can be many clients.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { configFromEnv } from '../../src/config.js';
import { DEFAULT_SHEDDER } from '../../src/guard/load-shedder.js';
import { LIMIT_POLICIES } from '../../src/guard/rate-limits.js';
import { TestAccount } from '../helpers/accounts.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { assertError } from '../helpers/spaces-api.js';
import { sleep, startTribune, type RunningTribune } from '../helpers/tribune.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request from a chosen loopback address. */
function request(base: string, from: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, localAddress: from, agent: false, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end(payload);
  });
}

const code = (answer: Answer): string | undefined => (JSON.parse(answer.body || '{}') as { error?: { code: string } }).error?.code;
const beacon = (listener: string): { listener: string } => ({ listener: listener.padEnd(16, 'x') });

describe('rate limits at their real size', () => {
  let server: RunningTribune;
  let spaceId: string;
  before(async () => {
    server = await startTribune({ guard: { ...configFromEnv({}).guard, shedder: { ...DEFAULT_SHEDDER, delayMs: [500, 1000, 2000, 4000] } } });
    spaceId = (await server.createSpace('Guarded')).space.id;
  });
  after(() => server?.close());

  test('beacons: one address gets its budget, then 429 RATE_LIMITED with Retry-After; another address is untouched', async () => {
    const budget = LIMIT_POLICIES.beacon.per.ip ?? 0;
    const path = `/api/spaces/${spaceId}/presence`;
    const answers = await Promise.all(Array.from({ length: budget + 20 }, (_, i) => request(server.url, '127.0.0.2', 'POST', path, beacon(`a${i}`))));
    const ok = answers.filter((a) => a.status === 200 || a.status === 204).length;
    const limited = answers.filter((a) => a.status === 429);
    assert.equal(ok, budget, `${ok} beacons passed, the budget is ${budget}`);
    assert.equal(limited.length, 20);
    assert.equal(code(limited[0]!), 'RATE_LIMITED');
    assert.ok(Number(limited[0]!.headers['retry-after']) >= 1, 'Retry-After says when');
    const other = await request(server.url, '127.0.0.3', 'POST', path, beacon('other'));
    assert.ok(other.status === 200 || other.status === 204, `another address: ${other.status} ${other.body}`);
  });

  test('sign-ups: 20 an hour per address, then 429; the refused ones create no account', async () => {
    const from = '127.0.0.4';
    const budget = LIMIT_POLICIES['sign-up'].per.ip ?? 0;
    let created = 0;
    let refused = 0;
    for (let i = 0; i < budget + 3; i++) {
      const answer = await signUpFrom(server.url, from, `guard_${i}_${Date.now() % 100000}`);
      if (answer.status === 201) created++;
      else if (answer.status === 429 && code(answer) === 'RATE_LIMITED') refused++;
      else assert.fail(`sign-up ${i}: ${answer.status} ${answer.body}`);
    }
    assert.deepEqual({ created, refused }, { created: budget, refused: 3 });
    const refusedName = await request(server.url, from, 'GET', `/api/session`);
    assert.equal(refusedName.status, 200, 'reading is not a write: still served');
  });

  test('an API token has its own budget: requests to speak beyond it get 429 whatever address they come from', async () => {
    const person = await TestAccount.signUp(server.url);
    const budget = LIMIT_POLICIES['speak-request'].per.token ?? 0;
    const statuses: number[] = [];
    for (let i = 0; i < budget + 2; i++) {
      const answer = await person.bot(i % 2 ? 'POST' : 'DELETE', i % 2 ? `/api/spaces/${spaceId}/requests` : `/api/spaces/${spaceId}/requests/me`, i % 2 ? {} : undefined);
      statuses.push(answer.status);
    }
    // Only the POSTs count against speak-request; the DELETEs are plain writes.
    const posts = statuses.filter((_, i) => i % 2 === 1);
    assert.ok(posts.every((s) => s !== 429), `within budget: ${posts.join(',')}`);
    let last: number | undefined;
    for (let i = 0; i < budget + 1; i++) last = (await person.bot('POST', `/api/spaces/${spaceId}/requests`, {})).status;
    assert.equal(last, 429);
  });
});

describe('shared through Redis, held in memory when Redis dies', () => {
  let redis: TestRedis;
  let a: RunningTribune;
  let b: RunningTribune;
  let spaceA: string;
  let spaceB: string;
  before(async () => {
    redis = await startRedis();
    const guard = { ...configFromEnv({}).guard, redisUrl: redis.url, shedder: { ...DEFAULT_SHEDDER, delayMs: [500, 1000, 2000, 4000] as const } };
    a = await startTribune({ guard });
    b = await startTribune({ guard });
    spaceA = (await a.createSpace('Node A')).space.id;
    spaceB = (await b.createSpace('Node B')).space.id;
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await redis?.kill().catch(() => undefined);
  });

  test('two nodes count one address against one budget', async () => {
    const budget = LIMIT_POLICIES.beacon.per.ip ?? 0;
    const half = budget / 2;
    const send = (server: RunningTribune, space: string, n: number, tag: string) =>
      Promise.all(Array.from({ length: n }, (_, i) => request(server.url, '127.0.0.5', 'POST', `/api/spaces/${space}/presence`, beacon(`${tag}${i}`))));
    const first = await send(a, spaceA, half, 'a');
    const second = await send(b, spaceB, half, 'b');
    assert.ok([...first, ...second].every((x) => x.status < 300), 'the budget, split over two nodes, passes');
    const over = await send(b, spaceB, 5, 'c');
    assert.ok(over.every((x) => x.status === 429), `node B refuses once A and B together spent it: ${over.map((x) => x.status).join(',')}`);
  });

  test('with Redis killed, limits still hold per node (the in-memory fallback), and requests are answered at once', async () => {
    await redis.kill();
    await sleep(200);
    const budget = LIMIT_POLICIES.beacon.per.ip ?? 0;
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: budget + 10 }, (_, i) => request(a.url, '127.0.0.6', 'POST', `/api/spaces/${spaceA}/presence`, beacon(`d${i}`))));
    assert.ok(Date.now() - started < 8_000, 'nothing waited on the dead Redis');
    const passed = answers.filter((x) => x.status < 300).length;
    const limited = answers.filter((x) => x.status === 429).length;
    assert.equal(passed, budget, 'the fallback enforces the same budget: it does not fail open');
    assert.equal(limited, 10);
  });
});

describe('shedding by priority', () => {
  let server: RunningTribune;
  let spaceId: string;
  before(async () => {
    server = await startTribune();
    const created = await server.createSpace('Under load');
    spaceId = created.space.id;
  });
  after(async () => {
    server.tribune.shedder.force(undefined);
    await server?.close();
  });

  test('each level sheds the least important requests first, with 503 OVERLOADED and Retry-After; speakers are never shed', async () => {
    const host = await TestAccount.signUp(server.url);
    const mine = await host.bot<{ space: { id: string } }>('POST', '/api/spaces', { title: 'Mine' });
    const probes = {
      other: () => host.bot('GET', '/api/notifications'),
      chatter: () => host.bot('POST', `/api/spaces/${spaceId}/presence`, beacon('shed')),
      join: () => host.bot('GET', `/api/spaces/${spaceId}`),
      edge: () => host.bot('GET', `/hls/${spaceId}/master.m3u8`),
      stage: () => host.bot('POST', `/api/spaces/${mine.body.space.id}/stage-pass`, {}),
    };
    const order = ['other', 'chatter', 'join', 'edge'] as const;
    for (let level = 0; level <= 4; level++) {
      server.tribune.shedder.force(level);
      for (const [i, priority] of order.entries()) {
        const answer = await probes[priority]();
        if (i < level) {
          assertError(answer, 503, 'OVERLOADED', `level ${level}, ${priority}`);
        } else {
          assert.ok(answer.status < 500, `level ${level}: ${priority} is served (${answer.status})`);
        }
      }
      const stage = await probes.stage();
      assert.equal(stage.status, 200, `level ${level}: the stage pass is served`);
    }
    server.tribune.shedder.force(undefined);
  });

  test('a busy event loop raises the level by itself, and it falls again when the load goes', async () => {
    // A fresh server with the real thresholds, loaded by a timer that keeps the loop 120 ms late.
    const loaded = await startTribune({ guard: { ...configFromEnv({}).guard, ipScale: 1000 } });
    try {
      let busy = true;
      const hog = (): void => {
        if (!busy) return;
        const until = Date.now() + 120;
        while (Date.now() < until) {
          /* the loop is late */
        }
        setTimeout(hog, 5);
      };
      hog();
      let shed = false;
      for (let i = 0; i < 40 && !shed; i++) {
        await sleep(100);
        shed = loaded.tribune.shedder.state().level >= 2;
      }
      busy = false;
      assert.ok(shed, `the level rose: ${JSON.stringify(loaded.tribune.shedder.state())}`);
      let recovered = false;
      for (let i = 0; i < 40 && !recovered; i++) {
        await sleep(100);
        recovered = loaded.tribune.shedder.state().level === 0;
      }
      assert.ok(recovered, `the level fell back: ${JSON.stringify(loaded.tribune.shedder.state())}`);
    } finally {
      await loaded.close();
    }
  });
});

describe('connections', () => {
  let server: RunningTribune;
  before(async () => {
    server = await startTribune({ guard: { ...configFromEnv({}).guard, ipScale: 1000, connectionsPerAddress: 20, headersTimeoutMs: 1_000, shedder: { ...DEFAULT_SHEDDER, delayMs: [500, 1000, 2000, 4000] } } });
  });
  after(() => server?.close());

  const open = (from: string): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const url = new URL(server.url);
      const socket = connect({ host: url.hostname, port: Number(url.port), localAddress: from });
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
  const closed = (socket: Socket): Promise<void> => new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

  test('slow-header connections are closed after the headers timeout, and a normal request is served meanwhile', async () => {
    const sockets = await Promise.all(Array.from({ length: 15 }, () => open('127.0.0.7')));
    for (const socket of sockets) {
      socket.on('error', () => undefined);
      socket.write('GET /api/spaces HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    }
    const trickle = setInterval(() => sockets.forEach((s) => s.writable && s.write('a')), 200);
    try {
      const normal = await request(server.url, '127.0.0.8', 'GET', '/api/spaces');
      assert.equal(normal.status, 200);
      const started = Date.now();
      await Promise.all(sockets.map(closed));
      assert.ok(Date.now() - started < 5_000, 'closed within the timeout and a check interval');
    } finally {
      clearInterval(trickle);
      for (const socket of sockets) socket.destroy();
    }
  });

  test('one address holds at most 20 connections; the rest are closed at once, other addresses are not affected', async () => {
    const sockets = await Promise.all(Array.from({ length: 30 }, () => open('127.0.0.9')));
    for (const socket of sockets) socket.on('error', () => undefined);
    await sleep(300);
    const alive = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    assert.equal(alive, 20);
    const other = await request(server.url, '127.0.0.10', 'GET', '/api/spaces');
    assert.equal(other.status, 200);
    for (const socket of sockets) socket.destroy();
  });

  test('a request with 2,000 headers, or 20 KiB of them, is refused with 431 before any route runs', async () => {
    const headers: Record<string, string> = { host: 'tribune.test' };
    for (let i = 0; i < 2000; i++) headers[`x-h${i}`] = 'v';
    const answer = await request(server.url, '127.0.0.11', 'GET', '/api/spaces', undefined, headers);
    assert.equal(answer.status, 431, `${answer.status} ${answer.body}`);
    assert.equal(code(answer), 'HEADERS_TOO_LARGE');
    const big = await request(server.url, '127.0.0.11', 'GET', '/api/spaces', undefined, { 'x-big': 'b'.repeat(20 * 1024) });
    assert.equal(big.status, 431, `${big.status} ${big.body}`);
    assert.equal(code(big), 'HEADERS_TOO_LARGE');
  });
});

describe('an origin that accepts only its edges (TRIBUNE_ACCEPT_FROM)', () => {
  let server: RunningTribune;
  let requestsRead = 0;
  before(async () => {
    server = await startTribune({ acceptFrom: ['127.0.0.1', '127.0.5.0/24'] });
    server.tribune.app.server.on('request', () => requestsRead++);
  });
  after(() => server?.close());

  test('anyone else is closed before a byte of their request is read; the edges are served', async () => {
    const before = requestsRead;
    const url = new URL(server.url);
    const outcomes = await Promise.all(
      ['127.0.0.2', '127.0.6.1', '127.0.0.3'].map(
        (from) =>
          new Promise<string>((resolve) => {
            const socket = connect({ host: url.hostname, port: Number(url.port), localAddress: from });
            let answered = '';
            socket.on('data', (chunk: Buffer) => (answered += chunk.toString()));
            socket.on('connect', () => socket.write('GET /api/spaces HTTP/1.1\r\nHost: x\r\n\r\n'));
            socket.on('error', () => undefined);
            socket.on('close', () => resolve(answered === '' ? 'closed without an answer' : answered.split('\r\n')[0] ?? ''));
          }),
      ),
    );
    assert.deepEqual(outcomes, ['closed without an answer', 'closed without an answer', 'closed without an answer']);
    assert.equal(requestsRead, before, 'the origin read none of their requests');
    assert.equal((await request(server.url, '127.0.0.1', 'GET', '/api/spaces')).status, 200);
    assert.equal((await request(server.url, '127.0.5.9', 'GET', '/api/spaces')).status, 200, 'a listed subnet is served');
    const health = JSON.parse((await request(server.url, '127.0.0.1', 'GET', '/healthz')).body) as { connections: { turnedAway: number } };
    assert.equal(health.connections.turnedAway, 3);
  });

  test('the setting is read from TRIBUNE_ACCEPT_FROM, and TRIBUNE_ID_KEY must be a hex key', () => {
    assert.deepEqual(configFromEnv({ TRIBUNE_ACCEPT_FROM: ' 10.0.0.5, 10.1.0.0/16 ,' }).acceptFrom, ['10.0.0.5', '10.1.0.0/16']);
    assert.deepEqual(configFromEnv({}).acceptFrom, []);
    assert.equal(configFromEnv({ TRIBUNE_ID_KEY: 'ab'.repeat(32) }).idKey?.length, 32);
    assert.throws(() => configFromEnv({ TRIBUNE_ID_KEY: 'not hex' }), /TRIBUNE_ID_KEY/);
    assert.throws(() => configFromEnv({ TRIBUNE_ID_KEY: 'abcd' }), /TRIBUNE_ID_KEY/);
  });
});

async function signUpFrom(base: string, from: string, username: string): Promise<Answer> {
  const session = await request(base, from, 'GET', '/api/session');
  const cookies = ([] as string[]).concat(session.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  const csrf = (JSON.parse(session.body) as { csrfToken: string }).csrfToken;
  return request(base, from, 'POST', '/api/accounts', { username, password: 'correct horse battery' }, { cookie: cookies, 'x-csrf-token': csrf });
}
