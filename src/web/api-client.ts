/** The browser's calls to the Spaces API; errors come back with their catalogue code. */
import type { CreatedSpace, SpaceView, StageInvite } from '../wire/api.js';
import type { ErrorBody, ErrorCode } from '../wire/errors.js';

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode | 'NETWORK',
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError('NETWORK', 'Tribune cannot be reached. Check your connection.');
  }
  if (response.ok) return (await response.json()) as T;
  const body = (await response.json().catch(() => undefined)) as ErrorBody | undefined;
  throw new ApiError(body?.error.code ?? 'INTERNAL', body?.error.message ?? `HTTP ${response.status}`);
}

const json = (body: unknown, token?: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});

export const api = {
  createSpace: (title: string) => call<CreatedSpace>('/api/spaces', json({ title })),
  getSpace: (id: string) => call<{ space: SpaceView }>(`/api/spaces/${encodeURIComponent(id)}`),
  endSpace: (id: string, hostToken: string) => call<{ space: SpaceView }>(`/api/spaces/${encodeURIComponent(id)}/end`, json({}, hostToken)),
  invite: (id: string, hostToken: string) => call<StageInvite>(`/api/spaces/${encodeURIComponent(id)}/invites`, json({}, hostToken)),
};
