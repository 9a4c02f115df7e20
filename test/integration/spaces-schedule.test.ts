/**
 * Scheduling through the HTTP API: schedule (up to 30 days ahead), edit,
 * cancel, start, the lists, the .ics download, reminders (in-app
 * notification and the signed webhook), and the lobby learning the start
 * from the state feed. Every refusal has its stable code and writes nothing.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { CreatedSpace, SpaceList, SpaceView } from '../../src/wire/api.js';
import { httpCall, type TestAccount } from '../helpers/accounts.js';
import { DAY, HOUR, Visitor, assertError, assertOk, feedUntil, isoFromNow, joinStage, readFeed } from '../helpers/spaces-api.js';
import { startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';

const WEBHOOK_SECRET = 'webhook secret for tests';
let server: RunningTribune;
let webhook: Server;
const deliveries: { headers: IncomingHttpHeaders; body: string }[] = [];

before(async () => {
  webhook = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      deliveries.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const port = (webhook.address() as AddressInfo).port;
  // Long-polls are held longer than any wait in these tests, so a release proves a change.
  server = await startTribune({ webhook: { url: `http://127.0.0.1:${port}/hooks/tribune`, secret: WEBHOOK_SECRET }, feedHoldMs: 25_000 });
});
after(async () => {
  await server?.close();
  await new Promise((resolve) => webhook?.close(resolve));
});

async function schedule(host: TestAccount, body: Record<string, unknown>): Promise<SpaceView> {
  const created = await host.call<CreatedSpace>('POST', '/api/spaces', body);
  assertOk(created, 201, `schedule ${JSON.stringify(body)}`);
  return created.body.space;
}

async function getSpace(id: string): Promise<SpaceView> {
  const answer = await httpCall<{ space: SpaceView }>(server.url, 'GET', `/api/spaces/${id}`);
  assertOk(answer);
  return answer.body.space;
}

async function mySpaces(account: TestAccount): Promise<SpaceList> {
  const answer = await account.call<SpaceList>('GET', '/api/me/spaces');
  assertOk(answer);
  return answer.body;
}

async function allSpaces(): Promise<SpaceList> {
  return (await httpCall<SpaceList>(server.url, 'GET', '/api/spaces')).body;
}

/** The .ics as properties of its VEVENT (lines unfolded, text values unescaped). */
function parseIcs(text: string): { lines: string[]; event: Map<string, string> } {
  const lines = text.replace(/\r\n[ \t]/g, '').split('\r\n').filter((l) => l !== '');
  const begin = lines.indexOf('BEGIN:VEVENT');
  const end = lines.indexOf('END:VEVENT');
  assert.ok(begin >= 0 && end > begin, `no VEVENT in ${text}`);
  const event = new Map<string, string>();
  for (const line of lines.slice(begin + 1, end)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon < 0 ? undefined : colon).split(';')[0] ?? '';
    const value = colon < 0 ? '' : line.slice(colon + 1);
    event.set(name, value.replace(/\\([,;\\])/g, '$1').replace(/\\n/gi, '\n'));
  }
  return { lines, event };
}

const icsUtc = (iso: string): string => iso.replace(/[-:]/g, '').replace(/\.\d{3}/, '');

describe('scheduling', () => {
  test('a Space scheduled within 30 days is upcoming: no stage pass, listed soonest first, a lobby in its feed', async () => {
    const host = await server.account();
    const later = isoFromNow(29 * DAY + 23 * HOUR);
    const sooner = isoFromNow(2 * HOUR);
    const created = await host.call<CreatedSpace>('POST', '/api/spaces', { title: 'Later', description: 'far out', startsAt: later });
    assertOk(created, 201);
    assert.equal(created.body.stagePass, null);
    assert.equal(created.body.space.state, 'scheduled');
    assert.equal(created.body.space.startsAt, later);
    assert.equal(created.body.space.startedAt, null);
    const soon = await schedule(host, { title: 'Sooner', startsAt: sooner });
    const mine = await mySpaces(host);
    assert.deepEqual(mine.upcoming.map((s) => s.title), ['Sooner', 'Later']);
    assert.deepEqual(mine.live, []);
    const all = await allSpaces();
    const ids = all.upcoming.map((s) => s.id);
    assert.ok(ids.indexOf(soon.id) >= 0 && ids.indexOf(soon.id) < ids.indexOf(created.body.space.id));
    assert.ok(!all.live.some((s) => s.id === soon.id));
    const feed = await readFeed(server.url, soon.id);
    assert.equal(feed.feed.space.state, 'scheduled');
    assert.equal(feed.feed.space.startsAt, sooner);
    // Not live yet: no stage, no requests.
    assertError(await host.call('POST', `/api/spaces/${soon.id}/stage-pass`, {}), 409, 'SPACE_NOT_LIVE');
    const listener = await server.account();
    assertError(await listener.call('POST', `/api/spaces/${soon.id}/requests`, {}), 409, 'SPACE_NOT_LIVE');
  });

  test('a start more than 30 days ahead or in the past is 400 START_OUT_OF_RANGE and nothing is written', async () => {
    const host = await server.account();
    for (const startsAt of [isoFromNow(31 * DAY), isoFromNow(30 * DAY + HOUR), isoFromNow(-HOUR), '2001-01-01T00:00:00Z']) {
      assertError(await host.call('POST', '/api/spaces', { title: 'Out of range', startsAt }), 400, 'START_OUT_OF_RANGE', startsAt);
    }
    assert.deepEqual(await mySpaces(host), { live: [], upcoming: [], replays: [] });
    assert.ok(![...(await allSpaces()).upcoming].some((s) => s.title === 'Out of range'));
  });

  test('bad bodies are 400 VALIDATION_FAILED: bad dates, over-long titles, unknown fields, wrong types; nothing is written', async () => {
    const host = await server.account();
    const start = isoFromNow(DAY);
    const bad: unknown[] = [
      { title: 'Bad date', startsAt: 'tomorrow at noon' },
      { title: 'Bad date', startsAt: '2026-13-01T10:00:00Z' },
      { title: 'Bad date', startsAt: '2027-02-30T10:00:00Z' },
      { title: 'Bad date', startsAt: '' },
      { title: 'Bad date', startsAt: Date.now() + DAY },
      { title: 'x'.repeat(101), startsAt: start },
      { title: '', startsAt: start },
      { title: '    ', startsAt: start },
      { title: 'Line\nbreak', startsAt: start },
      { title: 42, startsAt: start },
      { title: ['array'], startsAt: start },
      { title: 'Wrong description', description: { text: 'no' }, startsAt: start },
      { title: 'Long description', description: 'd'.repeat(1001), startsAt: start },
      { title: 'Unknown field', startsAt: start, hostId: 'someone' },
      { title: null },
      {},
      [],
      'just a string',
    ];
    for (const body of bad) assertError(await host.call('POST', '/api/spaces', body), 400, 'VALIDATION_FAILED', JSON.stringify(body));
    assertError(await host.call('POST', '/api/spaces', '{"title": "unterminated'), 400, 'VALIDATION_FAILED', 'broken JSON');
    const plain = await httpCall(server.url, 'POST', '/api/spaces', { body: JSON.stringify({ title: 'As text' }), headers: { 'content-type': 'text/plain', authorization: `Bearer ${host.apiToken}` } });
    assertError(plain, 415, 'UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(await mySpaces(host), { live: [], upcoming: [], replays: [] });
    // The limits themselves are allowed.
    const longest = await schedule(host, { title: 't'.repeat(100), description: 'd'.repeat(1000), startsAt: start });
    assert.equal(longest.title.length, 100);
    assert.equal((await mySpaces(host)).upcoming.length, 1);
  });

  test('queries are validated too: unknown query parameters on the lists are 400 VALIDATION_FAILED', async () => {
    const host = await server.account();
    assertError(await httpCall(server.url, 'GET', '/api/spaces?state=all'), 400, 'VALIDATION_FAILED', 'GET /api/spaces');
    assertError(await host.call('GET', '/api/me/spaces?limit=1000'), 400, 'VALIDATION_FAILED', 'GET /api/me/spaces');
  });

  test('a title with a control character in it is 400 VALIDATION_FAILED', async () => {
    const host = await server.account();
    for (const title of ['Bell\u0007', 'Be\u0007ll', 'Esc\u001b[31mred']) {
      assertError(await host.call('POST', '/api/spaces', { title, startsAt: isoFromNow(DAY) }), 400, 'VALIDATION_FAILED', JSON.stringify(title));
    }
    assert.deepEqual(await mySpaces(host), { live: [], upcoming: [], replays: [] });
  });
});

describe('editing, cancelling, starting', () => {
  test('only the host edits; a refused edit changes nothing, not even its valid fields', async () => {
    const host = await server.account();
    const other = await server.account();
    const space = await schedule(host, { title: 'Original', description: 'first', startsAt: isoFromNow(DAY) });
    const path = `/api/spaces/${space.id}`;
    assertError(await other.call('PATCH', path, { title: 'Hijacked' }), 403, 'NOT_HOST');
    assertError(await (await Visitor.arrive(server.url)).call('PATCH', path, { title: 'Anonymous' }), 401, 'SIGN_IN_REQUIRED');
    assertError(await host.call('PATCH', path, {}), 400, 'VALIDATION_FAILED');
    assertError(await host.call('PATCH', path, { title: 'Half', startsAt: 'not a date' }), 400, 'VALIDATION_FAILED');
    assertError(await host.call('PATCH', path, { title: 'Half', startsAt: isoFromNow(40 * DAY) }), 400, 'START_OUT_OF_RANGE');
    assertError(await host.call('PATCH', path, { title: 'Half', state: 'live' }), 400, 'VALIDATION_FAILED');
    assertError(await host.call('PATCH', path, { title: 'y'.repeat(101) }), 400, 'VALIDATION_FAILED');
    assertError(await host.call('PATCH', '/api/spaces/zzzzzzzzzzzzzz', { title: 'Nowhere' }), 404, 'SPACE_NOT_FOUND');
    assertError(await host.call('PATCH', '/api/spaces/NOT-AN-ID', { title: 'Nowhere' }), 400, 'VALIDATION_FAILED');
    const unchanged = await getSpace(space.id);
    assert.deepEqual([unchanged.title, unchanged.description, unchanged.startsAt], ['Original', 'first', space.startsAt]);

    const moved = isoFromNow(3 * DAY);
    const edited = await host.call<{ space: SpaceView }>('PATCH', path, { title: 'Renamed', description: 'second', startsAt: moved });
    assertOk(edited);
    const now = await getSpace(space.id);
    assert.deepEqual([now.title, now.description, now.startsAt, now.state], ['Renamed', 'second', moved, 'scheduled']);
    await feedUntil(server.url, space.id, (f) => f.space.title === 'Renamed' && f.space.startsAt === moved, 'the edit');
  });

  test('the host cancels a scheduled Space: it leaves the lists and cannot be started, edited or cancelled again', async () => {
    const host = await server.account();
    const other = await server.account();
    const space = await schedule(host, { title: 'To be cancelled', startsAt: isoFromNow(DAY) });
    const path = `/api/spaces/${space.id}`;
    assertError(await other.call('POST', `${path}/cancel`, {}), 403, 'NOT_HOST');
    assert.equal((await getSpace(space.id)).state, 'scheduled');
    const cancelled = await host.call<{ space: SpaceView }>('POST', `${path}/cancel`, {});
    assertOk(cancelled);
    assert.equal(cancelled.body.space.state, 'cancelled');
    assert.equal((await getSpace(space.id)).state, 'cancelled');
    assert.ok(!(await allSpaces()).upcoming.some((s) => s.id === space.id));
    assert.deepEqual((await mySpaces(host)).upcoming, []);
    assertError(await host.call('POST', `${path}/cancel`, {}), 409, 'SPACE_NOT_SCHEDULED');
    assertError(await host.call('POST', `${path}/start`, {}), 409, 'SPACE_NOT_SCHEDULED');
    assertError(await host.call('PATCH', path, { startsAt: isoFromNow(2 * DAY) }), 409, 'SPACE_NOT_SCHEDULED');
    assertError(await host.call('PATCH', path, { title: 'Revived' }), 410, 'SPACE_ENDED');
    assertError(await other.call('PUT', `${path}/subscription`, {}), 409, 'SPACE_NOT_SCHEDULED');
    assertError(await httpCall(server.url, 'GET', `${path}/calendar.ics`), 409, 'SPACE_NOT_SCHEDULED');
    assert.equal((await getSpace(space.id)).title, 'To be cancelled');
    await feedUntil(server.url, space.id, (f) => f.space.state === 'cancelled', 'the cancellation');
  });

  test('only the host starts a scheduled Space; it goes live with a working stage; an ended one cannot start', async () => {
    const host = await server.account();
    const other = await server.account();
    const space = await schedule(host, { title: 'Starting', startsAt: isoFromNow(DAY) });
    const path = `/api/spaces/${space.id}`;
    assertError(await other.call('POST', `${path}/start`, {}), 403, 'NOT_HOST');
    assert.equal((await getSpace(space.id)).state, 'scheduled');
    const started = await host.call<{ space: SpaceView }>('POST', `${path}/start`, {});
    assertOk(started);
    assert.equal(started.body.space.state, 'live');
    assert.ok(started.body.space.startedAt);
    const mine = await mySpaces(host);
    assert.deepEqual([mine.live.map((s) => s.id), mine.upcoming], [[space.id], []]);
    assert.ok((await allSpaces()).live.some((s) => s.id === space.id));
    const { client, welcome } = await joinStage(server.url, space.id, await host.stagePass(space.id));
    assert.equal(welcome.you.role, 'host');
    // Starting again does not start it twice.
    await host.call('POST', `${path}/start`, {});
    assert.equal((await getSpace(space.id)).startedAt, started.body.space.startedAt);
    assertError(await host.call('PATCH', path, { startsAt: isoFromNow(DAY) }), 409, 'SPACE_NOT_SCHEDULED');
    assertOk(await host.call('POST', `${path}/end`, {}));
    await client.closed(5000);
    assertError(await host.call('POST', `${path}/start`, {}), 409, 'SPACE_NOT_SCHEDULED');
    assert.equal((await getSpace(space.id)).state, 'ended');
    assert.ok(!(await allSpaces()).live.some((s) => s.id === space.id));
  });

  test('GET /api/me/spaces lists only your own live and scheduled Spaces', async () => {
    const host = await server.account();
    const other = await server.account();
    const live = await server.createSpace('Mine, live', host);
    const upcoming = await schedule(host, { title: 'Mine, later', startsAt: isoFromNow(5 * DAY) });
    await schedule(other, { title: 'Not mine', startsAt: isoFromNow(DAY) });
    const mine = await mySpaces(host);
    assert.deepEqual([mine.live.map((s) => s.id), mine.upcoming.map((s) => s.id)], [[live.space.id], [upcoming.id]]);
    assert.equal(mine.upcoming[0]?.host?.id, host.id);
  });
});

describe('calendar, reminders and the lobby', () => {
  test('the .ics download is one VEVENT starting at startsAt (UTC), with the title and the share link', async () => {
    const host = await server.account();
    const startsAt = isoFromNow(7 * DAY);
    const space = await schedule(host, { title: 'Ask me anything, live; really', description: 'About Spaces', startsAt });
    const answer = await fetch(space.links.calendar);
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/calendar/);
    assert.match(answer.headers.get('content-disposition') ?? '', /attachment; filename="[a-z2-9]{14}\.ics"/);
    const text = await answer.text();
    assert.ok(text.includes('\r\n'), 'lines end with CRLF');
    const { lines, event } = parseIcs(text);
    assert.equal(lines[0], 'BEGIN:VCALENDAR');
    assert.equal(lines.at(-1), 'END:VCALENDAR');
    assert.equal(lines.filter((l) => l === 'BEGIN:VEVENT').length, 1);
    assert.equal(event.get('DTSTART'), icsUtc(startsAt));
    assert.match(event.get('DTSTART') ?? '', /^\d{8}T\d{6}Z$/);
    assert.equal(event.get('SUMMARY'), 'Ask me anything, live; really');
    assert.equal(event.get('URL'), space.links.page);
    assert.ok(event.get('UID')?.startsWith(space.id));
    // An edit moves the event.
    const moved = isoFromNow(8 * DAY);
    assertOk(await host.call('PATCH', `/api/spaces/${space.id}`, { startsAt: moved }));
    assert.equal(parseIcs(await (await fetch(space.links.calendar)).text()).event.get('DTSTART'), icsUtc(moved));
  });

  test('every line of the .ics is a well-formed RFC 5545 content line (name *(;param) ":" value)', async () => {
    const host = await server.account('ics_host', 'Ics Host');
    const space = await schedule(host, { title: 'Well formed', startsAt: isoFromNow(DAY) });
    const { lines } = parseIcs(await (await fetch(space.links.calendar)).text());
    const param = '[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*';
    const contentLine = new RegExp(`^[A-Za-z0-9-]+(?:;${param})*:.*$`);
    for (const line of lines) assert.match(line, contentLine, `not a content line: ${line}`);
  });

  test('at start, subscribers get an in-app notification and the webhook gets one signed POST naming them', async () => {
    const host = await server.account();
    const fan = await server.account('reminded_rae');
    const quitter = await server.account('unsubscribed_uli');
    const space = await schedule(host, { title: 'Remind me', startsAt: isoFromNow(DAY) });
    const path = `/api/spaces/${space.id}`;
    assertOk(await fan.call('PUT', `${path}/subscription`, {}));
    assertOk(await fan.call('PUT', `${path}/subscription`, {}), 200, 'subscribing twice is harmless');
    assertOk(await quitter.call('PUT', `${path}/subscription`, {}));
    assert.equal((await quitter.call<{ subscribed: boolean }>('GET', `${path}/me`)).body.subscribed, true);
    assertOk(await quitter.call('DELETE', `${path}/subscription`));
    assert.equal((await quitter.call<{ subscribed: boolean }>('GET', `${path}/me`)).body.subscribed, false);
    assert.equal((await fan.call<{ subscribed: boolean }>('GET', `${path}/me`)).body.subscribed, true);
    assertError(await httpCall(server.url, 'PUT', `${path}/subscription`, { body: {}, headers: { authorization: 'Bearer trb_nope' } }), 401, 'TOKEN_INVALID');
    assert.deepEqual((await fan.call<{ notifications: unknown[] }>('GET', '/api/notifications')).body.notifications, []);

    assertOk(await host.call('POST', `${path}/start`, {}));
    const ours = () => deliveries.filter((d) => (JSON.parse(d.body) as { space: { id: string } }).space.id === space.id);
    await waitFor(() => ours().length >= 1, 10_000, 'the start webhook');
    const notes = await fan.call<{ notifications: { id: string; kind: string; space: { id: string; title: string }; read: boolean }[] }>('GET', '/api/notifications');
    assert.equal(notes.body.notifications.length, 1);
    const [note] = notes.body.notifications;
    assert.deepEqual({ kind: note?.kind, space: note?.space, read: note?.read }, { kind: 'space-started', space: { id: space.id, title: 'Remind me' }, read: false });
    assert.deepEqual((await quitter.call<{ notifications: unknown[] }>('GET', '/api/notifications')).body.notifications, []);
    assertOk(await fan.call('POST', `/api/notifications/${note?.id}/read`, {}));
    assert.equal((await fan.call<{ notifications: { read: boolean }[] }>('GET', '/api/notifications')).body.notifications[0]?.read, true);
    assertError(await quitter.call('POST', `/api/notifications/${note?.id}/read`, {}), 404, 'NOTIFICATION_NOT_FOUND');

    const [delivery] = ours();
    assert.ok(delivery);
    assert.equal(ours().length, 1);
    assert.match(delivery.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(delivery.headers['x-tribune-signature'], `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(delivery.body).digest('hex')}`);
    const event = JSON.parse(delivery.body) as { type: string; space: { id: string; title: string; url: string }; subscribers: { accountId: string; username: string }[] };
    assert.equal(event.type, 'space.started');
    assert.deepEqual([event.space.id, event.space.title], [space.id, 'Remind me']);
    assert.equal(event.space.url, `${server.url}/s/${space.id}`);
    assert.deepEqual(event.subscribers, [{ accountId: fan.id, username: 'reminded_rae' }]);
  });

  test('two lobby listeners long-polling the feed are released by the start, both told it is live with a join spread', async () => {
    const host = await server.account();
    const space = await schedule(host, { title: 'Lobby', startsAt: isoFromNow(HOUR) });
    for (const listener of ['lobby-listener-aaaa-1', 'lobby-listener-bbbb-2']) {
      assert.equal((await httpCall(server.url, 'POST', `/api/spaces/${space.id}/presence`, { body: { listener } })).status, 204);
    }
    // Wait until the beacons are counted, so the only change left is the start.
    let { feed } = await readFeed(server.url, space.id);
    while (feed.listeners.count < 2) feed = (await readFeed(server.url, space.id, feed.version)).feed;
    assert.equal(feed.space.state, 'scheduled');
    const hub = await server.tribune.spaces.get(space.id);
    const waiting = [readFeed(server.url, space.id, feed.version), readFeed(server.url, space.id, feed.version)];
    await waitFor(() => hub.feed.waiting === 2, 10_000, 'both lobby listeners to be held');
    assertOk(await host.call('POST', `/api/spaces/${space.id}/start`, {}));
    const released = await Promise.all(waiting);
    for (const answer of released) {
      assert.ok(answer.feed.version > feed.version, 'a new version, not the hold timing out');
      assert.equal(answer.feed.space.state, 'live');
      assert.ok(answer.feed.joinSpreadMs > 0);
      assert.equal(answer.feed.listeners.count, 2);
    }
    assert.equal(released[0]?.text, released[1]?.text);
  });
});
