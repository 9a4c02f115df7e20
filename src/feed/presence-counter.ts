/**
 * Distinct listeners seen in the last window, from presence beacons. Exact,
 * not estimated: a Map from listener id to its last beacon, kept in the
 * order of last beacon (a beat re-inserts its id), so expiring is a walk
 * from the oldest end that stops at the first id still inside the window.
 * Memory is one entry per listener, bounded by `maxListeners`.
 */
export class PresenceCounter {
  private readonly lastSeen = new Map<string, number>();
  private peakCount = 0;

  constructor(
    /** A listener counts for this long after its last beacon (beacons come every ~30 s). */
    private readonly windowMs: number,
    private readonly maxListeners = 2_000_000,
  ) {}

  beat(listener: string, nowMs: number): void {
    this.lastSeen.delete(listener);
    if (this.lastSeen.size >= this.maxListeners) this.expire(nowMs);
    if (this.lastSeen.size >= this.maxListeners) return;
    this.lastSeen.set(listener, nowMs);
  }

  /** A page that closes says so, and stops counting at once. */
  leave(listener: string): void {
    this.lastSeen.delete(listener);
  }

  count(nowMs: number): number {
    this.expire(nowMs);
    const count = this.lastSeen.size;
    if (count > this.peakCount) this.peakCount = count;
    return count;
  }

  /** The highest count ever returned by count(). */
  get peak(): number {
    return this.peakCount;
  }

  private expire(nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    for (const [listener, seenMs] of this.lastSeen) {
      if (seenMs > cutoff) break;
      this.lastSeen.delete(listener);
    }
  }
}
