/**
 * The attacker of `npm run bench:attack`, in its own process (spawned by
 * bench/attack-bench.ts with an IPC channel, at a lower CPU priority): a
 * real attacker has machines of its own, and here its CPU must not be what
 * decides whether the server keeps up. Runs one attack at a time.
 *
 *   runner -> parent  { type: 'ready' }
 *   parent -> runner  { type: 'prepare', name, setup }      answers { type: 'prepared' }
 *   parent -> runner  { type: 'run', name, setup, untilMs } answers { type: 'result', result, cpuMs }
 *   runner -> parent  { type: 'error', message }            instead of an answer when an attack failed
 *   parent -> runner  { type: 'close' }                     exits
 * It exits when the parent goes away.
 */
import { ATTACK_CATALOGUE, type Attack, type RunnerAnswer, type RunnerRequest } from './attack-types.js';
import { cacheBustAttack } from './attack-cache-bust.js';
import { mediaAttack } from './attack-media.js';
import { slowHeadersAttack } from './attack-slow-headers.js';
import { surgeAttack } from './attack-surge.js';
import { websocketAttack } from './attack-websocket.js';
import { writeFloodAttack } from './attack-write-flood.js';

const ATTACKS: Attack[] = [surgeAttack, cacheBustAttack, slowHeadersAttack, writeFloodAttack, websocketAttack, mediaAttack];
for (const entry of ATTACK_CATALOGUE) {
  const attack = ATTACKS.find((a) => a.name === entry.name);
  if (!attack || attack.number !== entry.number || Boolean(attack.prepare) !== entry.prepares) throw new Error(`attack ${entry.name} does not match the catalogue`);
}

const send = (message: RunnerAnswer): void => {
  process.send?.(message);
};

async function handle(message: RunnerRequest): Promise<void> {
  if (message.type === 'close') process.exit(0);
  const attack = ATTACKS.find((a) => a.name === message.name);
  if (!attack) throw new Error(`no attack named ${message.name}`);
  if (message.type === 'prepare') {
    await attack.prepare?.(message.setup);
    send({ type: 'prepared' });
    return;
  }
  const before = process.cpuUsage();
  const result = await attack.run(message.setup, message.untilMs);
  const cpu = process.cpuUsage(before);
  send({ type: 'result', result, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
}

if (process.send) {
  process.on('message', (message: RunnerRequest) => {
    handle(message).catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }));
  });
  process.on('disconnect', () => process.exit(0));
  // A bug in an attack must not leave the harness waiting: say so, and end.
  process.on('uncaughtException', (error) => {
    process.send?.({ type: 'error', message: error.stack ?? error.message } satisfies RunnerAnswer, undefined, undefined, () => process.exit(1));
  });
  send({ type: 'ready' });
}
