/**
 * Capped exponential backoff with full jitter ("Exponential Backoff And
 * Jitter", AWS Architecture Blog, 2015): the delay before retry n is uniform
 * in [0, min(cap, base * 2^n)), so clients that failed together do not come
 * back together.
 */
export function backoffDelayMs(attempt: number, baseMs = 500, capMs = 8000, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}
