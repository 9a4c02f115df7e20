/**
 * The browser's calls to the Tribune API. Every state-changing call carries
 * the CSRF token from GET /api/session (`x-csrf-token`) and a JSON body;
 * errors come back as ApiError with their catalogue code, never parsed
 * from the message.
 */
import type { Static } from '@sinclair/typebox';
import type {
  AccountView,
  ClipView,
  CreateSpaceBody,
  CreatedSpace,
  CutClipBody,
  EditSpaceBody,
  MyPlace,
  NotificationView,
  PinView,
  ReplayView,
  RequestView,
  SpaceList,
  SpaceView,
  StagePass,
} from '../wire/api.js';
import type { ErrorBody, ErrorCode } from '../wire/errors.js';
import type { FeedState } from '../wire/feed.js';
import type { ReplayTimeline } from '../wire/replay.js';
import { fetchWithRetries } from '../client/retry.js';

export type Notification = Static<typeof NotificationView>;
export type QueuedRequest = Static<typeof RequestView>;
export type Pin = Static<typeof PinView>;
export type StageRoleName = 'cohost' | 'speaker' | 'listener';

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode | 'NETWORK',
    message: string,
    readonly status = 0,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken = '';

/** The CSRF token the next unsafe request sends; set from the session answers. */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

async function call<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal, retried = false): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', ...(signal ? { signal } : {}) };
  if (method !== 'GET') {
    init.headers = { 'content-type': 'application/json', 'x-csrf-token': csrfToken };
    init.body = JSON.stringify(body ?? {});
  }
  let response: Response;
  try {
    // Retries of refusals and blips: src/client/retry.ts (at most three, jittered).
    response = await fetchWithRetries(() => fetch(path, init), { idempotent: method !== 'POST' && method !== 'PATCH', signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError('NETWORK', 'Tribune cannot be reached. Check your connection.');
  }
  if (response.ok) return (response.status === 204 ? undefined : await response.json()) as T;
  const answer = (await response.json().catch(() => undefined)) as ErrorBody | undefined;
  const code = answer?.error.code ?? 'INTERNAL';
  // The CSRF secret cookie can expire or be cleared; one fresh token and one retry.
  if (code === 'CSRF_INVALID' && !retried && method !== 'GET') {
    const session = await call<{ csrfToken: string }>('GET', '/api/session');
    setCsrfToken(session.csrfToken);
    return call<T>(method, path, body, signal, true);
  }
  throw new ApiError(code, answer?.error.message ?? `HTTP ${response.status}`, response.status);
}

const space = (id: string): string => `/api/spaces/${encodeURIComponent(id)}`;
const account = (id: string): string => encodeURIComponent(id);

export const api = {
  // --- accounts ---
  session: () => call<{ account: AccountView | null; csrfToken: string }>('GET', '/api/session'),
  signUp: (username: string, password: string, displayName?: string) =>
    call<{ account: AccountView; csrfToken: string }>('POST', '/api/accounts', { username, password, ...(displayName ? { displayName } : {}) }),
  signIn: (username: string, password: string) => call<{ account: AccountView; csrfToken: string }>('POST', '/api/session', { username, password }),
  signOut: () => call<{ ok: true }>('DELETE', '/api/session'),
  notifications: () => call<{ notifications: Notification[] }>('GET', '/api/notifications'),
  markRead: (notificationId: string) => call<{ ok: true }>('POST', `/api/notifications/${encodeURIComponent(notificationId)}/read`),

  // --- Spaces ---
  listSpaces: () => call<SpaceList>('GET', '/api/spaces'),
  mySpaces: () => call<SpaceList>('GET', '/api/me/spaces'),
  getSpace: (id: string) => call<{ space: SpaceView }>('GET', space(id)),
  createSpace: (body: CreateSpaceBody) => call<CreatedSpace>('POST', '/api/spaces', body),
  editSpace: (id: string, body: EditSpaceBody) => call<{ space: SpaceView }>('PATCH', space(id), body),
  startSpace: (id: string) => call<{ space: SpaceView }>('POST', `${space(id)}/start`),
  cancelSpace: (id: string) => call<{ space: SpaceView }>('POST', `${space(id)}/cancel`),
  endSpace: (id: string) => call<{ space: SpaceView }>('POST', `${space(id)}/end`),
  myPlace: (id: string) => call<MyPlace>('GET', `${space(id)}/me`),
  subscribe: (id: string) => call<{ ok: true }>('PUT', `${space(id)}/subscription`),
  unsubscribe: (id: string) => call<{ ok: true }>('DELETE', `${space(id)}/subscription`),

  // --- the stage ---
  requestToSpeak: (id: string) => call<{ ok: true }>('POST', `${space(id)}/requests`),
  withdrawRequest: (id: string) => call<{ ok: true }>('DELETE', `${space(id)}/requests/me`),
  requests: (id: string) => call<{ requests: QueuedRequest[] }>('GET', `${space(id)}/requests`),
  answerRequest: (id: string, accountId: string, accept: boolean) =>
    call<{ ok: true }>('POST', `${space(id)}/requests/${account(accountId)}/${accept ? 'accept' : 'decline'}`),
  invite: (id: string, who: { accountId: string } | { username: string }) => call<{ ok: true }>('POST', `${space(id)}/invites`, who),
  answerInvite: (id: string, accept: boolean) => call<{ ok: true }>('POST', `${space(id)}/invites/me/${accept ? 'accept' : 'decline'}`),
  setRole: (id: string, accountId: string, role: StageRoleName) => call<{ ok: true }>('PUT', `${space(id)}/roles/${account(accountId)}`, { role }),
  mute: (id: string, accountId: string) => call<{ ok: true }>('POST', `${space(id)}/members/${account(accountId)}/mute`),
  stepDown: (id: string) => call<{ ok: true }>('POST', `${space(id)}/step-down`),
  block: (id: string, accountId: string) => call<{ ok: true }>('POST', `${space(id)}/blocks`, { accountId }),
  unblock: (id: string, accountId: string) => call<{ ok: true }>('DELETE', `${space(id)}/blocks/${account(accountId)}`),
  stagePass: (id: string) => call<StagePass>('POST', `${space(id)}/stage-pass`),

  // --- the audience ---
  feed: (id: string, version: number | undefined, signal?: AbortSignal) =>
    call<FeedState>('GET', `${space(id)}/feed${version === undefined ? '' : `?v=${version}`}`, undefined, signal),
  react: (id: string, emoji: string) => call<{ ok: true }>('POST', `${space(id)}/reactions`, { emoji }),
  pin: (id: string, url: string, label: string) => call<Pin>('POST', `${space(id)}/pins`, { url, label }),
  unpin: (id: string, pinId: string) => call<{ ok: true }>('DELETE', `${space(id)}/pins/${encodeURIComponent(pinId)}`),

  // --- replays and clips ---
  replay: (id: string) => call<{ replay: ReplayView }>('GET', `${space(id)}/replay`),
  /** `url` is the replay's links.timeline. */
  timeline: (url: string) => call<ReplayTimeline>('GET', url),
  deleteReplay: (id: string) => call<{ ok: true }>('DELETE', `${space(id)}/replay`),
  cutClip: (id: string, body: CutClipBody) => call<{ clip: ClipView }>('POST', `${space(id)}/clips`, body),
  clips: (id: string) => call<{ clips: ClipView[] }>('GET', `${space(id)}/clips`),
  clip: (clipId: string) => call<{ clip: ClipView }>('GET', `/api/clips/${encodeURIComponent(clipId)}`),
  deleteClip: (clipId: string) => call<{ ok: true }>('DELETE', `/api/clips/${encodeURIComponent(clipId)}`),
};

/** A message for people: the catalogue's, or the network's. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
