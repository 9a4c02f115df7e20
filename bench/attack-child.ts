/**
 * A helper process of the attack harness (the speakers, the attacker): a
 * script run with tsx and an IPC channel, asked one thing at a time, at a
 * CPU priority of its own (nice), killed when the harness exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './bench-util.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

type Tagged = { type: string };

export class ChildScript<Request extends Tagged, Answer extends Tagged> {
  private readonly waiters: { resolve: (message: Answer) => void; reject: (error: Error) => void }[] = [];
  exited = false;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: Answer) => this.waiters.shift()?.resolve(message));
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const waiter of this.waiters.splice(0)) waiter.reject(new Error(`the process exited (${signal ?? code})`));
    });
  }

  /** Starts `entry`; `nice` is its priority (-20..19; lowering it needs root, else it stays at 0). */
  static start<Request extends Tagged, Answer extends Tagged>(entry: URL, nice: number): ChildScript<Request, Answer> {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(entry)], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      if (child.pid !== undefined) setPriority(child.pid, nice);
    } catch {
      // Not permitted (not root): the default priority.
    }
    const script = new ChildScript<Request, Answer>(child);
    process.once('exit', () => script.kill());
    return script;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** The next message from the child (the first: its 'ready'). */
  next(timeoutMs: number, what: string): Promise<Answer> {
    if (this.exited) return Promise.reject(new Error(`the process for ${what} has exited`));
    let waiter: (typeof this.waiters)[number] | undefined;
    const answer = new Promise<Answer>((resolve, reject) => this.waiters.push((waiter = { resolve, reject })));
    // A waiter that timed out must not take the answer meant for the next one.
    return withTimeout(answer, timeoutMs, what).catch((error: unknown) => {
      const at = waiter ? this.waiters.indexOf(waiter) : -1;
      if (at >= 0) this.waiters.splice(at, 1);
      throw error;
    });
  }

  /** Sends `message` and waits for its answer. */
  ask(message: Request, timeoutMs: number, what: string): Promise<Answer> {
    const answer = this.next(timeoutMs, what);
    this.child.send(message);
    return answer;
  }

  send(message: Request): void {
    if (this.child.connected) this.child.send(message);
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Asks it to close, then kills it after 3 s. */
  async stop(close: Request): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send(close);
    const timer = setTimeout(() => this.kill(), 3000);
    await exited;
    clearTimeout(timer);
  }
}
