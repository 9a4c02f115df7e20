/**
 * Runs a local nginx edge with the rendered configuration, for
 * `npm run start:edge`, the edge tests and the fan-out bench: a temp prefix
 * with the config, cache, logs and pid, nginx in the foreground as a child,
 * stopped (and the prefix removed) on stop().
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JS_MODULE, renderNginxEdgeConfig, type EdgeConfigOptions } from './nginx-edge-config.js';

export const NGINX = '/usr/sbin/nginx';
/** The edge's njs modules, shipped beside this file. */
export const NJS_DIR = fileURLToPath(new URL('./njs/', import.meta.url));

export interface RunningEdge {
  url: string;
  prefix: string;
  accessLog: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export type LocalEdgeOptions = Omit<EdgeConfigOptions, 'prefix' | 'cacheDir' | 'listen' | 'user' | 'njsDir'> & { host?: string; port: number };

/** True when Debian's nginx and its njs module (libnginx-mod-http-js) are installed. */
export function nginxInstalled(): boolean {
  return existsSync(NGINX) && existsSync(JS_MODULE);
}

export async function startNginxEdge(options: LocalEdgeOptions): Promise<RunningEdge> {
  if (!nginxInstalled()) throw new Error(`nginx or its njs module is not installed (${NGINX}, ${JS_MODULE}); apt-get install nginx libnginx-mod-http-js`);
  const prefix = mkdtempSync(join(tmpdir(), 'tribune-edge-'));
  cpSync(NJS_DIR, join(prefix, 'njs'), { recursive: true });
  for (const dir of ['cache', 'client_temp', 'proxy_temp', 'fastcgi_temp', 'uwsgi_temp', 'scgi_temp']) mkdirSync(join(prefix, dir));
  const accessLog = options.accessLog ?? join(prefix, 'access.log');
  const host = options.host ?? '127.0.0.1';
  const config = renderNginxEdgeConfig({
    ...options,
    listen: `${host}:${options.port}`,
    prefix,
    njsDir: join(prefix, 'njs'),
    cacheDir: join(prefix, 'cache'),
    accessLog,
    // Workers as root only in this throwaway local prefix; deploy/ runs them as www-data.
    user: process.getuid?.() === 0 ? 'root' : undefined,
  });
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, config);
  execFileSync(NGINX, ['-t', '-q', '-p', prefix, '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  const child = spawn(NGINX, ['-p', prefix, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://${host}:${options.port}`;
  await waitUntilListening(url, child, () => stderr);
  let stopped = false;
  return {
    url,
    prefix,
    accessLog,
    process: child,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

async function waitUntilListening(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr()}`);
    try {
      await fetch(`${url}/hls/`, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not start listening on ${url}: ${stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
