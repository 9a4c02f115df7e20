/**
 * Accounts API: sign up, sign in and out, the CSRF token, API tokens and
 * in-app notifications. Sign-in attempts are rate-limited per username so
 * a password cannot be guessed at the speed of the network.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { KeyedBuckets } from '../guard/keyed-buckets.js';
import type { AccountStore } from '../store/account-store.js';
import type { ReminderStore } from '../store/reminder-store.js';
import {
  API_LIMITS,
  AccountEnvelope,
  ApiTokenList,
  CreateTokenBody,
  CreatedApiToken,
  EmptyBody,
  ErrorSchema,
  NoQuery,
  NotificationList,
  NotificationParams,
  Ok,
  SessionView,
  SignInBody,
  SignUpBody,
  TokenParams,
  isoTime as iso,
} from '../wire/api.js';
import { TribuneError } from '../wire/errors.js';
import type { Auth} from './auth.js';
import { SESSION_COOKIE, SESSION_TTL_MS, SIGNED_IN_HINT_COOKIE, accountView } from './auth.js';
import { hashPassword, verifyPassword } from './passwords.js';

export interface AccountDeps {
  auth: Auth;
  accounts: AccountStore;
  reminders: ReminderStore;
}

export async function accountRoutes(app: FastifyInstance, deps: AccountDeps): Promise<void> {
  const { auth, accounts, reminders } = deps;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  // Five tries at once, then one every 12 s, per username.
  const signInTries = new KeyedBuckets(1 / 12, 5);
  const body = { bodyLimit: API_LIMITS.maxBodyBytes };
  const tags = ['accounts'];

  api.get(
    '/api/session',
    { schema: { summary: 'Who is signed in, and the CSRF token for state-changing requests', tags, querystring: NoQuery, response: { 200: SessionView, 400: ErrorSchema } } },
    async (request, reply) => {
      const account = await auth.account(request);
      void reply.header('cache-control', 'no-store');
      // A session that expired or was revoked: the page's hint goes too.
      if (!account && request.cookies[SIGNED_IN_HINT_COOKIE] !== undefined) auth.clearSessionCookie(reply);
      return { account: account ? accountView(account) : null, csrfToken: auth.csrfToken(reply) };
    },
  );

  api.post(
    '/api/accounts',
    {
      ...body,
      schema: {
        summary: 'Sign up (and sign in)',
        description: 'Needs the x-csrf-token header from GET /api/session. Sets the session cookie.',
        tags,
        body: SignUpBody,
        response: { 201: AccountEnvelope, 400: ErrorSchema, 403: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      const { username, password, displayName } = request.body;
      const now = Date.now();
      const account = await accounts.create({ username: username.toLowerCase(), displayName: (displayName ?? username).trim(), passwordHash: await hashPassword(password), nowMs: now });
      if (!account) throw new TribuneError('USERNAME_TAKEN');
      auth.setSessionCookie(reply, await accounts.openSession(account.id, now, SESSION_TTL_MS));
      return reply.code(201).header('cache-control', 'no-store').send({ account: accountView(account), csrfToken: auth.csrfToken(reply) });
    },
  );

  api.post(
    '/api/session',
    {
      ...body,
      schema: {
        summary: 'Sign in',
        description: 'Needs the x-csrf-token header from GET /api/session. Sets the session cookie.',
        tags,
        body: SignInBody,
        response: { 200: AccountEnvelope, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 429: ErrorSchema },
      },
    },
    async (request, reply) => {
      const username = request.body.username.toLowerCase();
      if (!signInTries.take(username, Date.now())) throw new TribuneError('SIGN_IN_RATE_LIMITED');
      const found = await accounts.byUsername(username);
      if (!(await verifyPassword(found?.passwordHash, request.body.password)) || !found) throw new TribuneError('BAD_CREDENTIALS');
      auth.setSessionCookie(reply, await accounts.openSession(found.id, Date.now(), SESSION_TTL_MS));
      return reply.header('cache-control', 'no-store').send({ account: accountView(found), csrfToken: auth.csrfToken(reply) });
    },
  );

  api.delete(
    '/api/session',
    { schema: { summary: 'Sign out', tags, response: { 200: Ok, 403: ErrorSchema } } },
    async (request, reply) => {
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie && cookie.length <= 200) await accounts.closeSession(cookie);
      auth.clearSessionCookie(reply);
      return { ok: true as const };
    },
  );

  api.post(
    '/api/tokens',
    {
      ...body,
      schema: {
        summary: 'Create an API token for a bot or an integration',
        description: 'The token is in this answer only; the server keeps its hash.',
        tags,
        body: CreateTokenBody,
        response: { 201: CreatedApiToken, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      const account = await auth.require(request);
      if ((await accounts.listApiTokens(account.id)).length >= API_LIMITS.maxApiTokensPerAccount) {
        throw new TribuneError('VALIDATION_FAILED', `at most ${API_LIMITS.maxApiTokensPerAccount} API tokens per account`);
      }
      const created = await accounts.createApiToken(account.id, request.body.name, Date.now());
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ token: created.secret, apiToken: { id: created.id, name: created.name, createdAt: iso(created.createdAtMs) ?? '', lastUsedAt: null } });
    },
  );

  api.get('/api/tokens', { schema: { summary: 'Your API tokens', tags, querystring: NoQuery, response: { 200: ApiTokenList, 400: ErrorSchema, 401: ErrorSchema } } }, async (request) => {
    const account = await auth.require(request);
    const tokens = await accounts.listApiTokens(account.id);
    return { tokens: tokens.map((t) => ({ id: t.id, name: t.name, createdAt: iso(t.createdAtMs) ?? '', lastUsedAt: iso(t.lastUsedAtMs) })) };
  });

  api.delete(
    '/api/tokens/:tokenId',
    { schema: { summary: 'Revoke an API token', tags, params: TokenParams, response: { 200: Ok, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema } } },
    async (request) => {
      const account = await auth.require(request);
      if (!(await accounts.revokeApiToken(account.id, request.params.tokenId))) throw new TribuneError('API_TOKEN_NOT_FOUND');
      return { ok: true as const };
    },
  );

  api.get(
    '/api/notifications',
    { schema: { summary: 'Your notifications (Spaces you asked to be reminded of that started)', tags, querystring: NoQuery, response: { 200: NotificationList, 400: ErrorSchema, 401: ErrorSchema } } },
    async (request, reply) => {
      const account = await auth.require(request);
      const list = await reminders.notifications(account.id, 50);
      void reply.header('cache-control', 'no-store');
      return {
        notifications: list.map((n) => ({ id: n.id, kind: n.kind, space: { id: n.spaceId, title: n.spaceTitle }, createdAt: iso(n.createdAtMs) ?? '', read: n.readAtMs !== null })),
      };
    },
  );

  api.post(
    '/api/notifications/:notificationId/read',
    { ...body, schema: { summary: 'Mark a notification read', tags, params: NotificationParams, body: EmptyBody, response: { 200: Ok, 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema } } },
    async (request) => {
      const account = await auth.require(request);
      if (!(await reminders.markRead(account.id, request.params.notificationId, Date.now()))) throw new TribuneError('NOTIFICATION_NOT_FOUND');
      return { ok: true as const };
    },
  );
}
