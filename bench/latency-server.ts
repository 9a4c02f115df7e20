/**
 * The Tribune server of the listener latency benchmark, alone in its own
 * process so its CPU time can be read from /proc without the load
 * generator's (bench/latency-bench.ts spawns it with an IPC channel).
 *
 * Besides the server, it watches two things the benchmark cannot see from
 * outside: every HLS request the origin answered (an onResponse hook, to
 * cross-check the listeners' own counts), and when each part landed in the
 * Space's live stream compared with the wall-clock time its audio ends (the
 * publication delay: mixer render lag plus the packager holding a fragment
 * until the next frame).
 *
 * Protocol over IPC (`process.send`):
 *   child -> parent  { type: 'ready', url }        once listening
 *   parent -> child  { type: 'watch', spaceId }    start watching a Space's stream
 *   parent -> child  { type: 'stats', spaceId }    asks for counters
 *   child -> parent  { type: 'stats', ... }        see `ServerStats`
 *   parent -> child  { type: 'close' }             ends every Space and exits 0
 * It exits on its own when the parent goes away (IPC disconnect), so a
 * crashed benchmark leaves no server behind.
 */
import { configFromEnv } from '../src/config.js';
import { buildServer } from '../src/server.js';
import type { MixerCore } from '../src/mixer/mixer-core.js';
import type { JitterStats } from '../src/mixer/jitter-buffer.js';
import { closeAndExit } from './bench-util.js';

export type ParentMessage = { type: 'stats'; spaceId: string } | { type: 'watch'; spaceId: string } | { type: 'close' };

/** Counters of the server process, cumulative since start; the parent takes differences. */
export interface ServerStats {
  type: 'stats';
  /** process.cpuUsage() user + system, in µs. */
  cpuUs: number;
  /** SpaceMixer.cpuMicros: CPU spent in the mixer's ticks (decode, mix, encode), in µs. */
  mixerCpuUs: number;
  framesMixed: number;
  decodeErrors: number;
  /** Speakers the mixer has a channel for. */
  mixerSpeakers: number;
  /** The mixer's per-speaker jitter buffer counters, summed over speakers. */
  jitter: Partial<Record<keyof JitterStats, number>>;
  /** HLS requests answered, by kind. */
  hlsRequests: Record<RequestKind, number>;
  /** Parts appended to the watched stream. */
  parts: number;
  /** Publication delay of each part watched so far: append time minus the wall-clock end of its audio, in ms. */
  publishDelaysMs: number[];
}

type RequestKind = 'playlist' | 'blockingPlaylist' | 'part' | 'init' | 'segment' | 'other';

const tribune = await buildServer({ ...configFromEnv({}), host: '127.0.0.1', port: 0, store: { databaseUrl: undefined, sqlitePath: ':memory:' } });
const hlsRequests: Record<RequestKind, number> = { playlist: 0, blockingPlaylist: 0, part: 0, init: 0, segment: 0, other: 0 };
tribune.app.addHook('onResponse', async (request) => {
  if (!request.url.startsWith('/hls/')) return;
  hlsRequests[requestKind(request.url)]++;
});
const url = await tribune.listen();
console.log(`latency-server listening on ${url}`);

let parts = 0;
const publishDelaysMs: number[] = [];
const watched = new Set<string>();

function watch(spaceId: string): void {
  if (watched.has(spaceId)) return;
  const stream = tribune.spaces.streamOf(spaceId);
  if (!stream) return;
  watched.add(spaceId);
  stream.on('part', (head) => {
    const part = stream.segment(head.msn)?.parts[head.part];
    if (!part) return;
    parts++;
    publishDelaysMs.push(Date.now() - (part.wallClockMs + part.durationS * 1000));
  });
}

/**
 * MixerCore keeps its speakers private; the benchmark reads their jitter
 * buffer counters anyway (diagnostics only, it changes nothing).
 */
function jitterTotals(core: MixerCore): Partial<Record<keyof JitterStats, number>> {
  const speakers = (core as unknown as { speakers?: Map<string, { buffer?: { stats?: JitterStats } }> }).speakers;
  const totals: Partial<Record<keyof JitterStats, number>> = {};
  for (const channel of speakers?.values() ?? []) {
    const stats = channel.buffer?.stats;
    if (!stats) continue;
    for (const [key, value] of Object.entries(stats) as [keyof JitterStats, number][]) totals[key] = (totals[key] ?? 0) + value;
  }
  return totals;
}

function requestKind(url: string): RequestKind {
  const path = url.split('?')[0] ?? '';
  if (path.endsWith('/live.m3u8')) return url.includes('_HLS_msn=') ? 'blockingPlaylist' : 'playlist';
  if (path.includes('/part/')) return 'part';
  if (path.endsWith('/init.mp4')) return 'init';
  if (path.includes('/seg/')) return 'segment';
  return 'other';
}

const close = closeAndExit(tribune);

process.on('message', (message: ParentMessage) => {
  if (message.type === 'close') return close(0);
  if (message.type === 'watch') return watch(message.spaceId);
  if (message.type === 'stats') {
    const usage = process.cpuUsage();
    let mixer = { cpuUs: 0, framesMixed: 0, decodeErrors: 0, speakers: 0 };
    let jitter: Partial<Record<keyof JitterStats, number>> = {};
    // Synchronous on purpose (cpuUsage is read above): the Space's hub is in
    // memory while it is live; an unknown or ended Space counts as no mixing.
    const audience = tribune.spaces.loaded(message.spaceId)?.stage?.audience;
    if (audience) {
      const stats = audience.mixer.core.stats;
      mixer = { cpuUs: audience.mixer.cpuMicros, framesMixed: stats.framesMixed, decodeErrors: stats.decodeErrors, speakers: stats.speakers };
      jitter = jitterTotals(audience.mixer.core);
    }
    const reply: ServerStats = {
      type: 'stats',
      cpuUs: usage.user + usage.system,
      mixerCpuUs: mixer.cpuUs,
      framesMixed: mixer.framesMixed,
      decodeErrors: mixer.decodeErrors,
      mixerSpeakers: mixer.speakers,
      jitter,
      hlsRequests: { ...hlsRequests },
      parts,
      publishDelaysMs: publishDelaysMs.slice(),
    };
    process.send?.(reply);
  }
});
process.on('disconnect', () => close(0));
process.on('SIGTERM', () => close(0));
process.send?.({ type: 'ready', url });
