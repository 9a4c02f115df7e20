/**
 * The Spaces HTTP API and the stage WebSocket route. Schemas from
 * src/wire/api.ts validate every body, path and query parameter before a
 * handler runs; tokens are checked before a WebSocket upgrade is accepted,
 * so a refused join costs one HTTP answer and no state.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TribuneConfig } from '../config.js';
import { API_LIMITS, CreateSpaceBody, CreatedSpace, ErrorSchema, SpaceEnvelope, SpaceParams, StageInvite, StageQuery, type SpaceView } from '../wire/api.js';
import { TribuneError } from '../wire/errors.js';
import type { StageRole } from '../wire/signalling.js';
import type { Space } from './space.js';
import type { SpaceRegistry } from './space-registry.js';
import { handleStageSocket } from './stage-signalling.js';
import type { StageTokens } from './stage-tokens.js';

export interface ControlDeps {
  config: TribuneConfig;
  spaces: SpaceRegistry;
  tokens: StageTokens;
}

const SPACE_ID_PATTERN = /^[a-z2-9]{10}$/;

export function spaceView(space: Space): SpaceView {
  return { id: space.id, title: space.title, state: space.state, createdAt: space.createdAt.toISOString(), members: space.memberViews() };
}

function baseUrl(config: TribuneConfig, request: FastifyRequest): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/$/, '');
  return `${request.protocol}://${request.host}`;
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(header);
  if (!match) throw new TribuneError('TOKEN_INVALID', 'Authorization must be "Bearer <token>"');
  return match[1];
}

export async function controlRoutes(app: FastifyInstance, deps: ControlDeps): Promise<void> {
  const { config, spaces, tokens } = deps;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const grants = new WeakMap<FastifyRequest, { space: Space; role: StageRole }>();
  const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 410: ErrorSchema };

  api.post(
    '/api/spaces',
    {
      bodyLimit: API_LIMITS.maxBodyBytes,
      schema: {
        summary: 'Open a live Space',
        description: 'Creates a Space that is live at once and returns the host and stage tokens and links.',
        tags: ['spaces'],
        body: CreateSpaceBody,
        response: { 201: CreatedSpace, 400: ErrorSchema, 413: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (request, reply) => {
      const space = await spaces.create(request.body.title.trim());
      const [hostToken, stageToken] = await Promise.all([
        tokens.issue({ spaceId: space.id, role: 'host' }),
        tokens.issue({ spaceId: space.id, role: 'speaker' }),
      ]);
      const base = baseUrl(config, request);
      return reply.code(201).send({
        space: spaceView(space),
        hostToken,
        stageToken,
        hostUrl: `${base}/s/${space.id}?t=${hostToken}`,
        stageUrl: `${base}/s/${space.id}?t=${stageToken}`,
      });
    },
  );

  api.get(
    '/api/spaces/:id',
    {
      schema: {
        summary: 'A Space and who is on its stage',
        tags: ['spaces'],
        params: SpaceParams,
        response: { 200: SpaceEnvelope, 400: ErrorSchema, 404: ErrorSchema },
      },
    },
    async (request) => {
      const live = spaces.find(request.params.id);
      if (live) return { space: spaceView(live) };
      // Not in this process: an ended or interrupted Space from the store.
      const stored = await spaces.stored(request.params.id);
      if (!stored) throw new TribuneError('SPACE_NOT_FOUND');
      return { space: { id: stored.id, title: stored.title, state: stored.state, createdAt: new Date(stored.createdAtMs).toISOString(), members: [] } };
    },
  );

  api.post(
    '/api/spaces/:id/end',
    {
      bodyLimit: API_LIMITS.maxBodyBytes,
      schema: {
        summary: 'End a Space for everyone (host only)',
        description: 'Send the host token as `Authorization: Bearer <hostToken>`.',
        tags: ['spaces'],
        params: SpaceParams,
        security: [{ hostToken: [] }],
        response: { 200: SpaceEnvelope, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 413: ErrorSchema },
      },
    },
    async (request) => {
      const space = spaces.get(request.params.id);
      const grant = await tokens.verify(bearer(request), space.id);
      if (grant.role !== 'host') throw new TribuneError('NOT_HOST');
      await space.end();
      return { space: spaceView(space) };
    },
  );

  api.post(
    '/api/spaces/:id/invites',
    {
      bodyLimit: API_LIMITS.maxBodyBytes,
      schema: {
        summary: 'A fresh share link that joins the stage (host only)',
        description: 'Send the host token as `Authorization: Bearer <hostToken>`.',
        tags: ['spaces'],
        params: SpaceParams,
        security: [{ hostToken: [] }],
        response: { 201: StageInvite, ...errors, 413: ErrorSchema },
      },
    },
    async (request, reply) => {
      const space = spaces.get(request.params.id);
      const grant = await tokens.verify(bearer(request), space.id);
      if (grant.role !== 'host') throw new TribuneError('NOT_HOST');
      if (space.state !== 'live') throw new TribuneError('SPACE_ENDED');
      const stageToken = await tokens.issue({ spaceId: space.id, role: 'speaker' });
      return reply.code(201).send({ stageToken, stageUrl: `${baseUrl(config, request)}/s/${space.id}?t=${stageToken}` });
    },
  );

  api.route({
    method: 'GET',
    url: '/api/spaces/:id/stage',
    schema: {
      summary: 'Stage signalling (WebSocket)',
      description:
        'Upgrade to a WebSocket carrying the JSON messages of src/wire/signalling.ts. The token is checked before the upgrade; a plain GET gets 426.',
      tags: ['stage'],
      params: SpaceParams,
      querystring: StageQuery,
      response: { 101: { description: 'Switching to the WebSocket protocol', type: 'null' }, ...errors, 426: ErrorSchema },
    },
    preValidation: async (request: FastifyRequest<{ Params: { id: string }; Querystring: { token?: string } }>) => {
      // preValidation runs before schema validation; check the id's shape here
      // so a malformed id is a 400 like on every other route.
      if (!SPACE_ID_PATTERN.test(request.params.id)) throw new TribuneError('VALIDATION_FAILED', 'params/id must be a Space id');
      const space = spaces.get(request.params.id);
      if (space.state !== 'live') throw new TribuneError('SPACE_ENDED');
      grants.set(request, { space, role: (await tokens.verify(request.query.token, space.id)).role });
    },
    handler: async () => {
      throw new TribuneError('UPGRADE_REQUIRED');
    },
    // Synchronous on purpose: a listener attached after an await would miss
    // the client's first message.
    wsHandler: (socket, request) => {
      const grant = grants.get(request);
      if (!grant) return socket.close(1011, 'INTERNAL');
      handleStageSocket(socket, { space: grant.space, role: grant.role, iceServers: config.sfu.iceServers, log: app.log });
    },
  });
}
