/**
 * Follows a Space's state feed by long-poll (GET /api/spaces/:id/feed?v=N):
 * the same cacheable answer for every listener, never a WebSocket. Each
 * answer carries the version to ask after next; the server holds the request
 * until a newer one exists (up to 20 s). Failures back off with full
 * jitter, so listeners who lost the server together come back spread out.
 */
import { backoffDelayMs } from '../../client/backoff.js';
import { Emitter } from '../../client/emitter.js';
import type { FeedState } from '../../wire/feed.js';
import { ApiError, api } from '../api-client.js';

export interface FeedWatcherEvents extends Record<string, unknown[]> {
  feed: [FeedState];
  /** The feed cannot be read (network, or the Space does not exist). */
  trouble: [ApiError];
}

/** An answer with no newer version this fast came from a cache (or a closed feed): wait before asking again. */
const CACHED_ANSWER_MS = 300;

const TERMINAL = new Set(['ended', 'cancelled', 'interrupted']);

export class FeedWatcher extends Emitter<FeedWatcherEvents> {
  latest: FeedState | undefined;
  private stopped = false;
  private abort: AbortController | undefined;

  constructor(private readonly spaceId: string) {
    super();
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const askedAt = performance.now();
      this.abort = new AbortController();
      try {
        const feed = await api.feed(this.spaceId, this.latest?.version, this.abort.signal);
        failures = 0;
        if (this.stopped) return;
        if (feed.version === this.latest?.version) {
          if (performance.now() - askedAt < CACHED_ANSWER_MS) await sleep(1000 + Math.random() * 1000);
          continue;
        }
        this.latest = feed;
        this.emit('feed', feed);
        // An ended Space's feed answers at once forever; nothing more will come.
        if (TERMINAL.has(feed.space.state)) return;
      } catch (error) {
        if (this.stopped) return;
        const trouble = error instanceof ApiError ? error : new ApiError('NETWORK', String(error));
        this.emit('trouble', trouble);
        if (trouble.code === 'SPACE_NOT_FOUND' || trouble.code === 'VALIDATION_FAILED') return;
        await sleep(backoffDelayMs(failures++, 1000, 15_000) + 250);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
