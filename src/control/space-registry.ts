/**
 * The Spaces this process knows, as hubs: loaded from the store on first
 * use (a lobby, a live Space, an ended one asked for by its page), created
 * through the API. Ended and cancelled Spaces leave memory after a while;
 * the store still answers for them.
 */
import type { LiveStream } from '../hls/live-stream.js';
import type { StoredAccount } from '../store/account-store.js';
import { TribuneError } from '../wire/errors.js';
import type { HubDeps } from './hub-deps.js';
import type { NewSpace } from './space-hub.js';
import { SpaceHub } from './space-hub.js';

/** How long a finished Space stays in memory, in ms. */
const FINISHED_RETENTION_MS = 10 * 60 * 1000;
/** Hubs of Spaces that are not live (lobbies, finished) kept in memory at most. */
const MAX_IDLE_HUBS = 10_000;

export class SpaceRegistry {
  private readonly hubs = new Map<string, SpaceHub>();
  private readonly loading = new Map<string, Promise<SpaceHub | undefined>>();

  constructor(
    private readonly deps: Omit<HubDeps, 'reserveLiveSlot'>,
    private readonly maxLiveSpaces: number,
  ) {}

  private get hubDeps(): HubDeps {
    return { ...this.deps, reserveLiveSlot: () => this.reserveLiveSlot() };
  }

  async create(host: StoredAccount, input: NewSpace): Promise<SpaceHub> {
    this.evict();
    if (input.startsAtMs === null) this.reserveLiveSlot();
    const hub = await SpaceHub.create(host, input, this.hubDeps);
    this.hubs.set(hub.id, hub);
    return hub;
  }

  /** The hub of a Space, from memory or the store; undefined when there is no such Space. */
  find(id: string): Promise<SpaceHub | undefined> {
    const hub = this.hubs.get(id);
    if (hub) return Promise.resolve(hub);
    // An id we did not mint names no Space: no store read for it.
    if (!this.deps.ids.isGenuine(id)) return Promise.resolve(undefined);
    let pending = this.loading.get(id);
    if (!pending) {
      pending = SpaceHub.load(id, this.hubDeps).then((loaded) => {
        this.loading.delete(id);
        if (loaded) {
          this.evict();
          this.hubs.set(id, loaded);
        }
        return loaded;
      });
      pending.catch(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** Throws SPACE_NOT_FOUND. */
  async get(id: string): Promise<SpaceHub> {
    const hub = await this.find(id);
    if (!hub) throw new TribuneError('SPACE_NOT_FOUND');
    return hub;
  }

  /** A hub already in memory (the origin must not touch the store per request). */
  loaded(id: string): SpaceHub | undefined {
    return this.hubs.get(id);
  }

  /** A Space's audience stream (live or just ended), for the origin. */
  streamOf(id: string): LiveStream | undefined {
    return this.hubs.get(id)?.stage?.audience.stream;
  }

  liveCount(): number {
    let count = 0;
    for (const hub of this.hubs.values()) if (hub.record.state === 'live') count++;
    return count;
  }

  /** At shutdown: live Spaces are interrupted, not ended (a restart must say so). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.hubs.values()].map((hub) => hub.interrupt()));
    this.hubs.clear();
  }

  private reserveLiveSlot(): void {
    if (this.liveCount() >= this.maxLiveSpaces) throw new TribuneError('SPACE_LIMIT_REACHED');
  }

  private evict(): void {
    const cutoff = Date.now() - FINISHED_RETENTION_MS;
    let idle = 0;
    for (const [id, hub] of this.hubs) {
      if (hub.isOpen()) {
        if (hub.record.state !== 'live') idle++;
        continue;
      }
      if ((hub.record.endedAtMs ?? 0) < cutoff) this.hubs.delete(id);
      else idle++;
    }
    if (idle < MAX_IDLE_HUBS) return;
    // Too many lobbies in memory: drop those nobody waits in; the store has them.
    for (const [id, hub] of this.hubs) {
      if (hub.record.state === 'live' || hub.feed.waiting > 0) continue;
      hub.interrupt().catch(() => undefined);
      this.hubs.delete(id);
      if (--idle < MAX_IDLE_HUBS) break;
    }
  }
}
