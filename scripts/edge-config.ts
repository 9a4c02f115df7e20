/**
 * `npm run edge-config`: writes deploy/nginx/tribune-edge.conf, the
 * production nginx edge, rendered by src/edge/nginx-edge-config.ts (the same
 * renderer `npm run start:edge`, the tests and the benches run).
 *
 *   npm run edge-config                      write deploy/nginx/tribune-edge.conf
 *   npm run edge-config -- --out <file>      write it elsewhere (a real deploy, with the secret)
 *   npm run edge-config -- --check           fail when the file differs from a fresh
 *                                            render, and run `nginx -t` on a copy
 *
 * Inputs from the environment: TRIBUNE_ORIGIN (default 10.0.0.10:8080),
 * TRIBUNE_STANDBY_ORIGIN (none), TRIBUNE_EDGE_SECRET (the placeholder
 * CHANGE-ME: the committed file carries no secret). `--check` must see the
 * same environment as the render it checks.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../src/tools/free-port.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { renderNginxEdgeConfig, type EdgeConfigOptions } from '../src/edge/nginx-edge-config.js';
import { NGINX, nginxInstalled } from '../src/edge/nginx-process.js';

export const DEPLOY_CONF = fileURLToPath(new URL('../deploy/nginx/tribune-edge.conf', import.meta.url));

export const SECRET_PLACEHOLDER = 'CHANGE-ME';
export const DEFAULT_ORIGIN = '10.0.0.10:8080';

/** Where the production edge keeps its state; `--check` points these into a temp dir. */
export const PRODUCTION_PATHS = {
  prefix: '/var/lib/tribune-edge',
  cacheDir: '/var/cache/tribune-edge',
  logDir: '/var/log/tribune-edge',
} as const;
export const PRODUCTION_LISTEN = '0.0.0.0:80';

export function deployOptions(env: NodeJS.ProcessEnv = process.env): EdgeConfigOptions {
  return {
    listen: PRODUCTION_LISTEN,
    origin: env.TRIBUNE_ORIGIN || DEFAULT_ORIGIN,
    standbyOrigin: env.TRIBUNE_STANDBY_ORIGIN || undefined,
    edgeSecret: env.TRIBUNE_EDGE_SECRET || SECRET_PLACEHOLDER,
    prefix: PRODUCTION_PATHS.prefix,
    cacheDir: PRODUCTION_PATHS.cacheDir,
    errorLog: `${PRODUCTION_PATHS.logDir}/error.log`,
    user: 'www-data',
    workerProcesses: 'auto',
  };
}

/** The production file: a header saying what it was rendered with, then the renderer's output. */
export function renderDeployConfig(env: NodeJS.ProcessEnv = process.env): string {
  const options = deployOptions(env);
  const secretNote =
    options.edgeSecret === SECRET_PLACEHOLDER
      ? [
          `# Edge secret: the placeholder ${SECRET_PLACEHOLDER}. Before use, replace both`,
          '# `x-tribune-edge "CHANGE-ME"` lines below with the value of TRIBUNE_EDGE_SECRET',
          '# on the origin (for example `openssl rand -base64 32`), or render the real file with',
          '#   TRIBUNE_EDGE_SECRET=... npm run edge-config -- --out /etc/tribune-edge/nginx.conf',
          '# Until then the origin answers every listener request with 403 EDGE_ONLY.',
        ]
      : ['# Edge secret: from TRIBUNE_EDGE_SECRET. Keep this file out of version control.'];
  return [
    '# Production edge for Tribune: see deploy/nginx/README.md and docs/EDGE.md.',
    `# Origin: ${options.origin} (TRIBUNE_ORIGIN); standby: ${options.standbyOrigin ?? 'none'} (TRIBUNE_STANDBY_ORIGIN).`,
    ...secretNote,
    '# Plain HTTP on port 80; for TLS on the edge see "TLS" in deploy/nginx/README.md.',
    '',
    renderNginxEdgeConfig(options),
  ].join('\n');
}


/**
 * Runs `nginx -t` on a copy of a production config whose paths point into a
 * temp dir and whose listener is a free loopback port, so it needs neither
 * root nor /var. Throws with nginx's own words when the test fails.
 */
export async function nginxTestProductionCopy(config: string): Promise<void> {
  if (!nginxInstalled()) throw new Error(`nginx is not installed (${NGINX}): apt-get install nginx`);
  const dir = mkdtempSync(join(tmpdir(), 'tribune-edge-check-'));
  try {
    let copy = config;
    for (const [name, path] of Object.entries(PRODUCTION_PATHS)) {
      const local = join(dir, name);
      mkdirSync(local);
      copy = copy.split(path).join(local);
    }
    copy = copy.split(`listen ${PRODUCTION_LISTEN} `).join(`listen 127.0.0.1:${await freePort()} `);
    // `user` only means something to a root master; elsewhere nginx warns and ignores it.
    if (process.getuid?.() !== 0) copy = copy.replace(/^user [^;]+;\n/m, '');
    const path = join(dir, 'nginx.conf');
    writeFileSync(path, copy);
    try {
      execFileSync(NGINX, ['-t', '-q', '-p', dir, '-c', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
      throw new Error(`nginx -t failed on ${path}:\n${stderr}`, { cause: error });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The first line where two texts differ, for a useful failure message. */
function firstDifference(a: string, b: string): string {
  const left = a.split('\n');
  const right = b.split('\n');
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) return `line ${i + 1}:\n  file:   ${left[i] ?? '(end of file)'}\n  render: ${right[i] ?? '(end of file)'}`;
  }
  return 'no difference';
}

/** `--check`: the list of problems, empty when the file is current and nginx accepts it. */
export async function checkDeployConfig(path = DEPLOY_CONF, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const problems: string[] = [];
  const rendered = renderDeployConfig(env);
  if (!existsSync(path)) {
    problems.push(`${path} is missing: run npm run edge-config`);
  } else {
    const onDisk = readFileSync(path, 'utf8');
    if (onDisk !== rendered) problems.push(`${path} differs from a fresh render (run npm run edge-config), first at ${firstDifference(onDisk, rendered)}`);
  }
  try {
    await nginxTestProductionCopy(rendered);
  } catch (error) {
    problems.push((error as Error).message);
  }
  return problems;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, out: { type: 'string' } } });
  const path = values.out === undefined ? DEPLOY_CONF : resolve(values.out);
  if (values.check) {
    const problems = await checkDeployConfig(path);
    if (problems.length > 0) {
      for (const problem of problems) console.error(`edge-config --check: ${problem}`);
      process.exit(1);
    }
    console.log(`${path} is current, and nginx -t accepts it`);
    return;
  }
  const rendered = renderDeployConfig();
  if (path === DEPLOY_CONF && process.env.TRIBUNE_EDGE_SECRET) {
    console.warn(`warning: ${path} now holds the real edge secret; do not commit it (use --out for deploys)`);
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rendered);
  console.log(`wrote ${path}`);
}

// Importable by the test without writing anything.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main().catch((error: unknown) => {
    console.error(`edge-config: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
