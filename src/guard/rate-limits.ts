/**
 * Rate limits on every write path, per client address, per account and per
 * API token, with rate-limiter-flexible: in this process's memory on one
 * node, in Redis when scaled out (TRIBUNE_REDIS_URL) so every node counts
 * against the same limit.
 *
 * When Redis is unreachable each node falls back to its own in-memory
 * limiter (the library's insurance limiter) with the same policy: a Redis
 * outage loosens a limit by at most the number of nodes, and never turns it
 * off. `rejectIfRedisNotReady` sends a request to the fallback at once
 * instead of queueing it behind a reconnect.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { TribuneError, type ErrorCode } from '../wire/errors.js';

/** What is being limited. Each has its own budget per key kind. */
export type LimitName = 'beacon' | 'reaction' | 'speak-request' | 'sign-in' | 'sign-up' | 'space-create' | 'clip' | 'write';
export type KeyKind = 'ip' | 'account' | 'token';

export interface LimitPolicy {
  /** Actions allowed per `seconds`, per key kind; a kind left out is not limited. */
  per: Partial<Record<KeyKind, number>>;
  seconds: number;
  /** The error a refusal answers with (a 429 from the catalogue). */
  code: ErrorCode;
}

/**
 * The budgets. Per address they are wide, because one address can be a
 * campus or a mobile carrier's NAT with many real people behind it; per
 * account and token they are what one person does.
 */
export const LIMIT_POLICIES: Record<LimitName, LimitPolicy> = {
  // A listener beacons every 30 s: 600 a minute is 300 listeners behind one address.
  beacon: { per: { ip: 600 }, seconds: 60, code: 'RATE_LIMITED' },
  // The hub also holds each person to 5 at once, then 1/s (REACTION_RATE_LIMITED).
  reaction: { per: { ip: 300, account: 90, token: 90 }, seconds: 60, code: 'REACTION_RATE_LIMITED' },
  'speak-request': { per: { ip: 120, account: 20, token: 20 }, seconds: 60, code: 'RATE_LIMITED' },
  // Per username the account routes allow 5 tries, then 1 per 12 s.
  'sign-in': { per: { ip: 60 }, seconds: 60, code: 'SIGN_IN_RATE_LIMITED' },
  'sign-up': { per: { ip: 20 }, seconds: 3600, code: 'RATE_LIMITED' },
  'space-create': { per: { ip: 60, account: 20, token: 20 }, seconds: 3600, code: 'RATE_LIMITED' },
  clip: { per: { ip: 60, account: 10, token: 10 }, seconds: 60, code: 'CLIP_RATE_LIMITED' },
  write: { per: { ip: 600, account: 300, token: 300 }, seconds: 60, code: 'RATE_LIMITED' },
};

/** Whether a budget counts per account or API token too (else only the address's is taken, before the caller is known). */
export function limitsCallers(name: LimitName): boolean {
  const per = LIMIT_POLICIES[name].per;
  return per.account !== undefined || per.token !== undefined;
}

export interface RateLimitOptions {
  /** Scaled out: limits shared through this Redis. */
  redis?: Redis;
  /** Multiplies every per-address budget (tests and load generators share one address). Default 1. */
  ipScale?: number;
}

/** Who is acting: the client's address, and its account and API token when known. */
export interface Actor {
  ip: string;
  account?: string;
  token?: string;
}

export class RateLimits {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(private readonly options: RateLimitOptions = {}) {
    for (const [name, policy] of Object.entries(LIMIT_POLICIES) as [LimitName, LimitPolicy][]) {
      for (const [kind, points] of Object.entries(policy.per) as [KeyKind, number][]) {
        const scaled = kind === 'ip' ? Math.max(1, Math.round(points * (options.ipScale ?? 1))) : points;
        this.limiters.set(`${name}:${kind}`, this.limiter(`${name}:${kind}`, scaled, policy.seconds));
      }
    }
  }

  private limiter(prefix: string, points: number, duration: number): RateLimiterAbstract {
    const memory = new RateLimiterMemory({ keyPrefix: `tribune:${prefix}`, points, duration });
    if (!this.options.redis) return memory;
    return new RateLimiterRedis({
      storeClient: this.options.redis,
      keyPrefix: `tribune:${prefix}`,
      points,
      duration,
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory,
    });
  }

  /**
   * Takes one action from every budget that applies; throws the policy's
   * 429 (with how long to wait) when any is spent. Budgets already taken
   * from stay taken: a refused flood still costs the flooder.
   */
  async consume(name: LimitName, actor: Actor): Promise<void> {
    const policy = LIMIT_POLICIES[name];
    for (const kind of ['ip', 'account', 'token'] as const) {
      const key = actor[kind];
      const limiter = this.limiters.get(`${name}:${kind}`);
      if (!key || !limiter) continue;
      try {
        await limiter.consume(key);
      } catch (refusal) {
        if (!(refusal instanceof RateLimiterRes)) throw refusal;
        throw new TribuneError(policy.code, `${name} limit per ${kind}`, { retryAfterS: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) });
      }
    }
  }
}
