/**
 * A stage signalling client with no manners: a bare `ws` WebSocket that
 * sends whatever a test gives it (text, binary, oversized, out of order) and
 * keeps every server message for the test to read in order.
 */
import { WebSocket } from 'ws';
import type { ErrorCode } from '../../src/wire/errors.js';
import type { ServerMessage } from '../../src/wire/signalling.js';

export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export interface CloseEvent {
  code: number;
  reason: string;
}

/** What the server answered to a refused WebSocket upgrade. */
export interface RefusedUpgrade {
  status: number;
  body: { error?: { code?: string; message?: string } };
}

/** ws://host/api/spaces/:id/stage with an optional token. */
export function stageUrl(baseHttpUrl: string, spaceId: string, token?: string): string {
  const url = new URL(`/api/spaces/${spaceId}/stage`, baseHttpUrl.replace(/^http/, 'ws'));
  if (token !== undefined) url.searchParams.set('token', token);
  return url.toString();
}

export class RawStageClient {
  readonly messages: ServerMessage[] = [];
  closeEvent: CloseEvent | undefined;
  private readonly taken = new Set<number>();
  private readonly wakers = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      // The server only ever sends JSON text; anything else fails the test that reads it.
      this.messages.push(isBinary ? ({ type: 'binary' } as unknown as ServerMessage) : (JSON.parse(data.toString('utf8')) as ServerMessage));
      this.wake();
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.closeEvent = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    // A refused or reset connection shows up as closeEvent; nothing to add here.
    socket.on('error', () => undefined);
  }

  /** Opens a signalling connection; rejects if the upgrade is refused. */
  static open(url: string, timeoutMs = 5000): Promise<RawStageClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const client = new RawStageClient(socket);
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`signalling connection did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve(client);
      });
      socket.once('unexpected-response', (_request, response) => {
        clearTimeout(timer);
        response.resume();
        socket.terminate();
        reject(new Error(`upgrade refused with ${response.statusCode}`));
      });
    });
  }

  /** Opens a connection that is expected to be refused before the upgrade; resolves to the HTTP answer. */
  static refused(url: string, timeoutMs = 5000): Promise<RefusedUpgrade> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.on('error', () => undefined);
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`no answer to the upgrade within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('open', () => {
        clearTimeout(timer);
        socket.close();
        reject(new Error('the upgrade was accepted'));
      });
      socket.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          clearTimeout(timer);
          socket.terminate();
          const text = Buffer.concat(chunks).toString('utf8');
          let body: RefusedUpgrade['body'];
          try {
            body = JSON.parse(text) as RefusedUpgrade['body'];
          } catch {
            body = { error: { message: `not JSON: ${text.slice(0, 200)}` } };
          }
          resolve({ status: response.statusCode ?? 0, body });
        });
      });
    });
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends `message` as JSON text. */
  send(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Sends bytes or text exactly as given. */
  sendRaw(data: string | Buffer, options: { binary?: boolean } = {}): void {
    this.socket.send(data, { binary: options.binary ?? typeof data !== 'string' });
  }

  /** The first message of `type` this client has not read yet. */
  async next<T extends ServerMessage['type']>(type: T, timeoutMs = 3000): Promise<ServerMessageOf<T>> {
    const found = await this.waitUntil(() => {
      const index = this.messages.findIndex((m, i) => m.type === type && !this.taken.has(i));
      if (index < 0) return undefined;
      this.taken.add(index);
      return this.messages[index] as ServerMessageOf<T>;
    }, timeoutMs);
    if (!found) throw new Error(`no '${type}' message within ${timeoutMs} ms; got: ${this.describe()}`);
    return found;
  }

  /** The next unread error; fails unless its code is `code`. */
  async expectError(code: ErrorCode, timeoutMs = 3000): Promise<ServerMessageOf<'error'>> {
    const error = await this.next('error', timeoutMs);
    if (error.code !== code) throw new Error(`expected error ${code}, got ${error.code} (${error.details ?? error.message})`);
    return error;
  }

  /** Resolves when the server has closed the connection. */
  async closed(timeoutMs = 3000): Promise<CloseEvent> {
    const event = await this.waitUntil(() => this.closeEvent, timeoutMs);
    if (!event) throw new Error(`the connection is still open after ${timeoutMs} ms; got: ${this.describe()}`);
    return event;
  }

  /** A ping/pong round trip: proves the connection is open and still served. */
  async roundTrip(timeoutMs = 3000): Promise<void> {
    this.send({ type: 'ping' });
    await this.next('pong', timeoutMs);
  }

  /** Waits `ms` and fails if an error arrived meanwhile that nobody read. */
  async expectNoError(ms = 300): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    const unread = this.messages.filter((m, i) => m.type === 'error' && !this.taken.has(i));
    if (unread.length > 0) throw new Error(`unexpected error: ${JSON.stringify(unread)}`);
  }

  close(): void {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) this.socket.close(1000);
  }

  private describe(): string {
    const seen = this.messages.map((m) => (m.type === 'error' ? `error ${m.code}` : m.type));
    const closed = this.closeEvent ? ` closed ${this.closeEvent.code} ${this.closeEvent.reason}` : '';
    return `[${seen.join(', ')}]${closed}`;
  }

  private waitUntil<T>(probe: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const value = probe();
        if (value === undefined) return false;
        clearTimeout(timer);
        this.wakers.delete(waker);
        resolve(value);
        return true;
      };
      const waker = (): void => void check();
      const timer = setTimeout(() => {
        this.wakers.delete(waker);
        resolve(probe());
      }, timeoutMs);
      if (check()) return;
      this.wakers.add(waker);
    });
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }
}
