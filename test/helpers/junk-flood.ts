/**
 * A flood of playlist requests with distinct junk query strings, sent from
 * a child process so that the memory the test measures in its own process
 * is the server's, not the HTTP client's (undici's own buffers and pools
 * grow the client's RSS by tens of MB over 10,000 requests).
 *
 * The child runs this file (`node --import tsx junk-flood.ts URL TOTAL
 * CONCURRENCY`), uses fetch with keep-alive, and prints one JSON report:
 * statuses, the distinct playlists it got keyed by the part they hint
 * next (one playlist version per part), and any answer that differed
 * from another of the same version.
 */
import { reportFromChild } from './child-process.js';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { hintedPart, parsePlaylist } from './m3u8.js';

export interface FloodReport {
  total: number;
  statuses: Record<string, number>;
  /** The first failures and differences, as text. */
  failures: string[];
  /** Distinct playlist versions: the hinted part, how many answers, the body's sha256. */
  versions: { hint: string; count: number; sha256: string }[];
  slowestMs: number;
  elapsedMs: number;
}

/** A junk query string: random names and values, some dressed as directives or object keys. */
export function junkQuery(i: number): string {
  const token = randomBytes(6).toString('hex');
  const names = ['_HLS_junk', '_hls_msn', '_HLS_MSN', '_HLS_msnx', 'HLS_msn', '__proto__', 'constructor', 'toString', 'x[]', 'hasOwnProperty', '_HLS_part_'];
  const name = names[i % names.length];
  const pad = i % 500 === 0 ? `&pad=${'z'.repeat(2000)}` : '';
  return `?x=${token}&${name}=${i}&_HLS_junk=${randomBytes(3).toString('hex')}${pad}`;
}

async function flood(url: string, total: number, concurrency: number): Promise<FloodReport> {
  const statuses: Record<string, number> = {};
  const failures: string[] = [];
  const versions = new Map<string, { body: Buffer; cacheControl: string | null; count: number }>();
  let slowestMs = 0;
  let next = 0;
  const startedAt = performance.now();
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const sentAt = performance.now();
      let status: number;
      let body: Buffer;
      let cacheControl: string | null;
      try {
        const response = await fetch(`${url}${junkQuery(i)}`);
        status = response.status;
        cacheControl = response.headers.get('cache-control');
        body = Buffer.from(await response.arrayBuffer());
      } catch (error) {
        statuses.error = (statuses.error ?? 0) + 1;
        if (failures.length < 20) failures.push(`#${i}: ${String(error)}`);
        continue;
      }
      slowestMs = Math.max(slowestMs, performance.now() - sentAt);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 200) {
        if (failures.length < 20) failures.push(`#${i}: ${status} ${body.toString('utf8').slice(0, 200)}`);
        continue;
      }
      const hint = hintedPart(parsePlaylist(body.toString('utf8')));
      const key = hint ? `${hint.msn}.${hint.part}` : 'none';
      const seen = versions.get(key);
      if (!seen) {
        versions.set(key, { body, cacheControl, count: 1 });
        continue;
      }
      seen.count++;
      if (!seen.body.equals(body) && failures.length < 20) failures.push(`#${i}: a different body for the version hinting ${key}`);
      if (seen.cacheControl !== cacheControl && failures.length < 20) failures.push(`#${i}: cache-control ${cacheControl}, not ${seen.cacheControl}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    total,
    statuses,
    failures,
    versions: [...versions].map(([hint, v]) => ({ hint, count: v.count, sha256: createHash('sha256').update(v.body).digest('hex') })),
    slowestMs,
    elapsedMs: performance.now() - startedAt,
  };
}

/** Runs the flood in a child process (asynchronously: the server shares this event loop). */
export function floodFromChild(url: string, total: number, concurrency: number, timeoutMs: number): Promise<FloodReport> {
  return reportFromChild<FloodReport>('the flood', fileURLToPath(import.meta.url), [url, String(total), String(concurrency)], timeoutMs);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [url, total, concurrency] = process.argv.slice(2);
  if (!url || !total || !concurrency) throw new Error('usage: junk-flood.ts URL TOTAL CONCURRENCY');
  const report = await flood(url, Number(total), Number(concurrency));
  process.stdout.write(JSON.stringify(report));
}
