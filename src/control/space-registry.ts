/**
 * Live Spaces of this process, in memory (persistence comes with the store).
 * Ended Spaces are kept for a while so their page can say "ended" rather
 * than "not found".
 */
import type { TribuneConfig } from '../config.js';
import type { LiveStream } from '../hls/live-stream.js';
import { TribuneError } from '../wire/errors.js';
import { Space } from './space.js';

/** How long an ended Space stays known, in ms. */
const ENDED_RETENTION_MS = 60 * 60 * 1000;

export class SpaceRegistry {
  private readonly spaces = new Map<string, Space>();

  constructor(private readonly config: Pick<TribuneConfig, 'sfu' | 'maxLiveSpaces' | 'maxStageMembers'>) {}

  create(title: string): Space {
    this.evictEnded();
    if (this.liveCount() >= this.config.maxLiveSpaces) throw new TribuneError('SPACE_LIMIT_REACHED');
    const space = new Space(title, this.config.sfu, this.config.maxStageMembers);
    this.spaces.set(space.id, space);
    return space;
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

  async closeAll(): Promise<void> {
    await Promise.all([...this.spaces.values()].map((s) => s.end()));
    this.spaces.clear();
  }

  private evictEnded(): void {
    const cutoff = Date.now() - ENDED_RETENTION_MS;
    for (const [id, space] of this.spaces) {
      if (space.state === 'ended' && (space.endedAt?.getTime() ?? 0) < cutoff) this.spaces.delete(id);
    }
  }
}
