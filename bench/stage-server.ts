/**
 * The Tribune server of the stage benchmark, alone in its own process so its
 * CPU time can be read from /proc without the bots' (bench/stage-bench.ts
 * spawns it with an IPC channel).
 *
 * Protocol over IPC (`process.send`):
 *   child -> parent  { type: 'ready', url }                 once listening
 *   parent -> child  { type: 'stats', spaceId }             asks for counters
 *   child -> parent  { type: 'stats', ... }                 `ServerStats`: process.cpuUsage() user+system (µs),
 *                                                           the Space's forwarded RTP packets and its
 *                                                           mixer's CPU (µs) so far
 *   parent -> child  { type: 'close' }                      ends every Space and exits 0
 * It exits on its own when the parent goes away (IPC disconnect), so a
 * crashed benchmark leaves no server behind.
 */
import { configFromEnv } from '../src/config.js';
import { buildServer } from '../src/server.js';
import { closeAndExit } from './bench-util.js';

export type ParentMessage = { type: 'stats'; spaceId: string } | { type: 'close' };
export type ServerStats = { type: 'stats'; cpuUs: number; rtpForwarded: number; mixerCpuUs: number };

const tribune = await buildServer({ ...configFromEnv({}), host: '127.0.0.1', port: 0, store: { databaseUrl: undefined, sqlitePath: ':memory:' } });
const url = await tribune.listen();
console.log(`stage-server listening on ${url}`);

const close = closeAndExit(tribune);

process.on('message', (message: ParentMessage) => {
  if (message.type === 'close') return close(0);
  if (message.type === 'stats') {
    const usage = process.cpuUsage();
    let rtpForwarded = 0;
    let mixerCpuUs = 0;
    // Synchronous on purpose (cpuUsage is read above): the Space's hub is in
    // memory while it is live; an unknown or ended Space counts as nothing forwarded.
    const space = tribune.spaces.loaded(message.spaceId)?.stage;
    if (space) {
      for (const member of space.memberViews()) rtpForwarded += space.router.peer(member.id)?.stats.rtpForwarded ?? 0;
      mixerCpuUs = space.audience.mixer.cpuMicros;
    }
    const reply: ServerStats = { type: 'stats', cpuUs: usage.user + usage.system, rtpForwarded, mixerCpuUs };
    process.send?.(reply);
  }
});
process.on('disconnect', () => close(0));
process.on('SIGTERM', () => close(0));
process.send?.({ type: 'ready', url });
