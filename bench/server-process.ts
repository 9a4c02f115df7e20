/**
 * A benchmark's Tribune server (bench/*-server.ts) in its own process, so its
 * CPU time is its own and it does not share an event loop with the load
 * generator. The protocol over IPC, common to every server script:
 *   child -> parent  { type: 'ready', url }   once listening
 *   parent -> child  Request                  some answered by one message each, in order
 *   child -> parent  Answer
 *   parent -> child  { type: 'close' }        ends every Space and exits 0
 * Each script documents its own requests and answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { CLOCK_TICKS_PER_S, hostBusyMs, withTimeout } from './bench-util.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

type Tagged = { type: string };
type Ready = { type: 'ready'; url: string };

export interface ServerOptions {
  /** Node flags for the server process only (after `--import tsx`). */
  nodeArgs?: string[];
  /** Added to this process's environment (TRIBUNE_LOG is always 0). */
  env?: NodeJS.ProcessEnv;
}

/** `--cpu-prof` into BENCH_CPU_PROF_DIR when that is set: the server's CPU profile. */
export function cpuProfileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

/** The server's counters and, read right after them, the CPU times around it. */
export interface Sample<Stats> {
  /** performance.now() */
  wallMs: number;
  server: Stats;
  /** The server process's CPU time from /proc (all threads). */
  serverCpuMs: number;
  /** This process's CPU time (process.cpuUsage()), in µs. */
  benchCpuUs: number;
  hostBusyMs: number;
}

export class ServerProcess<Request extends Tagged, Answer extends Tagged> {
  /** Whoever waits for the server's next message, first come first served. */
  private readonly waiters: ((message: Answer | Ready) => void)[] = [];
  private exited = false;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: Answer | Ready) => this.waiters.shift()?.(message));
    child.on('exit', () => {
      this.exited = true;
    });
  }

  /** Starts the server script `entry` and waits for its 'ready'. */
  static async start<Request extends Tagged, Answer extends Tagged>(entry: URL, options: ServerOptions = {}): Promise<{ server: ServerProcess<Request, Answer>; url: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', ...(options.nodeArgs ?? []), fileURLToPath(entry)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, TRIBUNE_LOG: '0', ...options.env },
    });
    const server = new ServerProcess<Request, Answer>(child);
    try {
      const ready = await withTimeout(server.next(), 20_000, 'the server process to start');
      if (ready.type !== 'ready') throw new Error('unexpected first message from the server process');
      return { server, url: (ready as Ready).url };
    } catch (error) {
      server.kill();
      throw error;
    }
  }

  /** A request the server does not answer. */
  send(message: Request): void {
    this.child.send(message);
  }

  /** A request the server answers; its answer must be of type `expect`. */
  async ask<T extends Answer['type']>(message: Request, expect: T, timeoutMs = 10_000): Promise<Extract<Answer, { type: T }>> {
    const reply = this.next();
    this.child.send(message);
    const answer = await withTimeout(reply, timeoutMs, `the server's ${expect}`);
    if (answer.type !== expect) throw new Error(`server answered ${JSON.stringify(answer).slice(0, 200)}`);
    return answer as Extract<Answer, { type: T }>;
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('server process has no pid');
    return this.child.pid;
  }

  /** CPU time of the server process (all threads) from /proc, in ms. */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is field 3, utime 14 and stime 15 (proc(5)).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  }

  /** Asks for the server's counters (within 5 s), then reads the CPU times. */
  async sample<T extends Answer['type']>(request: Request, expect: T): Promise<Sample<Extract<Answer, { type: T }>>> {
    const server = await this.ask(request, expect, 5000);
    const bench = process.cpuUsage();
    return { wallMs: performance.now(), server, serverCpuMs: this.cpuMs(), benchCpuUs: bench.user + bench.system, hostBusyMs: hostBusyMs() };
  }

  /** Asks the server to close, then kills it if it has not exited within 5 s. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ type: 'close' });
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Last resort, synchronous (for process 'exit'). */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private next(): Promise<Answer | Ready> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
