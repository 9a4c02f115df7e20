/**
 * Reactions aggregated per second: the feed carries counts per emoji for
 * each of the last few seconds, never one entry per reaction, so its size
 * does not grow with the audience.
 */
import type { ReactionSecond } from '../wire/feed.js';

export class ReactionTally {
  private readonly seconds: ReactionSecond[] = [];

  constructor(
    /** How many seconds the feed keeps (a listener polling every few seconds still sees them). */
    private readonly keepSeconds = 5,
  ) {}

  add(emoji: string, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    let last = this.seconds.at(-1);
    if (!last || last.second !== second) {
      last = { second, counts: {} };
      this.seconds.push(last);
    }
    last.counts[emoji] = (last.counts[emoji] ?? 0) + 1;
  }

  /**
   * Drops seconds older than the window; true when anything was dropped (the
   * feed changed even though nobody reacted).
   */
  expire(nowMs: number): boolean {
    const oldest = Math.floor(nowMs / 1000) - this.keepSeconds;
    let dropped = 0;
    while ((this.seconds[dropped]?.second ?? Infinity) < oldest) dropped++;
    this.seconds.splice(0, dropped);
    return dropped > 0;
  }

  recent(): ReactionSecond[] {
    return this.seconds.map((s) => ({ second: s.second, counts: { ...s.counts } }));
  }
}
