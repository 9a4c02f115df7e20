/**
 * Stage benchmark (`npm run bench:stage`): mouth-to-ear latency between stage
 * members over WebRTC on loopback, and the server's CPU for forwarding, with
 * 2, 5 and 13 people on stage. The method is in bench/stage-run.ts; this file
 * runs it once per stage size, each in its own process, and retries a run
 * once if that process dies (@roamhq/wrtc is native code and can crash).
 *
 * The last line of stdout is the result:
 *   {"runs": [{"speakers": N, "mouth_to_ear_ms": {"p50", "p99", ...}, "cpu_per_speaker_pct", ...}, ...]}
 * Progress goes to stderr. The exit code is 1 if a stage size failed twice
 * (the JSON then lists it under "failed").
 *
 * Environment: BENCH_STAGE_SIZES (default 2,5,13), and those of
 * bench/stage-run.ts (BENCH_MEASURE_MS, BENCH_WARMUP_MS, BENCH_CPU_PROF_DIR,
 * BENCH_WHAT_IF_DTX).
 */
import { fileURLToPath } from 'node:url';
import { runForJson, writeJsonLine } from './bench-util.js';
import type { RunResult } from './stage-run.js';

const RUN_ENTRY = fileURLToPath(new URL('./stage-run.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
/** One run process at most, in ms (a run takes about 25 s; its own watchdog fires at 120 s). */
const RUN_TIMEOUT_MS = 150_000;
const ATTEMPTS = 2;

async function main(): Promise<number> {
  const sizes = parseSizes(process.env.BENCH_STAGE_SIZES ?? '2,5,13');
  const whatIfDtx = process.env.BENCH_WHAT_IF_DTX === '1';
  const startedAt = Date.now();
  const runs: (RunResult & { attempts: number })[] = [];
  const failed: number[] = [];
  for (const size of sizes) {
    let result: RunResult | undefined;
    let attempt = 0;
    while (!result && attempt < ATTEMPTS) {
      attempt++;
      log(`N=${size}: run ${attempt}/${ATTEMPTS}`);
      result = await runOnce(size).catch((error: unknown) => {
        log(`N=${size}: run ${attempt} failed: ${error instanceof Error ? error.message : String(error)}`);
        return undefined;
      });
    }
    if (!result) {
      failed.push(size);
      continue;
    }
    log(`N=${size}: ${JSON.stringify(result)}`);
    runs.push({ ...result, attempts: attempt });
  }
  log(`done in ${Math.round((Date.now() - startedAt) / 1000)} s`);
  const output = {
    ...(whatIfDtx ? { what_if: 'usedtx=1 restored in offers (BENCH_WHAT_IF_DTX=1)' } : {}),
    runs,
    ...(failed.length > 0 ? { failed } : {}),
  };
  await writeJsonLine(output);
  return failed.length > 0 ? 1 : 0;
}

/** Runs bench/stage-run.ts for one stage size; resolves to the JSON on its last stdout line. */
function runOnce(size: number): Promise<RunResult> {
  return runForJson<RunResult>(process.execPath, ['--import', 'tsx', RUN_ENTRY, String(size)], { cwd: REPO_ROOT, timeoutMs: RUN_TIMEOUT_MS });
}

function parseSizes(value: string): number[] {
  const sizes = value.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n > 13)) throw new Error(`BENCH_STAGE_SIZES: integers 2..13, got ${value}`);
  return sizes;
}

function log(message: string): void {
  process.stderr.write(`[stage-bench] ${message}\n`);
}

process.exit(await main());
