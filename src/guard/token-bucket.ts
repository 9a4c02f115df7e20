/**
 * A token bucket for one connection's message rate. A pure core: the caller
 * passes the clock, so tests need no timers.
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  /**
   * @param ratePerSecond tokens added per second
   * @param burst bucket size, the most messages accepted at once
   */
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  take(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.lastMs) / 1000;
    this.lastMs = nowMs;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.ratePerSecond);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
