/**
 * A throwaway PostgreSQL server for one test file, run from Debian's
 * `postgresql` package (binaries in /usr/lib/postgresql/<major>/bin; the
 * highest installed major wins).
 *
 * startPostgres() makes a temp dir under os.tmpdir(), runs initdb in it
 * (trust auth, superuser `tribune`, UTF8, C locale, --no-sync), starts the
 * server with pg_ctl on a free loopback port with its Unix socket in that
 * temp dir (durability switched off: fsync, synchronous_commit and
 * full_page_writes), and creates the database `tribune`. stop() shuts it
 * down with `pg_ctl stop -m immediate` and removes the temp dir.
 *
 * PostgreSQL refuses to run as root, so as root the server tools run as the
 * `postgres` OS user (created by Debian's package) via runuser, and the temp
 * dir is chown'ed to that user first.
 *
 * Only the cluster in our own temp dir is ever addressed: every pg_ctl call
 * names its -D, nothing goes through pg_ctlcluster or the default socket
 * directory, and a last-resort SIGKILL only hits a process whose command line
 * names our data dir.
 *
 * If a test forgets stop(), a process 'exit' handler (and SIGINT/SIGTERM/
 * SIGHUP handlers that clean up and then re-raise the signal when nothing
 * else handles it) stops the server synchronously and removes the temp dir.
 * Nothing can clean up after a SIGKILL of the test process.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { freePort } from '../../src/tools/free-port.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface PostgresServer {
  /** postgres://tribune@127.0.0.1:PORT/tribune (trust auth, no password). */
  url: string;
  port: number;
  /** The temp dir holding the data dir (`data/`), the server log (`postgres.log`) and the Unix socket. */
  dir: string;
  /** Stops the server (immediate mode) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

const PG_ROOT = '/usr/lib/postgresql';
const SERVER_TOOLS = ['initdb', 'pg_ctl', 'postgres', 'createdb'];
const INITDB_TIMEOUT_MS = 60_000;
const START_WAIT_S = 30;
const STOP_WAIT_S = 30;
const CREATEDB_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3;

interface Instance {
  binDir: string;
  dir: string;
  dataDir: string;
  asPostgres: boolean;
  /** True from the first `pg_ctl start` on, until the server is known to be gone. */
  mayBeRunning: boolean;
  port: number | null;
}

/** Servers of this process not yet stopped, for the exit handler. */
const live = new Set<Instance>();
/** Ports handed to live servers of this process, so two concurrent starts never share one. */
const reservedPorts = new Set<number>();

/** /usr/lib/postgresql/<highest major with a server>/bin */
function findBinDir(): string {
  let entries: string[] = [];
  try {
    entries = readdirSync(PG_ROOT);
  } catch {
    // handled below
  }
  const majors = entries
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .filter((name) => SERVER_TOOLS.every((tool) => existsSync(join(PG_ROOT, name, 'bin', tool))))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  const major = majors[0];
  if (major === undefined) {
    throw new Error(
      `no PostgreSQL server found under ${PG_ROOT}/<major>/bin (need ${SERVER_TOOLS.join(', ')}); ` +
        'install Debian\'s package: apt-get install -y postgresql',
    );
  }
  return join(PG_ROOT, major, 'bin');
}

/** The environment minus anything that could point a tool at another server (PGHOST, PGPORT, PGDATA, ...). */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PG')) env[key] = value;
  }
  env.LC_ALL = 'C'; // plain English messages, and initdb's locale is C anyway
  return env;
}

function command(instance: Instance, tool: string, args: string[], asPostgres: boolean): [string, string[]] {
  const file = join(instance.binDir, tool);
  return asPostgres ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

function describeFailure(what: string, error: unknown): string {
  const e = error as { message?: string; code?: unknown; signal?: unknown; killed?: boolean; stdout?: unknown; stderr?: unknown };
  const parts = [`${what} failed`];
  if (e.killed) parts.push('(timed out and was killed)');
  else if (typeof e.code === 'number') parts.push(`(exit code ${e.code})`);
  else if (e.signal) parts.push(`(signal ${String(e.signal)})`);
  else if (e.message) parts.push(`(${e.message})`);
  const stderr = typeof e.stderr === 'string' ? e.stderr.trim() : '';
  const stdout = typeof e.stdout === 'string' ? e.stdout.trim() : '';
  parts.push(`\nstderr: ${stderr || '(empty)'}`);
  if (stdout) parts.push(`\nstdout: ${stdout}`);
  return parts.join(' ');
}

async function run(instance: Instance, tool: string, args: string[], options: { asPostgres: boolean; timeoutMs: number }): Promise<string> {
  const [file, argv] = command(instance, tool, args, options.asPostgres);
  try {
    const { stdout } = await execFileAsync(file, argv, {
      cwd: instance.dir, // the postgres user may not be able to enter the caller's cwd
      env: toolEnv(),
      timeout: options.timeoutMs,
      encoding: 'utf8',
      maxBuffer: 4 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    throw new Error(describeFailure(`${tool} ${args.join(' ')}`, error), { cause: error });
  }
}

async function postgresOwner(): Promise<{ uid: number; gid: number }> {
  try {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres'], { timeout: 5_000, encoding: 'utf8' }),
      execFileAsync('id', ['-g', 'postgres'], { timeout: 5_000, encoding: 'utf8' }),
    ]);
    return { uid: Number.parseInt(uid.trim(), 10), gid: Number.parseInt(gid.trim(), 10) };
  } catch (error) {
    throw new Error(
      `${describeFailure('id postgres', error)}\nrunning as root needs the "postgres" OS user that Debian's postgresql package creates`,
      { cause: error },
    );
  }
}

/** A port that was free on 127.0.0.1 a moment ago and is not used by another server of this process. */
async function pickPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    if (port > 0 && !reservedPorts.has(port)) {
      reservedPorts.add(port);
      return port;
    }
  }
  throw new Error('could not find a free TCP port on 127.0.0.1');
}

/** Single-quotes for the /bin/sh that pg_ctl runs postgres through. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function serverOptions(port: number, socketDir: string): string {
  return [
    `-p ${port}`,
    `-k ${shellQuote(socketDir)}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
  ].join(' ');
}

async function logTail(instance: Instance): Promise<string> {
  try {
    const log = await readFile(join(instance.dir, 'postgres.log'), 'utf8');
    return log.slice(-4_000).trim();
  } catch {
    return '';
  }
}

/** The postmaster's pid, if our data dir's postmaster.pid names a live process started on our data dir. */
function ourPostmasterPid(instance: Instance): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(join(instance.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1) return null;
  try {
    // The postmaster runs as `postgres -D <dataDir> ...`: a reused pid will not name our data dir.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes(instance.dataDir) ? pid : null;
  } catch {
    return null;
  }
}

function killOurPostmaster(instance: Instance): number | null {
  const pid = ourPostmasterPid(instance);
  if (pid === null) return null;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
  return pid;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Stops the server if it may be running; throws only if a postmaster on our data dir survives. */
async function stopServer(instance: Instance): Promise<void> {
  if (!instance.mayBeRunning) return;
  try {
    await run(instance, 'pg_ctl', ['-D', instance.dataDir, '-m', 'immediate', '-w', '-t', String(STOP_WAIT_S), 'stop'], {
      asPostgres: instance.asPostgres,
      timeoutMs: (STOP_WAIT_S + 10) * 1000,
    });
  } catch (error) {
    // Already dead (pg_ctl: "PID file does not exist") is fine; a postmaster still up on our data dir is killed.
    const pid = killOurPostmaster(instance);
    if (pid !== null) {
      const deadline = Date.now() + 5_000;
      while (!processGone(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      if (!processGone(pid)) {
        throw new Error(`could not stop the test PostgreSQL server in ${instance.dataDir}: ${(error as Error).message}`, { cause: error });
      }
    }
  }
  instance.mayBeRunning = false;
}

/** Stops the server and removes the temp dir. */
async function shutDown(instance: Instance): Promise<void> {
  await stopServer(instance);
  await rm(instance.dir, { recursive: true, force: true, maxRetries: 3 });
  live.delete(instance);
  if (instance.port !== null) reservedPorts.delete(instance.port);
  instance.port = null;
}

/** Synchronous last resort for servers whose stop() was never called. */
function shutDownAllSync(): void {
  for (const instance of live) {
    if (instance.mayBeRunning) {
      const [file, argv] = command(instance, 'pg_ctl', ['-D', instance.dataDir, '-m', 'immediate', '-w', '-t', '10', 'stop'], instance.asPostgres);
      try {
        execFileSync(file, argv, { cwd: instance.dir, env: toolEnv(), stdio: 'ignore', timeout: 15_000 });
      } catch {
        killOurPostmaster(instance);
      }
      instance.mayBeRunning = false;
    }
    try {
      rmSync(instance.dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
    live.delete(instance);
  }
}

let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', shutDownAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      shutDownAllSync();
      process.removeListener(signal, onSignal);
      // If nobody else handles it, die of the signal as we would have without this listener.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function isPortClash(message: string): boolean {
  return /could not bind|address already in use|could not create any TCP\/IP sockets|lock file .* already exists/i.test(message);
}

export async function startPostgres(): Promise<PostgresServer> {
  const binDir = findBinDir();
  const asPostgres = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'tribune-pg-'));
  const instance: Instance = { binDir, dir, dataDir: join(dir, 'data'), asPostgres, mayBeRunning: false, port: null };
  live.add(instance);
  installExitHandlers();

  try {
    if (asPostgres) {
      const { uid, gid } = await postgresOwner();
      await chown(dir, uid, gid);
    }

    try {
      await run(instance, 'initdb', ['-D', instance.dataDir, '-A', 'trust', '-U', 'tribune', '--no-sync', '-E', 'UTF8', '--locale=C'], {
        asPostgres,
        timeoutMs: INITDB_TIMEOUT_MS,
      });
    } catch (error) {
      const hint = asPostgres ? `\n(initdb ran as the postgres OS user: it must be able to reach ${dir})` : '';
      throw new Error(`${(error as Error).message}${hint}`, { cause: error });
    }

    // The port was free when picked; if something grabbed it before postgres bound it, try another.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await pickPort();
      instance.port = port;
      instance.mayBeRunning = true;
      try {
        await run(
          instance,
          'pg_ctl',
          ['-D', instance.dataDir, '-l', join(dir, 'postgres.log'), '-o', serverOptions(port, dir), '-w', '-t', String(START_WAIT_S), 'start'],
          { asPostgres, timeoutMs: (START_WAIT_S + 10) * 1000 },
        );
        break;
      } catch (error) {
        const log = await logTail(instance);
        // In case it came up after pg_ctl gave up waiting.
        const stopError = await stopServer(instance).then(
          () => null,
          (e: unknown) => e as Error,
        );
        if (stopError === null) {
          reservedPorts.delete(port);
          instance.port = null;
          if (attempt < START_ATTEMPTS && isPortClash(log)) continue;
        }
        throw new Error(
          `${(error as Error).message}\nserver log:\n${log || '(empty)'}${stopError ? `\n${stopError.message}` : ''}`,
          { cause: error },
        );
      }
    }

    await run(instance, 'createdb', ['-h', '127.0.0.1', '-p', String(port), '-U', 'tribune', 'tribune'], {
      asPostgres: false, // a client: fine as root
      timeoutMs: CREATEDB_TIMEOUT_MS,
    });

    let stopping: Promise<void> | null = null;
    return {
      url: `postgres://tribune@127.0.0.1:${port}/tribune`,
      port,
      dir,
      stop() {
        stopping ??= shutDown(instance).catch((error: unknown) => {
          stopping = null; // let a later call try again
          throw error;
        });
        return stopping;
      },
    };
  } catch (error) {
    const log = instance.mayBeRunning ? await logTail(instance) : '';
    try {
      await shutDown(instance);
    } catch (cleanupError) {
      throw new AggregateError(
        [error, cleanupError],
        `startPostgres failed and cleaning up failed too: ${(error as Error).message}\n${(cleanupError as Error).message}`,
        { cause: cleanupError },
      );
    }
    throw new Error(`startPostgres failed: ${(error as Error).message}${log ? `\nserver log:\n${log}` : ''}`, { cause: error });
  }
}
