/**
 * What every attack of the harness shares: attacker addresses, a small
 * HTTP/1.1 client that hands back the answer's head (cookies, close codes),
 * pacing at a fixed rate with a cap on requests in flight, and counters.
 *
 * Addresses: loopback is a /8, so each simulated client can have its own
 * source address. Legitimate clients (the crowd, the speakers, the
 * harness's own set-up calls) use 127.0.0.0/24; attack n uses 127.n.x.y.
 * The origin (bench/attack-server.ts) and the edge's limits tell them apart
 * by that alone.
 */
import net from 'node:net';
import { assertLoopback } from './raw-http.js';
import { ID_ALPHABET, PUBLIC_ID_RANDOM, PUBLIC_ID_TAG } from '../src/wire/public-id.js';

/** Addresses of legitimate clients, exempt from the edge's per-address limits like a load generator's. */
export const LEGIT_CIDR = '127.0.0.0/24';

/** The `index`-th address of attack `attack` (1-6): 127.attack.x.y, 65,534 of them. */
export function attackAddress(attack: number, index: number): string {
  const n = (index % 65_534) + 1;
  return `127.${attack}.${n >> 8}.${n & 255}`;
}

/** Counts by key (answer statuses, close codes, errors). */
export class Counts {
  readonly record: Record<string, number> = {};
  total = 0;

  add(key: string | number, n = 1): void {
    const k = String(key);
    this.record[k] = (this.record[k] ?? 0) + n;
    this.total += n;
  }

  /** The counts, largest first. */
  sorted(limit = 40): Record<string, number> {
    return Object.fromEntries(Object.entries(this.record).sort((a, b) => b[1] - a[1]).slice(0, limit));
  }
}

export interface Answer {
  /** HTTP status, or 0 when there was none (`error` says why). */
  status: number;
  /** The answer's head as sent ('' when none); match header names case-insensitively. */
  head: string;
  body: Buffer;
  error?: string;
}

/** Where to connect, and from which source address. */
export interface Target {
  host: string;
  port: number;
  localAddress?: string;
}

export function targetOf(url: string, localAddress?: string): Target {
  const parsed = new URL(url);
  assertLoopback(parsed);
  return { host: parsed.hostname, port: Number(parsed.port || 80), ...(localAddress ? { localAddress } : {}) };
}

/**
 * One keep-alive connection, one request at a time, promise per answer.
 * Light enough for a few thousand requests a second from one process;
 * reads content-length and chunked bodies, and no body for 1xx/204/304
 * (101 included: after an upgrade the socket is handed back with `detach`).
 */
export class AttackConnection {
  private socket: net.Socket | undefined;
  private pending: { resolve: (answer: Answer) => void; timer: NodeJS.Timeout } | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private head: { status: number; text: string; bodyStart: number; length: number; chunked: boolean; close: boolean } | undefined;

  constructor(private readonly target: Target) {}

  /** Sends one whole request; resolves with its answer (status 0 on error, timeout or close). */
  request(data: string | Buffer, timeoutMs = 10_000): Promise<Answer> {
    if (this.pending) return Promise.resolve({ status: 0, head: '', body: Buffer.alloc(0), error: 'busy' });
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish({ status: 0, head: '', body: Buffer.alloc(0), error: 'timeout' }, true), timeoutMs);
      this.pending = { resolve, timer };
      this.buffer = Buffer.alloc(0);
      this.head = undefined;
      this.connection().write(data);
    });
  }

  /** Takes the socket over (after a 101 answer); this connection forgets it. */
  detach(): { socket: net.Socket; rest: Buffer } | undefined {
    const socket = this.socket;
    if (!socket) return undefined;
    socket.removeAllListeners('data');
    socket.removeAllListeners('close');
    socket.removeAllListeners('error');
    const rest = this.head ? this.buffer.subarray(this.head.bodyStart) : Buffer.alloc(0);
    this.socket = undefined;
    return { socket, rest };
  }

  close(): void {
    this.finish({ status: 0, head: '', body: Buffer.alloc(0), error: 'closed' }, true);
  }

  private connection(): net.Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    const socket = net.connect({ host: this.target.host, port: this.target.port, noDelay: true, ...(this.target.localAddress ? { localAddress: this.target.localAddress } : {}) });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.finish({ status: 0, head: '', body: Buffer.alloc(0), error: error.code ?? error.message }, true);
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      // A body without a length ends with the connection.
      if (this.head && this.head.length < 0 && !this.head.chunked) return this.complete();
      this.finish({ status: 0, head: '', body: Buffer.alloc(0), error: 'closed by the server' }, false);
    });
    this.socket = socket;
    return socket;
  }

  private onData(chunk: Buffer): void {
    if (!this.pending) return;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (!this.head) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buffer.length > 64 * 1024) this.finish({ status: 0, head: '', body: Buffer.alloc(0), error: 'head too large' }, true);
        return;
      }
      const text = this.buffer.toString('latin1', 0, end);
      const status = Number(text.slice(9, 12));
      const lower = text.toLowerCase();
      const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
      const noBody = status < 200 || status === 204 || status === 304;
      this.head = {
        status,
        text,
        bodyStart: end + 4,
        length: noBody ? 0 : length ? Number(length[1]) : -1,
        chunked: !noBody && lower.includes('\r\ntransfer-encoding: chunked'),
        close: lower.includes('\r\nconnection: close'),
      };
      if (status === 101) return this.complete();
    }
    const head = this.head;
    if (head.chunked) {
      if (this.buffer.indexOf('\r\n0\r\n\r\n', head.bodyStart - 2) >= 0) this.complete();
    } else if (head.length >= 0 && this.buffer.length - head.bodyStart >= head.length) {
      this.complete();
    }
  }

  private complete(): void {
    const head = this.head;
    if (!head) return;
    let body = this.buffer.subarray(head.bodyStart, head.length >= 0 ? head.bodyStart + head.length : undefined);
    if (head.chunked) body = dechunk(body);
    this.finish({ status: head.status, head: head.text, body }, head.close);
  }

  private finish(answer: Answer, dropSocket: boolean): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) clearTimeout(pending.timer);
    if (dropSocket && answer.status !== 101) {
      this.socket?.destroy();
      this.socket = undefined;
    }
    pending?.resolve(answer);
  }
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.toString('latin1', at, lineEnd), 16);
    if (!(size > 0)) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** A GET (or any body-less request) as bytes. */
export function requestBytes(method: string, path: string, host: string, headers: Record<string, string> = {}, body?: string): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'User-Agent: tribune-attack', 'Accept: */*'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

/** The `name=value` pairs of an answer's Set-Cookie headers, as one Cookie header. */
export function cookiesOf(head: string, jar: Map<string, string> = new Map()): Map<string, string> {
  for (const match of head.matchAll(/\r\nset-cookie:\s*([^=;\r\n]+)=([^;\r\n]*)/gi)) {
    if (match[1] && match[2] !== undefined) jar.set(match[1].trim(), match[2]);
  }
  return jar;
}

export function cookieHeader(jar: Map<string, string>): string {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** How one answer is counted: its status, or its error. */
export function answerKey(answer: Answer): string {
  return answer.status > 0 ? String(answer.status) : `error:${answer.error ?? '?'}`;
}

/**
 * Calls `launch` `ratePerS` times a second until `untilMs` (Date.now()),
 * keeping at most `maxInFlight` unfinished; a launch that would pass the cap
 * is skipped and counted. When the time is up, `onStop` (if given) ends what
 * is still in flight (closes its connections); resolves once every launched
 * call has finished.
 */
export async function paced(
  ratePerS: number,
  untilMs: number,
  maxInFlight: number,
  launch: (index: number) => Promise<void>,
  onStop?: () => void,
): Promise<{ launched: number; skipped: number }> {
  const started = performance.now();
  let launched = 0;
  let skipped = 0;
  let inFlight = 0;
  const running = new Set<Promise<void>>();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      if (Date.now() >= untilMs) {
        clearInterval(timer);
        return resolve();
      }
      const due = Math.floor(((performance.now() - started) / 1000) * ratePerS);
      while (launched + skipped < due) {
        if (inFlight >= maxInFlight) {
          skipped++;
          continue;
        }
        const index = launched++;
        inFlight++;
        const call = launch(index)
          .catch(() => undefined)
          .finally(() => {
            inFlight--;
            running.delete(call);
          });
        running.add(call);
      }
    };
    const timer = setInterval(tick, 5);
  });
  onStop?.();
  await Promise.all(running);
  return { launched, skipped };
}

/** A random string of `length` characters from [a-z0-9]. */
export function randomToken(length: number): string {
  let out = '';
  while (out.length < length) out += Math.random().toString(36).slice(2);
  return out.slice(0, length);
}

/** A made-up Space id of the shape the routes accept (14 symbols); its tag is right once in 2^20. */
export function randomSpaceId(): string {
  let out = '';
  for (let i = 0; i < PUBLIC_ID_RANDOM + PUBLIC_ID_TAG; i++) out += ID_ALPHABET[Math.floor(Math.random() * ID_ALPHABET.length)];
  return out;
}
