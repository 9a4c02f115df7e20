/**
 * How many cases each fuzz target runs, and with which seed.
 *
 * Every target runs FUZZ_RUNS cases (default 100,000, the suite's floor);
 * a longer run sets it higher (`FUZZ_RUNS=1000000 node --import tsx --test
 * test/fuzz/*.test.ts`, see README.md). Each file prints its seed first;
 * FUZZ_SEED set to it replays the same cases.
 */
import type { Parameters } from 'fast-check';

/** Cases per target in the normal suite. */
export const SUITE_RUNS = 100_000;

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  return parsed;
}

/** Cases per target: FUZZ_RUNS, or the suite's default. */
export function fuzzRuns(): number {
  return positiveInteger('FUZZ_RUNS', process.env.FUZZ_RUNS) ?? SUITE_RUNS;
}

function seedFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new Error(`FUZZ_SEED must be an integer, got ${value}`);
  return parsed | 0;
}

/**
 * The seed of this run: FUZZ_SEED, or a fresh one. Each file prints it with
 * its figures, and fast-check prints seed and path when a property fails.
 */
export const fuzzSeed: number = seedFromEnv(process.env.FUZZ_SEED) ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
console.log(`fuzz seed ${fuzzSeed}: FUZZ_SEED=${fuzzSeed} replays this file's cases`);

/** fast-check parameters for `numRuns` cases of this run's seed. */
export function fuzzParameters<T>(numRuns: number): Parameters<T> {
  return { numRuns, seed: fuzzSeed };
}

/**
 * A test's time limit for `runs` cases of about `msPerCase` each, three times
 * over; never under 170 s, so the normal suite keeps the limit it had.
 */
export function fuzzTimeout(runs: number, msPerCase: number): number {
  return Math.max(170_000, Math.ceil(runs * msPerCase * 3));
}
