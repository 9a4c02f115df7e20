/**
 * Helpers the benchmarks share: accounts and Space creation over the API,
 * stage members (one account each), percentiles, timing, the host's CPU
 * accounting from /proc, settings from the environment and runs in a child
 * process.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { configFromEnv } from '../src/config.js';
import type { SpeakerBot } from '../src/tools/speaker-bot.js';
import type { CreatedSpace, SpaceView, StagePass } from '../src/wire/api.js';
import { TestAccount, type ApiAnswer } from '../test/helpers/accounts.js';

/** A live Space made for a benchmark, with its host's account and the host's stage pass. */
export interface BenchSpace {
  space: SpaceView;
  host: TestAccount;
  hostPass: StagePass;
}

/**
 * Signs up a new account the way a browser does (GET /api/session for the
 * CSRF token and cookie, POST /api/accounts, POST /api/tokens for an API
 * token), then opens a live Space with that API token.
 */
export async function createSpace(baseUrl: string, title: string, options: { record?: boolean } = {}): Promise<BenchSpace> {
  const host = await TestAccount.signUp(baseUrl, undefined, 'bench host');
  const created = await host.bot<CreatedSpace>('POST', '/api/spaces', { title, ...(options.record ? { record: true } : {}) });
  if (created.status !== 201 || !created.body.stagePass) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
  return { space: created.body.space, host, hostPass: created.body.stagePass };
}

/**
 * A new account that asks to speak and is accepted by the host (and made a
 * co-host when `cohost`); resolves to its stage pass. Fetch the pass right
 * before joining: it is short-lived.
 */
export async function addStageMember(baseUrl: string, space: BenchSpace, displayName: string, cohost = false): Promise<StagePass> {
  const id = space.space.id;
  const member = await TestAccount.signUp(baseUrl, undefined, displayName);
  const expectOk = async (what: string, call: Promise<ApiAnswer>): Promise<ApiAnswer> => {
    const answer = await call;
    if (answer.status !== 200) throw new Error(`${what} for ${displayName} failed: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer;
  };
  await expectOk('request to speak', member.bot('POST', `/api/spaces/${id}/requests`, {}));
  await expectOk('accept', space.host.bot('POST', `/api/spaces/${id}/requests/${member.id}/accept`, {}));
  if (cohost) await expectOk('make co-host', space.host.bot('PUT', `/api/spaces/${id}/roles/${member.id}`, { role: 'cohost' }));
  return (await expectOk('stage pass', member.bot('POST', `/api/spaces/${id}/stage-pass`, {}))).body as StagePass;
}

/** The stage limits of the benchmark servers (they run with the defaults: 2 co-hosts, 10 speakers). */
const STAGE_LIMITS = configFromEnv({});

/**
 * Stage socket URLs for member `index` of a stage of `size` people, each its
 * own account (an account is on a stage once): the host is member 0; past
 * the speaker limit the first others are made co-hosts, so a full stage is
 * 1 host + 2 co-hosts + 10 speakers with the default limits.
 */
export async function stageMemberUrl(baseUrl: string, space: BenchSpace, index: number, size: number, displayName: string): Promise<string> {
  if (size > 1 + STAGE_LIMITS.maxCohosts + STAGE_LIMITS.maxSpeakers) throw new Error(`a stage holds at most ${1 + STAGE_LIMITS.maxCohosts + STAGE_LIMITS.maxSpeakers} people`);
  if (index === 0) return space.hostPass.socketUrl;
  const cohosts = Math.max(0, size - 1 - STAGE_LIMITS.maxSpeakers);
  return (await addStageMember(baseUrl, space, displayName, index <= cohosts)).socketUrl;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? NaN;
}

/** Kernel clock ticks per second (USER_HZ), for /proc CPU times. */
export const CLOCK_TICKS_PER_S = clockTicksPerSecond();

/** Busy time of the whole machine (all cores) from /proc/stat, in ms. */
export function hostBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = values.map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLOCK_TICKS_PER_S;
}

function clockTicksPerSecond(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A positive number from the environment variable `name`; `fallback` when it is unset or empty. */
export function positive(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${value}`);
  return n;
}

/**
 * Runs one benchmark run in its own process (stderr passed through) and
 * resolves to the JSON on the last line of its stdout; the process is killed
 * after `timeoutMs`.
 */
export function runForJson<T>(command: string, args: string[], options: { cwd: string; timeoutMs: number }): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`run process ended with ${signal ?? `exit code ${code}`}`));
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`run process printed no JSON result: ${last.slice(0, 200)}`));
      }
    });
  });
}

/** Writes `value` to stdout as one JSON line; resolves once it is flushed. */
export function writeJsonLine(value: unknown): Promise<void> {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(value)}\n`, () => resolve()));
}

/** What a run process has started: its server child and its speaker bots. */
export interface RunActive {
  server?: { stop(): Promise<void>; kill(): void };
  bots: SpeakerBot[];
}

/** Stops the bots, then the server. Safe to call twice. */
export async function stopRun(active: RunActive): Promise<void> {
  for (const bot of active.bots.splice(0)) {
    try {
      bot.stop();
    } catch {
      // A bot that failed half-way may not stop cleanly; the process exit ends it.
    }
  }
  const server = active.server;
  active.server = undefined;
  await server?.stop();
}

/**
 * The main of a run process: `run()`, then `teardown()` and the result as
 * one JSON line on stdout; resolves to the exit code (1 if the run failed).
 * Past `watchdogMs` it gives up: kills the server and exits 1. The server is
 * killed too if this process exits first.
 */
export async function runMain<A extends RunActive>(
  active: A,
  options: { watchdogMs: number; log: (message: string) => void; teardown: (active: A) => Promise<void> },
  run: (active: A) => Promise<unknown>,
): Promise<number> {
  const { watchdogMs, log, teardown } = options;
  process.once('exit', () => active.server?.kill());
  const watchdog = setTimeout(() => {
    log(`still running after ${watchdogMs / 1000} s; giving up`);
    active.server?.kill();
    process.exit(1);
  }, watchdogMs);
  try {
    const result = await run(active);
    await teardown(active);
    await writeJsonLine(result);
    return 0;
  } catch (error) {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await teardown(active).catch(() => active.server?.kill());
    return 1;
  } finally {
    clearTimeout(watchdog);
  }
}

/**
 * For a server child: a function that closes Tribune and exits with `code`,
 * once, and exits anyway after 3 s so a stuck close never holds a benchmark.
 */
export function closeAndExit(tribune: { close(): Promise<void> }): (code: number) => void {
  let closing = false;
  return (code) => {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(code), 3000).unref();
    tribune.close().then(
      () => process.exit(code),
      () => process.exit(1),
    );
  };
}

/** This process's limits on open files (children inherit them), from /proc/self/limits. */
export function openFilesLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft = 'unlimited', hard = 'unlimited'] = line?.slice('Max open files'.length).trim().split(/\s+/) ?? [];
  const value = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: value(soft), hard: value(hard) };
}
