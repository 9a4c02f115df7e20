/**
 * Roles on a live Space through the HTTP API and the stage WebSocket:
 * requests to speak and their queue, invitations, co-host and speaker
 * limits, stepping down, the host leaving or dropping, and the host ending
 * the Space for everyone. Each refusal has its stable code and changes
 * nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SpaceView } from '../../src/wire/api.js';
import { httpCall, type TestAccount } from '../helpers/accounts.js';
import type { RawStageClient } from '../helpers/raw-stage-client.js';
import { assertError, assertOk, feedUntil, joinStage, nextMatching } from '../helpers/spaces-api.js';
import { startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

const HOST_GRACE_MS = 300;
let server: RunningTribune;
const clients: RawStageClient[] = [];

before(async () => {
  server = await startTribune({ hostGraceMs: HOST_GRACE_MS });
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

type Place = { role: string; requested: boolean; invited: boolean; blocked: boolean; subscribed: boolean };
async function placeOf(space: TestSpace, account: TestAccount): Promise<Place> {
  const answer = await account.call<Place>('GET', `/api/spaces/${space.space.id}/me`);
  assertOk(answer);
  return answer.body;
}

async function spaceView(id: string): Promise<SpaceView> {
  return (await httpCall<{ space: SpaceView }>(server.url, 'GET', `/api/spaces/${id}`)).body.space;
}

/** A new speaker promoted to co-host by the host. */
async function cohostOf(space: TestSpace, name?: string) {
  const speaker = await space.speaker(name);
  assertOk(await space.host.call('PUT', `/api/spaces/${space.space.id}/roles/${speaker.account.id}`, { role: 'cohost' }));
  return speaker.account;
}

describe('requests to speak', () => {
  test('the queue reaches the host and co-hosts over HTTP and the WebSocket; a co-host accepts and the speaker joins the stage', async () => {
    const space = await server.createSpace('Requests');
    const id = space.space.id;
    const cohost = await cohostOf(space, 'Co');
    const host = await onStage(space, space.hostToken);
    const co = await onStage(space, await cohost.stagePass(id));
    assert.equal(co.welcome.you.role, 'cohost');
    assert.deepEqual((await host.client.next('requests')).requests, []);
    assert.deepEqual((await co.client.next('requests')).requests, []);

    const listener = await server.account(undefined, 'Asker');
    assertError(await listener.call('GET', `/api/spaces/${id}/requests`), 403, 'NOT_MODERATOR');
    assertError(await listener.call('POST', `/api/spaces/${id}/stage-pass`, {}), 403, 'NOT_ON_STAGE');
    assertOk(await listener.call('POST', `/api/spaces/${id}/requests`, {}));
    for (const ws of [host.client, co.client]) {
      const pushed = await nextMatching(ws, 'requests', (m) => m.requests.length === 1);
      assert.deepEqual([pushed.requests[0]?.accountId, pushed.requests[0]?.name], [listener.id, 'Asker']);
    }
    for (const moderator of [space.host, cohost]) {
      const queue = await moderator.call<{ requests: { account: { id: string } }[] }>('GET', `/api/spaces/${id}/requests`);
      assertOk(queue);
      assert.deepEqual(queue.body.requests.map((r) => r.account.id), [listener.id]);
    }
    assertError(await listener.call('GET', `/api/spaces/${id}/requests`), 403, 'NOT_MODERATOR');
    assert.deepEqual(await placeOf(space, listener), { role: 'listener', requested: true, invited: false, blocked: false, subscribed: false });
    await feedUntil(server.url, id, (f) => f.requests === 1, 'one request');
    // Only moderators answer.
    const bystander = await server.account();
    assertError(await bystander.call('POST', `/api/spaces/${id}/requests/${listener.id}/accept`, {}), 403, 'NOT_MODERATOR');

    assertOk(await cohost.call('POST', `/api/spaces/${id}/requests/${listener.id}/accept`, {}));
    await nextMatching(host.client, 'requests', (m) => m.requests.length === 0);
    assert.equal((await placeOf(space, listener)).role, 'speaker');
    assertError(await space.host.call('POST', `/api/spaces/${id}/requests/${listener.id}/accept`, {}), 404, 'REQUEST_NOT_FOUND');
    assertError(await listener.call('POST', `/api/spaces/${id}/requests`, {}), 409, 'ALREADY_ON_STAGE');

    const speaker = await onStage(space, await listener.stagePass(id));
    assert.equal(speaker.welcome.you.role, 'speaker');
    await nextMatching(host.client, 'member-joined', (m) => m.member.accountId === listener.id);
    await feedUntil(server.url, id, (f) => f.requests === 0 && f.stage.some((s) => s.accountId === listener.id && s.role === 'speaker' && s.connected), 'the new speaker on stage');
  });

  test('a speaker made co-host while on stage is told so and gets the waiting queue at once', async () => {
    const space = await server.createSpace('Promoted mid-Space');
    const id = space.space.id;
    const speaker = await space.speaker('Soon co-host');
    const ws = await onStage(space, speaker.token);
    const asker = await server.account(undefined, 'Waiting');
    assertOk(await asker.call('POST', `/api/spaces/${id}/requests`, {}));
    assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${speaker.account.id}`, { role: 'cohost' }));
    assert.equal((await ws.client.next('role-changed')).role, 'cohost');
    const queue = await nextMatching(ws.client, 'requests', (m) => m.requests.length === 1);
    assert.equal(queue.requests[0]?.accountId, asker.id);
  });

  test('a declined or withdrawn request leaves the account a listener without a stage pass', async () => {
    const space = await server.createSpace('Declines');
    const id = space.space.id;
    const declined = await server.account();
    const withdrawn = await server.account();
    assertOk(await declined.call('POST', `/api/spaces/${id}/requests`, {}));
    assertOk(await withdrawn.call('POST', `/api/spaces/${id}/requests`, {}));
    assertOk(await space.host.call('POST', `/api/spaces/${id}/requests/${declined.id}/decline`, {}));
    assertOk(await withdrawn.call('DELETE', `/api/spaces/${id}/requests/me`));
    assertError(await withdrawn.call('DELETE', `/api/spaces/${id}/requests/me`), 404, 'REQUEST_NOT_FOUND');
    assert.deepEqual((await space.host.call<{ requests: unknown[] }>('GET', `/api/spaces/${id}/requests`)).body.requests, []);
    for (const account of [declined, withdrawn]) {
      assert.deepEqual(await placeOf(space, account), { role: 'listener', requested: false, invited: false, blocked: false, subscribed: false });
      assertError(await account.call('POST', `/api/spaces/${id}/stage-pass`, {}), 403, 'NOT_ON_STAGE');
    }
    assertError(await space.host.call('POST', `/api/spaces/${id}/requests/${declined.id}/accept`, {}), 404, 'REQUEST_NOT_FOUND');
    assertError(await space.host.call('POST', `/api/spaces/${id}/requests/NOT_AN_ID/accept`, {}), 400, 'VALIDATION_FAILED');
  });

  test('actions that take no parameters refuse a body with unknown fields (400 VALIDATION_FAILED) and do nothing', async () => {
    const space = await server.createSpace('Closed bodies');
    const id = space.space.id;
    const listener = await server.account();
    assertError(await listener.call('POST', `/api/spaces/${id}/requests`, { priority: 'high' }), 400, 'VALIDATION_FAILED', 'request to speak');
    assert.equal((await placeOf(space, listener)).requested, false);
    assertError(await space.host.call('POST', `/api/spaces/${id}/end`, { reason: 'unknown field' }), 400, 'VALIDATION_FAILED', 'end');
    assert.equal((await spaceView(id)).state, 'live');
  });

  test('the host invites a listener up: the feed shows the invitation, accepting gives a seat, declining does not', async () => {
    const space = await server.createSpace('Invites');
    const id = space.space.id;
    const cohost = await cohostOf(space);
    const guest = await server.account();
    const shy = await server.account();
    assertError(await cohost.call('POST', `/api/spaces/${id}/invites`, { accountId: guest.id }), 403, 'NOT_HOST');
    assertError(await guest.call('POST', `/api/spaces/${id}/invites`, { accountId: shy.id }), 403, 'NOT_HOST');
    assertError(await space.host.call('POST', `/api/spaces/${id}/invites`, { accountId: 'zzzzzzzzzzzz' }), 404, 'ACCOUNT_NOT_FOUND');
    assertError(await space.host.call('POST', `/api/spaces/${id}/invites`, { accountId: guest.id, role: 'cohost' }), 400, 'VALIDATION_FAILED');
    assertError(await space.host.call('POST', `/api/spaces/${id}/invites`, { accountId: cohost.id }), 409, 'ALREADY_ON_STAGE');
    assertError(await guest.call('POST', `/api/spaces/${id}/invites/me/accept`, {}), 404, 'INVITE_NOT_FOUND');

    for (const account of [guest, shy]) assertOk(await space.host.call('POST', `/api/spaces/${id}/invites`, { accountId: account.id }));
    await feedUntil(server.url, id, (f) => f.invited.includes(guest.id) && f.invited.includes(shy.id), 'both invitations');
    assert.equal((await placeOf(space, guest)).invited, true);

    assertOk(await guest.call('POST', `/api/spaces/${id}/invites/me/accept`, {}));
    assertOk(await shy.call('POST', `/api/spaces/${id}/invites/me/decline`, {}));
    await feedUntil(server.url, id, (f) => f.invited.length === 0 && f.stage.some((s) => s.accountId === guest.id && s.role === 'speaker'), 'the guest seated');
    assert.deepEqual(await placeOf(space, shy), { role: 'listener', requested: false, invited: false, blocked: false, subscribed: false });
    assertError(await shy.call('POST', `/api/spaces/${id}/stage-pass`, {}), 403, 'NOT_ON_STAGE');
    assertError(await shy.call('POST', `/api/spaces/${id}/invites/me/accept`, {}), 404, 'INVITE_NOT_FOUND');
    const seated = await onStage(space, await guest.stagePass(id));
    assert.equal(seated.welcome.you.role, 'speaker');
  });
});

describe('limits', () => {
  test('a third co-host (two allowed) is 409 COHOST_LIMIT and stays a speaker; only the host promotes', async () => {
    const space = await server.createSpace('Co-hosts');
    const id = space.space.id;
    const [a, b, c] = await Promise.all([space.speaker(), space.speaker(), space.speaker()]);
    assert.ok(a && b && c);
    assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${a.account.id}`, { role: 'cohost' }));
    assertError(await a.account.call('PUT', `/api/spaces/${id}/roles/${b.account.id}`, { role: 'cohost' }), 403, 'NOT_HOST');
    assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${b.account.id}`, { role: 'cohost' }));
    const refused = await space.host.call('PUT', `/api/spaces/${id}/roles/${c.account.id}`, { role: 'cohost' });
    assertError(refused, 409, 'COHOST_LIMIT');
    assert.equal((await placeOf(space, c.account)).role, 'speaker');
    const feed = await feedUntil(server.url, id, (f) => f.stage.filter((s) => s.role === 'cohost').length === 2, 'two co-hosts');
    assert.equal(feed.stage.find((s) => s.accountId === c.account.id)?.role, 'speaker');
    const listener = await server.account();
    assertError(await space.host.call('PUT', `/api/spaces/${id}/roles/${listener.id}`, { role: 'speaker' }), 403, 'NOT_ON_STAGE');
    assertError(await space.host.call('PUT', `/api/spaces/${id}/roles/${c.account.id}`, { role: 'host' }), 400, 'VALIDATION_FAILED');
    // A seat freed is a seat to fill: the limit counts, it does not stick.
    assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${a.account.id}`, { role: 'speaker' }));
    assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${c.account.id}`, { role: 'cohost' }));
    assert.equal((await placeOf(space, c.account)).role, 'cohost');
  });

  test('an eleventh speaker (ten allowed) is 409 SPEAKER_LIMIT, by request or invitation, and stays a listener', async () => {
    const space = await server.createSpace('Full stage');
    const id = space.space.id;
    const speakers = [];
    for (let i = 0; i < 10; i++) speakers.push(await space.speaker(`Speaker ${i + 1}`));
    const eleventh = await server.account();
    assertOk(await eleventh.call('POST', `/api/spaces/${id}/requests`, {}));
    assertError(await space.host.call('POST', `/api/spaces/${id}/requests/${eleventh.id}/accept`, {}), 409, 'SPEAKER_LIMIT');
    assert.deepEqual(await placeOf(space, eleventh), { role: 'listener', requested: true, invited: false, blocked: false, subscribed: false });
    assertError(await eleventh.call('POST', `/api/spaces/${id}/stage-pass`, {}), 403, 'NOT_ON_STAGE');
    const invited = await server.account();
    assertError(await space.host.call('POST', `/api/spaces/${id}/invites`, { accountId: invited.id }), 409, 'SPEAKER_LIMIT');
    const feed = await feedUntil(server.url, id, (f) => f.stage.length === 11, 'the host and ten speakers');
    assert.ok(!feed.stage.some((s) => s.accountId === eleventh.id));
    assert.deepEqual(feed.invited, []);
    // Once someone steps down, the same request can be accepted.
    assertOk(await speakers[0]!.account.call('POST', `/api/spaces/${id}/step-down`, {}));
    assertOk(await space.host.call('POST', `/api/spaces/${id}/requests/${eleventh.id}/accept`, {}));
    assert.equal((await placeOf(space, eleventh)).role, 'speaker');
  });
  test('configured limits hold under concurrency: two moderators accepting the last seat at once, only one wins', async () => {
    const small = await startTribune({ maxSpeakers: 2, maxCohosts: 1 });
    try {
      const space = await small.createSpace('Small stage');
      const id = space.space.id;
      const co = await space.speaker();
      assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${co.account.id}`, { role: 'cohost' }));
      const second = await space.speaker();
      assertError(await space.host.call('PUT', `/api/spaces/${id}/roles/${second.account.id}`, { role: 'cohost' }), 409, 'COHOST_LIMIT');
      // One seat left; an open invitation holds it.
      const invited = await small.account();
      assertOk(await space.host.call('POST', `/api/spaces/${id}/invites`, { accountId: invited.id }));
      const [a, b] = [await small.account(), await small.account()];
      for (const asker of [a, b]) assertOk(await asker.call('POST', `/api/spaces/${id}/requests`, {}));
      assertError(await space.host.call('POST', `/api/spaces/${id}/requests/${a.id}/accept`, {}), 409, 'SPEAKER_LIMIT');
      assertOk(await invited.call('POST', `/api/spaces/${id}/invites/me/decline`, {}));
      const answers = await Promise.all([
        space.host.call('POST', `/api/spaces/${id}/requests/${a.id}/accept`, {}),
        co.account.call('POST', `/api/spaces/${id}/requests/${b.id}/accept`, {}),
      ]);
      assert.deepEqual(answers.map((x) => x.status).sort(), [200, 409]);
      assertError(answers.find((x) => x.status === 409)!, 409, 'SPEAKER_LIMIT');
      const roles = await Promise.all([a, b].map(async (x) => (await x.call<{ role: string }>('GET', `/api/spaces/${id}/me`)).body.role));
      assert.deepEqual(roles.sort(), ['listener', 'speaker']);
      // Wait for the version that has the winner seated: an older one (published
      // between the two requests to speak, 50 ms coalescing) also shows one request.
      const feed = await feedUntil(small.url, id, (f) => f.stage.filter((s) => s.role === 'speaker').length === 2, 'the winner seated');
      assert.equal(feed.requests, 1);
    } finally {
      await small.close();
    }
  });

  test('someone both invited and asking holds one seat: accepting either way seats them once, and a stale invitation cannot demote', async () => {
    const small = await startTribune({ maxSpeakers: 2 });
    try {
      const space = await small.createSpace('Invited and asking');
      const id = space.space.id;
      const x = await small.account();
      assertOk(await space.host.call('POST', `/api/spaces/${id}/invites`, { accountId: x.id }));
      assertOk(await x.call('POST', `/api/spaces/${id}/requests`, {}));
      // The host accepts whichever they see first: here the request.
      const asked = await space.host.call<{ requests: { account: { id: string } }[] }>('GET', `/api/spaces/${id}/requests`);
      if (asked.body.requests.some((r) => r.account.id === x.id)) assertOk(await space.host.call('POST', `/api/spaces/${id}/requests/${x.id}/accept`, {}));
      else assertOk(await x.call('POST', `/api/spaces/${id}/invites/me/accept`, {}));
      const seated = await feedUntil(small.url, id, (f) => f.stage.some((s) => s.accountId === x.id), 'x seated');
      assert.deepEqual(seated.invited, [], 'no invitation left once seated');
      // The other seat is still free for someone else.
      const y = await small.account();
      assertOk(await y.call('POST', `/api/spaces/${id}/requests`, {}));
      assertOk(await space.host.call('POST', `/api/spaces/${id}/requests/${y.id}/accept`, {}));
      // A co-host is never demoted by an old invitation.
      assertOk(await space.host.call('PUT', `/api/spaces/${id}/roles/${x.id}`, { role: 'cohost' }));
      assertError(await x.call('POST', `/api/spaces/${id}/invites/me/accept`, {}), 404, 'INVITE_NOT_FOUND');
      assert.equal((await x.call<{ role: string }>('GET', `/api/spaces/${id}/me`)).body.role, 'cohost');
    } finally {
      await small.close();
    }
  });
});

describe('stepping down, leaving and ending', () => {
  test('a speaker steps back down to listening: the socket closes and the pass no longer opens the stage', async () => {
    const space = await server.createSpace('Step down');
    const id = space.space.id;
    const speaker = await space.speaker();
    const ws = await onStage(space, speaker.token);
    assertOk(await speaker.account.call('POST', `/api/spaces/${id}/step-down`, {}));
    assert.equal((await ws.client.closed(5000)).code, 1000);
    assert.equal((await placeOf(space, speaker.account)).role, 'listener');
    assertError(await speaker.account.call('POST', `/api/spaces/${id}/stage-pass`, {}), 403, 'NOT_ON_STAGE');
    assertError(await speaker.account.call('POST', `/api/spaces/${id}/step-down`, {}), 403, 'NOT_ON_STAGE');
    assertError(await space.host.call('POST', `/api/spaces/${id}/step-down`, {}), 409, 'HOST_CANNOT_STEP_DOWN');
    await feedUntil(server.url, id, (f) => !f.stage.some((s) => s.accountId === speaker.account.id), 'the speaker gone from the stage');
  });

  test('when the host leaves, the co-host on stage becomes host and is told so', async () => {
    const space = await server.createSpace('Hand-over');
    const id = space.space.id;
    const absent = await cohostOf(space, 'Absent co-host');
    const present = await cohostOf(space, 'Present co-host');
    const host = await onStage(space, space.hostToken);
    const co = await onStage(space, await present.stagePass(id));
    host.client.send({ type: 'leave' });
    await host.client.closed(5000);
    assert.equal((await co.client.next('role-changed', 5000)).role, 'host');
    const feed = await feedUntil(server.url, id, (f) => f.space.host?.id === present.id, 'the new host');
    assert.equal(feed.space.state, 'live');
    assert.equal(feed.stage.find((s) => s.accountId === present.id)?.role, 'host');
    assert.equal(feed.stage.find((s) => s.accountId === absent.id)?.role, 'cohost');
    assert.ok(!feed.stage.some((s) => s.accountId === space.host.id));
    assert.equal((await spaceView(id)).host?.id, present.id);
    // The old host is now a listener; the new one holds the host's powers.
    assertError(await space.host.call('POST', `/api/spaces/${id}/end`, {}), 403, 'NOT_HOST');
    const listener = await server.account();
    assertOk(await present.call('POST', `/api/spaces/${id}/invites`, { accountId: listener.id }));
  });

  test('a host whose connection drops, with no co-host, ends the Space after the grace period', async () => {
    const space = await server.createSpace('Dropped host');
    const id = space.space.id;
    const speaker = await space.speaker();
    const host = await onStage(space, space.hostToken);
    const ws = await onStage(space, speaker.token);
    host.client.socket.terminate();
    await ws.client.next('space-ended', 10_000);
    await ws.client.closed(5000);
    await feedUntil(server.url, id, (f) => f.space.state === 'ended', 'the Space ended');
    assert.equal((await spaceView(id)).state, 'ended');
  });

  test('a dropped host who only asks for a stage pass (and never rejoins) does not call off the hand-over', async () => {
    const space = await server.createSpace('Pass is not a return');
    const id = space.space.id;
    const host = await onStage(space, space.hostToken);
    host.client.socket.terminate();
    // A pass during the grace period is not a return to the stage.
    await space.host.stagePass(id);
    await feedUntil(server.url, id, (f) => f.space.state === 'ended', 'the Space ended after the grace period');
  });

  test('a dropped host who rejoins within the grace period keeps the Space and the role', async () => {
    const space = await server.createSpace('Back in time');
    const id = space.space.id;
    const first = await onStage(space, space.hostToken);
    first.client.socket.terminate();
    await onStage(space, await space.host.stagePass(id));
    await new Promise((resolve) => setTimeout(resolve, HOST_GRACE_MS * 4));
    const view = await spaceView(id);
    assert.equal(view.state, 'live');
    assert.equal(view.host?.id, space.host.id);
  });

  test('the host ends the Space for everyone: every socket closes and nothing more can happen on it', async () => {
    const space = await server.createSpace('The end');
    const id = space.space.id;
    const cohost = await cohostOf(space);
    const speaker = await space.speaker();
    const sockets = [await onStage(space, space.hostToken), await onStage(space, await cohost.stagePass(id)), await onStage(space, speaker.token)];
    // Nobody but the host ends it, over HTTP or the WebSocket.
    assertError(await cohost.call('POST', `/api/spaces/${id}/end`, {}), 403, 'NOT_HOST');
    sockets[2]!.client.send({ type: 'end' });
    await sockets[2]!.client.expectError('NOT_HOST');
    assert.equal((await spaceView(id)).state, 'live');

    const ended = await space.host.call<{ space: SpaceView }>('POST', `/api/spaces/${id}/end`, {});
    assertOk(ended);
    assert.equal(ended.body.space.state, 'ended');
    for (const { client } of sockets) {
      await client.next('space-ended', 5000);
      await client.closed(5000);
    }
    const feed = await feedUntil(server.url, id, (f) => f.space.state === 'ended', 'ended');
    assert.ok(feed.space.endedAt);
    const listener = await server.account();
    assertError(await listener.call('POST', `/api/spaces/${id}/requests`, {}), 410, 'SPACE_ENDED');
    assertError(await speaker.account.call('POST', `/api/spaces/${id}/stage-pass`, {}), 410, 'SPACE_ENDED');
    assertError(await space.host.call('POST', `/api/spaces/${id}/end`, {}), 410, 'SPACE_ENDED');
    assertError(await listener.call('POST', `/api/spaces/${id}/reactions`, { emoji: '👏' }), 410, 'SPACE_ENDED');
  });

  test('the host can also end the Space over its WebSocket', async () => {
    const space = await server.createSpace('Ended from the stage');
    const host = await onStage(space, space.hostToken);
    host.client.send({ type: 'end' });
    await host.client.closed(5000);
    await feedUntil(server.url, space.space.id, (f) => f.space.state === 'ended', 'ended');
  });
});
