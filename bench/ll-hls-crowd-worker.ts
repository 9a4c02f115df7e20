/**
 * One worker process of the LL-HLS crowd (bench/ll-hls-crowd.ts spawns it
 * with an IPC channel): simulates its share of the listeners on its own
 * event loop and sends back one report.
 *
 *   worker -> parent  { type: 'ready' }
 *   parent -> worker  { type: 'start', config }   its listeners and the absolute schedule
 *   worker -> parent  { type: 'report', report }  once its listeners are done; then it exits
 * It exits at once if the parent goes away.
 */
import { CrowdSimulation, type ParentToWorker, type WorkerToParent } from './ll-hls-crowd.js';

const send = (message: WorkerToParent, then?: () => void): void => {
  if (!process.send) throw new Error('bench/ll-hls-crowd-worker.ts runs as a child of bench/ll-hls-crowd.ts');
  process.send(message, undefined, undefined, () => then?.());
};

let started = false;
process.on('message', (message: ParentToWorker) => {
  if (message.type !== 'start' || started) return;
  started = true;
  try {
    const simulation = new CrowdSimulation(message.config, (report) => send({ type: 'report', report }, () => process.exit(0)));
    simulation.start();
  } catch (error) {
    send({ type: 'error', message: error instanceof Error ? error.message : String(error) }, () => process.exit(1));
  }
});
process.on('disconnect', () => process.exit(1));
process.on('uncaughtException', (error) => {
  send({ type: 'error', message: error.stack ?? error.message }, () => process.exit(1));
});
send({ type: 'ready' });
