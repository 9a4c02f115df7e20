/** Starts a fresh Tribune on a free loopback port for one test file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromEnv, type TribuneConfig } from '../../src/config.js';
import { DEFAULT_SHEDDER } from '../../src/guard/load-shedder.js';
import { buildServer, type Tribune } from '../../src/server.js';
import type { CreatedSpace } from '../../src/wire/api.js';
import { TestAccount } from './accounts.js';

export interface TestSpace extends CreatedSpace {
  host: TestAccount;
  /** The host's stage pass. */
  hostToken: string;
  /**
   * A new account that asked to speak and was accepted by the host, and its
   * stage pass: one per stage member (an account is on a stage once).
   */
  speaker(name?: string): Promise<{ account: TestAccount; token: string }>;
  /** Shorthand: a new accepted speaker's stage pass. */
  speakerPass(name?: string): Promise<string>;
}

export interface RunningTribune {
  url: string;
  tribune: Tribune;
  /** Signs up a new account through the API. */
  account(username?: string, displayName?: string): Promise<TestAccount>;
  /** A live Space hosted by a new account. */
  createSpace(title?: string, host?: TestAccount, options?: { record?: boolean }): Promise<TestSpace>;
  close(): Promise<void>;
}

export async function startTribune(overrides: Partial<TribuneConfig> = {}): Promise<RunningTribune> {
  // Replays and their journal in a fresh directory per server, removed at close unless the test gave its own.
  const replayDir = overrides.replay ? undefined : mkdtempSync(join(tmpdir(), 'tribune-replays-'));
  const tribune = await buildServer({
    ...configFromEnv({}),
    replay: { ...configFromEnv({}).replay, dir: join(replayDir ?? '', 'store'), journalDir: join(replayDir ?? '', 'journal') },
    // Every test client shares 127.0.0.1: per-address budgets are scaled up here, and
    // test/integration/guard.test.ts checks them at their real size.
    // Shedding waits for 10x the event-loop delay: this shared, busy box must not shed a test's requests.
    guard: {
      ...configFromEnv({}).guard,
      ipScale: 1000,
      connectionsPerAddress: 100_000,
      shedder: { ...DEFAULT_SHEDDER, delayMs: [500, 1000, 2000, 4000] },
    },
    host: '127.0.0.1',
    port: 0,
    // Node's fetch keeps Secure cookies on http://127.0.0.1 only with this off;
    // browser tests (Chromium treats loopback as secure) keep the default.
    secureCookies: false,
    // A fresh in-memory SQLite per server: tests never touch ./data.
    store: { databaseUrl: undefined, sqlitePath: ':memory:' },
    ...overrides,
  });
  const url = await tribune.listen();
  const account = (username?: string, displayName?: string) => TestAccount.signUp(url, username, displayName);
  return {
    url,
    tribune,
    account,
    async createSpace(title = 'Test Space', hostAccount?: TestAccount, options: { record?: boolean } = {}) {
      const host = hostAccount ?? (await account());
      const created = await host.bot<CreatedSpace>('POST', '/api/spaces', { title, ...options });
      if (created.status !== 201 || !created.body.stagePass) throw new Error(`create failed: ${created.status} ${JSON.stringify(created.body)}`);
      const spaceId = created.body.space.id;
      const speaker = async (name?: string) => {
        const guest = await account(undefined, name);
        const asked = await guest.bot('POST', `/api/spaces/${spaceId}/requests`, {});
        if (asked.status !== 200) throw new Error(`request to speak failed: ${asked.status} ${JSON.stringify(asked.body)}`);
        const accepted = await host.bot('POST', `/api/spaces/${spaceId}/requests/${guest.id}/accept`, {});
        if (accepted.status !== 200) throw new Error(`accept failed: ${accepted.status} ${JSON.stringify(accepted.body)}`);
        return { account: guest, token: await guest.stagePass(spaceId) };
      };
      return {
        ...created.body,
        host,
        hostToken: created.body.stagePass.token,
        speaker,
        speakerPass: async (name?: string) => (await speaker(name)).token,
      };
    },
    async close() {
      await tribune.close();
      if (replayDir) rmSync(replayDir, { recursive: true, force: true });
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` until it holds or `timeoutMs` passes. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
