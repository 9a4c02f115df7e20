/**
 * Small helpers for the Spaces integration tests: error assertions, the
 * state feed, joining the stage with a raw WebSocket, and a browser-like
 * visitor without an account.
 */
import assert from 'node:assert/strict';
import type { ErrorCode } from '../../src/wire/errors.js';
import type { FeedState } from '../../src/wire/feed.js';
import type { ServerMessage } from '../../src/wire/signalling.js';
import { CookieJar, httpCall, type ApiAnswer } from './accounts.js';
import { RawStageClient, stageUrl, type ServerMessageOf } from './raw-stage-client.js';

/** Fails unless `answer` is the error `code` with HTTP `status`. */
export function assertError(answer: ApiAnswer, status: number, code: ErrorCode, what = ''): void {
  const body = answer.body as { error?: { code?: string } } | undefined;
  assert.deepEqual(
    { status: answer.status, code: body?.error?.code },
    { status, code },
    `${what ? what + ': ' : ''}expected ${status} ${code}, got ${answer.status} ${JSON.stringify(answer.body)}`,
  );
}

/** Fails unless `answer` has `status` (default 200). */
export function assertOk(answer: ApiAnswer, status = 200, what = ''): void {
  assert.equal(answer.status, status, `${what ? what + ': ' : ''}expected ${status}, got ${answer.status} ${JSON.stringify(answer.body)}`);
}

export interface FeedAnswer {
  status: number;
  feed: FeedState;
  text: string;
  headers: Headers;
}

/** GET /api/spaces/:id/feed (with ?v= when given), as an anonymous listener. */
export async function readFeed(base: string, spaceId: string, v?: number, timeoutMs = 60_000): Promise<FeedAnswer> {
  const response = await fetch(`${base}/api/spaces/${spaceId}/feed${v === undefined ? '' : `?v=${v}`}`, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  assert.equal(response.status, 200, `feed answered ${response.status}: ${text}`);
  return { status: response.status, feed: JSON.parse(text) as FeedState, text, headers: response.headers };
}

/** Follows the feed (long-polling) until `predicate` holds; fails after `timeoutMs`. */
export async function feedUntil(base: string, spaceId: string, predicate: (feed: FeedState) => boolean, what: string, timeoutMs = 10_000): Promise<FeedState> {
  const deadline = Date.now() + timeoutMs;
  let { feed } = await readFeed(base, spaceId);
  while (!predicate(feed)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for the feed to show ${what}; last: ${JSON.stringify(feed)}`);
    try {
      feed = (await readFeed(base, spaceId, feed.version, left)).feed;
    } catch (error) {
      if (Date.now() >= deadline) throw new Error(`timed out waiting for the feed to show ${what}; last: ${JSON.stringify(feed)}`, { cause: error });
      throw error;
    }
  }
  return feed;
}

/** Opens the stage WebSocket with `token`, sends join and waits for welcome. */
export async function joinStage(base: string, spaceId: string, token: string): Promise<{ client: RawStageClient; welcome: ServerMessageOf<'welcome'> }> {
  const client = await RawStageClient.open(stageUrl(base, spaceId, token));
  client.send({ type: 'join' });
  const welcome = await client.next('welcome', 10_000);
  return { client, welcome };
}

/** Waits for a message of `type` that passes `predicate`, skipping others of that type. */
export async function nextMatching<T extends ServerMessage['type']>(
  client: RawStageClient,
  type: T,
  predicate: (message: ServerMessageOf<T>) => boolean,
  timeoutMs = 5000,
): Promise<ServerMessageOf<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no matching '${type}' within ${timeoutMs} ms; got ${JSON.stringify(client.messages)}`);
    const message = await client.next(type, left);
    if (predicate(message)) return message;
  }
}

/** A browser without an account: it has the CSRF cookie and token from GET /api/session, and no session. */
export class Visitor {
  readonly jar = new CookieJar();
  csrf = '';

  private constructor(readonly base: string) {}

  static async arrive(base: string): Promise<Visitor> {
    const visitor = new Visitor(base);
    const session = await httpCall<{ account: unknown; csrfToken: string }>(base, 'GET', '/api/session', { jar: visitor.jar });
    assert.equal(session.body.account, null);
    visitor.csrf = session.body.csrfToken;
    return visitor;
  }

  call<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = method === 'GET' || method === 'HEAD' ? {} : { 'x-csrf-token': this.csrf };
    return httpCall<T>(this.base, method, path, { body, headers, jar: this.jar });
  }
}

/** An ISO date-time `ms` from now, rounded to whole seconds (what an .ics keeps). */
export function isoFromNow(ms: number): string {
  return new Date(Math.floor((Date.now() + ms) / 1000) * 1000).toISOString();
}

export const HOUR = 3600 * 1000;
export const DAY = 24 * HOUR;

/** Sum of every reaction count in a feed. */
export function reactionTotal(feed: FeedState): number {
  return feed.reactions.reduce((sum, second) => sum + Object.values(second.counts).reduce((a, b) => a + b, 0), 0);
}
