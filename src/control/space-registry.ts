/**
 * Live Spaces of this process, in memory (persistence comes with the store).
 * Ended Spaces are kept for a while so their page can say "ended" rather
 * than "not found".
 */
import type { TribuneConfig } from '../config.js';
import type { LiveStream } from '../hls/live-stream.js';
import { TribuneError } from '../wire/errors.js';
import type { SpaceStore, StoredSpace } from '../store/space-store.js';
import { Space } from './space.js';

/** How long an ended Space stays known, in ms. */
const ENDED_RETENTION_MS = 60 * 60 * 1000;

export class SpaceRegistry {
  private readonly spaces = new Map<string, Space>();

  constructor(
    private readonly config: Pick<TribuneConfig, 'sfu' | 'maxLiveSpaces' | 'maxStageMembers'>,
    private readonly store: SpaceStore,
  ) {}

  /** Opens a Space; it is in the store before anyone can join it. */
  async create(title: string): Promise<Space> {
    this.evictEnded();
    if (this.liveCount() >= this.config.maxLiveSpaces) throw new TribuneError('SPACE_LIMIT_REACHED');
    const space = new Space(title, this.config.sfu, this.config.maxStageMembers, (ended) =>
      this.store.finish(ended.id, ended.state === 'interrupted' ? 'interrupted' : 'ended', ended.endedAt?.getTime() ?? Date.now()),
    );
    try {
      await this.store.insert({ id: space.id, title: space.title, createdAtMs: space.createdAt.getTime() });
    } catch (error) {
      await space.end();
      throw error;
    }
    this.spaces.set(space.id, space);
    return space;
  }

  /** A Space that is not live in this process: from the store (ended or interrupted), or undefined. */
  stored(id: string): Promise<StoredSpace | undefined> {
    return this.store.get(id);
  }

  find(id: string): Space | undefined {
    return this.spaces.get(id);
  }

  /** Throws SPACE_NOT_FOUND. */
  get(id: string): Space {
    const space = this.spaces.get(id);
    if (!space) throw new TribuneError('SPACE_NOT_FOUND');
    return space;
  }

  /** A Space's audience stream (live or ended), for the origin. */
  streamOf(id: string): LiveStream | undefined {
    return this.spaces.get(id)?.audience.stream;
  }

  liveCount(): number {
    let count = 0;
    for (const space of this.spaces.values()) if (space.state === 'live') count++;
    return count;
  }

  /** At shutdown: live Spaces are interrupted, not ended (a restart must say so). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.spaces.values()].map((s) => s.end('interrupted')));
    this.spaces.clear();
  }

  private evictEnded(): void {
    const cutoff = Date.now() - ENDED_RETENTION_MS;
    for (const [id, space] of this.spaces) {
      if (space.state !== 'live' && (space.endedAt?.getTime() ?? 0) < cutoff) this.spaces.delete(id);
    }
  }
}
