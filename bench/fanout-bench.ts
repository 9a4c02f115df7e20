/**
 * `npm run bench:fanout`: the audience fan-out, side by side on this
 * machine, for N = 1,000, 5,000, 10,000 and further steps while the
 * machine holds:
 *   1. Tribune (origin + mixer) behind the local nginx edge, listeners
 *      following LL-HLS with blocking reloads, the feed and beacons;
 *   2. Icecast (Debian's icecast2) with an Ogg/Opus stream of the same
 *      bitrate to N HTTP listeners;
 *   3. nginx serving the same bytes as static files (the upper bound).
 * Prints one JSON line per run and, last, {"runs": [...]}; draws
 * docs/fanout.svg. Settings: BENCH_LISTENERS (comma list, default
 * 1000,5000,10000), BENCH_MAX_LISTENERS (further steps of 5,000 up to this
 * while the previous step had < 0.1 % late parts; default 20000),
 * BENCH_SECONDS (measurement per run, default 30), BENCH_SYSTEMS
 * (comma list of tribune-edge,icecast,nginx-static).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fanoutChartSvg, type FanoutRun } from './fanout-chart.js';
import { ensureIcecast, runIcecastFanout } from './fanout-icecast.js';
import { runStaticNginx, runTribuneFanout } from './fanout-tribune.js';
import { positive, writeJsonLine } from './bench-util.js';

type System = 'tribune-edge' | 'icecast' | 'nginx-static';
const RUNNERS: Record<System, (n: number, seconds: number) => Promise<FanoutRun>> = {
  'tribune-edge': runTribuneFanout,
  icecast: runIcecastFanout,
  'nginx-static': runStaticNginx,
};
/** Late parts above this stop the steps past the listed sizes: the machine no longer holds. */
const HOLDS_LATE_PCT = 0.1;

async function main(): Promise<void> {
  const listed = (process.env.BENCH_LISTENERS ?? '1000,5000,10000').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const max = positive('BENCH_MAX_LISTENERS', 20_000);
  const seconds = positive('BENCH_SECONDS', 30);
  const systems = (process.env.BENCH_SYSTEMS ?? 'tribune-edge,icecast,nginx-static').split(',') as System[];
  if (systems.includes('icecast')) ensureIcecast();
  const runs: FanoutRun[] = [];
  for (const system of systems) {
    const runner = RUNNERS[system];
    if (!runner) throw new Error(`unknown system ${system}`);
    const sizes = [...listed];
    for (let i = 0; i < sizes.length; i++) {
      const n = sizes[i]!;
      const run = await runner(n, seconds);
      runs.push(run);
      await writeJsonLine(run);
      const last = i === sizes.length - 1;
      if (last && run.late_parts_pct < HOLDS_LATE_PCT && n + 5000 <= max) sizes.push(n + 5000);
    }
  }
  const caption = `npm run bench:fanout, ${new Date().toISOString().slice(0, 16)}Z, ${seconds} s per run, 2 shared cores`;
  writeFileSync(fileURLToPath(new URL('../docs/fanout.svg', import.meta.url)), fanoutChartSvg(runs, caption));
  await writeJsonLine({ runs });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
