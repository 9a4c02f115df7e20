/**
 * Moderation on a live Space through the HTTP API and the stage WebSocket:
 * muting (only a speaker unmutes themself), moving a speaker back to the
 * audience, blocking (a blocked account cannot rejoin), reactions over the
 * rate limit dropped with 429, and pinned links.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawStageClient, stageUrl } from '../helpers/raw-stage-client.js';
import { assertError, assertOk, feedUntil, joinStage, nextMatching, reactionTotal } from '../helpers/spaces-api.js';
import { startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

let server: RunningTribune;
const clients: RawStageClient[] = [];

before(async () => {
  server = await startTribune();
});
after(async () => {
  for (const client of clients) client.close();
  await server?.close();
});

async function onStage(space: TestSpace, token: string) {
  const joined = await joinStage(server.url, space.space.id, token);
  clients.push(joined.client);
  return joined;
}

/** A Space with its host and a co-host and a speaker, all connected to the stage. */
async function stageWithThree(title: string) {
  const space = await server.createSpace(title);
  const id = space.space.id;
  const co = await space.speaker('Co-host');
  assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${co.account.id}`, { role: 'cohost' }));
  const speaker = await space.speaker('Speaker');
  const host = await onStage(space, space.hostToken);
  const cohost = await onStage(space, await co.account.stagePass(id));
  const spk = await onStage(space, speaker.token);
  return { space, id, cohost: co.account, speaker, ws: { host: host.client, cohost: cohost.client, speaker: spk.client }, speakerMember: spk.welcome.you.id };
}

describe('muting', () => {
  test('a listener cannot unmute (403 CANNOT_UNMUTE_OTHERS) or mute (403 NOT_MODERATOR) anyone; neither can a speaker mute another', async () => {
    const { space, id, speaker } = await stageWithThree('Listener tries');
    const other = await space.speaker('Other speaker');
    const listener = await server.account();
    assertError(await listener.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/unmute`, {}), 403, 'CANNOT_UNMUTE_OTHERS');
    assertError(await listener.call('POST', `/api/spaces/${id}/members/${space.host.id}/unmute`, {}), 403, 'CANNOT_UNMUTE_OTHERS');
    assertError(await listener.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/mute`, {}), 403, 'NOT_MODERATOR');
    assertError(await other.account.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/mute`, {}), 403, 'NOT_MODERATOR');
    const feed = await feedUntil(server.url, id, (f) => f.stage.filter((s) => s.connected).length === 3, 'three connected');
    assert.ok(feed.stage.every((s) => !s.muted));
  });

  test('the host mutes a speaker, who is told; nobody else unmutes it; the speaker unmutes itself over the WebSocket', async () => {
    const { space, id, cohost, speaker, ws, speakerMember } = await stageWithThree('Host mutes');
    assertOk(await space.host.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/mute`, {}));
    const updated = await nextMatching(ws.speaker, 'member-updated', (m) => m.member.id === speakerMember);
    assert.equal(updated.member.muted, true);
    const mutedBy = await ws.speaker.next('muted-by');
    assert.deepEqual([mutedBy.by, mutedBy.name], [space.host.id, space.host.account.displayName]);
    await nextMatching(ws.host, 'member-updated', (m) => m.member.id === speakerMember && m.member.muted);
    await feedUntil(server.url, id, (f) => f.stage.find((s) => s.accountId === speaker.account.id)?.muted === true, 'the speaker muted');

    assertError(await space.host.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/unmute`, {}), 403, 'CANNOT_UNMUTE_OTHERS');
    assertError(await cohost.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/unmute`, {}), 403, 'CANNOT_UNMUTE_OTHERS');
    const still = await feedUntil(server.url, id, () => true, 'any');
    assert.equal(still.stage.find((s) => s.accountId === speaker.account.id)?.muted, true);

    ws.speaker.send({ type: 'mute', muted: false });
    await nextMatching(ws.host, 'member-updated', (m) => m.member.id === speakerMember && !m.member.muted);
    await feedUntil(server.url, id, (f) => f.stage.find((s) => s.accountId === speaker.account.id)?.muted === false, 'the speaker unmuted');
    // And over HTTP, for itself only.
    assertOk(await speaker.account.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/mute`, {}));
    assertOk(await speaker.account.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/unmute`, {}));
    await nextMatching(ws.host, 'member-updated', (m) => m.member.id === speakerMember && !m.member.muted);
  });

  test('a co-host mutes a speaker but cannot mute, move or block the host (403 CANNOT_MODERATE_HOST)', async () => {
    const { space, id, cohost, speaker, ws, speakerMember } = await stageWithThree('Co-host limits');
    assertOk(await cohost.call('POST', `/api/spaces/${id}/members/${speaker.account.id}/mute`, {}));
    assert.equal((await ws.speaker.next('muted-by')).by, cohost.id);
    await nextMatching(ws.speaker, 'member-updated', (m) => m.member.id === speakerMember && m.member.muted);
    assertError(await cohost.call('POST', `/api/spaces/${id}/members/${space.host.id}/mute`, {}), 403, 'CANNOT_MODERATE_HOST');
    assertError(await cohost.call('PUT', `/api/spaces/${id}/roles/${space.host.id}`, { role: 'listener' }), 403, 'CANNOT_MODERATE_HOST');
    assertError(await cohost.call('POST', `/api/spaces/${id}/blocks`, { accountId: space.host.id }), 403, 'CANNOT_MODERATE_HOST');
    const feed = await feedUntil(server.url, id, (f) => f.stage.find((s) => s.accountId === speaker.account.id)?.muted === true, 'muted');
    const host = feed.stage.find((s) => s.accountId === space.host.id);
    assert.deepEqual([host?.role, host?.muted, host?.connected], ['host', false, true]);
    await ws.host.roundTrip();
  });

  test('muting someone who is not connected to the stage is 403 NOT_ON_STAGE', async () => {
    const space = await server.createSpace('Nobody connected');
    const speaker = await space.speaker();
    assertError(await space.host.call('POST', `/api/spaces/${space.space.id}/members/${speaker.account.id}/mute`, {}), 403, 'NOT_ON_STAGE');
  });
});

describe('moving to the audience and blocking', () => {
  test('a co-host moves a speaker to the audience: socket closed with 4002, its pass no longer opens the stage', async () => {
    const { space, id, cohost, speaker, ws } = await stageWithThree('Moved');
    const listener = await server.account();
    assertError(await listener.call('PUT', `/api/spaces/${id}/roles/${speaker.account.id}`, { role: 'listener' }), 403, 'NOT_MODERATOR');
    assertOk(await cohost.call('PUT', `/api/spaces/${id}/roles/${speaker.account.id}`, { role: 'listener' }));
    await ws.speaker.expectError('MOVED_TO_AUDIENCE', 5000);
    assert.equal((await ws.speaker.closed(5000)).code, 4002);
    const refused = await RawStageClient.refused(stageUrl(server.url, id, speaker.token));
    assert.deepEqual([refused.status, refused.body.error?.code], [403, 'NOT_ON_STAGE']);
    assertError(await speaker.account.call('POST', `/api/spaces/${id}/stage-pass`, {}), 403, 'NOT_ON_STAGE');
    await feedUntil(server.url, id, (f) => !f.stage.some((s) => s.accountId === speaker.account.id), 'the speaker off the stage');
    // Moved is not blocked: it may ask again.
    assertOk(await speaker.account.call('POST', `/api/spaces/${id}/requests`, {}));
    // A co-host cannot move another co-host; the host can.
    const second = await space.speaker();
    assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${second.account.id}`, { role: 'cohost' }));
    assertError(await cohost.call('PUT', `/api/spaces/${id}/roles/${second.account.id}`, { role: 'listener' }), 403, 'NOT_HOST');
    assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${second.account.id}`, { role: 'listener' }));
  });

  test('a blocked speaker is thrown off and cannot rejoin: pass, request, reaction and invitation all 403 BLOCKED', async () => {
    const { space, id, cohost, speaker, ws } = await stageWithThree('Blocked');
    const listener = await server.account();
    assertError(await listener.call('POST', `/api/spaces/${id}/blocks`, { accountId: speaker.account.id }), 403, 'NOT_MODERATOR');
    assertError(await space.host.call('POST', `/api/spaces/${id}/blocks`, { accountId: speaker.account.id, forever: true }), 400, 'VALIDATION_FAILED');
    assertOk(await space.host.call('POST', `/api/spaces/${id}/blocks`, { accountId: speaker.account.id }));
    await ws.speaker.expectError('BLOCKED', 5000);
    assert.equal((await ws.speaker.closed(5000)).code, 4003);
    const refused = await RawStageClient.refused(stageUrl(server.url, id, speaker.token));
    assert.deepEqual([refused.status, refused.body.error?.code], [403, 'BLOCKED']);
    const blocked = speaker.account;
    assertError(await blocked.call('POST', `/api/spaces/${id}/stage-pass`, {}), 403, 'BLOCKED');
    assertError(await blocked.call('POST', `/api/spaces/${id}/requests`, {}), 403, 'BLOCKED');
    assertError(await blocked.call('POST', `/api/spaces/${id}/reactions`, { emoji: '👏' }), 403, 'BLOCKED');
    assertError(await space.host.call('POST', `/api/spaces/${id}/invites`, { accountId: blocked.id }), 403, 'BLOCKED');
    assert.deepEqual(await (await blocked.call('GET', `/api/spaces/${id}/me`)).body, { role: 'listener', requested: false, invited: false, blocked: true, subscribed: false });
    const feed = await feedUntil(server.url, id, (f) => !f.stage.some((s) => s.accountId === blocked.id), 'the blocked speaker gone');
    assert.deepEqual(feed.invited, []);
    assert.deepEqual((await space.host.call<{ requests: unknown[] }>('GET', `/api/spaces/${id}/requests`)).body.requests, []);
    // A co-host blocks a listener who asked to speak: the request leaves the queue.
    assertOk(await listener.call('POST', `/api/spaces/${id}/requests`, {}));
    await nextMatching(ws.host, 'requests', (m) => m.requests.some((r) => r.accountId === listener.id));
    assertOk(await cohost.call('POST', `/api/spaces/${id}/blocks`, { accountId: listener.id }));
    await nextMatching(ws.host, 'requests', (m) => m.requests.length === 0);
    assertError(await listener.call('POST', `/api/spaces/${id}/requests`, {}), 403, 'BLOCKED');
    // Only moderators lift a block; lifting it lets the account ask and react again, as a listener.
    assertError(await speaker.account.call('DELETE', `/api/spaces/${id}/blocks/${blocked.id}`), 403, 'NOT_MODERATOR');
    assertError(await (await server.account()).call('DELETE', `/api/spaces/${id}/blocks/${listener.id}`), 403, 'NOT_MODERATOR');
    assert.equal((await listener.call<{ blocked: boolean }>('GET', `/api/spaces/${id}/me`)).body.blocked, true);
    assertOk(await space.host.call('DELETE', `/api/spaces/${id}/blocks/${blocked.id}`));
    assertOk(await blocked.call('POST', `/api/spaces/${id}/requests`, {}));
    assert.equal((await blocked.call('POST', `/api/spaces/${id}/reactions`, { emoji: '👏' })).status, 202);
    assertError(await blocked.call('POST', `/api/spaces/${id}/stage-pass`, {}), 403, 'NOT_ON_STAGE');
  });
});

describe('reactions and pins', () => {
  test('reactions over the rate limit (burst 5, then 1/s) are dropped with 429 and never reach the feed', async () => {
    const space = await server.createSpace('Reactions');
    const id = space.space.id;
    const fan = await server.account();
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 12 }, () => fan.bot('POST', `/api/spaces/${id}/reactions`, { emoji: '🔥' })));
    const elapsedS = (Date.now() - started) / 1000;
    const accepted = answers.filter((a) => a.status === 202).length;
    for (const answer of answers.filter((a) => a.status !== 202)) assertError(answer, 429, 'REACTION_RATE_LIMITED');
    // Five at once, plus at most one per second that passed while sending.
    assert.ok(accepted >= 5 && accepted <= 5 + Math.ceil(elapsedS), `${accepted} accepted in ${elapsedS} s`);
    if (elapsedS < 6) assert.ok(accepted < 12, 'some were refused');
    // Per person: someone else still reacts.
    const other = await server.account();
    assert.equal((await other.bot('POST', `/api/spaces/${id}/reactions`, { emoji: '👏' })).status, 202);
    const feed = await feedUntil(server.url, id, (f) => reactionTotal(f) >= accepted + 1, 'the accepted reactions', 4000);
    assert.equal(reactionTotal(feed), accepted + 1);
    assert.equal(feed.reactions.reduce((n, s) => n + (s.counts['🔥'] ?? 0), 0), accepted);
    // Bad input never counts either.
    assertError(await other.bot('POST', `/api/spaces/${id}/reactions`, { emoji: '💩' }), 400, 'VALIDATION_FAILED');
    assertError(await other.bot('POST', `/api/spaces/${id}/reactions`, { emoji: '👏', count: 100 }), 400, 'VALIDATION_FAILED');
  });

  test('the host and co-hosts pin up to three links; a fourth is 409 PIN_LIMIT; others 403; bad URLs 400', async () => {
    const space = await server.createSpace('Pins');
    const id = space.space.id;
    const co = await space.speaker();
    assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${co.account.id}`, { role: 'cohost' }));
    const speaker = await space.speaker();
    const listener = await server.account();
    const pin = (who: typeof listener, body: unknown) => who.call<{ id: string; url: string; label: string }>('POST', `/api/spaces/${id}/pins`, body);
    for (const body of [
      { url: 'javascript:alert(1)', label: 'evil' },
      { url: 'data:text/html,<b>x</b>', label: 'evil' },
      { url: 'https://example.org/ with space', label: 'x' },
      { url: 'https://example.org/', label: '' },
      { url: 'https://example.org/', label: 'x', color: 'red' },
      { url: 42, label: 'x' },
      { url: `https://example.org/${'a'.repeat(500)}`, label: 'long' },
    ]) {
      assertError(await pin(space.host, body), 400, 'VALIDATION_FAILED', JSON.stringify(body).slice(0, 80));
    }
    assertError(await pin(listener, { url: 'https://example.org/', label: 'mine' }), 403, 'NOT_MODERATOR');
    assertError(await pin(speaker.account, { url: 'https://example.org/', label: 'mine' }), 403, 'NOT_MODERATOR');
    const first = await pin(space.host, { url: 'https://example.org/one', label: 'One' });
    assertOk(first, 201);
    assertOk(await pin(co.account, { url: 'http://example.org/two', label: 'Two' }), 201);
    assertOk(await pin(space.host, { url: 'https://example.org/three', label: 'Three' }), 201);
    assertError(await pin(space.host, { url: 'https://example.org/four', label: 'Four' }), 409, 'PIN_LIMIT');
    const feed = await feedUntil(server.url, id, (f) => f.pins.length === 3, 'three pins');
    assert.deepEqual(feed.pins.map((p) => p.label), ['One', 'Two', 'Three']);
    assert.equal(feed.pins[0]?.url, 'https://example.org/one');

    assertError(await listener.call('DELETE', `/api/spaces/${id}/pins/${first.body.id}`), 403, 'NOT_MODERATOR');
    assertOk(await co.account.call('DELETE', `/api/spaces/${id}/pins/${first.body.id}`));
    assertError(await space.host.call('DELETE', `/api/spaces/${id}/pins/${first.body.id}`), 404, 'PIN_NOT_FOUND');
    await feedUntil(server.url, id, (f) => f.pins.length === 2 && !f.pins.some((p) => p.id === first.body.id), 'the pin removed');
    assertOk(await pin(space.host, { url: 'https://example.org/four', label: 'Four' }), 201);
  });
});
