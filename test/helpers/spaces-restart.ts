/**
 * The restart scenario of the store's tests, for any store: a server with
 * accounts, a scheduled Space with a subscriber and a block, a live Space
 * with a co-host and a block, is closed; a new server on the same store
 * and secret must still know all of it, and the live Space is interrupted.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { StoreOptions } from '../../src/store/database.js';
import type { CreatedSpace, SpaceList, SpaceView } from '../../src/wire/api.js';
import { CookieJar, httpCall, type TestAccount } from './accounts.js';
import { DAY, assertError, assertOk, isoFromNow, readFeed } from './spaces-api.js';
import { startTribune } from './tribune.js';

const PASSWORD = 'correct horse battery';

export async function restartScenario(store: StoreOptions): Promise<void> {
  const secret = randomBytes(32);
  const first = await startTribune({ secret, store });
  let fan: TestAccount, host: TestAccount, cohost: TestAccount, troll: TestAccount;
  let scheduled: SpaceView, liveId: string, versionBefore: number;
  try {
    fan = await first.account('restart_fan');
    host = await first.account('restart_host');
    troll = await first.account('restart_troll');
    const created = await host.call<CreatedSpace>('POST', '/api/spaces', { title: 'Kept across the restart', startsAt: isoFromNow(2 * DAY) });
    assertOk(created, 201);
    scheduled = created.body.space;
    assertOk(await fan.call('PUT', `/api/spaces/${scheduled.id}/subscription`, {}));
    assertOk(await host.call('POST', `/api/spaces/${scheduled.id}/blocks`, { accountId: troll.id }));

    const live = await first.createSpace('Live at the restart', host);
    liveId = live.space.id;
    const speaker = await live.speaker('Co-host');
    cohost = speaker.account;
    assertOk(await host.call('PUT', `/api/spaces/${liveId}/roles/${cohost.id}`, { role: 'cohost' }));
    assertOk(await troll.call('POST', `/api/spaces/${liveId}/requests`, {}));
    assertOk(await host.call('POST', `/api/spaces/${liveId}/blocks`, { accountId: troll.id }));
    versionBefore = (await readFeed(first.url, liveId)).feed.version;
  } finally {
    await first.close();
  }

  const second = await startTribune({ secret, store });
  try {
    const base = second.url;
    // The session cookie from before still signs the fan in, and its CSRF token still works.
    const session = await httpCall<{ account: { id: string } | null }>(base, 'GET', '/api/session', { jar: fan.jar });
    assert.equal(session.body.account?.id, fan.id);
    assertOk(await httpCall(base, 'PUT', `/api/spaces/${scheduled.id}/subscription`, { body: {}, headers: { 'x-csrf-token': fan.csrf }, jar: fan.jar }));
    // Signing in with the same password works; a wrong one does not.
    const jar = new CookieJar();
    const csrf = (await httpCall<{ csrfToken: string }>(base, 'GET', '/api/session', { jar })).body.csrfToken;
    const signIn = (password: string) => httpCall<{ account: { id: string } }>(base, 'POST', '/api/session', { body: { username: 'restart_host', password }, headers: { 'x-csrf-token': csrf }, jar });
    assertError(await signIn('not the password at all'), 401, 'BAD_CREDENTIALS');
    const signedIn = await signIn(PASSWORD);
    assertOk(signedIn);
    assert.equal(signedIn.body.account.id, host.id);
    // The host's API token still works.
    const asHost = (method: string, path: string, body?: unknown) => httpCall(base, method, path, { body, headers: { authorization: `Bearer ${host.apiToken}` } });
    const mine = (await asHost('GET', '/api/me/spaces')) as { body: SpaceList };
    assert.deepEqual(mine.body.upcoming.map((s) => s.id), [scheduled.id]);
    assert.deepEqual(mine.body.live, []);

    // The schedule is still there, listed, with its subscriber.
    const listed = (await httpCall<SpaceList>(base, 'GET', '/api/spaces')).body;
    const again = listed.upcoming.find((s) => s.id === scheduled.id);
    assert.deepEqual([again?.state, again?.title, again?.startsAt, again?.host?.id], ['scheduled', 'Kept across the restart', scheduled.startsAt, host.id]);
    const place = await httpCall<{ subscribed: boolean; blocked: boolean }>(base, 'GET', `/api/spaces/${scheduled.id}/me`, { jar: fan.jar });
    assert.equal(place.body.subscribed, true);

    // The live Space is interrupted, not lost and not live.
    assert.ok(!listed.live.some((s) => s.id === liveId));
    const interrupted = await httpCall<{ space: SpaceView }>(base, 'GET', `/api/spaces/${liveId}`);
    assert.equal(interrupted.body.space.state, 'interrupted');
    assert.ok(interrupted.body.space.endedAt);
    const feed = await readFeed(base, liveId);
    assert.equal(feed.feed.space.state, 'interrupted');
    assert.ok(feed.feed.version > versionBefore, 'feed versions keep growing across a restart');
    assertError(await httpCall(base, 'POST', `/api/spaces/${liveId}/requests`, { body: {}, headers: { authorization: `Bearer ${fan.apiToken}` } }), 410, 'SPACE_ENDED');
    // Its roles and blocks are still in the store.
    const hub = await second.tribune.spaces.get(liveId);
    assert.deepEqual([hub.placeOf(host.id), hub.placeOf(cohost.id), hub.placeOf(troll.id)], ['host', 'cohost', 'listener']);
    assert.equal(hub.isBlocked(troll.id), true);
    assert.equal(hub.isBlocked(fan.id), false);

    // Starting the scheduled Space now: the reminder fires and the block holds.
    assertOk(await asHost('POST', `/api/spaces/${scheduled.id}/start`, {}));
    // Reminders are written after the start answers (a Space with a million
    // subscribers must not start late), so the fan's notification comes soon after.
    const noted = async () => (await httpCall<{ notifications: { space: { id: string } }[] }>(base, 'GET', '/api/notifications', { jar: fan.jar })).body.notifications.map((n) => n.space.id);
    const deadline = Date.now() + 10_000;
    let ids = await noted();
    while (ids.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      ids = await noted();
    }
    assert.deepEqual(ids, [scheduled.id]);
    const asTroll = (path: string, body: unknown) => httpCall(base, 'POST', path, { body, headers: { authorization: `Bearer ${troll.apiToken}` } });
    assertError(await asTroll(`/api/spaces/${scheduled.id}/requests`, {}), 403, 'BLOCKED');
    assertError(await asTroll(`/api/spaces/${scheduled.id}/reactions`, { emoji: '👏' }), 403, 'BLOCKED');
    assertOk(await httpCall(base, 'POST', `/api/spaces/${scheduled.id}/requests`, { body: {}, headers: { authorization: `Bearer ${fan.apiToken}` } }));
  } finally {
    await second.close();
  }
}
