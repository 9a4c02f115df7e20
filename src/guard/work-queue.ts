/**
 * Bounded admission to a scarce worker pool: at most `concurrency` jobs
 * run at once, at most `maxQueued` wait, and none waits longer than
 * `maxWaitMs`. Anything beyond is refused at once with 503 OVERLOADED and a
 * Retry-After, instead of queueing without end.
 *
 * Why: Argon2id runs on libuv's thread pool (4 threads by default), which
 * also does the file system work live audio depends on: a recorded Space's
 * journal is fdatasync'ed there before each part is published. A sign-in
 * surge that filled the pool would delay parts for every listener; capped
 * here, it leaves threads free and its excess is told to come back.
 */
import { TribuneError } from '../wire/errors.js';

export interface WorkQueueOptions {
  concurrency: number;
  maxQueued: number;
  maxWaitMs: number;
}

interface Waiter {
  start: () => void;
  timer: NodeJS.Timeout;
}

export class WorkQueue {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  private refusedCount = 0;
  /** Mean job time, for the Retry-After estimate. */
  private meanJobMs = 50;

  constructor(private readonly options: WorkQueueOptions) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.concurrency) await this.wait();
    this.running++;
    const startedAt = performance.now();
    try {
      return await job();
    } finally {
      this.meanJobMs = this.meanJobMs * 0.9 + (performance.now() - startedAt) * 0.1;
      this.running--;
      this.waiting.shift()?.start();
    }
  }

  stats(): { running: number; waiting: number; refused: number } {
    return { running: this.running, waiting: this.waiting.length, refused: this.refusedCount };
  }

  private wait(): Promise<void> {
    if (this.waiting.length >= this.options.maxQueued) {
      this.refusedCount++;
      return Promise.reject(this.overloaded('the queue is full'));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          this.refusedCount++;
          reject(this.overloaded('waited too long'));
        }, this.options.maxWaitMs),
      };
      this.waiting.push(waiter);
    });
  }

  private overloaded(why: string): TribuneError {
    // When the queue ahead would be done, spread by jitter so the refused do not come back together.
    const drainS = ((this.waiting.length + 1) * this.meanJobMs) / this.options.concurrency / 1000;
    const retryAfterS = Math.max(1, Math.ceil(drainS * (1 + Math.random())));
    return new TribuneError('OVERLOADED', `password checks: ${why}`, { retryAfterS });
  }
}
