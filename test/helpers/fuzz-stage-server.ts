/**
 * A Tribune server with one live Space, in a child process, for attacks
 * that may kill the process or balloon its memory: the test that started it
 * survives to say how it died, measures the server's memory and nothing
 * else's, and is not held open by the server's timers.
 *
 * The child talks JSON lines. On start it prints
 *   {"url", "spaceId", "passes": [stage passes of new accepted speakers]}
 * and, with `weriftMembers`, runs two werift stage members A and B itself,
 * each sending 10 packets every 200 ms, and prints
 *   {"received": {"a": N, "b": N}}   RTP packets each has received so far
 * every 200 ms. On stdin it answers
 *   {"cmd": "ports"}   -> {"ports": [{port, ufrag}]}: the SFU's host candidate
 *                          ports and ICE ufrag of every member on stage
 *   {"cmd": "memory"}  -> {"memory": {heapMb, externalMb, rssMb}} after a full GC
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { DatagramTarget } from './fuzz-datagrams.js';

/** Time between the members connecting and the stage being offered to an attack, in ms. */
export const SETTLE_MS = 1000;

export interface StageServerOptions {
  /** New accepted speakers' stage passes to print. */
  passes: number;
  /** Run werift members A and B in the child. */
  weriftMembers: boolean;
}

export interface Memory {
  heapMb: number;
  externalMb: number;
  rssMb: number;
}

export interface StageServer {
  url: string;
  spaceId: string;
  passes: string[];
  /** RTP packets members A and B (weriftMembers) have received, as last reported. */
  received(): { a: number; b: number };
  ports(): Promise<DatagramTarget[]>;
  memory(): Promise<Memory>;
  /** How the child ended, once it has: exit code or signal, and the end of its stderr. */
  ended(): { code: number | null; signal: string | null; stderr: string } | undefined;
  /** Kills the child (a server under attack needs no clean shutdown). */
  stop(): void;
}

export function startStageServer(options: StageServerOptions, timeoutMs = 40_000): Promise<StageServer> {
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(options)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  let received = { a: 0, b: 0 };
  let ended: { code: number | null; signal: string | null; stderr: string } | undefined;
  const waiting: ((line: Record<string, unknown>) => boolean)[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-6000)));
  child.on('exit', (code, signal) => (ended = { code, signal, stderr }));

  const ask = <T>(cmd: string, key: string): Promise<T> =>
    new Promise((resolve, reject) => {
      if (ended) return reject(new Error(`the server is gone (code ${ended.code}, signal ${ended.signal})`));
      waiting.push((line) => (key in line ? (resolve(line[key] as T), true) : false));
      child.stdin.write(`${JSON.stringify({ cmd })}\n`);
    });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the stage server did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('exit', () => {
      clearTimeout(timer);
      reject(new Error(`the stage server ended before it started: ${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as Record<string, unknown>;
      if (line.received) received = line.received as { a: number; b: number };
      const index = waiting.findIndex((take) => take(line));
      if (index >= 0) waiting.splice(index, 1);
      if (typeof line.url === 'string') {
        clearTimeout(timer);
        resolve({
          url: line.url,
          spaceId: line.spaceId as string,
          passes: line.passes as string[],
          received: () => received,
          ports: () => ask<DatagramTarget[]>('ports', 'ports'),
          memory: () => ask<Memory>('memory', 'memory'),
          ended: () => ended,
          stop: () => void child.kill('SIGKILL'),
        });
      }
    });
  });
}

async function serve(options: StageServerOptions): Promise<void> {
  const { stageUrl } = await import('./raw-stage-client.js');
  const { sleep, startTribune, waitFor } = await import('./tribune.js');
  const { WeriftMember } = await import('./werift-member.js');
  const print = (line: unknown): boolean => process.stdout.write(`${JSON.stringify(line)}\n`);
  const gc = (globalThis as { gc?: () => void }).gc;
  const server = await startTribune();
  const space = await server.createSpace('Under attack');
  const passes: string[] = [];
  for (let i = 0; i < options.passes; i++) passes.push(await space.speakerPass(`speaker ${i}`));
  if (options.weriftMembers) {
    const a = new WeriftMember(stageUrl(server.url, space.space.id, await space.speakerPass('A')), 'A');
    const b = new WeriftMember(stageUrl(server.url, space.space.id, await space.speakerPass('B')), 'B');
    await a.join();
    await b.join();
    await Promise.all([a.connected(), b.connected()]);
    await waitFor(() => a.session.trackOf(b.me?.id ?? '') !== undefined && b.session.trackOf(a.me?.id ?? '') !== undefined, 5000, 'A and B to receive each other');
    await sleep(SETTLE_MS);
    setInterval(() => {
      void a.sendAudio(10, 0).catch(() => undefined);
      void b.sendAudio(10, 0).catch(() => undefined);
      print({ received: { a: a.rtpReceived, b: b.rtpReceived } });
    }, 200);
  }
  createInterface({ input: process.stdin }).on('line', (text) => {
    const { cmd } = JSON.parse(text) as { cmd: string };
    if (cmd === 'ports') {
      const stage = server.tribune.spaces.loaded(space.space.id)?.stage;
      const ports: DatagramTarget[] = [];
      for (const member of stage?.memberViews() ?? []) {
        const local = stage?.router.peer(member.id)?.descriptions().local ?? '';
        const ufrag = /^a=ice-ufrag:(\S+)/m.exec(local)?.[1] ?? '';
        for (const [, port] of local.matchAll(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host/gim)) {
          if (!ports.some((p) => p.port === Number(port))) ports.push({ port: Number(port), ufrag });
        }
      }
      print({ ports });
    } else if (cmd === 'memory') {
      gc?.();
      const { heapUsed, external, rss } = process.memoryUsage();
      print({ memory: { heapMb: Math.round(heapUsed / 2 ** 20), externalMb: Math.round(external / 2 ** 20), rssMb: Math.round(rss / 2 ** 20) } });
    }
  });
  // Ends with the test that started it, if nobody killed it first.
  process.stdin.on('end', () => process.exit(0));
  print({ url: server.url, spaceId: space.space.id, passes });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await serve(JSON.parse(process.argv[2] ?? '{}') as StageServerOptions);
