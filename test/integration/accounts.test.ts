/**
 * Accounts through the HTTP API: sign up, sign in and out, the session and
 * CSRF cookies, password storage (Argon2id, never returned), sign-in rate
 * limiting, API tokens, CSRF on every state-changing route, and what needs
 * no account at all (listening).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { CookieJar, httpCall, type TestAccount } from '../helpers/accounts.js';
import { Visitor, assertError, assertOk, readFeed } from '../helpers/spaces-api.js';
import { startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

const PASSWORD = 'correct horse battery';
const dir = mkdtempSync(join(tmpdir(), 'tribune-accounts-'));
const sqlitePath = join(dir, 'accounts.db');
let server: RunningTribune;

before(async () => {
  server = await startTribune({ store: { databaseUrl: undefined, sqlitePath } });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The Set-Cookie line for `name` in `headers`. */
function setCookie(headers: Headers, name: string): string {
  const line = headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  assert.ok(line, `no Set-Cookie for ${name} in ${JSON.stringify(headers.getSetCookie())}`);
  return line;
}

/** Cookie attributes, lower-cased, without the name=value pair. */
function attributes(line: string): string[] {
  return line.split(';').slice(1).map((a) => a.trim().toLowerCase());
}

/** Signs in `username` with a fresh jar, the browser's way. */
async function signIn(username: string, password: string) {
  const jar = new CookieJar();
  const session = await httpCall<{ csrfToken: string }>(server.url, 'GET', '/api/session', { jar });
  const answer = await httpCall<{ account: { id: string; username: string }; csrfToken: string }>(server.url, 'POST', '/api/session', {
    body: { username, password },
    headers: { 'x-csrf-token': session.body.csrfToken },
    jar,
  });
  return { answer, jar };
}

function sessionAccount(jar: CookieJar) {
  return httpCall<{ account: { id: string } | null }>(server.url, 'GET', '/api/session', { jar }).then((a) => a.body.account);
}

describe('sign up, sign in, sign out', () => {
  test('sign-up returns the account and a session cookie that is HttpOnly and SameSite, never the password', async () => {
    const jar = new CookieJar();
    const session = await httpCall<{ csrfToken: string }>(server.url, 'GET', '/api/session', { jar });
    assert.match(attributes(setCookie(session.headers, 'tribune_csrf')).join(';'), /httponly/);
    const created = await httpCall<{ account: { id: string; username: string; displayName: string } }>(server.url, 'POST', '/api/accounts', {
      body: { username: 'Signup_Casey', password: PASSWORD, displayName: 'Casey' },
      headers: { 'x-csrf-token': session.body.csrfToken },
      jar,
    });
    assertOk(created, 201);
    assert.deepEqual(Object.keys(created.body.account).sort(), ['displayName', 'id', 'username']);
    assert.equal(created.body.account.username, 'signup_casey');
    assert.equal(created.body.account.displayName, 'Casey');
    const text = JSON.stringify(created.body);
    assert.ok(!text.includes(PASSWORD) && !text.includes('argon2'), 'no password or hash in the answer');
    const cookie = attributes(setCookie(created.headers, 'tribune_session'));
    assert.ok(cookie.includes('httponly'), `HttpOnly: ${cookie.join('; ')}`);
    assert.ok(cookie.includes('samesite=lax') || cookie.includes('samesite=strict'), `SameSite: ${cookie.join('; ')}`);
    assert.ok(cookie.includes('path=/'));
    assert.ok(!cookie.includes('secure'), 'secureCookies is off on this server');
    // The page's hint that a session exists: readable by the page, and it holds nothing.
    const hintLine = setCookie(created.headers, 'tribune_signed_in');
    const hint = attributes(hintLine);
    assert.ok(!hint.includes('httponly'), `readable by the page: ${hintLine}`);
    assert.ok(hintLine.startsWith('tribune_signed_in=1;') && hint.includes('path=/'), hintLine);
    assert.equal((await sessionAccount(jar))?.id, created.body.account.id);
  });

  test('with secureCookies on, the session and CSRF cookies are Secure', async () => {
    const secure = await startTribune({ secureCookies: true });
    try {
      const jar = new CookieJar();
      const session = await httpCall<{ csrfToken: string }>(secure.url, 'GET', '/api/session', { jar });
      assert.ok(attributes(setCookie(session.headers, 'tribune_csrf')).includes('secure'));
      const created = await httpCall(secure.url, 'POST', '/api/accounts', {
        body: { username: 'secure_sam', password: PASSWORD },
        headers: { 'x-csrf-token': session.body.csrfToken },
        jar,
      });
      assertOk(created, 201);
      const cookie = attributes(setCookie(created.headers, 'tribune_session'));
      assert.ok(cookie.includes('secure') && cookie.includes('httponly'), cookie.join('; '));
    } finally {
      await secure.close();
    }
  });

  test('the password is stored as an Argon2id hash, and sessions and API tokens only as hashes', async () => {
    const account = await server.account('stored_sol');
    const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('select password_hash from accounts where username = ?').get('stored_sol') as { password_hash: string };
      assert.match(row.password_hash, /^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/);
      const session = account.jar.get('tribune_session') ?? '';
      const sessions = db.prepare('select token_hash from sessions where account_id = ?').all(account.id) as { token_hash: string }[];
      assert.ok(sessions.length >= 1);
      assert.ok(sessions.some((s) => s.token_hash === createHash('sha256').update(session).digest('hex')));
      assert.ok(sessions.every((s) => s.token_hash !== session));
      const tokens = db.prepare('select token_hash from api_tokens where account_id = ?').all(account.id) as { token_hash: string }[];
      assert.deepEqual(tokens.map((t) => t.token_hash), [createHash('sha256').update(account.apiToken).digest('hex')]);
    } finally {
      db.close();
    }
    // Neither the password nor a bearer secret is anywhere in the database files.
    const bytes = Buffer.concat(readdirSync(dir).filter((f) => f.startsWith('accounts.db')).map((f) => readFileSync(join(dir, f))));
    for (const secret of [PASSWORD, account.apiToken, account.jar.get('tribune_session') ?? '']) assert.equal(bytes.indexOf(secret), -1);
  });

  test('sign-in works case-insensitively; a wrong password or unknown user is 401 BAD_CREDENTIALS', async () => {
    const account = await server.account('signin_sky');
    const { answer, jar } = await signIn('SIGNIN_Sky', PASSWORD);
    assertOk(answer);
    assert.equal(answer.body.account.id, account.id);
    assert.ok(!JSON.stringify(answer.body).includes(PASSWORD));
    assert.ok(attributes(setCookie(answer.headers, 'tribune_session')).includes('httponly'));
    assert.equal((await sessionAccount(jar))?.id, account.id);

    const wrong = await signIn('signin_sky', 'not the password at all');
    assertError(wrong.answer, 401, 'BAD_CREDENTIALS');
    assert.equal(wrong.answer.headers.getSetCookie().some((l) => l.startsWith('tribune_session=')), false);
    assert.equal(await sessionAccount(wrong.jar), null);
    assertError((await signIn('nobody_here_at_all', PASSWORD)).answer, 401, 'BAD_CREDENTIALS');
  });

  test('sign-out closes the session on the server: the old cookie no longer signs in', async () => {
    const account = await server.account();
    const cookie = account.jar.get('tribune_session') ?? '';
    assert.equal((await sessionAccount(account.jar))?.id, account.id);
    const out = await account.call('DELETE', '/api/session');
    assertOk(out);
    assert.match(setCookie(out.headers, 'tribune_session'), /expires=thu, 01 jan 1970|max-age=0/i);
    assert.match(setCookie(out.headers, 'tribune_signed_in'), /expires=thu, 01 jan 1970|max-age=0/i, 'the hint goes with the session');
    assert.equal(await sessionAccount(account.jar), null);
    const replay = await httpCall<{ account: unknown }>(server.url, 'GET', '/api/session', { headers: { cookie: `tribune_session=${cookie}; tribune_signed_in=1` } });
    assert.equal(replay.body.account, null);
    assert.match(setCookie(replay.headers, 'tribune_signed_in'), /expires=thu, 01 jan 1970|max-age=0/i, 'a hint without a live session is cleared');
    assertError(await httpCall(server.url, 'GET', '/api/me/spaces', { headers: { cookie: `tribune_session=${cookie}` } }), 401, 'SIGN_IN_REQUIRED');
  });

  test('a sixth sign-in attempt in a row for one username is 429 SIGN_IN_RATE_LIMITED, even with the right password', async () => {
    await server.account('limited_lee');
    for (let i = 0; i < 5; i++) assertError((await signIn(i % 2 ? 'LIMITED_lee' : 'limited_lee', `wrong password ${i}`)).answer, 401, 'BAD_CREDENTIALS');
    const limited = await signIn('limited_lee', PASSWORD);
    assertError(limited.answer, 429, 'SIGN_IN_RATE_LIMITED');
    assert.equal(await sessionAccount(limited.jar), null);
    // Per username: someone else signs in as usual.
    await server.account('unlimited_uma');
    assertOk((await signIn('unlimited_uma', PASSWORD)).answer);
  });

  test('a username is taken whatever its case: 409 USERNAME_TAKEN, and the first account keeps its password', async () => {
    const first = await server.account('Taken_Tom');
    const visitor = await Visitor.arrive(server.url);
    assertError(await visitor.call('POST', '/api/accounts', { username: 'tAKEN_tOM', password: 'another password here' }), 409, 'USERNAME_TAKEN');
    assert.equal((await sessionAccount(visitor.jar)), null);
    assertError((await signIn('taken_tom', 'another password here')).answer, 401, 'BAD_CREDENTIALS');
    assert.equal((await signIn('taken_tom', PASSWORD)).answer.body.account.id, first.id);
  });

  test('bad sign-up bodies are 400 VALIDATION_FAILED and create nothing', async () => {
    const visitor = await Visitor.arrive(server.url);
    const bad: unknown[] = [
      { username: 'ab', password: PASSWORD },
      { username: 'has space', password: PASSWORD },
      { username: 'short_pw_pat', password: 'short' },
      { username: 'extra_field_ed', password: PASSWORD, admin: true },
      { username: 42, password: PASSWORD },
      { username: 'no_password_ned' },
    ];
    for (const body of bad) assertError(await visitor.call('POST', '/api/accounts', body), 400, 'VALIDATION_FAILED', JSON.stringify(body));
    assertError(await visitor.call('POST', '/api/accounts', 'not json'), 400, 'VALIDATION_FAILED');
    assert.equal(await sessionAccount(visitor.jar), null);
    // The names are still free.
    for (const name of ['short_pw_pat', 'extra_field_ed', 'no_password_ned']) await server.account(name);
  });

  test('a display name with a control character in it is 400 VALIDATION_FAILED', async () => {
    const visitor = await Visitor.arrive(server.url);
    for (const [username, displayName] of [['ctrl_mid_cat', 'bell\u0007ring'], ['ctrl_end_cat', 'bell\u0007'], ['ctrl_two_cat', 'a\u0001\u0002']]) {
      const answer = await visitor.call('POST', '/api/accounts', { username, password: PASSWORD, displayName });
      assertError(answer, 400, 'VALIDATION_FAILED', JSON.stringify(displayName));
    }
    assert.equal(await sessionAccount(visitor.jar), null);
  });
});

describe('API tokens', () => {
  test('created, listed without their secret, used without CSRF, and a revoked one is 401 TOKEN_INVALID', async () => {
    const owner = await server.account();
    const created = await owner.call<{ token: string; apiToken: { id: string; name: string } }>('POST', '/api/tokens', { name: 'my bot' });
    assertOk(created, 201);
    assert.match(created.body.token, /^trb_/);
    const bot = (method: string, path: string, body?: unknown) => httpCall(server.url, method, path, { body, headers: { authorization: `Bearer ${created.body.token}` } });

    // A token carries no ambient authority: no cookie, no CSRF header, and it works.
    const space = await bot('POST', '/api/spaces', { title: 'Opened by a bot' });
    assertOk(space, 201);
    const list = await owner.call<{ tokens: Record<string, unknown>[] }>('GET', '/api/tokens');
    assert.deepEqual(list.body.tokens.map((t) => t.name), ['tests', 'my bot']);
    for (const token of list.body.tokens) assert.deepEqual(Object.keys(token).sort(), ['createdAt', 'id', 'lastUsedAt', 'name']);
    assert.ok(!JSON.stringify(list.body).includes('trb_'));
    assert.notEqual(list.body.tokens.find((t) => t.id === created.body.apiToken.id)?.lastUsedAt, null, 'last use is recorded');

    // Somebody else cannot revoke it.
    const other = await server.account();
    assertError(await other.call('DELETE', `/api/tokens/${created.body.apiToken.id}`), 404, 'API_TOKEN_NOT_FOUND');
    assertOk(await bot('GET', '/api/me/spaces'));

    assertOk(await owner.call('DELETE', `/api/tokens/${created.body.apiToken.id}`));
    assertError(await bot('GET', '/api/me/spaces'), 401, 'TOKEN_INVALID');
    assertError(await bot('POST', '/api/spaces', { title: 'After revoking' }), 401, 'TOKEN_INVALID');
    assertError(await owner.call('DELETE', `/api/tokens/${created.body.apiToken.id}`), 404, 'API_TOKEN_NOT_FOUND');
    assert.deepEqual((await owner.call<{ tokens: { name: string }[] }>('GET', '/api/tokens')).body.tokens.map((t) => t.name), ['tests']);
    // The owner's other token is untouched.
    assertOk(await owner.bot('GET', '/api/me/spaces'));
  });

  test('a malformed or unknown bearer token is 401 TOKEN_INVALID, never a fallback to the cookie', async () => {
    const owner = await server.account();
    for (const authorization of ['Bearer nonsense', 'Basic dXNlcjpwYXNz', `Bearer trb_${'A'.repeat(43)}`, 'Bearer ']) {
      const answer = await httpCall(server.url, 'GET', '/api/me/spaces', { headers: { authorization }, jar: owner.jar });
      assertError(answer, 401, 'TOKEN_INVALID', authorization);
    }
    // A bad token with the victim's cookie and no CSRF header changes nothing either.
    const refused = await httpCall(server.url, 'POST', '/api/spaces', { body: { title: 'sneaky' }, headers: { authorization: 'Bearer trb_forged' }, jar: owner.jar });
    assertError(refused, 401, 'TOKEN_INVALID');
    assert.deepEqual((await owner.call<{ live: unknown[] }>('GET', '/api/me/spaces')).body.live, []);
  });
});

describe('CSRF', () => {
  let victim: TestAccount;
  let other: TestAccount;
  let space: TestSpace;
  let tokenId: string;

  before(async () => {
    victim = await server.account();
    other = await server.account();
    space = await server.createSpace('CSRF target', victim);
    await server.createSpace('Other', other);
    tokenId = (await victim.call<{ tokens: { id: string }[] }>('GET', '/api/tokens')).body.tokens[0]?.id ?? '';
  });

  /** Everything the victim can see about itself, to prove a refused request changed nothing. */
  async function snapshot(): Promise<string> {
    const gets = ['/api/session', '/api/tokens', '/api/me/spaces', `/api/spaces/${space.space.id}`, `/api/spaces/${space.space.id}/me`, '/api/notifications'];
    const bodies = await Promise.all(gets.map(async (path) => (await victim.call('GET', path)).body as { csrfToken?: string }));
    for (const body of bodies) delete body.csrfToken;
    const feed = (await readFeed(server.url, space.space.id)).feed;
    return JSON.stringify([bodies, { ...feed, version: 0 }]);
  }

  function bodyFor(method: string, path: string): unknown {
    if (path === '/api/accounts') return { username: 'csrf_made_me', password: PASSWORD };
    if (path === '/api/session') return method === 'POST' ? { username: 'csrf_made_me', password: PASSWORD } : undefined;
    if (path === '/api/tokens') return { name: 'csrf token' };
    if (path === '/api/spaces') return { title: 'CSRF Space' };
    if (path.endsWith('/invites') || path.endsWith('/blocks')) return { accountId: other.id };
    if (path.includes('/roles/')) return { role: 'listener' };
    if (path.endsWith('/reactions')) return { emoji: '👏' };
    if (path.endsWith('/pins')) return { url: 'https://example.org/', label: 'csrf' };
    if (method === 'PATCH') return { title: 'Changed by CSRF' };
    return method === 'DELETE' ? undefined : {};
  }

  test('every state-changing route refuses a cookie without a valid x-csrf-token (403 CSRF_INVALID) and changes nothing', async () => {
    const spec = (server.tribune.app as unknown as { swagger(): { paths: Record<string, Record<string, unknown>> } }).swagger();
    const routes: [string, string][] = [];
    for (const [template, methods] of Object.entries(spec.paths)) {
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) || template.endsWith('/presence')) continue;
        const path = template
          .replace('{id}', space.space.id)
          .replace('{accountId}', other.id)
          .replace('{tokenId}', tokenId)
          .replace('{notificationId}', 'aaaaaaaaaaaa')
          .replace('{pinId}', 'aaaaaa');
        routes.push([method, path]);
      }
    }
    assert.ok(routes.length >= 25, `found only ${routes.length} unsafe routes`);
    const before = await snapshot();
    // Another visitor's perfectly valid token does not fit the victim's CSRF secret.
    const foreignToken = (await Visitor.arrive(server.url)).csrf;
    for (const [method, path] of routes) {
      for (const header of [undefined, 'not-a-token', foreignToken]) {
        const answer = await httpCall(server.url, method, path, {
          body: bodyFor(method, path),
          headers: header === undefined ? {} : { 'x-csrf-token': header },
          jar: victim.jar,
        });
        assertError(answer, 403, 'CSRF_INVALID', `${method} ${path} with ${header === undefined ? 'no token' : 'a bad token'}`);
      }
    }
    assert.equal(await snapshot(), before);
    // Nothing was created under the name a forged sign-up used.
    await server.account('csrf_made_me');
    // And the same request with the right token does go through.
    assertOk(await victim.call('PATCH', `/api/spaces/${space.space.id}`, { title: 'Changed properly' }));
    assert.notEqual(await snapshot(), before);
  });

  test('a percent-encoded path does not get around CSRF: 403 CSRF_INVALID and no Space created', async () => {
    for (const path of ['/%61pi/spaces', '/ap%69/spaces']) {
      const answer = await httpCall(server.url, 'POST', path, { body: { title: `Encoded ${path}` }, jar: victim.jar });
      assert.notEqual(answer.status, 201, `${path} created a Space with the cookie alone`);
      assertError(answer, 403, 'CSRF_INVALID', path);
    }
    const mine = await victim.call<{ live: { title: string }[] }>('GET', '/api/me/spaces');
    assert.ok(!mine.body.live.some((s) => s.title.startsWith('Encoded')), JSON.stringify(mine.body.live.map((s) => s.title)));
  });

  test('the presence beacon is exempt: no cookie, no token, still counted', async () => {
    const answer = await httpCall(server.url, 'POST', `/api/spaces/${space.space.id}/presence`, { body: { listener: 'csrf-exempt-listener-1' }, jar: victim.jar });
    assert.equal(answer.status, 204);
  });
});

describe('what needs an account and what does not', () => {
  test('hosting, reacting and asking to speak need an account: 401 SIGN_IN_REQUIRED', async () => {
    const visitor = await Visitor.arrive(server.url);
    const live = await server.createSpace('Someone else’s');
    assertError(await visitor.call('POST', '/api/spaces', { title: 'Anonymous host' }), 401, 'SIGN_IN_REQUIRED');
    assertError(await visitor.call('POST', `/api/spaces/${live.space.id}/reactions`, { emoji: '👏' }), 401, 'SIGN_IN_REQUIRED');
    assertError(await visitor.call('POST', `/api/spaces/${live.space.id}/requests`, {}), 401, 'SIGN_IN_REQUIRED');
    assertError(await visitor.call('POST', '/api/tokens', { name: 'x' }), 401, 'SIGN_IN_REQUIRED');
    assertError(await visitor.call('GET', '/api/me/spaces'), 401, 'SIGN_IN_REQUIRED');
    assertError(await visitor.call('GET', '/api/notifications'), 401, 'SIGN_IN_REQUIRED');
    // Without even a CSRF cookie the request is refused too, and no Space appears.
    const bare = await httpCall(server.url, 'POST', '/api/spaces', { body: { title: 'Bare anonymous host' } });
    assert.ok([401, 403].includes(bare.status), `bare anonymous create: ${bare.status}`);
    const listed = await httpCall<{ live: { title: string }[]; upcoming: { title: string }[] }>(server.url, 'GET', '/api/spaces');
    assert.ok(![...listed.body.live, ...listed.body.upcoming].some((s) => /Anonymous host/.test(s.title)));
  });

  test('listening needs nothing: the list, the Space, its feed, its playlist, its calendar and the presence beacon', async () => {
    const live = await server.createSpace('Open to everyone');
    const id = live.space.id;
    const anonymous = (method: string, path: string, body?: unknown) => httpCall<string>(server.url, method, path, { body });
    assertOk(await anonymous('GET', '/api/spaces'));
    assertOk(await anonymous('GET', `/api/spaces/${id}`));
    const feed = await readFeed(server.url, id);
    assert.equal(feed.feed.space.id, id);
    const master = await anonymous('GET', `/hls/${id}/master.m3u8`);
    assertOk(master);
    assert.match(master.body, /^#EXTM3U/);
    assertOk(await anonymous('GET', `/api/spaces/${id}/calendar.ics`));
    assert.equal((await anonymous('POST', `/api/spaces/${id}/presence`, { listener: 'anonymous-listener-0001' })).status, 204);
  });
});
