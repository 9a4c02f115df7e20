/**
 * The audience's side of a Space's state: the versioned feed (long-poll),
 * presence beacons, reactions and pinned links.
 *
 * The feed answer is the same bytes for every listener at a version, and
 * says so to caches: an answer newer than the `v` asked for stays right
 * for that URL (the client comes straight back with the new version), so
 * it may be cached for longer than the "nothing new yet" answer.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Auth } from '../accounts/auth.js';
import type { SpaceRegistry } from '../control/space-registry.js';
import { API_LIMITS, ErrorSchema, FeedQuery, Ok, PinBody, PinParams, PinView, PresenceBody, ReactionBody, SpaceParams } from '../wire/api.js';

export interface FeedRouteDeps {
  auth: Auth;
  hubs: SpaceRegistry;
  holdMs: number;
}

export async function feedRoutes(app: FastifyInstance, deps: FeedRouteDeps): Promise<void> {
  const { auth, hubs } = deps;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['audience'];
  const body = { bodyLimit: API_LIMITS.maxBodyBytes };
  const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 410: ErrorSchema, 413: ErrorSchema };

  api.get(
    '/api/spaces/:id/feed',
    {
      schema: {
        summary: 'The Space’s state for listeners (long-poll)',
        description:
          'Without v: the current version at once. With v: held until a version after v exists (or for 20 s, then the current one). The same answer for every listener; see src/wire/feed.ts.',
        tags,
        params: SpaceParams,
        querystring: FeedQuery,
        response: { 200: { type: 'object', additionalProperties: true, description: 'FeedState (src/wire/feed.ts)' }, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (request, reply) => {
      const hub = await hubs.get(request.params.id);
      const asked = request.query.v === undefined ? undefined : Number(request.query.v);
      const snapshot = await hub.feed.next(asked, deps.holdMs);
      const moved = asked !== undefined && snapshot.version > asked;
      return reply
        .type('application/json; charset=utf-8')
        // Browsers keep no copy of a "nothing new" answer (max-age=0), so a
        // page's next poll reaches an edge; edges keep it for a second
        // (s-maxage) to collapse a crowd's polls into one.
        .header('cache-control', moved ? 'public, max-age=30' : 'public, max-age=0, s-maxage=1')
        .header('etag', `"${snapshot.version}"`)
        .header('access-control-allow-origin', '*')
        .send(snapshot.body);
    },
  );

  api.post(
    '/api/spaces/:id/presence',
    {
      ...body,
      schema: {
        summary: 'Presence beacon: "this page is listening" (every 30 s; leaving: true when it closes)',
        description: 'Anonymous: no account, no cookie, no CSRF token. Counts distinct listeners over the last 70 s.',
        tags,
        params: SpaceParams,
        body: PresenceBody,
        response: { 204: { type: 'null' }, ...errors },
      },
    },
    async (request, reply) => {
      const hub = await hubs.get(request.params.id);
      hub.beacon(request.body.listener, request.body.leaving === true);
      return reply.code(204).header('cache-control', 'no-store').send();
    },
  );

  api.post(
    '/api/spaces/:id/reactions',
    {
      ...body,
      schema: {
        summary: 'React (signed in; about one per second per person, or 429)',
        tags,
        params: SpaceParams,
        body: ReactionBody,
        response: { 202: Ok, ...errors, 429: ErrorSchema },
      },
    },
    async (request, reply) => {
      const me = await auth.require(request);
      (await hubs.get(request.params.id)).react(me, request.body.emoji);
      return reply.code(202).send({ ok: true as const });
    },
  );

  api.post(
    '/api/spaces/:id/pins',
    { ...body, schema: { summary: 'Pin a link on the Space (host and co-hosts; three at most)', tags, params: SpaceParams, body: PinBody, response: { 201: PinView, ...errors } } },
    async (request, reply) => {
      const me = await auth.require(request);
      const pin = (await hubs.get(request.params.id)).pin(me, request.body.url, request.body.label);
      return reply.code(201).send(pin);
    },
  );

  api.delete(
    '/api/spaces/:id/pins/:pinId',
    { schema: { summary: 'Unpin a link (host and co-hosts)', tags, params: PinParams, response: { 200: Ok, ...errors } } },
    async (request) => {
      const me = await auth.require(request);
      (await hubs.get(request.params.id)).unpin(me, request.params.pinId);
      return { ok: true as const };
    },
  );
}
