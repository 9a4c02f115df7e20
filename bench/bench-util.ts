/**
 * Helpers the benchmarks share: Space creation over the API, percentiles,
 * timing and the host's CPU accounting from /proc.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { CreatedSpace } from '../src/wire/api.js';

export async function createSpace(baseUrl: string, title: string): Promise<CreatedSpace> {
  const response = await fetch(`${baseUrl}/api/spaces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title }),
    signal: AbortSignal.timeout(5000),
  });
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as CreatedSpace;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? NaN;
}

/** Kernel clock ticks per second (USER_HZ), for /proc CPU times. */
export const CLOCK_TICKS_PER_S = clockTicksPerSecond();

/** Busy time of the whole machine (all cores) from /proc/stat, in ms. */
export function hostBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = values.map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLOCK_TICKS_PER_S;
}

function clockTicksPerSecond(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function envMs(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined) return fallback;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms <= 0) throw new Error(`${name} must be a positive number of ms`);
  return ms;
}

/**
 * For a server child: a function that closes Tribune and exits with `code`,
 * once, and exits anyway after 3 s so a stuck close never holds a benchmark.
 */
export function closeAndExit(tribune: { close(): Promise<void> }): (code: number) => void {
  let closing = false;
  return (code) => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(code), 3000).unref();
    tribune.close().then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
}
