/**
 * `npm start`: one process, embedded defaults, no external service.
 */
import { configFromEnv } from './config.js';
import { buildServer } from './server.js';

const config = configFromEnv();
const tribune = await buildServer(config);
const url = await tribune.listen();
console.log(`Tribune is running: open ${url}`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  tribune.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
