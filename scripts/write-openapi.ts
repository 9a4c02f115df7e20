/**
 * Writes docs/openapi.json, the OpenAPI document @fastify/swagger generates
 * from the route schemas (`npm run openapi`). test/unit/openapi.test.ts fails
 * when the file and the code disagree, so the document cannot drift.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { configFromEnv, type TribuneConfig } from '../src/config.js';
import { buildServer } from '../src/server.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../docs/openapi.json', import.meta.url));

/** The default configuration, on a loopback address; the server is built but never listens. */
export function openApiConfig(): TribuneConfig {
  return { ...configFromEnv({}), port: 0, host: '127.0.0.1', store: { databaseUrl: undefined, sqlitePath: ':memory:' } };
}

/** The document as written to disk; call after `app.ready()`. */
export function renderOpenApi(app: FastifyInstance): string {
  return JSON.stringify(app.swagger(), null, 2) + '\n';
}

async function main(): Promise<void> {
  const tribune = await buildServer(openApiConfig());
  try {
    await tribune.app.ready();
    await writeFile(OPENAPI_PATH, renderOpenApi(tribune.app));
    console.log(`wrote ${OPENAPI_PATH}`);
  } finally {
    await tribune.close();
  }
}

// Importable by the test without writing anything.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
