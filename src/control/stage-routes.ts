/**
 * The stage API: requests to speak and their queue, invitations, roles,
 * muting, blocks, stepping down, stage passes, and the stage WebSocket.
 * Each rule lives in SpaceHub/stage-rules; these routes only authenticate,
 * validate and translate.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Auth } from '../accounts/auth.js';
import type { AccountStore, StoredAccount } from '../store/account-store.js';
import { API_LIMITS, AccountRefBody, EmptyBody, ErrorSchema, InviteBody, NoQuery, Ok, RequestList, RoleBody, SpaceAccountParams, SpaceParams, StagePass, StageQuery } from '../wire/api.js';
import { TribuneError } from '../wire/errors.js';
import type { StageRole } from '../wire/signalling.js';
import type { SpaceHub } from './space-hub.js';
import type { SpaceRegistry } from './space-registry.js';
import { baseUrl } from './space-views.js';
import { handleStageSocket } from './stage-signalling.js';
import type { StagePasses } from './stage-passes.js';
import type { StageTokens } from './stage-tokens.js';
import { PUBLIC_ID_SOURCE } from '../wire/public-id.js';

export interface StageRouteDeps {
  auth: Auth;
  hubs: SpaceRegistry;
  accounts: AccountStore;
  passes: StagePasses;
  tokens: StageTokens;
  publicUrl: string | undefined;
  /** The ICE servers a member is told to use, with a TURN credential of their own (src/sfu/turn-credentials.ts). */
  iceServersFor(accountId: string): { urls: string | string[]; username?: string; credential?: string }[];
}

const SPACE_ID_PATTERN = new RegExp(`^${PUBLIC_ID_SOURCE}$`);

export async function stageRoutes(app: FastifyInstance, deps: StageRouteDeps): Promise<void> {
  const { auth, hubs, accounts, passes, tokens } = deps;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['stage'];
  const body = { bodyLimit: API_LIMITS.maxBodyBytes };
  const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 410: ErrorSchema, 413: ErrorSchema };

  const target = async (accountId: string): Promise<StoredAccount> => {
    const [account] = await accounts.byIds([accountId]);
    if (!account) throw new TribuneError('ACCOUNT_NOT_FOUND');
    return account;
  };

  const byUsername = async (username: string): Promise<StoredAccount> => {
    const found = await accounts.byUsername(username.toLowerCase());
    if (!found) throw new TribuneError('ACCOUNT_NOT_FOUND');
    return { id: found.id, username: found.username, displayName: found.displayName, createdAtMs: found.createdAtMs };
  };

  /** A POST that acts as the signed-in account on a Space. */
  const act = (url: string, summary: string, run: (hub: SpaceHub, me: StoredAccount, params: { accountId?: string }) => Promise<void>, params: typeof SpaceParams | typeof SpaceAccountParams = SpaceParams) =>
    api.post(url, { ...body, schema: { summary, tags, params, body: EmptyBody, response: { 200: Ok, ...errors } } }, async (request) => {
      const me = await auth.require(request);
      const { id, accountId } = request.params as { id: string; accountId?: string };
      await run(await hubs.get(id), me, { accountId });
      return { ok: true as const };
    });

  act('/api/spaces/:id/requests', 'Ask to speak (a listener with an account)', (hub, me) => hub.requestToSpeak(me));
  api.delete(
    '/api/spaces/:id/requests/me',
    { schema: { summary: 'Withdraw your request to speak', tags, params: SpaceParams, response: { 200: Ok, ...errors } } },
    async (request) => {
      await (await hubs.get(request.params.id)).withdrawRequest(await auth.require(request));
      return { ok: true as const };
    },
  );
  api.get(
    '/api/spaces/:id/requests',
    { schema: { summary: 'The queue of requests to speak (host and co-hosts)', tags, params: SpaceParams, querystring: NoQuery, response: { 200: RequestList, ...errors } } },
    async (request, reply) => {
      const me = await auth.require(request);
      const queue = (await hubs.get(request.params.id)).requestQueue(me);
      void reply.header('cache-control', 'no-store');
      return { requests: queue.map((r) => ({ account: { id: r.accountId, username: r.username, displayName: r.name }, requestedAt: r.requestedAt })) };
    },
  );
  act('/api/spaces/:id/requests/:accountId/accept', 'Accept a request to speak (host and co-hosts)', (hub, me, p) => hub.answerRequest(me, p.accountId ?? '', true), SpaceAccountParams);
  act('/api/spaces/:id/requests/:accountId/decline', 'Decline a request to speak (host and co-hosts)', (hub, me, p) => hub.answerRequest(me, p.accountId ?? '', false), SpaceAccountParams);

  api.post(
    '/api/spaces/:id/invites',
    {
      ...body,
      schema: { summary: 'Invite a listener up to speak (host), by account id or username', tags, params: SpaceParams, body: InviteBody, response: { 200: Ok, ...errors } },
    },
    async (request) => {
      const me = await auth.require(request);
      const hub = await hubs.get(request.params.id);
      const who = request.body;
      await hub.invite(me, 'accountId' in who ? await target(who.accountId) : await byUsername(who.username));
      return { ok: true as const };
    },
  );
  act('/api/spaces/:id/invites/me/accept', 'Accept an invitation to speak', (hub, me) => hub.answerInvite(me, true));
  act('/api/spaces/:id/invites/me/decline', 'Decline an invitation to speak', (hub, me) => hub.answerInvite(me, false));

  api.put(
    '/api/spaces/:id/roles/:accountId',
    {
      ...body,
      schema: {
        summary: 'Promote, demote, or move someone back to the audience',
        description: 'The host makes co-hosts and speakers; the host and co-hosts move speakers to the audience (role "listener").',
        tags,
        params: SpaceAccountParams,
        body: RoleBody,
        response: { 200: Ok, ...errors },
      },
    },
    async (request) => {
      const me = await auth.require(request);
      await (await hubs.get(request.params.id)).setRole(me, request.params.accountId, request.body.role);
      return { ok: true as const };
    },
  );

  act('/api/spaces/:id/members/:accountId/mute', 'Mute someone on stage (host and co-hosts; or yourself)', (hub, me, p) => hub.setMuted(me, p.accountId ?? '', true), SpaceAccountParams);
  act('/api/spaces/:id/members/:accountId/unmute', 'Unmute yourself (nobody unmutes another)', (hub, me, p) => hub.setMuted(me, p.accountId ?? '', false), SpaceAccountParams);
  act('/api/spaces/:id/step-down', 'Go back to listening (speakers and co-hosts)', (hub, me) => hub.stepDown(me));

  api.post(
    '/api/spaces/:id/blocks',
    { ...body, schema: { summary: 'Block an account from the Space (host and co-hosts)', tags, params: SpaceParams, body: AccountRefBody, response: { 200: Ok, ...errors } } },
    async (request) => {
      const me = await auth.require(request);
      const hub = await hubs.get(request.params.id);
      await hub.block(me, await target(request.body.accountId));
      return { ok: true as const };
    },
  );
  api.delete(
    '/api/spaces/:id/blocks/:accountId',
    { schema: { summary: 'Lift a block (host and co-hosts)', tags, params: SpaceAccountParams, response: { 200: Ok, ...errors } } },
    async (request) => {
      const me = await auth.require(request);
      await (await hubs.get(request.params.id)).unblock(me, request.params.accountId);
      return { ok: true as const };
    },
  );

  api.post(
    '/api/spaces/:id/stage-pass',
    {
      ...body,
      schema: {
        summary: 'A short-lived pass for the stage WebSocket',
        description: 'For accounts with a seat on a live Space’s stage (host, co-host, accepted speaker).',
        tags,
        params: SpaceParams,
        body: EmptyBody,
        response: { 200: StagePass, ...errors },
      },
    },
    async (request) => {
      const me = await auth.require(request);
      return passes.issue(await hubs.get(request.params.id), me, baseUrl(deps.publicUrl, request));
    },
  );

  const grants = new WeakMap<FastifyRequest, { hub: SpaceHub; role: StageRole; who: StoredAccount }>();
  api.route({
    method: 'GET',
    url: '/api/spaces/:id/stage',
    schema: {
      summary: 'Stage signalling (WebSocket)',
      description:
        'Upgrade to a WebSocket carrying the JSON messages of src/wire/signalling.ts. The stage pass (?token=) is checked before the upgrade; a plain GET gets 426.',
      tags,
      params: SpaceParams,
      querystring: StageQuery,
      response: { 101: { description: 'Switching to the WebSocket protocol', type: 'null' }, ...errors, 426: ErrorSchema },
    },
    preValidation: async (request: FastifyRequest<{ Params: { id: string }; Querystring: { token?: string } }>) => {
      // preValidation runs before schema validation; check the id's shape here
      // so a malformed id is a 400 like on every other route.
      if (!SPACE_ID_PATTERN.test(request.params.id)) throw new TribuneError('VALIDATION_FAILED', 'params/id must be a Space id');
      const hub = await hubs.get(request.params.id);
      if (hub.record.state !== 'live') throw new TribuneError(hub.record.state === 'scheduled' ? 'SPACE_NOT_LIVE' : 'SPACE_ENDED');
      const grant = await tokens.verify(request.query.token, hub.id);
      grants.set(request, { hub, ...hub.admit(grant.accountId) });
    },
    handler: async () => {
      throw new TribuneError('UPGRADE_REQUIRED');
    },
    // Synchronous on purpose: a listener attached after an await would miss
    // the client's first message.
    wsHandler: (socket, request) => {
      const grant = grants.get(request);
      const stage = grant?.hub.stage;
      if (!grant || !stage) return socket.close(1011, 'INTERNAL');
      handleStageSocket(socket, {
        space: stage,
        role: grant.role,
        who: { accountId: grant.who.id, username: grant.who.username, name: grant.who.displayName },
        requests: () => grant.hub.requestQueueFor(grant.who.id),
        end: () => grant.hub.end(grant.who),
        iceServers: deps.iceServersFor(grant.who.id),
        log: app.log,
      });
    },
  });
}
