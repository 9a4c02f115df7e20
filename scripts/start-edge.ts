/**
 * `npm run start:edge`: Tribune with a local nginx edge in front, the way it
 * runs at scale (docs/EDGE.md). Installs Debian's nginx when it is missing,
 * builds the web client, starts the origin in this process on loopback in
 * scaled mode (listener routes only through the edge, by a random shared
 * secret), then nginx on PORT (default 8080) with the rendered edge config.
 * Ctrl-C (SIGINT) or SIGTERM stops both.
 *
 * The origin listens on 127.0.0.1:PORT+1 (or any free port if that is taken);
 * people open the edge. Other settings are read like `npm start` reads them
 * (src/config.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { configFromEnv } from '../src/config.js';
import { nginxInstalled, startNginxEdge, type RunningEdge } from '../src/edge/nginx-process.js';
import { buildServer, type Tribune } from '../src/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** apt-get install nginx and its njs module (with sudo when not root), then stop the service the package may have started. */
function ensureNginx(): void {
  if (nginxInstalled()) return;
  console.log('nginx or its njs module is not installed: installing them from Debian\'s packages (apt-get install nginx libnginx-mod-http-js)');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const run = (command: string[], env: NodeJS.ProcessEnv = process.env): void => {
    const [program, ...args] = [...sudo, ...command];
    execFileSync(program ?? 'apt-get', args, { stdio: 'inherit', env });
  };
  const noninteractive = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run(['apt-get', 'update', '-qq'], noninteractive);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'nginx', 'libnginx-mod-http-js'], noninteractive);
  // The package starts the system's nginx (port 80) where services may start; ours runs on its own.
  const [program, ...args] = [...sudo, 'service', 'nginx', 'stop'];
  spawnSync(program ?? 'service', args, { stdio: 'ignore' });
  if (!nginxInstalled()) throw new Error('apt-get install nginx libnginx-mod-http-js did not install nginx and its njs module');
}

async function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  const env = process.env;
  const base = configFromEnv(env);
  const edgePort = base.port === 0 ? 8080 : base.port;
  const edgeHost = base.host;
  const edgeSecret = randomBytes(24).toString('base64url');

  ensureNginx();
  execFileSync(process.execPath, ['scripts/build-web.js'], { cwd: ROOT, stdio: 'inherit' });

  const originPort = edgePort < 65535 && (await portIsFree(edgePort + 1, '127.0.0.1')) ? edgePort + 1 : 0;
  const shown = edgeHost === '0.0.0.0' || edgeHost === '::' ? 'localhost' : edgeHost;
  const publicUrl = env.TRIBUNE_PUBLIC_URL || `http://${shown}:${edgePort}`;
  let tribune: Tribune | undefined;
  let edge: RunningEdge | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('stopping the edge and the origin');
    await edge?.stop().catch((error: unknown) => console.error('stopping nginx:', error));
    await tribune?.close().catch((error: unknown) => console.error('stopping the origin:', error));
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    tribune = await buildServer({ ...base, host: '127.0.0.1', port: originPort, edgeSecret, publicUrl, trustProxy: ['127.0.0.1'] });
    const originUrl = await tribune.listen();
    const origin = originUrl.replace(/^http:\/\//, '');
    edge = await startNginxEdge({ host: edgeHost, port: edgePort, origin, edgeSecret, idKey: tribune.idKey, stagePassKey: tribune.stagePassKey });
    edge.process.once('exit', (code, signal) => {
      if (stopping) return;
      console.error(`nginx exited (${signal ?? code}); stopping`);
      void stop(1);
    });
    console.log(`origin (listener routes only through the edge): ${originUrl}`);
    console.log(`edge: nginx ${edge.url}, config and logs in ${edge.prefix}`);
    console.log(`Tribune is running behind an nginx edge: open http://${shown}:${edgePort}`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await stop(1);
  }
}

await main();
