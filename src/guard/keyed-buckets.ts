/**
 * One token bucket per key (an account, a username), in bounded memory: when
 * the map is full the key touched least recently goes first (a Map keeps
 * insertion order, and a take re-inserts its key). A forgotten key starts
 * again with a full bucket, which only ever errs towards letting a person in.
 */
import { TokenBucket } from './token-bucket.js';

export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly maxKeys = 100_000,
  ) {}

  take(key: string, nowMs: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key);
    } else {
      bucket = new TokenBucket(this.ratePerSecond, this.burst, nowMs);
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    this.buckets.set(key, bucket);
    return bucket.take(nowMs);
  }
}
