/**
 * How every Tribune client retries a request (issue 6): at most three
 * retries, each after a capped exponential backoff with full jitter
 * (backoff.ts), and never sooner than the server's Retry-After. A blip then
 * spreads its retries out instead of sending the whole audience back in one
 * synchronised wave.
 *
 * What is retried: 429 and 503 for any method (the guard refuses those
 * before anything runs), and for requests safe to repeat (GET, PUT, DELETE)
 * also 502, 504 and network failures. A POST that may have run is not
 * repeated behind the caller's back.
 */
import { backoffDelayMs } from './backoff.js';

export const MAX_RETRIES = 3;
/** A Retry-After longer than this is the server asking the person, not the program, to come back later. */
const MAX_RETRY_AFTER_MS = 30_000;

export interface RetryOptions {
  /** Whether the request may be repeated after a failure that may have reached the server. */
  idempotent: boolean;
  signal?: AbortSignal | undefined;
  baseMs?: number;
  capMs?: number;
  /** Tests: the clock and the dice. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const REFUSED = new Set([429, 503]);
const UNKNOWN_OUTCOME = new Set([502, 504]);

export async function fetchWithRetries(send: () => Promise<Response>, options: RetryOptions): Promise<Response> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 0; ; attempt++) {
    let response: Response | undefined;
    let failure: unknown;
    try {
      response = await send();
    } catch (error) {
      if (options.signal?.aborted) throw error;
      failure = error;
    }
    const retryable = response ? REFUSED.has(response.status) || (options.idempotent && UNKNOWN_OUTCOME.has(response.status)) : options.idempotent;
    if (!retryable || attempt >= MAX_RETRIES) {
      if (response) return response;
      throw failure;
    }
    const jittered = backoffDelayMs(attempt, options.baseMs ?? 500, options.capMs ?? 8_000, options.random);
    const asked = retryAfterMs(response?.headers.get('retry-after') ?? null);
    if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) return response as Response;
    await response?.body?.cancel().catch(() => undefined);
    // The server's wait, plus jitter so those refused together do not return together.
    await sleep((asked ?? 0) + jittered);
    if (options.signal?.aborted) throw options.signal.reason;
  }
}

/** Retry-After (RFC 9110 §10.2.3) in ms: delay-seconds or an HTTP date. */
export function retryAfterMs(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}
