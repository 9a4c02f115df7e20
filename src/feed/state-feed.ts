/**
 * A versioned document with long-poll: the listener half of a Space's state.
 * Built once per version, whatever the number of listeners: every waiting
 * request gets the same bytes (like a blocking playlist reload, RFC 8216bis
 * §6.2.5.2, and for the same reason: an edge can collapse and cache it).
 *
 * Versions start from the clock and only grow, so a client that polls with
 * a version from before a restart is answered at once instead of hanging.
 */
import type { FeedState } from '../wire/feed.js';

export interface FeedSnapshot {
  version: number;
  body: Buffer;
}

/** Coalesces routine changes (counts, reactions, talking) to one version per this long. */
export const FEED_TICK_MS = 1000;
/** Changes people act on (stage, roles, start, end) go out this soon. */
const URGENT_MS = 50;

export class StateFeed {
  private snapshot: FeedSnapshot;
  private waiters = new Set<(snapshot: FeedSnapshot) => void>();
  private urgentTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private closed = false;
  /** How many times the document was serialized; one per version. */
  builds = 0;

  constructor(private readonly build: () => Omit<FeedState, 'version'>) {
    this.snapshot = this.serialize(Date.now());
  }

  get version(): number {
    return this.snapshot.version;
  }

  current(): FeedSnapshot {
    return this.snapshot;
  }

  /** Something changed; urgent changes go out within 50 ms, the rest at the next tick. */
  changed(urgent = false): void {
    if (this.closed) return;
    this.dirty = true;
    if (urgent && !this.urgentTimer) {
      this.urgentTimer = setTimeout(() => {
        this.urgentTimer = undefined;
        this.publishIfDirty();
      }, URGENT_MS);
    }
  }

  /** Called every FEED_TICK_MS by the owner. */
  publishIfDirty(): void {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    this.snapshot = this.serialize(Math.max(this.snapshot.version + 1, Date.now()));
    this.wakeAll();
  }

  /**
   * The first version after `after`, at once if there is one, else when it
   * appears or after `holdMs` (then the current one again).
   */
  next(after: number | undefined, holdMs: number): Promise<FeedSnapshot> {
    if (after === undefined || after < this.snapshot.version || after > this.snapshot.version || this.closed) {
      return Promise.resolve(this.snapshot);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        resolve(this.snapshot);
      }, holdMs);
      const wake = (snapshot: FeedSnapshot): void => {
        clearTimeout(timer);
        resolve(snapshot);
      };
      this.waiters.add(wake);
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /** Publishes a last version (if dirty) and releases every waiter. */
  close(): void {
    clearTimeout(this.urgentTimer);
    this.publishIfDirty();
    this.closed = true;
    this.wakeAll();
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake(this.snapshot);
  }

  private serialize(version: number): FeedSnapshot {
    this.builds++;
    return { version, body: Buffer.from(JSON.stringify({ version, ...this.build() })) };
  }
}
