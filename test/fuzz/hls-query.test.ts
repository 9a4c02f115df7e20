/**
 * Fuzz: the delivery directives of a playlist request (RFC 8216bis
 * §6.2.5: _HLS_msn, _HLS_part, _HLS_skip), src/origin/hls-query.ts.
 *
 * 1. The parser, called directly with arbitrary queries (values of any
 *    type, directives given twice, junk and prototype keys) against a live
 *    edge anywhere from "no part yet" to near 10^9: the answer is what a
 *    model written from §6.2.5.2 and docs/ARCHITECTURE.md names, a parse
 *    or one of the four 400 codes of the catalogue; other query parameters
 *    never change it; a valid _HLS_msn/_HLS_part round-trips.
 * 2. The real playlist route of a live Space through fastify's inject, with
 *    raw query strings (percent-encoded names, `[]` keys, invalid escapes,
 *    unicode): 200 with a playlist or 400 with the model's code, never 5xx.
 *    A request the model says would wait for a future part is not sent:
 *    waiting is the blocking-reload tests' business, not the fuzzer's.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import fc, { type Arbitrary } from 'fast-check';
import { PARTS_PER_SEGMENT, type PartPosition } from '../../src/hls/hls-types.js';
import { parseHlsDirectives, reached, type HlsDirectives } from '../../src/origin/hls-query.js';
import { ERRORS, TribuneError, isErrorCode, type ErrorCode } from '../../src/wire/errors.js';
import { POISON_KEYS, hostileValue, withOwnKeys } from '../helpers/fuzz-json.js';
import { fuzzParameters, fuzzRuns, fuzzTimeout } from '../helpers/fuzz-runs.js';
import { startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';

const RUNS = fuzzRuns();
const ROUTE_RUNS = Math.max(10_000, Math.floor(RUNS / 10));
const DIRECTIVES = ['_HLS_msn', '_HLS_part', '_HLS_skip'] as const;

type Outcome = { code: ErrorCode } | HlsDirectives;

/** Decimal integer of 1 to 9 ASCII digits (the origin's bound; the spec allows up to 20). */
function decimal(text: string): boolean {
  return text.length >= 1 && text.length <= 9 && [...text].every((c) => c >= '0' && c <= '9');
}

/** §6.2.5.2, as documented: what a query must get against the live edge `head`. */
function model(query: Record<string, unknown>, head: PartPosition | undefined): Outcome {
  const values = DIRECTIVES.map((name) => (Object.hasOwn(query, name) ? query[name] : undefined));
  if (values.some((v) => v !== undefined && typeof v !== 'string')) return { code: 'HLS_QUERY_INVALID' };
  const [msn, part, skip] = values as (string | undefined)[];
  if (skip !== undefined && skip !== 'YES' && skip !== 'v2') return { code: 'HLS_QUERY_INVALID' };
  if (part !== undefined && msn === undefined) return { code: 'HLS_PART_WITHOUT_MSN' };
  if (msn === undefined) return { target: undefined, wholeSegment: false, skip: skip !== undefined };
  if (!decimal(msn) || (part !== undefined && !decimal(part))) return { code: 'HLS_QUERY_INVALID' };
  if (Number(msn) > (head?.msn ?? 0) + 2) return { code: 'HLS_MSN_TOO_FAR' };
  if (part === undefined) return { target: { msn: Number(msn), part: PARTS_PER_SEGMENT - 1 }, wholeSegment: true, skip: skip !== undefined };
  if (Number(part) > PARTS_PER_SEGMENT) return { code: 'HLS_PART_TOO_FAR' };
  // A part index one past a segment's last names part 0 of the next segment.
  const target = Number(part) === PARTS_PER_SEGMENT ? { msn: Number(msn) + 1, part: 0 } : { msn: Number(msn), part: Number(part) };
  return { target, wholeSegment: false, skip: skip !== undefined };
}

function parse(query: Record<string, unknown>, head: PartPosition | undefined): Outcome {
  try {
    return parseHlsDirectives(query, head);
  } catch (error) {
    if (!(error instanceof TribuneError)) throw error;
    assert.equal(error.status, 400, `${error.code} is not a 400`);
    return { code: error.code };
  }
}

// --- queries --------------------------------------------------------------

const directiveText: Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: fc.nat({ max: 20 }).map(String) },
  { weight: 1, arbitrary: fc.nat().map(String) },
  { weight: 2, arbitrary: fc.constantFrom('', '-1', '+1', '1.0', '1e3', ' 1', '1 ', '0x1', '00000001', '999999999', '1000000000', '99999999999999999999', '０', '١', '1\n', 'YES', 'yes', 'v2', 'V2', 'NO', 'true') },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const directiveValue: Arbitrary<unknown> = fc.oneof(
  { weight: 16, arbitrary: directiveText },
  { weight: 1, arbitrary: fc.array(directiveText, { minLength: 2, maxLength: 3 }) },
  { weight: 1, arbitrary: hostileValue },
);
const junkKey: Arbitrary<string> = fc.oneof(
  fc.constantFrom(...POISON_KEYS, '_hls_msn', '_HLS_MSN', '_HLS_msn ', '_HLS_msn[]', 'HLS_msn', '_HLS_partx', '_HLS_junk', ''),
  fc.string({ maxLength: 10 }),
);
const junk = fc.array(fc.tuple(junkKey, fc.oneof({ weight: 4, arbitrary: directiveText }, { weight: 1, arbitrary: hostileValue })), { maxLength: 4 });
const head: Arbitrary<PartPosition | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record({ msn: fc.oneof(fc.nat({ max: 30 }), fc.nat({ max: 999_999_999 })), part: fc.nat({ max: PARTS_PER_SEGMENT - 1 }) }),
);
const directives = fc.record(
  { _HLS_msn: directiveValue, _HLS_part: directiveValue, _HLS_skip: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('YES', 'v2') }, { weight: 1, arbitrary: directiveValue }) },
  { requiredKeys: [] },
);

test(`${RUNS} queries parse as the §6.2.5.2 model says, junk parameters change nothing, and valid directives round-trip`, { timeout: fuzzTimeout(RUNS, 0.1) }, () => {
  const counts: Record<string, number> = {};
  fc.assert(
    fc.property(directives, junk, head, (named, extra, edge) => {
      const query = withOwnKeys([...extra.filter(([k]) => !(DIRECTIVES as readonly string[]).includes(k)), ...Object.entries(named)]);
      const outcome = parse(query, edge);
      const label = 'code' in outcome ? outcome.code : outcome.target ? 'target' : 'plain';
      counts[label] = (counts[label] ?? 0) + 1;
      assert.deepEqual(outcome, model(query, edge), JSON.stringify(query));
      // Nothing but the directives matters.
      assert.deepEqual(parse(withOwnKeys(Object.entries(named)), edge), outcome);
      if ('code' in outcome) {
        assert.ok(isErrorCode(outcome.code) && ERRORS[outcome.code].status === 400);
        return;
      }
      // Round trip: the target written back as directives parses to itself,
      // whenever it is still within two segments of the edge.
      if (outcome.target && outcome.target.msn <= (edge?.msn ?? 0) + 2) {
        const again = parse({ _HLS_msn: String(outcome.target.msn), _HLS_part: String(outcome.target.part) }, edge);
        assert.ok(!('code' in again), `${JSON.stringify(outcome.target)} did not parse back: ${JSON.stringify(again)}`);
        assert.deepEqual(again.target, outcome.target);
        assert.ok(reached(outcome.target, outcome.target) && reached(again.target, outcome.target));
      }
    }),
    fuzzParameters(RUNS),
  );
  console.log(JSON.stringify({ target: 'hls query (parser)', cases: RUNS, outcomes: counts }));
});

// --- the real route ---------------------------------------------------------

let server: RunningTribune;
let spaceId = '';
/** A bare fastify with the same version and defaults: what the route's `request.query` is for a raw query string. */
let echo: FastifyInstance;

before(async () => {
  server = await startTribune();
  spaceId = (await server.createSpace('HLS query fuzz')).space.id;
  await waitFor(() => server.tribune.spaces.streamOf(spaceId)?.head !== undefined, 10_000, 'the first part');
  echo = Fastify();
  echo.get('/q', async (request) => ({ query: request.query }));
  await echo.ready();
});
after(async () => {
  await echo?.close();
  await server?.close();
});

const rawName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...DIRECTIVES) },
  { weight: 2, arbitrary: fc.constantFrom('%5FHLS_msn', '_HLS_%6Dsn', '_HLS_msn[]', '_HLS_msn%00', '_HLS_MSN', '__proto__', 'constructor', '%', '%zz', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }).map(encodeURIComponent) },
);
const rawValue = fc.oneof(
  { weight: 4, arbitrary: directiveText.map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%C0%80', '%F0%9F%98', '+1', '1%20', '%31', 'YES%00', 'v2&', '=1') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }).map((s) => s.replace(/[#\s]/g, '')) },
);
const rawQuery = fc
  .array(fc.tuple(rawName, fc.option(rawValue, { nil: undefined })), { maxLength: 6 })
  .map((pairs) => pairs.map(([n, v]) => (v === undefined ? n : `${n}=${v}`)).join('&'));

test(`${ROUTE_RUNS} raw query strings on a live playlist get 200 or the model's 400, never 5xx`, { timeout: fuzzTimeout(ROUTE_RUNS, 0.3) }, async () => {
  const stream = server.tribune.spaces.streamOf(spaceId);
  assert.ok(stream);
  const counts: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(rawQuery, async (qs) => {
      const url = `/hls/${spaceId}/live.m3u8?${qs}`;
      const parsed = await echo.inject({ method: 'GET', url: `/q?${qs}` });
      const edgeBefore = stream.head;
      const expected = model(parsed.json<{ query: Record<string, unknown> }>().query, edgeBefore);
      if (!('code' in expected) && expected.target && !reached(edgeBefore, expected.target)) {
        counts.wouldWait = (counts.wouldWait ?? 0) + 1;
        return;
      }
      const answer = await server.tribune.app.inject({ method: 'GET', url });
      assert.ok(answer.statusCode < 500, `${answer.statusCode} for ?${qs}: ${answer.body.slice(0, 300)}`);
      counts[answer.statusCode] = (counts[answer.statusCode] ?? 0) + 1;
      // The edge may have moved meanwhile; either answer is right then.
      const allowed = [expected, model(parsed.json<{ query: Record<string, unknown> }>().query, stream.head)];
      if (answer.statusCode === 200) {
        assert.match(answer.body, /^#EXTM3U/);
        assert.ok(allowed.some((o) => !('code' in o)), `200 for ?${qs}, the model says ${JSON.stringify(expected)}`);
      } else {
        const code = answer.json<{ error?: { code?: unknown } }>().error?.code;
        assert.equal(answer.statusCode, 400, `?${qs}: ${answer.body}`);
        assert.ok(allowed.some((o) => 'code' in o && o.code === code), `${code} for ?${qs}, the model says ${JSON.stringify(expected)}`);
      }
    }),
    fuzzParameters(ROUTE_RUNS),
  );
  console.log(JSON.stringify({ target: 'hls query (route)', cases: ROUTE_RUNS, statuses: counts }));
  // And the route still serves a plain request.
  assert.equal((await server.tribune.app.inject({ method: 'GET', url: `/hls/${spaceId}/live.m3u8` })).statusCode, 200);
});
