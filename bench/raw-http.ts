/**
 * A minimal HTTP/1.1 client for load generators that must simulate
 * thousands of clients per core: one keep-alive TCP connection, one request
 * at a time (no pipelining: a server sees what a real client's connection
 * sends), callbacks instead of promises, and no copy of what it reads.
 *
 * Cost per request, on this side: one write of a prebuilt Buffer and, per
 * answer, one read into a buffer shared by every connection of the process
 * (net's `onread` option: no allocation per read). Bodies the caller wants
 * are handed over as a view of that shared buffer, valid only during the
 * callback (copied only when an answer spans reads); bodies it does not want
 * (media parts) are only counted. node:http's client costs several times
 * more CPU per request, and at 20,000 answers a second that cost, not the
 * server, would decide what the benchmark measures (bench/feed-run.ts came
 * to the same conclusion).
 *
 * Understands what nginx and Tribune send: content-length bodies, chunked
 * bodies (slow path), no body for 1xx/204/304, `connection: close`.
 * Timeouts are checked by the owner's periodic sweep (expire()), not by a
 * timer per request.
 */
import net from 'node:net';

/**
 * Called once per request. `status` is the HTTP status, or 0 when there was
 * no answer (`error` says why: a connection error, 'timeout', 'closed').
 * `body` is set only when the request asked for it; it may be a view of a
 * shared buffer: use or copy it before returning.
 */
export type AnswerCallback = (status: number, body: Buffer | undefined, bodyBytes: number, error: string | undefined) => void;

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = [Buffer.from('\r\ncontent-length:'), Buffer.from('\r\nContent-Length:')];
const CHUNKED = [Buffer.from('\r\ntransfer-encoding: chunked'), Buffer.from('\r\nTransfer-Encoding: chunked')];
const CLOSE = [Buffer.from('\r\nconnection: close'), Buffer.from('\r\nConnection: close')];

/** One read buffer for every connection of the process: reads are handled synchronously, one at a time. */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

function findIn(data: Buffer, needles: Buffer[], from: number, before: number): number {
  for (const needle of needles) {
    const at = data.indexOf(needle, from);
    if (at >= 0 && at < before) return at;
  }
  return -1;
}

export class HttpConnection {
  /** When the request in flight times out (Date.now() ms); 0 when idle. */
  deadline = 0;
  /** Requests sent and connections opened over this connection's life. */
  requests = 0;
  connects = 0;
  private socket: net.Socket | undefined;
  private callback: AnswerCallback | undefined;
  private keepBody = false;
  // Parser state of the answer in flight.
  private inHead = true;
  private partialHead: Buffer | undefined;
  private status = 0;
  private remaining = 0;
  private chunked = false;
  private chunkedBytes: Buffer[] = [];
  private closeAfter = false;
  private bodyBytes = 0;
  private bodyParts: Buffer[] | undefined;

  constructor(
    private readonly port: number,
    private readonly host: string,
    /** Source address (another loopback address gives another 28,000 ephemeral ports). */
    private readonly localAddress?: string,
  ) {}

  get busy(): boolean {
    return this.callback !== undefined;
  }

  /** Sends `data` (a whole request); `callback` gets the answer. One request at a time. */
  request(data: Buffer, keepBody: boolean, timeoutMs: number, callback: AnswerCallback): void {
    if (this.callback) {
      callback(0, undefined, 0, 'busy');
      return;
    }
    this.callback = callback;
    this.keepBody = keepBody;
    this.deadline = Date.now() + timeoutMs;
    this.resetParser();
    this.requests++;
    this.connection().write(data);
  }

  /** Fails the request in flight if its deadline passed (and drops the connection: its answer may still come). */
  expire(now: number): void {
    if (this.callback && now > this.deadline) this.fail('timeout', true);
  }

  /** Closes the connection; a request in flight ends with error 'closed'. */
  close(): void {
    this.fail('closed', true);
  }

  private connection(): net.Socket {
    if (this.socket) return this.socket;
    this.connects++;
    const socket = net.connect({
      port: this.port,
      host: this.host,
      ...(this.localAddress ? { localAddress: this.localAddress } : {}),
      noDelay: true,
      onread: {
        buffer: SHARED_READ_BUFFER,
        callback: (nread: number, buffer: Uint8Array) => {
          if (this.socket === socket) this.onRead(buffer as Buffer, nread);
          return true;
        },
      },
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.fail(error.code ?? error.message, true);
    });
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = undefined;
        this.fail('connection closed', false);
      }
    });
    this.socket = socket;
    return socket;
  }

  private resetParser(): void {
    this.inHead = true;
    this.partialHead = undefined;
    this.status = 0;
    this.remaining = 0;
    this.chunked = false;
    this.chunkedBytes = [];
    this.closeAfter = false;
    this.bodyBytes = 0;
    this.bodyParts = undefined;
  }

  private onRead(shared: Buffer, nread: number): void {
    if (!this.callback) return; // bytes nobody asked for (a late answer after a timeout): ignored
    let data = shared.subarray(0, nread);
    let offset = 0;
    if (this.inHead) {
      if (this.partialHead) {
        data = Buffer.concat([this.partialHead, data]);
        this.partialHead = undefined;
      }
      const end = data.indexOf(HEAD_END);
      if (end < 0) {
        this.partialHead = Buffer.from(data);
        return;
      }
      if (data[0] !== 0x48 /* H */ || end < 12) return this.fail('bad answer', true);
      this.status = (data[9]! - 48) * 100 + (data[10]! - 48) * 10 + (data[11]! - 48);
      this.closeAfter = findIn(data, CLOSE, 0, end) >= 0;
      this.chunked = findIn(data, CHUNKED, 0, end) >= 0;
      const length = findIn(data, CONTENT_LENGTH, 0, end);
      if (length >= 0) {
        let i = length + 17;
        while (data[i] === 0x20) i++;
        let n = 0;
        for (let c = data[i]; c !== undefined && c >= 48 && c <= 57; c = data[++i]) n = n * 10 + (c - 48);
        this.remaining = n;
      } else {
        this.remaining = 0;
      }
      if (this.status < 200 || this.status === 204 || this.status === 304) {
        this.remaining = 0;
        this.chunked = false;
      }
      this.inHead = false;
      offset = end + 4;
    }
    if (this.chunked) return this.readChunked(data, offset);
    const take = Math.min(this.remaining, data.length - offset);
    if (take > 0) {
      if (this.keepBody) {
        const piece = data.subarray(offset, offset + take);
        if (take === this.remaining && !this.bodyParts) {
          this.bodyBytes += take;
          this.remaining = 0;
          return this.complete(piece);
        }
        (this.bodyParts ??= []).push(Buffer.from(piece));
      }
      this.bodyBytes += take;
      this.remaining -= take;
    }
    if (this.remaining === 0) this.complete(this.bodyParts ? Buffer.concat(this.bodyParts) : this.keepBody ? Buffer.alloc(0) : undefined);
  }

  /** Chunked bodies (rare here): kept whole until the last chunk, then decoded. */
  private readChunked(data: Buffer, offset: number): void {
    if (offset < data.length) this.chunkedBytes.push(Buffer.from(data.subarray(offset)));
    const all = Buffer.concat(this.chunkedBytes);
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = all.indexOf(CRLF, at);
      if (lineEnd < 0) return;
      const size = parseInt(all.toString('latin1', at, lineEnd), 16);
      if (!Number.isFinite(size)) return this.fail('bad chunk', true);
      if (size === 0) {
        if (all.indexOf(HEAD_END, lineEnd) < 0) return; // the last chunk, optional trailers, then an empty line
        const body = Buffer.concat(parts);
        this.bodyBytes = body.length;
        return this.complete(this.keepBody ? body : undefined);
      }
      if (all.length < lineEnd + 2 + size + 2) return;
      parts.push(all.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }

  private complete(body: Buffer | undefined): void {
    const callback = this.callback;
    const status = this.status;
    const bytes = this.bodyBytes;
    this.callback = undefined;
    this.deadline = 0;
    if (this.closeAfter) this.drop();
    this.resetParser();
    callback?.(status, body, bytes, undefined);
  }

  private fail(error: string, dropSocket: boolean): void {
    if (dropSocket) this.drop();
    const callback = this.callback;
    this.callback = undefined;
    this.deadline = 0;
    this.resetParser();
    callback?.(0, undefined, 0, error);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }
}

/** Requests from many simulated clients over a few shared connections (fire and forget: beacons). */
export class RequestPool {
  private readonly idle: HttpConnection[];
  readonly all: HttpConnection[];
  private readonly queue: { data: Buffer; callback: AnswerCallback }[] = [];
  private queueHead = 0;
  queueMax = 0;

  constructor(size: number, port: number, host: string, private readonly timeoutMs: number, localAddress?: string) {
    this.all = Array.from({ length: size }, () => new HttpConnection(port, host, localAddress));
    this.idle = [...this.all];
  }

  send(data: Buffer, callback: AnswerCallback): void {
    this.queue.push({ data, callback });
    this.queueMax = Math.max(this.queueMax, this.queue.length - this.queueHead);
    this.pump();
  }

  expire(now: number): void {
    for (const connection of this.all) connection.expire(now);
  }

  close(): void {
    this.queue.length = 0;
    this.queueHead = 0;
    for (const connection of this.all) connection.close();
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queueHead < this.queue.length) {
      const connection = this.idle.pop()!;
      const job = this.queue[this.queueHead++]!;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      connection.request(job.data, false, this.timeoutMs, (status, body, bytes, error) => {
        this.idle.push(connection);
        job.callback(status, body, bytes, error);
        this.pump();
      });
    }
  }
}

/** Only loopback: a load generator must never be pointed at someone else's server. */
export function assertLoopback(url: URL): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (!loopback) throw new Error(`load generators connect only to loopback addresses, not ${url.host}`);
  if (url.protocol !== 'http:') throw new Error(`plain http only: ${url.href}`);
}
