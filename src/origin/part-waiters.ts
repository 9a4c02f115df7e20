/**
 * Coalesced waits for parts (blocking playlist reload and blocking part
 * requests, RFC 8216bis §6.2.5.2 and §6.2.6). Every request waiting for the
 * same part shares one promise, woken once when the part lands: a thousand
 * waiting listeners cost one wake-up, not a thousand. The map is bounded by
 * what the directives allow (at most two segments past the edge).
 */
import type { LiveStream } from '../hls/live-stream.js';
import type { PartPosition } from '../hls/hls-types.js';
import { reached } from './hls-query.js';

interface Waiter {
  target: PartPosition;
  promise: Promise<boolean>;
  resolve(available: boolean): void;
  timer: NodeJS.Timeout;
}

export class PartWaiters {
  private readonly waiters = new Map<string, Waiter>();
  /** Wake-ups so far: one per part that anyone waited for (for tests and metrics). */
  wakeUps = 0;

  constructor(
    private readonly stream: LiveStream,
    /** The longest hold, in ms: RFC 8216bis §6.2.5.2 says 503 after three target durations. */
    private readonly maxHoldMs: number,
  ) {
    stream.on('part', (head) => this.wake(head));
    stream.on('ended', () => this.wakeAll());
  }

  /** Resolves true once `target` exists (or the stream ended), false after the hold limit. */
  wait(target: PartPosition): Promise<boolean> {
    if (this.stream.ended || reached(this.stream.head, target)) return Promise.resolve(true);
    const key = `${target.msn}.${target.part}`;
    const existing = this.waiters.get(key);
    if (existing) return existing.promise;
    let resolve!: (available: boolean) => void;
    const promise = new Promise<boolean>((r) => (resolve = r));
    const timer = setTimeout(() => {
      this.waiters.delete(key);
      resolve(false);
    }, this.maxHoldMs);
    this.waiters.set(key, { target, promise, resolve, timer });
    return promise;
  }

  get pending(): number {
    return this.waiters.size;
  }

  private wake(head: PartPosition): void {
    for (const [key, waiter] of this.waiters) {
      if (!reached(head, waiter.target)) continue;
      this.waiters.delete(key);
      clearTimeout(waiter.timer);
      this.wakeUps++;
      waiter.resolve(true);
    }
  }

  private wakeAll(): void {
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
    this.waiters.clear();
  }
}
