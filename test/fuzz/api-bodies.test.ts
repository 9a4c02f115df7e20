/**
 * Fuzz: every JSON body of the HTTP API.
 *
 * The routes come from the live OpenAPI document (`app.swagger()`, as the
 * CSRF test in test/integration/accounts.test.ts reads it): every POST, PUT,
 * PATCH and DELETE that takes a body. Each gets its share of the cases,
 * sent through fastify's inject (no socket) as a signed-in browser would
 * send them (session cookie and x-csrf-token), by a fresh account per route
 * hosting a live and a scheduled Space, with another account that asked to
 * speak. The bodies: valid ones (written by hand where a route needs real
 * names and ids, and derived from the route's own schema, so a route added
 * later is fuzzed from valid seeds too), near-valid mutations (a field missing,
 * extra, retyped, a poison key such as __proto__), arbitrary JSON, huge and
 * deeply nested values, unicode, mangled text and a few other media types.
 *
 * Property: the answer is 2xx, or a 4xx whose body is `{error: {code}}`
 * with a code of the catalogue that carries that very status; never 5xx.
 * Afterwards the server still serves the same account's normal requests
 * and Object.prototype is untouched.
 *
 * Share of the cases: even across routes, except sign-up (each valid body
 * costs an Argon2id hash, ~40 ms) and sign-in (a verification, ~10 ms),
 * which get a quarter and a half of a share.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc, { type Arbitrary } from 'fast-check';
import { ERRORS, isErrorCode } from '../../src/wire/errors.js';
import { REACTION_EMOJI } from '../../src/wire/limits.js';
import type { TestAccount } from '../helpers/accounts.js';
import { hostileJsonText, hostileString } from '../helpers/fuzz-json.js';
import { fuzzParameters, fuzzRuns, fuzzSeed, fuzzTimeout } from '../helpers/fuzz-runs.js';
import { openApiRefs, schemaValue, type RefResolver, type Schema } from '../helpers/fuzz-schema.js';
import { DAY, isoFromNow } from '../helpers/spaces-api.js';
import { startTribune, type RunningTribune } from '../helpers/tribune.js';

const RUNS = fuzzRuns();
const UNSAFE = ['POST', 'PUT', 'PATCH', 'DELETE'];
/** Relative share of the cases per route template; 1 unless listed. */
const SHARE: Record<string, number> = { 'POST /api/accounts': 0.25, 'POST /api/session': 0.5 };

interface Route {
  method: string;
  template: string;
  /** The body's JSON Schema, from the OpenAPI document. */
  body: Schema;
}

let server: RunningTribune;
let me: TestAccount;
let them: TestAccount;
let tokenId = '';
const serverErrors: unknown[] = [];

before(async () => {
  server = await startTribune();
  me = await server.account();
  them = await server.account();
  // Whatever ends in a 5xx is logged here by the error handler (src/server.ts): keep it for the report.
  const log = server.tribune.app.log as unknown as { error: (...args: unknown[]) => void };
  log.error = (...args: unknown[]) => void serverErrors.push(args[0]);
});
after(async () => {
  await server?.close();
});

/** Every unsafe route that takes a JSON body, from the live OpenAPI document. */
function routesWithBodies(): Route[] {
  const spec = (server.tribune.app as unknown as { swagger(): OpenApi }).swagger();
  resolve = openApiRefs(spec.components?.schemas);
  const routes: Route[] = [];
  for (const [template, methods] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const body = operation.requestBody?.content?.['application/json']?.schema;
      if (UNSAFE.includes(method.toUpperCase()) && body) routes.push({ method: method.toUpperCase(), template, body });
    }
  }
  return routes;
}

interface OpenApi {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>>;
  components?: { schemas?: Record<string, Schema> };
}
let resolve: RefResolver = () => undefined;

/** Valid bodies of a route: written by hand where a route needs real ids or names, and derived from its schema. */
function validBodies(route: Route): Arbitrary<Record<string, unknown>> {
  const fromSchema = schemaValue(route.body, resolve).map((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v }));
  const byHand = handWritten(route);
  return byHand ? fc.oneof(byHand, fromSchema) : fromSchema;
}

/** Valid bodies that name real accounts, Spaces and values; undefined where the schema alone does. */
function handWritten(route: Route): Arbitrary<Record<string, unknown>> | undefined {
  const username = fc.constantFrom(me.account.username, them.account.username, 'nobody_here', 'Nobody_Here');
  const password = fc.oneof(fc.constant('correct horse battery'), fc.string({ minLength: 10, maxLength: 40 }));
  const path = route.template;
  if (path === '/api/accounts') {
    // Mostly taken names: the cases are about the border, not about filling the store.
    return fc.record({ username: fc.oneof(username, fc.stringMatching(/^[A-Za-z0-9_]{3,24}$/)), password, displayName: hostileString }, { requiredKeys: ['username', 'password'] });
  }
  if (path === '/api/session') return fc.record({ username, password });
  if (path === '/api/tokens') return fc.record({ name: fc.string({ minLength: 1, maxLength: 60 }) });
  if (path === '/api/spaces' || route.method === 'PATCH') {
    const startsAt = fc.constantFrom(isoFromNow(DAY), isoFromNow(-DAY), isoFromNow(40 * DAY), 'not a date', '2026-02-30T25:61:00Z', '+275760-09-13T00:00:00.000Z');
    return fc.record(
      { title: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 100 }), description: fc.string({ maxLength: 200 }), startsAt },
      { requiredKeys: route.method === 'PATCH' ? [] : ['title'] },
    );
  }
  if (path.endsWith('/invites')) {
    return fc.oneof(fc.record({ accountId: fc.constantFrom(them.id, me.id, 'aaaaaaaaaaaa') }), fc.record({ username }));
  }
  if (path.endsWith('/blocks')) return fc.record({ accountId: fc.constantFrom(them.id, me.id, 'aaaaaaaaaaaa') });
  if (path.includes('/roles/')) return fc.record({ role: fc.constantFrom('cohost', 'speaker', 'listener') });
  if (path.endsWith('/presence')) return fc.record({ listener: fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/), leaving: fc.boolean() }, { requiredKeys: ['listener'] });
  if (path.endsWith('/reactions')) return fc.record({ emoji: fc.constantFrom(...REACTION_EMOJI) });
  if (path.endsWith('/pins')) return fc.record({ url: fc.webUrl().filter((u) => u.length <= 500), label: fc.string({ minLength: 1, maxLength: 80 }) });
  return undefined;
}

interface Payload {
  text: string;
  contentType: string;
}

function payloads(route: Route): Arbitrary<Payload> {
  return fc.oneof(
    { weight: 20, arbitrary: hostileJsonText(validBodies(route)).map((text) => ({ text, contentType: 'application/json' })) },
    {
      weight: 1,
      arbitrary: fc.tuple(hostileJsonText(validBodies(route)), fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16', 'application/JSON', 'multipart/form-data; boundary=x', '')).map(([text, contentType]) => ({ text, contentType })),
    },
    { weight: 1, arbitrary: fc.constant({ text: '', contentType: 'application/json' }) },
  );
}

/**
 * A fresh host (Space creation is limited per account) with a live and a
 * scheduled Space, and `them` in the live one's queue; `paths` fills a template.
 */
async function fixture(): Promise<{ paths: (template: string, pick: number) => string; close: () => Promise<void> }> {
  me = await server.account();
  tokenId = (await me.call<{ tokens: { id: string }[] }>('GET', '/api/tokens')).body.tokens[0]?.id ?? '';
  const live = (await server.createSpace('Fuzz live', me)).space.id;
  const scheduled = await me.bot<{ space: { id: string } }>('POST', '/api/spaces', { title: 'Fuzz scheduled', startsAt: isoFromNow(DAY) });
  assert.equal(scheduled.status, 201);
  await them.bot('POST', `/api/spaces/${live}/requests`, {});
  const spaces = [live, scheduled.body.space.id];
  return {
    paths: (template, pick) =>
      template
        .replace('{id}', spaces[pick % 2] ?? live)
        .replace('{accountId}', (pick >> 1) % 2 ? me.id : them.id)
        .replace('{tokenId}', tokenId)
        .replace('{notificationId}', 'aaaaaaaaaaaa')
        .replace('{pinId}', 'aaaaaa')
        .replace(/\{[^}]+\}/g, 'aaaaaaaaaaaa'),
    // Ends the live Space (its mixer stops) whatever the fuzz did to it.
    close: async () => void (await server.tribune.app.inject({ method: 'POST', url: `/api/spaces/${live}/end`, payload: {}, headers: headers('application/json') })),
  };
}

function headers(contentType: string): Record<string, string> {
  return { cookie: me.jar.header(), 'x-csrf-token': me.csrf, ...(contentType ? { 'content-type': contentType } : {}) };
}

/** A Space the fuzz created through POST /api/spaces: ended or cancelled at once, so live Spaces do not pile up. */
async function undoCreated(body: string): Promise<void> {
  const created = JSON.parse(body) as { space?: { id?: string; state?: string } };
  const id = created.space?.id;
  if (!id) return;
  const action = created.space?.state === 'scheduled' ? 'cancel' : 'end';
  await server.tribune.app.inject({ method: 'POST', url: `/api/spaces/${id}/${action}`, payload: {}, headers: headers('application/json') });
}

test(`${RUNS} fuzzed bodies across every API route with a body get 2xx or a catalogue 4xx, never 5xx`, { timeout: fuzzTimeout(RUNS, 0.4) }, async () => {
  const routes = routesWithBodies();
  assert.ok(routes.length >= 20, `found only ${routes.length} routes with a body`);
  const shares = routes.map((r) => SHARE[`${r.method} ${r.template}`] ?? 1);
  const unit = RUNS / shares.reduce((a, b) => a + b, 0);
  const report: Record<string, { cases: number; statuses: Record<number, number> }> = {};
  let total = 0;
  for (const [i, route] of routes.entries()) {
    const cases = Math.max(1, Math.round(unit * (shares[i] ?? 1)));
    const place = await fixture();
    const statuses: Record<number, number> = {};
    try {
      await fc.assert(
        fc.asyncProperty(payloads(route), fc.nat(3), async (payload, pick) => {
          const url = place.paths(route.template, pick);
          const answer = await server.tribune.app.inject({ method: route.method as 'POST', url, payload: payload.text, headers: headers(payload.contentType) });
          statuses[answer.statusCode] = (statuses[answer.statusCode] ?? 0) + 1;
          const what = `${route.method} ${url} ${payload.contentType} ${JSON.stringify(payload.text.slice(0, 300))} -> ${answer.statusCode} ${answer.body.slice(0, 300)}`;
          assert.ok(answer.statusCode < 500, `${what}\n${serverErrors.map((e) => (e instanceof Error ? e.stack : JSON.stringify(e))).join('\n')}`);
          if (answer.statusCode >= 200 && answer.statusCode < 300) {
            if (route.template === '/api/spaces' && answer.statusCode === 201) await undoCreated(answer.body);
            return;
          }
          assert.ok(answer.statusCode >= 400, what);
          const code = (JSON.parse(answer.body) as { error?: { code?: unknown } }).error?.code;
          assert.ok(isErrorCode(code), `not a catalogue code: ${what}`);
          assert.equal(ERRORS[code].status, answer.statusCode, `${code} is documented as ${ERRORS[code].status}: ${what}`);
        }),
        // One seed per route, so that routes with the same body schema see different bodies.
        { ...fuzzParameters(cases), seed: (fuzzSeed + i) | 0 },
      );
    } finally {
      await place.close();
    }
    total += cases;
    report[`${route.method} ${route.template}`] = { cases, statuses };
  }
  console.log(JSON.stringify({ target: 'api bodies', cases: total, routes: routes.length, perRoute: report }));
  assert.ok(total >= RUNS * 0.99, `${total} cases`);
  assert.deepEqual(serverErrors, []);
  assert.equal(Object.getOwnPropertyNames(Object.prototype).includes('polluted'), false, 'Object.prototype was polluted');
});

test('after the fuzz the last fuzzing account is still signed in, and a new one creates, reads and ends a Space', async () => {
  const session = await server.tribune.app.inject({ method: 'GET', url: '/api/session', headers: { cookie: me.jar.header() } });
  assert.equal(session.json<{ account: { id: string } | null }>().account?.id, me.id);
  me = await server.account();
  const created = await server.tribune.app.inject({ method: 'POST', url: '/api/spaces', payload: { title: 'After the fuzz' }, headers: headers('application/json') });
  assert.equal(created.statusCode, 201, created.body);
  const id = created.json<{ space: { id: string } }>().space.id;
  const read = await server.tribune.app.inject({ method: 'GET', url: `/api/spaces/${id}` });
  assert.equal(read.json<{ space: { title: string; state: string } }>().space.title, 'After the fuzz');
  const ended = await server.tribune.app.inject({ method: 'POST', url: `/api/spaces/${id}/end`, payload: {}, headers: headers('application/json') });
  assert.equal(ended.statusCode, 200, ended.body);
  assert.equal((await server.tribune.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});
