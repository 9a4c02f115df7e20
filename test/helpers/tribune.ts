/** Starts a fresh Tribune on a free loopback port for one test file. */
import { configFromEnv, type TribuneConfig } from '../../src/config.js';
import { buildServer, type Tribune } from '../../src/server.js';
import type { CreatedSpace } from '../../src/wire/api.js';

export interface RunningTribune {
  url: string;
  tribune: Tribune;
  createSpace(title?: string): Promise<CreatedSpace>;
  close(): Promise<void>;
}

export async function startTribune(overrides: Partial<TribuneConfig> = {}): Promise<RunningTribune> {
  const tribune = await buildServer({
    ...configFromEnv({}),
    host: '127.0.0.1',
    port: 0,
    // A fresh in-memory SQLite per server: tests never touch ./data.
    store: { databaseUrl: undefined, sqlitePath: ':memory:' },
    ...overrides,
  });
  const url = await tribune.listen();
  return {
    url,
    tribune,
    async createSpace(title = 'Test Space') {
      const response = await fetch(`${url}/api/spaces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ title }),
      });
      if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`);
      return (await response.json()) as CreatedSpace;
    },
    close: () => tribune.close(),
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
