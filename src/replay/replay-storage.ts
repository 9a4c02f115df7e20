/**
 * Where a replay's media is kept once a Space ends: a flat key → bytes store
 * with two implementations, local disk (`local-disk-storage.ts`, the default)
 * and any S3-compatible service (`s3-storage.ts`). `storage-from-config.ts`
 * picks one.
 *
 * Keys are built by the server, yet they become file paths and URL paths, so
 * they are checked again here: a bad key is a programming error and throws a
 * TypeError at once, before any I/O.
 */

export interface ReplayStorage {
  readonly kind: 'local' | 's3';
  /**
   * Stores bytes under key (replacing any object there). Resolves only once the
   * object is durable: on local disk after fsync of the file AND its directory
   * (write to a temp name, fsync, rename, fsync dir); on S3 after the PUT
   * succeeded. contentType defaults to application/octet-stream (S3 only).
   *
   * A key must not also be a folder of other keys ('a' and 'a/b'): S3 allows
   * it, local disk cannot, so put rejects there.
   */
  put(key: string, bytes: Uint8Array, contentType?: string): Promise<void>;
  /** The whole object, or undefined when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * Keys under a prefix (e.g. 'spaces/abc/'), sorted by key; paginates on S3.
   * A prefix is a plain string prefix, as on S3: 'spaces/a' also matches 'spaces/ab/x'.
   */
  list(prefix: string): Promise<string[]>;
  /** Deletes every object under a prefix; returns how many. Idempotent. */
  deletePrefix(prefix: string): Promise<number>;
  /** Frees resources (S3 client sockets). Safe to call twice; later calls of other methods reject. */
  close(): Promise<void>;
}

/** Longest key or prefix, in characters (S3 allows 1024 bytes; we need far less). */
export const MAX_KEY_CHARS = 512;

/**
 * local-disk-storage.ts writes `<file>.tmp-<random>` before renaming it into
 * place, and list() skips such names, so a key holding this marker would vanish.
 */
export const TEMP_MARKER = '.tmp-';

/**
 * Longest segment between slashes: a segment becomes a file name on local disk,
 * where names stop at 255 bytes, and the temp name adds `.tmp-` and 12 hex digits.
 */
export const MAX_SEGMENT_CHARS = 200;

const KEY_CHARS = /^[A-Za-z0-9._/-]+$/;

/** Throws a TypeError unless key is a valid object key. */
export function assertKey(key: string): void {
  const problem = keyProblem(key, false);
  if (problem) throw new TypeError(`invalid replay storage key ${JSON.stringify(key)}: ${problem}`);
}

/** Throws a TypeError unless prefix is a valid key prefix (a key, optionally ending with '/'). */
export function assertPrefix(prefix: string): void {
  const problem = keyProblem(prefix, true);
  if (problem) throw new TypeError(`invalid replay storage prefix ${JSON.stringify(prefix)}: ${problem}`);
}

function keyProblem(key: unknown, isPrefix: boolean): string | undefined {
  if (typeof key !== 'string') return 'not a string';
  if (key.length < 1 || key.length > MAX_KEY_CHARS) return `length must be 1-${MAX_KEY_CHARS}`;
  if (!KEY_CHARS.test(key)) return 'only A-Z a-z 0-9 . _ / - are allowed';
  if (key.startsWith('/')) return 'leading /';
  if (key.includes(TEMP_MARKER)) return `"${TEMP_MARKER}" is reserved for temp files`;
  const segments = key.split('/');
  // A prefix's trailing '/' leaves one empty last segment, which is allowed.
  if (isPrefix && key.endsWith('/')) segments.pop();
  for (const segment of segments) {
    if (segment === '') return 'empty segment';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
    if (segment.length > MAX_SEGMENT_CHARS) return `a segment is longer than ${MAX_SEGMENT_CHARS}`;
  }
  return undefined;
}
