/**
 * A WebSocket client for attacks (RFC 6455) that can send what no
 * well-behaved library would: any frame header (opcode, RSV bits, mask or
 * no mask, a length that lies), fragments, and bytes after a frame header
 * that never come. It reads what the server sends back: text messages and
 * the close code and reason.
 *
 *   RFC 6455 §5.2 frame:
 *    0                   1                   2                   3
 *   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *   |N|V|V|V|       |S|             |                               |
 *   + - - - - - - - - - - - - - - - +-------------------------------+
 *   |     Masking-key (0 or 4 bytes, client to server: always)      |
 *   +---------------------------------------------------------------+
 *   |                          Payload Data                         |
 */
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { AttackConnection, requestBytes, type Target } from './attack-net.js';

export interface FrameOptions {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  /** RSV1-3 as a 3-bit number (0: none). */
  rsv?: number;
  /** Client frames must be masked (default true). */
  mask?: boolean;
  /** Announce this length instead of the payload's (a lie). */
  announcedLength?: number;
}

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export function frame(options: FrameOptions): Buffer {
  const { opcode, payload } = options;
  const fin = options.fin ?? true;
  const masked = options.mask ?? true;
  const length = options.announcedLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | (opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) {
    head.push(maskBit | length);
  } else if (length < 65_536) {
    head.push(maskBit | 126, length >> 8, length & 255);
  } else {
    head.push(maskBit | 127);
    const big = BigInt(length);
    for (let i = 7; i >= 0; i--) head.push(Number((big >> BigInt(8 * i)) & 255n));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) body[i] = (payload[i] ?? 0) ^ (key[i & 3] ?? 0);
  return Buffer.concat([Buffer.from(head), key, body]);
}

export const text = (data: string): Buffer => frame({ opcode: OPCODE.text, payload: Buffer.from(data, 'utf8') });

/** An upgrade request for the stage socket, with `extraHeaders` (the 2,000-header attack) if given. */
export function upgradeRequest(path: string, host: string, extraHeaders: Record<string, string> = {}): string {
  return requestBytes('GET', path, host, {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    ...extraHeaders,
  });
}

/** An open stage socket: frames out, messages and the close in. */
export class RawSocket {
  readonly messages: string[] = [];
  /** The server's close frame (code and reason), once it came. */
  closeCode: number | undefined;
  closeReason = '';
  /** The TCP connection is gone. */
  closed = false;
  private pending: Buffer = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];

  constructor(readonly socket: net.Socket, rest: Buffer) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
    if (rest.length > 0) this.onData(rest);
  }

  send(data: Buffer): void {
    if (!this.closed && this.socket.writable) this.socket.write(data);
  }

  /** Waits until a message matching `test` came, the server closed (a close frame or the TCP connection), or `timeoutMs` passed; the message or undefined. */
  async until(test: (message: string, index: number) => boolean, timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(test);
      if (found !== undefined) return found;
      if (this.closed || this.closeCode !== undefined || Date.now() >= deadline) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits up to `timeoutMs` for the server to close (its close frame, or the connection); the close code (1006: none given), or undefined if it kept the socket open. */
  async closedWithin(timeoutMs: number): Promise<number | undefined> {
    await this.until(() => false, timeoutMs);
    return this.closeCode ?? (this.closed ? 1006 : undefined);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      if (this.pending.length < 2) return;
      const opcode = (this.pending[0] ?? 0) & 0x0f;
      let length = (this.pending[1] ?? 0) & 0x7f;
      let at = 2;
      if (length === 126) {
        if (this.pending.length < 4) return;
        length = this.pending.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (this.pending.length < 10) return;
        length = Number(this.pending.readBigUInt64BE(2));
        at = 10;
      }
      if (this.pending.length < at + length) return;
      const payload = this.pending.subarray(at, at + length);
      this.pending = this.pending.subarray(at + length);
      if (opcode === OPCODE.text) this.messages.push(payload.toString('utf8'));
      if (opcode === OPCODE.close) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closeReason = payload.subarray(2).toString('utf8');
      }
      this.wake();
    }
  }
}

/** Opens a WebSocket at `path`; the server's status, and the socket when it said 101. */
export async function openSocket(target: Target, path: string, timeoutMs = 10_000): Promise<{ status: number; error?: string; body: string; socket?: RawSocket }> {
  const connection = new AttackConnection(target);
  const answer = await connection.request(upgradeRequest(path, `${target.host}:${target.port}`), timeoutMs);
  if (answer.status !== 101) {
    connection.close();
    return { status: answer.status, body: answer.body.toString('utf8', 0, 300), ...(answer.error ? { error: answer.error } : {}) };
  }
  const taken = connection.detach();
  if (!taken) return { status: 0, error: 'no socket after 101', body: '' };
  return { status: 101, body: '', socket: new RawSocket(taken.socket, taken.rest) };
}
