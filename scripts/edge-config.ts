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
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../src/tools/free-port.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { renderNginxEdgeConfig, type EdgeConfigOptions } from '../src/edge/nginx-edge-config.js';
import { NGINX, NJS_DIR, nginxInstalled } from '../src/edge/nginx-process.js';
import { StageTokens } from '../src/control/stage-tokens.js';

export const DEPLOY_CONF = fileURLToPath(new URL('../deploy/nginx/tribune-edge.conf', import.meta.url));
/** The njs modules beside it, copied from src/edge/njs/. */
export const DEPLOY_NJS = fileURLToPath(new URL('../deploy/nginx/njs/', import.meta.url));

export const SECRET_PLACEHOLDER = 'CHANGE-ME';
export const DEFAULT_ORIGIN = '10.0.0.10:8080';

/** Where the production edge keeps its state; `--check` points these into a temp dir. */
export const PRODUCTION_PATHS = {
  prefix: '/var/lib/tribune-edge',
  cacheDir: '/var/cache/tribune-edge',
  logDir: '/var/log/tribune-edge',
  njsDir: '/etc/tribune-edge/njs',
} as const;
export const PRODUCTION_LISTEN = '0.0.0.0:80';

export function deployOptions(env: NodeJS.ProcessEnv = process.env): EdgeConfigOptions {
  return {
    listen: PRODUCTION_LISTEN,
    origin: env.TRIBUNE_ORIGIN || DEFAULT_ORIGIN,
    standbyOrigin: env.TRIBUNE_STANDBY_ORIGIN || undefined,
    edgeSecret: env.TRIBUNE_EDGE_SECRET || SECRET_PLACEHOLDER,
    idKey: env.TRIBUNE_ID_KEY || SECRET_PLACEHOLDER,
    stagePassKey: parseStagePassKey(env.TRIBUNE_STAGE_PASS_KEY),
    njsDir: PRODUCTION_PATHS.njsDir,
    prefix: PRODUCTION_PATHS.prefix,
    cacheDir: PRODUCTION_PATHS.cacheDir,
    errorLog: `${PRODUCTION_PATHS.logDir}/error.log`,
    user: 'www-data',
    workerProcesses: 'auto',
  };
}

/** TRIBUNE_STAGE_PASS_KEY is "<x>.<y>" (`npm run edge-config -- --stage-pass-key` prints it on the origin). */
function parseStagePassKey(value: string | undefined): { x: string; y: string } {
  if (!value) return { x: SECRET_PLACEHOLDER, y: SECRET_PLACEHOLDER };
  const [x = '', y = ''] = value.split('.');
  return { x, y };
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
  const keyNote =
    options.idKey === SECRET_PLACEHOLDER
      ? [
          `# Id key: the placeholder ${SECRET_PLACEHOLDER}. Replace both \`$tribune_id_key "CHANGE-ME"\``,
          '# lines with the origin\'s TRIBUNE_ID_KEY (hex), or render with TRIBUNE_ID_KEY=... set.',
          '# Until then the edge answers every Space and clip with 404: it cannot tell their ids from made-up ones.',
        ]
      : ['# Id key: from TRIBUNE_ID_KEY.'];
  const passNote =
    options.stagePassKey.x === SECRET_PLACEHOLDER
      ? [
          `# Stage pass key: the placeholder ${SECRET_PLACEHOLDER}. Render with TRIBUNE_STAGE_PASS_KEY (printed by`,
          '# `TRIBUNE_SECRET=... npm run edge-config -- --stage-pass-key` where the origin\'s secret is).',
          '# Until then the edge refuses every stage pass (it answers 500): nobody can go on stage through it.',
        ]
      : ['# Stage pass key: the public key from TRIBUNE_STAGE_PASS_KEY.'];
  return [
    '# Production edge for Tribune: see deploy/nginx/README.md and docs/EDGE.md.',
    `# Origin: ${options.origin} (TRIBUNE_ORIGIN); standby: ${options.standbyOrigin ?? 'none'} (TRIBUNE_STANDBY_ORIGIN).`,
    ...secretNote,
    ...keyNote,
    ...passNote,
    `# njs modules: deploy/nginx/njs/ installed as ${PRODUCTION_PATHS.njsDir}/.`,
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
    cpSync(NJS_DIR, join(dir, 'njsDir'), { recursive: true });
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
  for (const name of readdirSync(NJS_DIR)) {
    const shipped = join(DEPLOY_NJS, name);
    if (!existsSync(shipped) || readFileSync(shipped, 'utf8') !== readFileSync(join(NJS_DIR, name), 'utf8')) {
      problems.push(`${shipped} differs from src/edge/njs/${name} (run npm run edge-config)`);
    }
  }
  try {
    await nginxTestProductionCopy(rendered);
  } catch (error) {
    problems.push((error as Error).message);
  }
  return problems;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { check: { type: 'boolean', default: false }, out: { type: 'string' }, 'stage-pass-key': { type: 'boolean', default: false } } });
  if (values['stage-pass-key']) {
    // Run where the origin's secret is: prints only the public half, for TRIBUNE_STAGE_PASS_KEY on the edges.
    const secret = process.env.TRIBUNE_SECRET;
    if (!secret || !/^([0-9a-fA-F]{2})+$/.test(secret)) throw new Error('--stage-pass-key needs the origin\'s TRIBUNE_SECRET (hex) in the environment');
    const { x, y } = new StageTokens(Buffer.from(secret, 'hex'), 600).publicKey();
    console.log(`${x}.${y}`);
    return;
  }
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
  const njsOut = join(dirname(path), 'njs');
  cpSync(NJS_DIR, njsOut, { recursive: true });
  console.log(`wrote ${njsOut}/ (install it as ${PRODUCTION_PATHS.njsDir}/)`);
}

// Importable by the test without writing anything.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main().catch((error: unknown) => {
    console.error(`edge-config: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
