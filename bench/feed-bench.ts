/**
 * State-feed benchmark (`npm run bench:feed`): N simulated listeners
 * long-polling a Space's feed and sending presence beacons, against a Tribune
 * server in its own process. The method is in bench/feed-run.ts; this file
 * runs it once per N (default 1,000 then 5,000), each in its own process.
 *
 * stdout: one JSON line per run, then, last, one JSON object with the
 * required figures of the largest run and every run under "runs":
 *   {"listeners": N, "feed_builds_per_version", "feed_p99_ms", "beacons_per_s", "count_error_pct", ..., "runs": [...]}
 * Progress goes to stderr. Exit code 1 if a run failed.
 *
 * Environment: BENCH_LISTENERS (default "1000,5000"), BENCH_SECONDS
 * (measured seconds per run, default 40), FEED_BENCH_BEACON_MS (default
 * 5000) and FEED_BENCH_WINDOW_MS (default 12000), see bench/feed-run.ts;
 * BENCH_CPU_PROF_DIR runs the server under `node --cpu-prof` into that directory;
 * BENCH_SERVER_NODE_ARGS adds node flags to the server process only.
 *
 * Open files: each listener holds a keep-alive socket, so the server and the
 * load generator each need about N + 100 descriptors. If the soft limit is
 * below that, runs are started through `bash -c 'ulimit -n <hard limit>'`.
 */
import { fileURLToPath } from 'node:url';
import { openFilesLimits, runForJson, writeJsonLine } from './bench-util.js';
import type { FeedRunResult } from './feed-run.js';

const RUN_ENTRY = fileURLToPath(new URL('./feed-run.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const RUN_TIMEOUT_MS = 300_000;

async function main(): Promise<number> {
  const sizes = (process.env.BENCH_LISTENERS ?? '1000,5000').split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 50_000)) throw new Error(`BENCH_LISTENERS: integers 1..50000, got ${process.env.BENCH_LISTENERS}`);
  const startedAt = Date.now();
  const runs: FeedRunResult[] = [];
  const failed: number[] = [];
  for (const size of sizes) {
    log(`N=${size}: starting`);
    try {
      const result = await runOnce(size);
      runs.push(result);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } catch (error) {
      log(`N=${size}: failed: ${error instanceof Error ? error.message : String(error)}`);
      failed.push(size);
    }
  }
  log(`done in ${Math.round((Date.now() - startedAt) / 1000)} s`);
  const largest = runs.reduce<FeedRunResult | undefined>((best, run) => (!best || run.listeners > best.listeners ? run : best), undefined);
  const output = {
    listeners: largest?.listeners ?? null,
    feed_builds_per_version: largest?.feed_builds_per_version ?? null,
    feed_p99_ms: largest?.feed_p99_ms ?? null,
    beacons_per_s: largest?.beacons_per_s ?? null,
    count_error_pct: largest?.count_error_pct ?? null,
    count_error_pct_max: largest?.count_error_pct_max ?? null,
    compressed_time: largest?.compressed_time ?? null,
    runs,
    ...(failed.length > 0 ? { failed } : {}),
  };
  await writeJsonLine(output);
  return failed.length > 0 ? 1 : 0;
}

function runOnce(size: number): Promise<FeedRunResult> {
  const node = [process.execPath, '--import', 'tsx', RUN_ENTRY, String(size)];
  const needed = size + 1000;
  const soft = openFilesLimits().soft;
  const [command = 'node', ...args] =
    soft >= needed
      ? node
      : // Raise the soft limit as far as the hard limit allows, for this run and its server child.
        ['bash', '-c', 'ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'feed-run', ...node];
  if (soft < needed) log(`open files soft limit ${soft} < ${needed}: raising it to the hard limit for the run`);
  return runForJson<FeedRunResult>(command, args, { cwd: REPO_ROOT, timeoutMs: RUN_TIMEOUT_MS });
}

function log(message: string): void {
  process.stderr.write(`[feed-bench] ${message}\n`);
}

process.exit(await main());
