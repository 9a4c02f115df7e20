/**
 * The throwaway PostgreSQL harness (test/helpers/postgres.ts): a server pg
 * can use, gone with its temp dir after stop(), two at once, and the
 * safety net for a test process that never calls stop().
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import pg from 'pg';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';

const HELPER_URL = new URL('../helpers/postgres.ts', import.meta.url).href;
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The error code of a TCP connect to 127.0.0.1:port, or 'connected'. */
function tcpConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

async function assertGone(server: { port: number; dir: string }): Promise<void> {
  assert.equal(await tcpConnect(server.port), 'ECONNREFUSED', `port ${server.port} should be closed`);
  assert.equal(existsSync(server.dir), false, `${server.dir} should be removed`);
}

async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

test('startPostgres gives a server pg can use; stop() closes its port and removes its temp dir', async () => {
  const server = await startPostgres();
  try {
    assert.match(server.url, /^postgres:\/\/tribune@127\.0\.0\.1:\d+\/tribune$/);
    assert.equal(server.url, `postgres://tribune@127.0.0.1:${server.port}/tribune`);
    assert.ok(existsSync(server.dir));

    await withClient(server.url, async (client) => {
      const one = await client.query<{ one: number }>('select 1 as one');
      assert.deepEqual(one.rows, [{ one: 1 }]);

      const who = await client.query<{ db: string; usr: string; enc: string; fsync: string }>(
        "select current_database() as db, current_user as usr, pg_encoding_to_char(encoding) as enc, current_setting('fsync') as fsync from pg_database where datname = current_database()",
      );
      assert.deepEqual(who.rows, [{ db: 'tribune', usr: 'tribune', enc: 'UTF8', fsync: 'off' }]);

      await client.query('create table spaces (id serial primary key, title text not null)');
      await client.query('insert into spaces (title) values ($1), ($2)', ['Morning Show', 'Ünïcödé ✓']);
      const rows = await client.query<{ id: number; title: string }>('select id, title from spaces order by id');
      assert.deepEqual(rows.rows, [
        { id: 1, title: 'Morning Show' },
        { id: 2, title: 'Ünïcödé ✓' },
      ]);
    });
  } finally {
    await server.stop();
  }
  await assertGone(server);
  await server.stop(); // idempotent
});

test('two servers run at once on different ports, each with its own data', async () => {
  const servers: PostgresServer[] = await Promise.all([startPostgres(), startPostgres()]);
  try {
    const [a, b] = servers as [PostgresServer, PostgresServer];
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.dir, b.dir);

    await Promise.all(
      servers.map((server, i) =>
        withClient(server.url, async (client) => {
          await client.query('create table marker (value text)');
          await client.query('insert into marker values ($1)', [`server-${i}`]);
        }),
      ),
    );
    for (const [i, server] of servers.entries()) {
      const values = await withClient(server.url, async (client) => (await client.query<{ value: string }>('select value from marker')).rows);
      assert.deepEqual(values, [{ value: `server-${i}` }]);
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
  for (const server of servers) await assertGone(server);
});

/**
 * Runs a child node process that starts a server, prints {port, dir} and then
 * either just ends (exit handler) or waits to be sent `signal`.
 */
async function childThatForgetsStop(signal: NodeJS.Signals | null): Promise<{ port: number; dir: string; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const code = [
    `import { startPostgres } from ${JSON.stringify(HELPER_URL)};`,
    'const server = await startPostgres();',
    'console.log(JSON.stringify({ port: server.port, dir: server.dir }));',
    signal ? 'setInterval(() => {}, 1000);' : '',
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        const newline = stdout.indexOf('\n');
        if (newline >= 0) resolve(stdout.slice(0, newline));
      });
      void exited.then(() => reject(new Error(`child exited before printing; stderr: ${stderr}`)));
    });
    const started = JSON.parse(line) as { port: number; dir: string };
    if (signal) {
      assert.equal(await tcpConnect(started.port), 'connected', 'server should be up while the child lives');
      child.kill(signal);
    }
    return { ...started, ...(await exited), stderr };
  } finally {
    clearTimeout(timer);
  }
}

test('a process that never calls stop() still stops its server and removes its temp dir on exit', async () => {
  const result = await childThatForgetsStop(null);
  assert.equal(result.code, 0, result.stderr);
  await assertGone(result);
});

test('SIGTERM to a process that never calls stop() stops its server, then the process dies of SIGTERM', async () => {
  const result = await childThatForgetsStop('SIGTERM');
  assert.equal(result.signal, 'SIGTERM', result.stderr);
  await assertGone(result);
});
