/**
 * Spaces API: open one now or schedule it, list live and upcoming ones,
 * edit, start, cancel, end, the .ics download and reminders. Hosting needs
 * an account; reading does not.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createEvent } from 'ics';
import type { Auth } from '../accounts/auth.js';
import type { AccountStore, StoredAccount } from '../store/account-store.js';
import type { ReminderStore } from '../store/reminder-store.js';
import type { SpaceStore, StoredSpace } from '../store/space-store.js';
import { API_LIMITS, CreateSpaceBody, CreatedSpace, EditSpaceBody, EmptyBody, ErrorSchema, MyPlace, NoQuery, Ok, SpaceEnvelope, SpaceList, SpaceParams } from '../wire/api.js';
import { TribuneError } from '../wire/errors.js';
import type { SpaceHub } from './space-hub.js';
import type { SpaceRegistry } from './space-registry.js';
import { baseUrl, spaceView } from './space-views.js';
import type { StagePasses } from './stage-passes.js';

export interface SpaceRouteDeps {
  auth: Auth;
  hubs: SpaceRegistry;
  spaces: SpaceStore;
  accounts: AccountStore;
  reminders: ReminderStore;
  passes: StagePasses;
  publicUrl: string | undefined;
}

/** A start time from the API: ISO 8601, within [now - grace, now + 30 days]. */
export function parseStart(value: string, nowMs: number): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new TribuneError('VALIDATION_FAILED', 'startsAt is not a date-time');
  if (ms < nowMs - API_LIMITS.scheduleGraceMs || ms > nowMs + API_LIMITS.maxScheduleAheadMs) throw new TribuneError('START_OUT_OF_RANGE');
  return ms;
}

export async function spaceRoutes(app: FastifyInstance, deps: SpaceRouteDeps): Promise<void> {
  const { auth, hubs, spaces, accounts, reminders, passes } = deps;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['spaces'];
  const body = { bodyLimit: API_LIMITS.maxBodyBytes };
  const errors = { 400: ErrorSchema, 401: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 410: ErrorSchema, 413: ErrorSchema };

  const hostOf = async (record: StoredSpace, hub?: SpaceHub): Promise<StoredAccount | undefined> => {
    if (!record.hostAccountId) return undefined;
    return hub?.host() ?? (await accounts.byIds([record.hostAccountId]))[0];
  };
  const viewOf = async (base: string, hub: SpaceHub) => spaceView(base, hub.record, await hostOf(hub.record, hub), hub.members());
  const listOf = async (base: string, records: StoredSpace[], replays: StoredSpace[] = []) => {
    records = [...records, ...replays];
    const hosts = new Map((await accounts.byIds([...new Set(records.flatMap((r) => (r.hostAccountId ? [r.hostAccountId] : [])))])).map((a) => [a.id, a]));
    const views = records.map((r) => spaceView(base, r, r.hostAccountId ? hosts.get(r.hostAccountId) : undefined, hubs.loaded(r.id)?.members() ?? []));
    return {
      live: views.filter((v) => v.state === 'live'),
      upcoming: views.filter((v) => v.state === 'scheduled'),
      replays: views.filter((v) => v.state === 'ended' || v.state === 'interrupted'),
    };
  };

  api.post(
    '/api/spaces',
    {
      ...body,
      schema: {
        summary: 'Open a Space now, or schedule it',
        description: 'Without startsAt the Space is live at once and the answer carries the host’s stage pass.',
        tags,
        body: CreateSpaceBody,
        response: { 201: CreatedSpace, ...errors, 503: ErrorSchema },
      },
    },
    async (request, reply) => {
      const host = await auth.require(request);
      const startsAtMs = request.body.startsAt === undefined ? null : parseStart(request.body.startsAt, Date.now());
      const hub = await hubs.create(host, {
        title: request.body.title.trim(),
        description: (request.body.description ?? '').trim(),
        startsAtMs,
        recorded: request.body.record ?? false,
      });
      const base = baseUrl(deps.publicUrl, request);
      const stagePass = hub.record.state === 'live' ? await passes.issue(hub, host, base) : null;
      return reply.code(201).send({ space: await viewOf(base, hub), stagePass });
    },
  );

  api.get(
    '/api/spaces',
    { schema: { summary: 'Live Spaces and those scheduled, soonest first', tags, querystring: NoQuery, response: { 200: SpaceList, 400: ErrorSchema } } },
    async (request, reply) => {
      void reply.header('cache-control', 'public, max-age=5');
      const [current, replays] = await Promise.all([spaces.listCurrent(Date.now() - 6 * 3600 * 1000, 100), spaces.listReplays(20)]);
      return listOf(baseUrl(deps.publicUrl, request), current, replays);
    },
  );

  api.get(
    '/api/me/spaces',
    { schema: { summary: 'Spaces you host that are live or scheduled, and your replays', tags, querystring: NoQuery, response: { 200: SpaceList, 400: ErrorSchema, 401: ErrorSchema } } },
    async (request, reply) => {
      const account = await auth.require(request);
      void reply.header('cache-control', 'no-store');
      const [current, replays] = await Promise.all([spaces.hostedBy(account.id, 50), spaces.listReplays(50, account.id)]);
      return listOf(baseUrl(deps.publicUrl, request), current, replays);
    },
  );

  api.get(
    '/api/spaces/:id',
    { schema: { summary: 'A Space and who is on its stage', tags, params: SpaceParams, querystring: NoQuery, response: { 200: SpaceEnvelope, 400: ErrorSchema, 404: ErrorSchema } } },
    async (request, reply) => {
      const hub = await hubs.get(request.params.id);
      void reply.header('cache-control', 'no-store');
      return { space: await viewOf(baseUrl(deps.publicUrl, request), hub) };
    },
  );

  api.patch(
    '/api/spaces/:id',
    {
      ...body,
      schema: {
        summary: 'Edit a Space (host only)',
        description: 'Title and description while scheduled or live; the start time only while scheduled.',
        tags,
        params: SpaceParams,
        body: EditSpaceBody,
        response: { 200: SpaceEnvelope, ...errors },
      },
    },
    async (request) => {
      const account = await auth.require(request);
      const hub = await hubs.get(request.params.id);
      const { title, description, startsAt } = request.body;
      await hub.edit(account, {
        ...(title !== undefined ? { title: title.trim() } : {}),
        ...(description !== undefined ? { description: description.trim() } : {}),
        ...(startsAt !== undefined ? { startsAtMs: parseStart(startsAt, Date.now()) } : {}),
      });
      return { space: await viewOf(baseUrl(deps.publicUrl, request), hub) };
    },
  );

  for (const [action, summary] of [
    ['start', 'Start a scheduled Space now (host only)'],
    ['cancel', 'Cancel a scheduled Space (host only)'],
    ['end', 'End a live Space for everyone (host only)'],
  ] as const) {
    api.post(
      `/api/spaces/:id/${action}`,
      { ...body, schema: { summary, tags, params: SpaceParams, body: EmptyBody, response: { 200: SpaceEnvelope, ...errors, 503: ErrorSchema } } },
      async (request) => {
        const account = await auth.require(request);
        const hub = await hubs.get(request.params.id);
        if (action === 'start') await hub.start(account);
        else if (action === 'cancel') await hub.cancel(account);
        else await hub.end(account);
        return { space: await viewOf(baseUrl(deps.publicUrl, request), hub) };
      },
    );
  }

  api.get(
    '/api/spaces/:id/me',
    { schema: { summary: 'Your place in a Space: role, request, invitation, block, reminder', tags, params: SpaceParams, querystring: NoQuery, response: { 200: MyPlace, 400: ErrorSchema, 401: ErrorSchema, 404: ErrorSchema } } },
    async (request, reply) => {
      const account = await auth.require(request);
      const hub = await hubs.get(request.params.id);
      void reply.header('cache-control', 'no-store');
      return { ...hub.myPlace(account.id), subscribed: await reminders.isSubscribed(hub.id, account.id) };
    },
  );

  api.put(
    '/api/spaces/:id/subscription',
    { ...body, schema: { summary: 'Remind me when this Space starts', tags, params: SpaceParams, body: EmptyBody, response: { 200: Ok, ...errors } } },
    async (request) => {
      const account = await auth.require(request);
      const hub = await hubs.get(request.params.id);
      if (hub.record.state !== 'scheduled') throw new TribuneError('SPACE_NOT_SCHEDULED');
      await reminders.subscribe(hub.id, account.id, Date.now());
      return { ok: true as const };
    },
  );

  api.delete(
    '/api/spaces/:id/subscription',
    { schema: { summary: 'Stop the reminder', tags, params: SpaceParams, response: { 200: Ok, ...errors } } },
    async (request) => {
      const account = await auth.require(request);
      const hub = await hubs.get(request.params.id);
      await reminders.unsubscribe(hub.id, account.id);
      return { ok: true as const };
    },
  );

  api.get(
    '/api/spaces/:id/calendar.ics',
    {
      schema: {
        summary: 'The Space as a calendar event (RFC 5545)',
        tags,
        params: SpaceParams,
        querystring: NoQuery,
        produces: ['text/calendar'],
        response: { 200: { type: 'string', description: 'text/calendar' }, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
      },
    },
    async (request, reply) => {
      const hub = await hubs.get(request.params.id);
      const record = hub.record;
      const startMs = record.startsAtMs ?? record.startedAtMs;
      if (startMs === null || record.state === 'cancelled') throw new TribuneError('SPACE_NOT_SCHEDULED', 'a cancelled Space has no calendar event');
      const url = `${baseUrl(deps.publicUrl, request)}/s/${record.id}`;
      const { error, value } = createEvent({
        uid: `${record.id}@tribune`,
        start: startMs,
        startInputType: 'utc',
        startOutputType: 'utc',
        duration: { hours: 1 },
        title: record.title,
        description: [record.description, `Listen: ${url}`].filter(Boolean).join('\n\n'),
        url,
        // No ORGANIZER: RFC 5545 §3.8.4.3 wants a cal-address (mailto:), and accounts have none.
        productId: 'tribune',
      });
      if (error || !value) throw new TribuneError('INTERNAL', 'calendar event');
      return reply
        .type('text/calendar; charset=utf-8')
        .header('content-disposition', `attachment; filename="${record.id}.ics"`)
        .header('cache-control', 'public, max-age=60')
        .send(value);
    },
  );
}
