/**
 * What request collapsing costs a blocking request (docs/EDGE.md, "The
 * 500 ms lock poll"): N listeners wait for the same next part, through the
 * nginx edge, through Varnish (deploy/varnish/tribune-edge.vcl, when
 * varnishd is installed) and on the origin itself; for each request, how
 * long after the part landed on the origin its answer was complete.
 *
 *   npx tsx scripts/edge-lock-spread.ts [--clients 200] [--rounds 10] [--stagger 600] [--no-varnish]
 *
 * One origin in this process (scaled mode, an in-memory store, one live
 * Space: the mixer makes a part a second, silence included), the edges as
 * child processes on loopback. Each round waits for a part to land, then
 * sends N requests for the next one (the blocking playlist reload
 * `live.m3u8?_HLS_msn=&_HLS_part=`, or the part itself), spread over the
 * first `stagger` ms like real players arriving at different moments, and
 * timestamps each complete answer against the moment the next part landed.
 * Bounded: rounds × 3 targets × 2 kinds, about 2 s each. Prints a table and,
 * last, one JSON line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configFromEnv } from '../src/config.js';
import { startNginxEdge, type RunningEdge } from '../src/edge/nginx-process.js';
import type { PartPosition } from '../src/hls/hls-types.js';
import { PARTS_PER_SEGMENT } from '../src/hls/hls-types.js';
import type { LiveStream } from '../src/hls/live-stream.js';
import { buildServer } from '../src/server.js';
import { freePort } from '../src/tools/free-port.js';

const VARNISHD = '/usr/sbin/varnishd';
const VCL = fileURLToPath(new URL('../deploy/varnish/tribune-edge.vcl', import.meta.url));

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '10' },
    stagger: { type: 'string', default: '600' },
    'no-varnish': { type: 'boolean', default: false },
  },
});
const CLIENTS = bounded(values.clients, 1, 2000, 'clients');
const ROUNDS = bounded(values.rounds, 1, 100, 'rounds');
const STAGGER_MS = bounded(values.stagger, 0, 900, 'stagger');

function bounded(text: string | undefined, low: number, high: number, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < low || n > high) throw new Error(`--${name} must be an integer ${low}-${high}`);
  return n;
}

interface Target {
  name: string;
  host: string;
  port: number;
  headers: Record<string, string>;
  agent: Agent;
}

type Kind = 'playlist' | 'part';

/**
 * One GET; resolves with the time its answer was complete (performance.now())
 * and the status. A kept-alive connection the server closed as we reused it
 * is retried once on a new one.
 */
async function fetchAt(target: Target, path: string): Promise<{ doneAt: number; status: number }> {
  try {
    return await fetchOnce(target, path);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ECONNRESET') throw error;
    return fetchOnce(target, path);
  }
}

function fetchOnce(target: Target, path: string): Promise<{ doneAt: number; status: number }> {
  return new Promise((resolve, reject) => {
    const request = get({ host: target.host, port: target.port, path, headers: target.headers, agent: target.agent, timeout: 40_000 }, (response) => {
      response.on('data', () => undefined);
      response.on('end', () => resolve({ doneAt: performance.now(), status: response.statusCode ?? 0 }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

function after(head: PartPosition): PartPosition {
  return head.part + 1 >= PARTS_PER_SEGMENT ? { msn: head.msn + 1, part: 0 } : { msn: head.msn, part: head.part + 1 };
}

function nextLanding(stream: LiveStream): Promise<{ head: PartPosition; at: number }> {
  return new Promise((resolve) => stream.once('part', (head: PartPosition) => resolve({ head: { ...head }, at: performance.now() })));
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

async function signUpAndOpenSpace(base: string): Promise<string> {
  let cookies = '';
  const take = (response: Response): void => {
    const jar = new Map(cookies.split('; ').filter(Boolean).map((pair) => pair.split('=') as [string, string]));
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair && eq > 0) jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    cookies = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  };
  const session = await fetch(`${base}/api/session`);
  take(session);
  let csrf = ((await session.json()) as { csrfToken: string }).csrfToken;
  const post = async (path: string, body: unknown): Promise<Response> => {
    const response = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, cookie: cookies }, body: JSON.stringify(body) });
    take(response);
    return response;
  };
  const account = await post('/api/accounts', { username: `spread_${randomBytes(4).toString('hex')}`, password: 'correct horse battery' });
  if (account.status !== 201) throw new Error(`sign-up: ${account.status} ${await account.text()}`);
  csrf = ((await account.json()) as { csrfToken: string }).csrfToken;
  const space = await post('/api/spaces', { title: 'Lock spread' });
  if (space.status !== 201) throw new Error(`open Space: ${space.status} ${await space.text()}`);
  return ((await space.json()) as { space: { id: string } }).space.id;
}

async function startVarnish(originPort: number, secret: string): Promise<{ port: number; stop(): Promise<void> } | undefined> {
  if (values['no-varnish'] || !existsSync(VARNISHD)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tribune-varnish-'));
  // varnishd reads the VCL as its own unprivileged user.
  chmodSync(dir, 0o755);
  const vcl = readFileSync(VCL, 'utf8')
    .replaceAll('.host = "10.0.0.10";', '.host = "127.0.0.1";')
    .replaceAll('.host = "10.0.0.11";', '.host = "127.0.0.1";')
    .replaceAll('.port = "8080";', `.port = "${originPort}";`)
    .replaceAll('"CHANGE-ME"', `"${secret}"`);
  const vclPath = join(dir, 'tribune-edge.vcl');
  writeFileSync(vclPath, vcl);
  const port = await freePort();
  const child: ChildProcess = spawn(VARNISHD, ['-F', '-a', `127.0.0.1:${port}`, '-f', vclPath, '-n', join(dir, 'work'), '-s', 'malloc,64m', '-p', 'timeout_idle=60'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if (child.exitCode !== null) throw new Error(`varnishd exited: ${output}`);
      if (Date.now() > deadline) throw new Error(`varnishd did not answer: ${output}`);
    } catch (error) {
      await stop();
      throw error;
    }
    try {
      const answer = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (answer.ok) break;
    } catch {
      // not yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { port, stop };
}

async function main(): Promise<void> {
  const edgeSecret = randomBytes(24).toString('base64url');
  const config = { ...configFromEnv({}), host: '127.0.0.1', port: 0, edgeSecret, store: { databaseUrl: undefined, sqlitePath: ':memory:' } };
  const tribune = await buildServer(config);
  const originUrl = await tribune.listen();
  const originPort = Number(new URL(originUrl).port);
  const originRequests = new Map<string, number>();
  tribune.app.server.on('request', (request: { url?: string }) => {
    const url = request.url ?? '';
    originRequests.set(url, (originRequests.get(url) ?? 0) + 1);
  });
  let edge: RunningEdge | undefined;
  let varnish: Awaited<ReturnType<typeof startVarnish>>;
  try {
    const id = await signUpAndOpenSpace(originUrl);
    const stream = tribune.spaces.streamOf(id);
    if (!stream) throw new Error('no stream for the Space');
    edge = await startNginxEdge({ port: await freePort(), origin: `127.0.0.1:${originPort}`, edgeSecret, idKey: tribune.idKey, stagePassKey: tribune.stagePassKey, unlimited: ['127.0.0.0/8'] });
    varnish = await startVarnish(originPort, edgeSecret);

    const agent = (): Agent => new Agent({ keepAlive: true, maxSockets: Infinity });
    const targets: Target[] = [
      { name: 'origin', host: '127.0.0.1', port: originPort, headers: { 'x-tribune-edge': edgeSecret }, agent: agent() },
      { name: 'nginx', host: '127.0.0.1', port: Number(new URL(edge.url).port), headers: {}, agent: agent() },
      ...(varnish ? [{ name: 'varnish', host: '127.0.0.1', port: varnish.port, headers: {}, agent: agent() }] : []),
    ];
    // Open CLIENTS connections to each target first, so no round pays for a TCP handshake.
    await nextLanding(stream);
    for (const target of targets) await Promise.all(Array.from({ length: CLIENTS }, () => fetchAt(target, `/hls/${id}/master.m3u8`)));

    const delays = new Map<string, number[]>();
    const spreads = new Map<string, number[]>();
    const originPerRound = new Map<string, number[]>();
    const push = (map: Map<string, number[]>, key: string, value: number): void => {
      map.set(key, [...(map.get(key) ?? []), value]);
    };
    for (const kind of ['playlist', 'part'] as Kind[]) {
      for (let r = 0; r < ROUNDS; r++) {
        for (const target of targets) {
          const landed = await nextLanding(stream);
          const next = after(landed.head);
          const path = kind === 'playlist' ? `/hls/${id}/live.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}` : `/hls/${id}/part/${next.msn}.${next.part}.m4s`;
          const nextLanded = nextLanding(stream);
          const answers = await Promise.all(
            Array.from({ length: CLIENTS }, (_, i) =>
              new Promise<void>((resolve) => setTimeout(resolve, (i * STAGGER_MS) / CLIENTS)).then(() => fetchAt(target, path)),
            ),
          );
          const { at, head } = await nextLanded;
          if (head.msn !== next.msn || head.part !== next.part) throw new Error('a part was skipped');
          const bad = answers.filter((a) => a.status !== 200).length;
          if (bad > 0) throw new Error(`${target.name}: ${bad} answers were not 200`);
          const key = `${target.name} ${kind}`;
          const mine = answers.map((a) => a.doneAt - at);
          for (const d of mine) push(delays, key, d);
          push(spreads, key, Math.max(...mine) - Math.min(...mine));
          push(originPerRound, key, originRequests.get(path) ?? 0);
        }
      }
    }

    const runs = [...delays].map(([key, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      const roundSpreads = [...(spreads.get(key) ?? [])].sort((a, b) => a - b);
      const [system, kind] = key.split(' ');
      return {
        system,
        kind,
        requests: list.length,
        after_part_ms: { p50: round1(quantile(sorted, 0.5)), p90: round1(quantile(sorted, 0.9)), p99: round1(quantile(sorted, 0.99)), max: round1(sorted.at(-1) ?? NaN), mean: round1(list.reduce((a, b) => a + b, 0) / list.length) },
        round_spread_ms_median: round1(quantile(roundSpreads, 0.5)),
        origin_requests_per_round: Math.max(...(originPerRound.get(key) ?? [0])),
      };
    });
    console.log(`${CLIENTS} concurrent blocking requests per round, arriving over ${STAGGER_MS} ms, ${ROUNDS} rounds per system and kind`);
    console.log('system   kind      p50    p90    p99    max   (ms after the part landed)   spread/round   origin req/round');
    for (const run of runs) {
      const t = run.after_part_ms;
      console.log(
        `${run.system?.padEnd(8)} ${run.kind?.padEnd(8)} ${[t.p50, t.p90, t.p99, t.max].map((x) => String(x).padStart(6)).join(' ')}${' '.repeat(31)}${String(run.round_spread_ms_median).padStart(6)}   ${String(run.origin_requests_per_round).padStart(8)}`,
      );
    }
    console.log(JSON.stringify({ clients: CLIENTS, rounds: ROUNDS, stagger_ms: STAGGER_MS, runs }));
    for (const target of targets) target.agent.destroy();
  } finally {
    await varnish?.stop();
    await edge?.stop();
    await tribune.close();
  }
}

await main();
