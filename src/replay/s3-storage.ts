/**
 * Replay storage on any S3-compatible service (AWS S3, MinIO, Ceph RGW, R2,
 * Garage, ...), through its REST API: PutObject, GetObject, ListObjectsV2 and
 * DeleteObjects (https://docs.aws.amazon.com/AmazonS3/latest/API/).
 *
 * Why aws4fetch and not @aws-sdk/client-s3: we need four calls and SigV4
 * signing. aws4fetch is one dependency-free file (~10 KB, MIT, by the author
 * of the widely used `aws4`) that signs requests for Node's own fetch; the AWS
 * SDK pulls in about a hundred packages and megabytes for the same four calls.
 * What the SDK would add is XML parsing, and the two responses we read are
 * small and flat.
 */
import { createHash } from 'node:crypto';
import { AwsClient } from 'aws4fetch';
import { assertKey, assertPrefix, type ReplayStorage } from './replay-storage.js';

export interface S3StorageOptions {
  /** Base URL of the service, e.g. 'https://s3.eu-west-1.amazonaws.com' or 'http://127.0.0.1:9000'. */
  endpoint: string;
  /** Signing region, e.g. 'us-east-1' (most S3-compatible servers accept any). */
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** true: `<endpoint>/<bucket>/<key>` (MinIO and most self-hosted servers); false: `<bucket>.<endpoint host>/<key>`. */
  forcePathStyle: boolean;
  /** Deadline of one request, retries included, in ms. Default 30 000. */
  requestTimeoutMs?: number;
  /** Keys per ListObjectsV2 page and per DeleteObjects call, 1-1000. Default 1000 (the S3 maximum). */
  batchSize?: number;
  /** Retries of a request answered 5xx or 429 (exponential backoff from 100 ms). Default 3. */
  retries?: number;
}

/** An S3 request that failed: the HTTP status and S3's error Code (e.g. 'AccessDenied'), when it sent one. */
export class S3RequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly s3Code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'S3RequestError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_BATCH = 1000;

export class S3Storage implements ReplayStorage {
  readonly kind = 's3';
  readonly #client: AwsClient;
  readonly #bucketUrl: string;
  readonly #timeoutMs: number;
  readonly #batchSize: number;
  /** Aborts every request in flight when the storage closes, so no socket outlives it. */
  readonly #closing = new AbortController();

  constructor(options: S3StorageOptions) {
    this.#bucketUrl = bucketUrl(options);
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#batchSize = options.batchSize ?? MAX_BATCH;
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1 || this.#batchSize > MAX_BATCH) {
      throw new RangeError(`batchSize must be 1-${MAX_BATCH}, got ${this.#batchSize}`);
    }
    this.#client = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      service: 's3',
      region: options.region,
      retries: options.retries ?? 3,
      initRetryMs: 100,
    });
  }

  async put(key: string, bytes: Uint8Array, contentType = 'application/octet-stream'): Promise<void> {
    assertKey(key);
    // A signed payload hash, rather than UNSIGNED-PAYLOAD, lets the service reject bytes damaged on the way.
    const headers = { 'content-type': contentType, 'x-amz-content-sha256': sha256Hex(bytes) };
    await this.#request('PUT', key, `/${key}`, { body: ownBuffer(bytes), headers });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    assertKey(key);
    return this.#request('GET', key, `/${key}`, {}, true);
  }

  async list(prefix: string): Promise<string[]> {
    assertPrefix(prefix);
    const keys: string[] = [];
    for await (const page of this.#pages(prefix)) keys.push(...page);
    // S3 already sorts by UTF-8 bytes; sorting again keeps the contract when a server does not.
    return keys.sort();
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertPrefix(prefix);
    let deleted = 0;
    // The continuation token names the last key listed, so deleting a page does not disturb the next.
    for await (const page of this.#pages(prefix)) {
      if (page.length > 0) await this.#deleteObjects(page);
      deleted += page.length;
    }
    return deleted;
  }

  async close(): Promise<void> {
    this.#closing.abort(new Error('S3Storage is closed'));
  }

  async *#pages(prefix: string): AsyncGenerator<string[]> {
    let token: string | undefined;
    do {
      const query = new URLSearchParams({ 'list-type': '2', prefix, 'max-keys': String(this.#batchSize) });
      if (token !== undefined) query.set('continuation-token', token);
      const xml = new TextDecoder().decode(await this.#request('GET', `list ${prefix}`, `?${query}`));
      yield xmlBlocks(xml, 'Contents').flatMap((block) => xmlTexts(block, 'Key'));
      token = xmlTexts(xml, 'IsTruncated')[0] === 'true' ? xmlTexts(xml, 'NextContinuationToken')[0] : undefined;
    } while (token !== undefined);
  }

  /** DeleteObjects, https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html (a key not there counts as deleted). */
  async #deleteObjects(keys: string[]): Promise<void> {
    const body = new TextEncoder().encode(
      '<?xml version="1.0" encoding="UTF-8"?>' +
        '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>' +
        keys.map((key) => `<Object><Key>${escapeXml(key)}</Key></Object>`).join('') +
        '</Delete>',
    );
    const headers = {
      'content-type': 'application/xml',
      // AWS refuses a multi-object delete without a body checksum.
      'content-md5': createHash('md5').update(body).digest('base64'),
      'x-amz-content-sha256': sha256Hex(body),
    };
    const answer = await this.#request('POST', `DeleteObjects ${keys[0]}...`, '?delete', { body, headers });
    // A 200 answer still lists the keys it failed to delete, each with its own error.
    const failure = xmlBlocks(new TextDecoder().decode(answer), 'Error')[0];
    if (failure !== undefined) {
      const code = xmlTexts(failure, 'Code')[0];
      const key = xmlTexts(failure, 'Key')[0];
      throw new S3RequestError(`S3 DeleteObjects failed for ${key}: ${code}: ${xmlTexts(failure, 'Message')[0] ?? ''}`, 200, code);
    }
  }

  /**
   * One signed request to `<bucket URL><path>`, answer read whole. Resolves with
   * the body when it succeeded, with undefined for a missing object when
   * notFoundOk, and rejects with an S3RequestError otherwise.
   */
  async #request(method: string, what: string, path: string, init?: RequestInit, notFoundOk?: false): Promise<Uint8Array>;
  async #request(method: string, what: string, path: string, init: RequestInit, notFoundOk: true): Promise<Uint8Array | undefined>;
  async #request(method: string, what: string, path: string, init: RequestInit = {}, notFoundOk = false): Promise<Uint8Array | undefined> {
    if (this.#closing.signal.aborted) throw new Error('S3Storage is closed');
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(this.#timeoutMs)]);
    let response: Response;
    let body: Uint8Array;
    try {
      response = await this.#client.fetch(`${this.#bucketUrl}${path}`, { ...init, method, signal });
      // Read to the end even when unused, so the connection goes back to the pool.
      body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      const reason = this.#closing.signal.aborted ? 'closed' : signal.aborted ? `timed out after ${this.#timeoutMs} ms` : String(error);
      throw new S3RequestError(`S3 ${method} ${what} failed: ${reason}`, undefined, undefined, { cause: error });
    }
    if (response.ok) return body;
    const xml = new TextDecoder().decode(body);
    const code = xmlTexts(xml, 'Code')[0] ?? response.headers.get('x-amz-error-code') ?? undefined;
    // A missing bucket is also a 404, and must not read as a missing object.
    if (notFoundOk && response.status === 404 && (code === undefined || code === 'NoSuchKey')) return undefined;
    const message = xmlTexts(xml, 'Message')[0];
    throw new S3RequestError(
      `S3 ${method} ${what} failed: ${response.status} ${code ?? '(no error code)'}${message ? `: ${message}` : ''}`,
      response.status,
      code,
    );
  }
}

/** The URL that object paths are appended to, in path style or virtual-hosted style. */
export function bucketUrl(options: Pick<S3StorageOptions, 'endpoint' | 'bucket' | 'forcePathStyle'>): string {
  const url = new URL(options.endpoint);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`S3 endpoint must be http(s): ${options.endpoint}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) throw new TypeError(`invalid S3 bucket name: ${options.bucket}`);
  const base = url.pathname.replace(/\/+$/, '');
  if (options.forcePathStyle) return `${url.origin}${base}/${options.bucket}`;
  return `${url.protocol}//${options.bucket}.${url.host}${base}`;
}

/** fetch sends only bytes over a plain ArrayBuffer; a view of a SharedArrayBuffer is copied. */
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The inner XML of every <tag>...</tag> (S3's responses carry no attributes on the elements we read). */
function xmlBlocks(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((match) => match[1] ?? '');
}

function xmlTexts(xml: string, tag: string): string[] {
  return xmlBlocks(xml, tag).map(unescapeXml);
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(?:#x([0-9a-fA-F]+)|#(\d+)|(amp|lt|gt|quot|apos));/g, (_match, hex?: string, dec?: string, name?: string) => {
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
    if (dec !== undefined) return String.fromCodePoint(parseInt(dec, 10));
    return XML_ENTITIES[name ?? ''] ?? '';
  });
}

/** Keys listed from the bucket were not necessarily written by us, so they may hold any character. */
function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
