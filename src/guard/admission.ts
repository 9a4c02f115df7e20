/**
 * The one door every HTTP request goes through (issue 6, "Defences"):
 *
 * 1. onRequest, before the body is read: shed by the route's priority
 *    (load-shedder.ts), then take from the client address's budget.
 * 2. preHandler, once the body is parsed and the caller known: take from the
 *    account's and the API token's budgets.
 *
 * Refusals are catalogue errors with Retry-After (429 for limits, 503 for
 * shedding); nothing waits in a queue, so nothing hangs.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Auth } from '../accounts/auth.js';
import type { LoadShedder } from './load-shedder.js';
import { limitsCallers, type RateLimits } from './rate-limits.js';
import { routeGuard } from './route-guards.js';
import { TribuneError } from '../wire/errors.js';

export interface AdmissionDeps {
  shedder: LoadShedder;
  limits: RateLimits;
  auth: Auth;
}

/** Headers one request may carry (a browser sends about 20). */
export const MAX_HEADERS = 100;

export function admission(app: FastifyInstance, deps: AdmissionDeps): void {
  const { shedder, limits, auth } = deps;
  app.addHook('onRequest', async (request) => {
    if (request.raw.rawHeaders.length > 2 * MAX_HEADERS) throw new TribuneError('HEADERS_TOO_LARGE', `more than ${MAX_HEADERS} headers`);
    const guard = routeGuard(request.method, request.routeOptions.url);
    shedder.admit(guard.priority);
    if (guard.limit) await limits.consume(guard.limit, { ip: request.ip });
  });
  app.addHook('preHandler', async (request) => {
    const guard = routeGuard(request.method, request.routeOptions.url);
    // Beacons, sign-ins and sign-ups have address budgets only: no need to find out who is asking.
    if (!guard.limit || !limitsCallers(guard.limit)) return;
    // A bad token is the handler's to refuse (TOKEN_INVALID); here it only has no budget.
    const account = await auth.account(request).catch(() => undefined);
    if (!account) return;
    await limits.consume(guard.limit, { ip: '', account: account.id, token: tokenKey(request) });
  });
}

/** An API token's budget key: a hash, so the limiter (and Redis) never hold the secret. */
function tokenKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return undefined;
  return createHash('sha256').update(header.slice(7)).digest('base64url').slice(0, 22);
}
