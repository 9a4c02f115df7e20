/**
 * Replay storage on the local file system: the object under key `a/b/c.m4s`
 * is the file `<rootDir>/a/b/c.m4s`, so an operator can read a replay with
 * `ls`, and an edge or the origin could serve the files as they are.
 *
 * A put writes `<file>.tmp-<random>`, fsyncs it, renames it over the file and
 * fsyncs the directory: a crash leaves either the old object or the new one,
 * never a torn file, and at worst a stray temp file that list() skips and
 * sweepTemp() removes. rename() is atomic, so concurrent puts of one key end
 * with one whole object (the last rename wins).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { assertKey, assertPrefix, TEMP_MARKER, type ReplayStorage } from './replay-storage.js';

/** Files unlinked at once by deletePrefix() and sweepTemp(). */
const UNLINK_CONCURRENCY = 32;
/** A put whose directory deletePrefix() pruned at the wrong moment starts over, this many times. */
const PUT_ATTEMPTS = 3;

export class LocalDiskStorage implements ReplayStorage {
  readonly kind = 'local';
  readonly #root: string;
  /** Temp files of puts in flight, which sweepTemp() must leave alone. */
  readonly #writing = new Set<string>();
  /**
   * Directories whose own entry (and their parents', up to the root) this
   * process has fsynced; a directory made by mkdir is not durable until then.
   */
  readonly #durableDirs = new Set<string>();
  #closed = false;

  constructor(rootDir: string) {
    this.#root = resolve(rootDir);
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    assertKey(key);
    this.#assertOpen();
    const path = join(this.#root, key);
    const dir = dirname(path);
    const temp = `${path}${TEMP_MARKER}${randomBytes(6).toString('hex')}`;
    this.#writing.add(temp);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#ensureDurableDir(dir);
          await writeAndSync(temp, bytes);
          break;
        } catch (error) {
          if (errorCode(error) !== 'ENOENT' || attempt >= PUT_ATTEMPTS) throw error;
          this.#durableDirs.delete(dir);
        }
      }
      await rename(temp, path);
      await syncDir(dir);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      const code = errorCode(error);
      if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') {
        throw new Error(`cannot store ${key}: on local disk a key cannot also be a folder of other keys`, { cause: error });
      }
      throw error;
    } finally {
      this.#writing.delete(temp);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertKey(key);
    this.#assertOpen();
    try {
      const file = await readFile(join(this.#root, key));
      return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    assertPrefix(prefix);
    this.#assertOpen();
    const keys: string[] = [];
    await this.#walk(prefix, (key) => {
      if (!key.includes(TEMP_MARKER)) keys.push(key);
    });
    return keys.sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = await this.list(prefix);
    let deleted = 0;
    await eachLimited(keys, async (key) => {
      if (await unlinkIfThere(join(this.#root, key))) deleted++;
    });
    await this.#pruneEmptyDirs(keys.map((key) => dirname(join(this.#root, key))));
    return deleted;
  }

  /** Removes temp files that a crashed put left behind (not those of puts in flight); returns how many. */
  async sweepTemp(): Promise<number> {
    this.#assertOpen();
    const stray: string[] = [];
    await this.#walk('', (key) => {
      const path = join(this.#root, key);
      if (key.includes(TEMP_MARKER) && !this.#writing.has(path)) stray.push(path);
    });
    let removed = 0;
    await eachLimited(stray, async (path) => {
      if (await unlinkIfThere(path)) removed++;
    });
    return removed;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('LocalDiskStorage is closed');
  }

  /** Calls onFile with the key of every regular file whose key starts with prefix ('' for all). */
  async #walk(prefix: string, onFile: (key: string) => void): Promise<void> {
    const walkDir = async (dirKey: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(join(this.#root, dirKey), { withFileTypes: true });
      } catch (error) {
        const code = errorCode(error);
        if (code === 'ENOENT' || code === 'ENOTDIR') return;
        throw error;
      }
      for (const entry of entries) {
        const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
        if (entry.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walkDir(key);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          onFile(key);
        }
      }
    };
    // Only the folder the prefix names can hold matches: 'spaces/ab' → 'spaces'.
    await walkDir(prefix.slice(0, Math.max(0, prefix.lastIndexOf('/'))));
  }

  async #ensureDurableDir(dir: string): Promise<void> {
    if (this.#durableDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    // mkdir may have made any of dir's ancestors, the root included, or another put may
    // have made them and not fsynced them yet: each one's entry in its parent must be durable.
    for (let child = dir; ; child = dirname(child)) {
      await syncDir(dirname(child));
      if (child === this.#root || child === dirname(child)) break;
    }
    this.#durableDirs.add(dir);
  }

  /** Removes the now empty directories among dirs and their ancestors below the root. */
  async #pruneEmptyDirs(dirs: string[]): Promise<void> {
    const deepestFirst = [...new Set(dirs)].sort((a, b) => b.length - a.length);
    for (const start of deepestFirst) {
      for (let dir = start; dir !== this.#root && dir.startsWith(this.#root); dir = dirname(dir)) {
        try {
          await rmdir(dir);
          this.#durableDirs.delete(dir);
        } catch {
          break; // not empty (or gone): its ancestors are not empty either
        }
      }
    }
  }
}

async function writeAndSync(path: string, bytes: Uint8Array): Promise<void> {
  const file = await open(path, 'wx');
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
}

/** Makes a directory's entries (a rename into it, a new subdirectory) durable. */
async function syncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function unlinkIfThere(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

async function eachLimited<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  for (let start = 0; start < items.length; start += UNLINK_CONCURRENCY) {
    await Promise.all(items.slice(start, start + UNLINK_CONCURRENCY).map(work));
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
