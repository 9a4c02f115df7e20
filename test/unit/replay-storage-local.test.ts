/**
 * Replay storage on local disk: the shared contract
 * (test/helpers/replay-storage-contract.ts) plus what only a disk has: files
 * readable with fs the moment put() resolves, crash leftovers (temp files)
 * that list() skips and sweepTemp() removes, no empty folders left behind.
 * Also storageFromEnv(), which picks local disk or S3.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LocalDiskStorage } from '../../src/replay/local-disk-storage.js';
import { S3Storage } from '../../src/replay/s3-storage.js';
import { storageFromEnv } from '../../src/replay/storage-from-config.js';
import { replayStorageContract } from '../helpers/replay-storage-contract.js';

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'tribune-replay-storage-'));
}

/** Runs body with a storage rooted at `<fresh temp dir>/replays` (not made yet), then removes the temp dir. */
async function withTempStorage(body: (dir: { root: string; storage: LocalDiskStorage }) => Promise<void>): Promise<void> {
  const root = freshDir();
  try {
    await body({ root, storage: new LocalDiskStorage(join(root, 'replays')) });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

replayStorageContract('LocalDiskStorage', async () => {
  const root = freshDir();
  const storage = new LocalDiskStorage(join(root, 'replays'));
  return {
    storage,
    dispose: async () => {
      await storage.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
});

describe('LocalDiskStorage on disk', () => {
  test('a put is a file under the root, with the bytes, as soon as put() resolves', () =>
    withTempStorage(async (dir) => {
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
      await dir.storage.put('spaces/abc/seg-000000000001.m4s', bytes);
      assert.deepEqual(new Uint8Array(readFileSync(join(dir.root, 'replays/spaces/abc/seg-000000000001.m4s'))), bytes);
      assert.deepEqual(readdirSync(join(dir.root, 'replays/spaces/abc')), ['seg-000000000001.m4s'], 'no temp file is left');
    }));

  test('list() skips temp files a crash left behind and sweepTemp() removes only them', () =>
    withTempStorage(async (dir) => {
      await dir.storage.put('spaces/abc/init.mp4', new Uint8Array([1]));
      const strays = ['spaces/abc/seg-1.m4s.tmp-0a1b2c', 'spaces/abc/init.mp4.tmp-ffff', 'clips/x/clip.m4s.tmp-1'];
      for (const stray of strays) {
        mkdirSync(join(dir.root, 'replays', stray, '..'), { recursive: true });
        writeFileSync(join(dir.root, 'replays', stray), 'torn');
      }
      assert.deepEqual(await dir.storage.list('spaces/'), ['spaces/abc/init.mp4']);
      assert.deepEqual(await dir.storage.list('clips/'), []);
      assert.equal(await dir.storage.sweepTemp(), strays.length);
      for (const stray of strays) assert.equal(existsSync(join(dir.root, 'replays', stray)), false, stray);
      assert.deepEqual(await dir.storage.get('spaces/abc/init.mp4'), new Uint8Array([1]));
      assert.equal(await dir.storage.sweepTemp(), 0);
    }));

  test('deletePrefix() leaves no empty folders behind, and never the root', () =>
    withTempStorage(async (dir) => {
      await dir.storage.put('spaces/abc/deep/x.bin', new Uint8Array([1]));
      await dir.storage.put('spaces/abc/init.mp4', new Uint8Array([1]));
      await dir.storage.put('spaces/keep/init.mp4', new Uint8Array([1]));
      assert.equal(await dir.storage.deletePrefix('spaces/abc/'), 2);
      assert.deepEqual(readdirSync(join(dir.root, 'replays/spaces')), ['keep']);
      assert.equal(await dir.storage.deletePrefix('spaces/'), 1);
      assert.deepEqual(readdirSync(join(dir.root, 'replays')), []);
    }));

  test('a key that is also a folder of other keys rejects with an Error naming the key', () =>
    withTempStorage(async (dir) => {
      await dir.storage.put('spaces/a', new Uint8Array([1]));
      await assert.rejects(dir.storage.put('spaces/a/b', new Uint8Array([2])), /cannot store spaces\/a\/b/);
      await dir.storage.put('clips/c/d', new Uint8Array([1]));
      await assert.rejects(dir.storage.put('clips/c', new Uint8Array([2])), /cannot store clips\/c/);
      assert.deepEqual(await dir.storage.list('spaces/'), ['spaces/a']);
      assert.deepEqual(await dir.storage.list('clips/'), ['clips/c/d']);
    }));

  test('a root that does not exist yet lists nothing and is made by the first put', () =>
    withTempStorage(async (dir) => {
      assert.deepEqual(await dir.storage.list('spaces/'), []);
      assert.equal(await dir.storage.get('spaces/a/b'), undefined);
      assert.equal(await dir.storage.deletePrefix('spaces/'), 0);
      await dir.storage.put('spaces/a/b', new Uint8Array([1]));
      assert.ok(existsSync(join(dir.root, 'replays/spaces/a/b')));
    }));

  test('puts racing a deletePrefix() that prunes their folder still land', () =>
    withTempStorage(async (dir) => {
      for (let round = 0; round < 20; round++) {
        await dir.storage.put('spaces/r/old', new Uint8Array([round]));
        await Promise.all([dir.storage.deletePrefix('spaces/r/old'), dir.storage.put(`spaces/r/new-${round}`, new Uint8Array([round]))]);
        assert.deepEqual(await dir.storage.get(`spaces/r/new-${round}`), new Uint8Array([round]), `round ${round}`);
      }
    }));
});

describe('storageFromEnv', () => {
  const s3Env = {
    TRIBUNE_REPLAY_S3_ENDPOINT: 'http://127.0.0.1:9000',
    TRIBUNE_REPLAY_S3_BUCKET: 'replays',
    TRIBUNE_REPLAY_S3_ACCESS_KEY_ID: 'id',
    TRIBUNE_REPLAY_S3_SECRET_ACCESS_KEY: 'secret',
  };

  test('with no S3 variable it keeps replays on local disk under the default dir', () =>
    withTempStorage(async (dir) => {
      const storage = storageFromEnv({ TRIBUNE_REPLAY_S3_ENDPOINT: '' }, join(dir.root, 'replays'));
      assert.equal(storage.kind, 'local');
      await storage.put('spaces/a/b', new Uint8Array([1]));
      assert.ok(existsSync(join(dir.root, 'replays/spaces/a/b')));
    }));

  test('with the endpoint, bucket and keys set it uses S3', async () => {
    const storage = storageFromEnv(s3Env, '/nonexistent');
    assert.ok(storage instanceof S3Storage);
    assert.equal(storage.kind, 's3');
    await storage.close();
  });

  test('a half-set S3 configuration throws naming each missing variable', () => {
    for (const name of Object.keys(s3Env)) {
      const env: Record<string, string | undefined> = { ...s3Env, [name]: undefined };
      assert.throws(() => storageFromEnv(env, '/nonexistent'), new RegExp(`${name} must be set`), name);
    }
    assert.throws(() => storageFromEnv({ TRIBUNE_REPLAY_S3_REGION: 'eu-west-1' }, '/nonexistent'), /TRIBUNE_REPLAY_S3_ENDPOINT, .*SECRET_ACCESS_KEY must be set/);
  });

  test('a bad path-style flag or endpoint throws', () => {
    assert.throws(() => storageFromEnv({ ...s3Env, TRIBUNE_REPLAY_S3_PATH_STYLE: 'yes' }, '/x'), /TRIBUNE_REPLAY_S3_PATH_STYLE must be true or false/);
    assert.throws(() => storageFromEnv({ ...s3Env, TRIBUNE_REPLAY_S3_ENDPOINT: 'ftp://host' }, '/x'), /must be http/);
  });
});
