/**
 * Icecast's side of the fan-out comparison on its own:
 *   npx tsx bench/fanout-icecast-cli.ts
 * BENCH_LISTENERS (comma list, default 1000,5000,10000) and BENCH_SECONDS
 * (default 30). Prints one JSON line per N on stdout (progress on stderr).
 */
import { positive, writeJsonLine } from './bench-util.js';
import { ensureIcecast, runIcecastFanout } from './fanout-icecast.js';

const listeners = (process.env.BENCH_LISTENERS ?? '1000,5000,10000')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '')
  .map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_LISTENERS: not a listener count: ${s}`);
    return n;
  });
const seconds = positive('BENCH_SECONDS', 30);

ensureIcecast();
let failed = false;
for (const n of listeners) {
  try {
    await writeJsonLine(await runIcecastFanout(n, seconds));
  } catch (error) {
    failed = true;
    process.stderr.write(`[fanout-icecast] ${n} listeners failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
}
process.exit(failed ? 1 : 0);
