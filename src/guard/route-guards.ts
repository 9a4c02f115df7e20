/**
 * Every route's priority for shedding and its rate-limit budget, in one
 * table: a route added without an entry gets the defaults (GETs: `other`,
 * no limit; anything that writes: `other` and the `write` budget).
 */
import type { Priority } from './load-shedder.js';
import type { LimitName } from './rate-limits.js';

export interface RouteGuard {
  priority: Priority;
  limit?: LimitName;
}

const stage: RouteGuard = { priority: 'stage' };
const edge: RouteGuard = { priority: 'edge' };
const join: RouteGuard = { priority: 'join' };
const otherRead: RouteGuard = { priority: 'other' };
const otherWrite: RouteGuard = { priority: 'other', limit: 'write' };

/** `METHOD routeUrl` as fastify registers it. */
const TABLE: Record<string, RouteGuard> = {
  // Speakers and hosts: never shed. Creating and starting a Space are here
  // because a Space must start on time; their budgets stop floods.
  'GET /api/spaces/:id/stage': stage,
  'POST /api/spaces/:id/stage-pass': stage,
  'POST /api/spaces': { priority: 'stage', limit: 'space-create' },
  'POST /api/spaces/:id/start': stage,
  'POST /api/spaces/:id/end': stage,
  'POST /api/spaces/:id/step-down': stage,
  'POST /api/spaces/:id/members/:accountId/mute': stage,
  'POST /api/spaces/:id/members/:accountId/unmute': stage,
  'POST /api/spaces/:id/requests/:accountId/accept': stage,
  'POST /api/spaces/:id/invites/me/accept': stage,
  // What edges fetch for listeners.
  'GET /hls/:id/master.m3u8': edge,
  'GET /hls/:id/live.m3u8': edge,
  'GET /hls/:id/init.mp4': edge,
  'GET /hls/:id/seg/:msn': edge,
  'GET /hls/:id/part/:name': edge,
  'GET /api/spaces/:id/feed': edge,
  'GET /replay/:id/:file': edge,
  'GET /clips/:clipId/:file': edge,
  // Arriving.
  'GET /api/session': join,
  'POST /api/session': { priority: 'join', limit: 'sign-in' },
  'POST /api/accounts': { priority: 'join', limit: 'sign-up' },
  'GET /api/spaces/:id': join,
  'GET /api/spaces/:id/me': join,
  'GET /api/spaces': join,
  'POST /api/spaces/:id/requests': { priority: 'join', limit: 'speak-request' },
  // Chatter.
  'POST /api/spaces/:id/presence': { priority: 'chatter', limit: 'beacon' },
  'POST /api/spaces/:id/reactions': { priority: 'chatter', limit: 'reaction' },
  // Expensive writes with their own budget.
  'POST /api/spaces/:id/clips': { priority: 'other', limit: 'clip' },
};

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function routeGuard(method: string, url: string | undefined): RouteGuard {
  const entry = url === undefined ? undefined : TABLE[`${method === 'HEAD' ? 'GET' : method} ${url}`];
  if (entry) return entry;
  if (SAFE.has(method)) {
    // The web client's pages and bundle are how people arrive.
    return url !== undefined && !url.startsWith('/api/') ? join : otherRead;
  }
  return otherWrite;
}
