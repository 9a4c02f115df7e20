/**
 * Assembles one Tribune process: the HTTP border (fastify), the control API,
 * stage signalling and the browser client. `main.ts` starts it; tests build
 * it on a free port.
 */
import { existsSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import type { TribuneConfig } from './config.js';
import { accountRoutes } from './accounts/account-routes.js';
import { Auth } from './accounts/auth.js';
import { SpaceRegistry } from './control/space-registry.js';
import { baseUrl } from './control/space-views.js';
import { spaceRoutes } from './control/space-routes.js';
import { StagePasses } from './control/stage-passes.js';
import { stageRoutes } from './control/stage-routes.js';
import { StageTokens } from './control/stage-tokens.js';
import { feedRoutes } from './feed/feed-routes.js';
import { Redis } from 'ioredis';
import { admission, MAX_HEADERS } from './guard/admission.js';
import { limitConnections } from './guard/connection-limits.js';
import { PublicIds } from './store/public-ids.js';
import { iceServersFor } from './sfu/turn-credentials.js';
import { passwordWork } from './accounts/passwords.js';
import { storedKey } from './store/server-keys.js';
import { edgeOnly } from './guard/edge-only.js';
import { LoadShedder } from './guard/load-shedder.js';
import { RateLimits } from './guard/rate-limits.js';
import { StartWebhook } from './notify/start-webhook.js';
import { hlsRoutes } from './origin/hls-routes.js';
import { LocalDiskStorage } from './replay/local-disk-storage.js';
import { ReplayLibrary } from './replay/replay-library.js';
import { replayRoutes } from './replay/replay-routes.js';
import { storageFromEnv } from './replay/storage-from-config.js';
import { AccountStore } from './store/account-store.js';
import { openStore } from './store/database.js';
import { RecordingStore } from './store/recording-store.js';
import { ReminderStore } from './store/reminder-store.js';
import { SpaceStore } from './store/space-store.js';
import { SHARED_SCHEMAS } from './wire/api.js';
import { SIGNAL_LIMITS } from './wire/signalling.js';
import { TribuneError, type ErrorCode } from './wire/errors.js';

export interface Tribune {
  app: FastifyInstance;
  spaces: SpaceRegistry;
  replays: ReplayLibrary;
  shedder: LoadShedder;
  /** The key that tags public ids (hex): an edge in front needs it (src/edge). */
  idKey: string;
  /** The public key of stage passes: an edge in front checks passes with it (src/edge). */
  stagePassKey: { x: string; y: string };
  /** Listens on config.host:config.port and resolves to the base URL. */
  listen(): Promise<string>;
  /** Ends every Space and closes the server. Safe to call twice. */
  close(): Promise<void>;
}

export async function buildServer(config: TribuneConfig): Promise<Tribune> {
  const app = Fastify({
    logger: process.env.TRIBUNE_LOG === '1' ? { level: 'info' } : false,
    // Slow or stalled clients lose their connection instead of holding it.
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 10_000,
    bodyLimit: 16 * 1024,
    routerOptions: { maxParamLength: 100 },
    // Only the configured edges may say what the client's scheme and address were.
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    // Slow-header connections are closed after headersTimeout (checked every
    // second, not Node's default 30 s); header size and count are bounded.
    http: { maxHeaderSize: 16 * 1024, headersTimeout: config.guard.headersTimeoutMs, connectionsCheckingInterval: 1_000 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // Requests Node's parser refuses (too many or too large headers, a
    // malformed request line) get a catalogue answer on the raw socket.
    clientErrorHandler: answerClientError,
    // URLs the router refuses before any route runs (bad percent-encoding,
    // over-long parameters) still answer from the catalogue.
    frameworkErrors: (error, _request, rawReply) => {
      const reply = rawReply as unknown as FastifyReply;
      void reply.code(400).header('cache-control', 'no-store').send(new TribuneError('VALIDATION_FAILED', error.code).toBody());
    },
  });
  // Node keeps the first maxHeadersCount headers and drops the rest silently;
  // one over the limit lets admission see that there were too many and refuse.
  app.server.maxHeadersCount = MAX_HEADERS + 1;
  const connections = limitConnections(app.server, { perAddress: config.guard.connectionsPerAddress, exempt: [...config.trustProxy, ...loopbackEdges(config)], acceptOnly: config.acceptFrom });
  const redis = config.guard.redisUrl ? new Redis(config.guard.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 }) : undefined;
  // An unreachable Redis is logged, not fatal: the limits fall back to this process's memory.
  redis?.on('error', (error: Error) => app.log.warn({ err: error }, 'redis'));
  const limits = new RateLimits({ redis, ipScale: config.guard.ipScale });
  const shedder = new LoadShedder(config.guard.shedder);
  const store = await openStore(config.store);
  const ids = new PublicIds(config.idKey ?? (await storedKey(store, 'public-id', 32)));
  const spaceStore = new SpaceStore(store);
  const accounts = new AccountStore(store);
  const reminders = new ReminderStore(store);
  // One node owns its Spaces: any still live in the store were cut off by our last stop.
  await spaceStore.markInterrupted(Date.now());
  await accounts.deleteExpiredSessions(Date.now());
  // Recordings the last stop cut off are sealed from their journals before anyone can ask for them.
  const replayStorage = storageFromEnv(config.replay.s3Env, config.replay.dir);
  // Temp files of puts the last stop interrupted; a put resolves only after its rename, so none of them counted.
  if (replayStorage instanceof LocalDiskStorage) await replayStorage.sweepTemp();
  const replays = new ReplayLibrary(
    replayStorage,
    new RecordingStore(store),
    { journalDir: config.replay.journalDir, retentionMs: config.replay.retentionMs, clipRetentionMs: config.replay.clipRetentionMs, ids },
    app.log,
  );
  await replays.recoverAll(Date.now());
  const sweeper = setInterval(() => {
    replays.sweep(Date.now()).catch((error: unknown) => app.log.error(error, 'replay retention sweep'));
  }, config.replay.sweepIntervalMs);
  sweeper.unref();
  const webhook = new StartWebhook(config.webhook, app.log);
  let listeningAt = `http://localhost:${config.port}`;
  const spaces = new SpaceRegistry(
    {
      config,
      spaces: spaceStore,
      accounts,
      reminders,
      webhook,
      replays,
      ids,
      publicBase: () => config.publicUrl?.replace(/\/$/, '') ?? listeningAt,
      log: app.log,
    },
    config.maxLiveSpaces,
  );
  const tokens = new StageTokens(config.secret, config.tokenTtlSeconds);
  const passes = new StagePasses(tokens);
  const auth = new Auth(accounts, { secret: config.secret, secureCookies: config.secureCookies });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tribune API',
        version: '0.1.0',
        description: 'Live audio Spaces. Errors carry a stable code from docs/ERRORS.md.',
      },
      components: {
        securitySchemes: {
          apiToken: { type: 'http', scheme: 'bearer', description: 'An API token (POST /api/tokens); needs no CSRF token' },
          session: { type: 'apiKey', in: 'cookie', name: 'tribune_session', description: 'Session cookie; unsafe methods also need x-csrf-token' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  // Every body is JSON; without this, fastify would parse text/plain and
  // answer 400 instead of 415.
  app.removeContentTypeParser('text/plain');
  await app.register(fastifyWebsocket, {
    // Hard transport cap; the signalling handler enforces the smaller
    // documented limit itself so it can answer with an error code first.
    options: { maxPayload: SIGNAL_LIMITS.maxMessageBytes * 4 },
  });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const tribune = toTribuneError(error);
    if (tribune.status >= 500) app.log.error(error);
    // An error answer is about this moment; caches must not keep it.
    if (tribune.retryAfterS !== undefined) void reply.header('retry-after', String(tribune.retryAfterS));
    void reply.code(tribune.status).header('cache-control', 'no-store').send(tribune.toBody());
  });
  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).header('cache-control', 'no-store').send(new TribuneError('ROUTE_NOT_FOUND').toBody());
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({
    ok: true,
    liveSpaces: spaces.liveCount(),
    shedding: shedder.state(),
    connections: { open: connections.open(), refused: connections.refused(), turnedAway: connections.turnedAway() },
    passwordChecks: passwordWork.stats(),
  }));

  await auth.register(app);
  admission(app, { shedder, limits, auth });
  if (config.edgeSecret) edgeOnly(app, config.edgeSecret);
  const publicUrl = config.publicUrl;
  await app.register(async (scope) => accountRoutes(scope, { auth, accounts, reminders }));
  await app.register(async (scope) => spaceRoutes(scope, { auth, hubs: spaces, spaces: spaceStore, accounts, reminders, passes, publicUrl }));
  await app.register(async (scope) =>
    stageRoutes(scope, { auth, hubs: spaces, accounts, passes, tokens, publicUrl, iceServersFor: (accountId) => iceServersFor(config.sfu, accountId, Date.now()) }),
  );
  await app.register(async (scope) => feedRoutes(scope, { auth, hubs: spaces, holdMs: config.feedHoldMs }));
  await app.register(async (scope) => hlsRoutes(scope, { streamOf: (id) => spaces.streamOf(id) }));
  await app.register(async (scope) =>
    replayRoutes(scope, {
      auth,
      accounts,
      library: replays,
      space: async (id) => (await spaces.get(id)).record,
      base: (request) => baseUrl(publicUrl, request as Parameters<typeof baseUrl>[1]),
    }),
  );

  if (existsSync(join(config.webRoot, 'index.html'))) {
    await app.register(fastifyStatic, { root: config.webRoot, prefix: '/', index: 'index.html', wildcard: false });
    // Client-side routes of the single-page app.
    for (const path of ['/s/:id', '/c/:clipId', '/signin', '/host', '/new']) {
      app.get(path, { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'));
    }
  } else {
    app.get('/', { schema: { hide: true } }, (_request, reply) =>
      reply.type('text/plain').send('The browser client is not built: run `npm run build:web`.'),
    );
  }

  let closed = false;
  return {
    app,
    spaces,
    replays,
    shedder,
    idKey: ids.keyHex(),
    stagePassKey: tokens.publicKey(),
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
      listeningAt = `http://${host}:${port}`;
      return listeningAt;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      shedder.stop();
      await spaces.closeAll();
      await replays.closeAll();
      await webhook.drain();
      await app.close();
      await store.close();
      redis?.disconnect();
    },
  };
}

/** Maps fastify's own errors onto the catalogue. */
function toTribuneError(error: FastifyError): TribuneError {
  if (error instanceof TribuneError) return error;
  if (error.validation) return new TribuneError('VALIDATION_FAILED', error.message.slice(0, 300));
  switch (error.code) {
    case 'FST_CSRF_MISSING_SECRET':
    case 'FST_CSRF_INVALID_TOKEN':
      return new TribuneError('CSRF_INVALID');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new TribuneError('BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new TribuneError('UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new TribuneError('VALIDATION_FAILED', 'the body is not valid JSON');
  }
  if (error.statusCode === 400 || error instanceof SyntaxError) return new TribuneError('VALIDATION_FAILED', 'the body is not valid JSON');
  return new TribuneError('INTERNAL');
}

/**
 * With an edge secret set, the origin sits behind edges; a local edge (npm
 * run start:edge, the benches) connects from 127.0.0.1 and must not count as
 * one client address. Only that address: other loopback addresses are
 * clients like any other (the attack harness comes from 127.0.0.2 and up).
 */
function loopbackEdges(config: TribuneConfig): string[] {
  return config.edgeSecret ? ['127.0.0.1', '::1'] : [];
}

/** Node's parser errors (RFC 9110 §15.5.20 431 for headers, 408, 400) as catalogue bodies; then the socket is closed. */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  const code: ErrorCode = error.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'BAD_REQUEST';
  if (error.code !== 'ECONNRESET' && socket.writable) {
    const tribune = new TribuneError(code);
    const body = JSON.stringify(tribune.toBody());
    const reason = STATUS_CODES[tribune.status] ?? 'Error';
    socket.write(`HTTP/1.1 ${tribune.status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy();
}
