/**
 * Replay storage on S3: the shared contract
 * (test/helpers/replay-storage-contract.ts) against a real S3-compatible
 * server, s3rver (npm devDependency), run as its own process on a free
 * loopback port with a fresh bucket per test; plus what only S3 has: a
 * missing bucket, bad credentials, error codes, timeouts and closing in
 * the middle of a request.
 *
 * s3rver is a stand-in with limits: it checks that the access key exists but
 * not the SigV4 signature itself, and its continuation tokens use DES, which
 * Node 20's OpenSSL 3 only has in the legacy provider, hence
 * --openssl-legacy-provider. If the server cannot start, every test fails.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AwsClient } from 'aws4fetch';
import { S3RequestError, S3Storage, bucketUrl, type S3StorageOptions } from '../../src/replay/s3-storage.js';
import { freePort } from '../../src/tools/free-port.js';
import { replayStorageContract } from '../helpers/replay-storage-contract.js';

/** s3rver's built-in account. */
const ACCESS_KEY_ID = 'S3RVER';
const SECRET_ACCESS_KEY = 'S3RVER';
const START_TIMEOUT_MS = 20_000;

interface S3rver {
  endpoint: string;
  stop(): Promise<void>;
}

async function startS3rver(): Promise<S3rver> {
  const bin = createRequire(import.meta.url).resolve('s3rver/bin/s3rver.js');
  const dir = mkdtempSync(join(tmpdir(), 'tribune-s3rver-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['--openssl-legacy-provider', bin, '--directory', dir, '--address', '127.0.0.1', '--port', String(port), '--silent'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening after ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      child.stdout.on('data', () => {
        if (output.includes('S3rver listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`exited (${code ?? signal}) before listening`));
      });
      child.once('error', reject);
    });
  } catch (error) {
    await stop();
    throw new Error(`s3rver did not start: ${(error as Error).message}\n${output}`, { cause: error });
  }
  return { endpoint: `http://127.0.0.1:${port}`, stop };
}

let server: S3rver | undefined;
let bucketCount = 0;

before(async () => {
  server = await startS3rver();
}, { timeout: START_TIMEOUT_MS + 5_000 });
after(async () => {
  await server?.stop();
});

function endpoint(): string {
  if (!server) throw new Error('s3rver is not running (see the before hook)');
  return server.endpoint;
}

function options(overrides: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return {
    endpoint: endpoint(),
    region: 'us-east-1',
    bucket: 'unused',
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: SECRET_ACCESS_KEY,
    forcePathStyle: true,
    requestTimeoutMs: 10_000,
    ...overrides,
  };
}

const admin = new AwsClient({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY, service: 's3', region: 'us-east-1', retries: 0 });

/** Creates an empty bucket through the S3 API (CreateBucket) and returns its name. */
async function freshBucket(): Promise<string> {
  const bucket = `replays-${process.pid}-${++bucketCount}`;
  const response = await admin.fetch(`${endpoint()}/${bucket}`, { method: 'PUT' });
  assert.equal(response.status, 200, `CreateBucket ${bucket}: ${await response.text()}`);
  return bucket;
}

// batchSize 10 makes the contract's 25-key test walk three ListObjectsV2 pages and three DeleteObjects calls.
replayStorageContract('S3Storage on s3rver', async () => {
  const storage = new S3Storage(options({ bucket: await freshBucket(), batchSize: 10 }));
  return { storage, dispose: () => storage.close() };
}, { atomicOverwrite: false });

/** A local HTTP server that answers every request with `handler`, for failures s3rver cannot produce. */
async function withStub(handler: Parameters<typeof createServer>[1], body: (endpoint: string, requests: () => number) => Promise<void>): Promise<void> {
  let requests = 0;
  const stub: Server = createServer((request, response) => {
    requests++;
    handler?.(request, response);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => stub.listen(port, '127.0.0.1', resolve));
  try {
    await body(`http://127.0.0.1:${port}`, () => requests);
  } finally {
    stub.closeAllConnections();
    await new Promise((resolve) => stub.close(resolve));
  }
}

describe('S3Storage against S3 and its failures', () => {
  test('put sends the content type, which a plain GET of the object returns', async () => {
    const bucket = await freshBucket();
    const storage = new S3Storage(options({ bucket }));
    await storage.put('spaces/a/init.mp4', new Uint8Array([1, 2]), 'video/mp4');
    await storage.put('spaces/a/blob', new Uint8Array([3]));
    const typed = await admin.fetch(`${endpoint()}/${bucket}/spaces/a/init.mp4`);
    assert.equal(typed.headers.get('content-type'), 'video/mp4');
    const untyped = await admin.fetch(`${endpoint()}/${bucket}/spaces/a/blob`);
    assert.equal(untyped.headers.get('content-type'), 'application/octet-stream');
    await storage.close();
  });

  test('get from a bucket that does not exist rejects with NoSuchBucket instead of reading as a missing object', async () => {
    const storage = new S3Storage(options({ bucket: 'no-such-bucket' }));
    await assert.rejects(storage.get('spaces/a/init.mp4'), (error: unknown) => {
      assert.ok(error instanceof S3RequestError);
      assert.equal(error.status, 404);
      assert.equal(error.s3Code, 'NoSuchBucket');
      assert.match(error.message, /S3 GET spaces\/a\/init\.mp4 failed: 404 NoSuchBucket/);
      return true;
    });
    await assert.rejects(storage.list('spaces/'), { s3Code: 'NoSuchBucket' });
    await storage.close();
  });

  test('an unknown access key rejects with the S3 error code InvalidAccessKeyId', async () => {
    const storage = new S3Storage(options({ bucket: await freshBucket(), accessKeyId: 'NOBODY' }));
    await assert.rejects(storage.put('spaces/a/x', new Uint8Array([1])), { name: 'S3RequestError', status: 403, s3Code: 'InvalidAccessKeyId' });
    await storage.close();
  });

  test('a 5xx answer is retried, then rejects with its status and code', () =>
    withStub(
      (_request, response) => {
        response.writeHead(503, { 'content-type': 'application/xml' });
        response.end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      },
      async (stubEndpoint, requests) => {
        const storage = new S3Storage(options({ endpoint: stubEndpoint, bucket: 'b-1', retries: 2 }));
        await assert.rejects(storage.put('spaces/a/x', new Uint8Array([1])), /failed: 503 SlowDown: Please reduce your request rate\./);
        assert.equal(requests(), 3, 'one try and two retries');
        await storage.close();
      },
    ));

  test('an answer without an S3 error body still rejects with its status', () =>
    withStub(
      (_request, response) => {
        response.writeHead(502);
        response.end('Bad Gateway');
      },
      async (stubEndpoint) => {
        const storage = new S3Storage(options({ endpoint: stubEndpoint, bucket: 'b-1', retries: 0 }));
        await assert.rejects(storage.get('spaces/a/x'), { status: 502, s3Code: undefined, message: /failed: 502 \(no error code\)/ });
        await storage.close();
      },
    ));

  test('a server that never answers makes the request reject after requestTimeoutMs', () =>
    withStub(
      () => undefined,
      async (stubEndpoint) => {
        const storage = new S3Storage(options({ endpoint: stubEndpoint, bucket: 'b-1', requestTimeoutMs: 300 }));
        const startedMs = Date.now();
        await assert.rejects(storage.get('spaces/a/x'), /S3 GET spaces\/a\/x failed: timed out after 300 ms/);
        const tookMs = Date.now() - startedMs;
        assert.ok(tookMs >= 250 && tookMs < 5_000, `took ${tookMs} ms`);
        await storage.close();
      },
    ));

  test('close() aborts a request in flight', () =>
    withStub(
      () => undefined,
      async (stubEndpoint, requests) => {
        const storage = new S3Storage(options({ endpoint: stubEndpoint, bucket: 'b-1' }));
        const pending = storage.list('spaces/');
        while (requests() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
        await storage.close();
        await assert.rejects(pending, /failed: closed/);
      },
    ));

  test('virtual-hosted style puts the bucket in the host name, path style in the path', () => {
    assert.equal(bucketUrl({ endpoint: 'https://s3.eu-west-1.amazonaws.com', bucket: 'replays', forcePathStyle: false }), 'https://replays.s3.eu-west-1.amazonaws.com');
    assert.equal(bucketUrl({ endpoint: 'http://minio:9000/', bucket: 'replays', forcePathStyle: true }), 'http://minio:9000/replays');
    assert.equal(bucketUrl({ endpoint: 'http://gw.example/s3/', bucket: 'r.1', forcePathStyle: true }), 'http://gw.example/s3/r.1');
    assert.throws(() => bucketUrl({ endpoint: 'http://minio:9000', bucket: 'Bad_Bucket', forcePathStyle: true }), TypeError);
  });
});
