/**
 * How a bot gets onto a stage with an API token: ask for a stage pass; when
 * the account has no seat yet, ask to speak and wait on the Space's state
 * feed (the same long-poll listeners use) until a host or co-host accepts,
 * then ask again. Returns the stage WebSocket URL.
 */
import { fetchWithRetries } from '../client/retry.js';
import type { FeedState } from '../wire/feed.js';
import { PUBLIC_ID_SOURCE } from '../wire/public-id.js';

export interface SeatOptions {
  /** The Space's page (http(s)://host/s/<id>). */
  spaceLink: string;
  /** An API token (trb_…) from POST /api/tokens. */
  apiToken: string;
  /** Called once when the bot waits in the request queue. */
  onWaiting?: () => void;
  signal?: AbortSignal;
}

interface ApiAnswer {
  status: number;
  body: { error?: { code: string; message: string }; socketUrl?: string; account?: { id: string } | null; version?: number };
}

export async function takeSeat(options: SeatOptions): Promise<string> {
  const link = new URL(options.spaceLink);
  const match = new RegExp(`^/s/(${PUBLIC_ID_SOURCE})$`).exec(link.pathname);
  if (!match) throw new Error(`not a Space link: ${options.spaceLink} (expected ${link.origin}/s/<id>)`);
  const base = link.origin;
  const spaceId = match[1];
  const call = async (method: string, path: string, body?: unknown): Promise<ApiAnswer> => {
    const response = await fetchWithRetries(
      () =>
        fetch(base + path, {
          method,
          headers: { authorization: `Bearer ${options.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: options.signal ?? null,
        }),
      { idempotent: method !== 'POST', signal: options.signal },
    );
    return { status: response.status, body: (await response.json()) as ApiAnswer['body'] };
  };
  const refused = (answer: ApiAnswer): Error => new Error(`${answer.body.error?.code ?? answer.status}: ${answer.body.error?.message ?? ''}`);

  let pass = await call('POST', `/api/spaces/${spaceId}/stage-pass`, {});
  if (pass.status === 200 && pass.body.socketUrl) return pass.body.socketUrl;
  if (pass.body.error?.code !== 'NOT_ON_STAGE') throw refused(pass);

  const session = await call('GET', '/api/session');
  const me = session.body.account?.id;
  if (!me) throw refused(session);
  const asked = await call('POST', `/api/spaces/${spaceId}/requests`, {});
  if (asked.status !== 200) throw refused(asked);
  options.onWaiting?.();
  let version: number | undefined;
  for (;;) {
    const response = await fetchWithRetries(() => fetch(`${base}/api/spaces/${spaceId}/feed${version === undefined ? '' : `?v=${version}`}`, { signal: options.signal ?? null }), {
      idempotent: true,
      signal: options.signal,
    });
    const feed = (await response.json()) as FeedState;
    if (feed.space.state !== 'live') throw new Error(`the Space is ${feed.space.state}`);
    if (feed.stage.some((seat) => seat.accountId === me)) break;
    version = feed.version;
  }
  pass = await call('POST', `/api/spaces/${spaceId}/stage-pass`, {});
  if (pass.status !== 200 || !pass.body.socketUrl) throw refused(pass);
  return pass.body.socketUrl;
}
