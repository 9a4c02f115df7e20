import assert from 'node:assert/strict';
import { createHmac, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT, UnsecuredJWT } from 'jose';
import { StageTokens, stagePassKeys } from '../../src/control/stage-tokens.js';
import { TribuneError, type ErrorCode } from '../../src/wire/errors.js';

const SECRET = randomBytes(32);
const SPACE = 'abcdefgh23';
const OTHER_SPACE = 'zyxwvuts98';
const ACCOUNT = 'abcdefghjk23';
const OTHER_ACCOUNT = 'zyxwvutsrq98';

/** Asserts that `promise` rejects with a TribuneError carrying `code`. */
async function rejectsWithCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TribuneError, `expected a TribuneError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** Signs a pass the way StageTokens does (ES256, the key derived from `secret`), with every claim overridable. */
function craft(
  claims: { acc?: unknown; sub?: string; iss?: string; aud?: string | null; iatSeconds?: number; expSeconds?: number | null },
  secret: Uint8Array = SECRET,
): Promise<string> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ acc: 'acc' in claims ? claims.acc : ACCOUNT })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(claims.iss ?? 'tribune')
    .setSubject(claims.sub ?? SPACE)
    .setIssuedAt(claims.iatSeconds ?? nowSeconds);
  if (claims.aud !== null) jwt.setAudience(claims.aud ?? 'stage');
  if (claims.expSeconds !== null) jwt.setExpirationTime(claims.expSeconds ?? nowSeconds + 3600);
  return jwt.sign(stagePassKeys(secret).privateKey);
}

const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWS signed with the origin's pass key by node:crypto, whatever its header says. */
function signedUnder(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: stagePassKeys(SECRET).privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** Replaces the JSON payload of a compact JWS, keeping header and signature. */
function withPayload(token: string, edit: (payload: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.');
  const decoded = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  edit(decoded);
  return [header, Buffer.from(JSON.stringify(decoded)).toString('base64url'), signature].join('.');
}

test('a pass issued for a Space and an account verifies for that Space with that account', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const token = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  assert.deepEqual(await tokens.verify(token, SPACE), { spaceId: SPACE, accountId: ACCOUNT });
});

test('passes of two accounts for the same Space each verify with their own account', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const mine = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const theirs = await tokens.issue({ spaceId: SPACE, accountId: OTHER_ACCOUNT });
  assert.equal((await tokens.verify(mine, SPACE)).accountId, ACCOUNT);
  assert.equal((await tokens.verify(theirs, SPACE)).accountId, OTHER_ACCOUNT);
});

test('a pass verifies with a second StageTokens built from the same secret', async () => {
  const token = await new StageTokens(SECRET, 3600).issue({ spaceId: SPACE, accountId: ACCOUNT });
  assert.equal((await new StageTokens(Uint8Array.from(SECRET), 60).verify(token, SPACE)).accountId, ACCOUNT);
});

test('an issued pass carries the issuer, the stage audience, the Space as subject, the account, no role and an expiry ttl seconds after issue', async () => {
  const token = await new StageTokens(SECRET, 120).issue({ spaceId: SPACE, accountId: ACCOUNT });
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  assert.equal(payload.iss, 'tribune');
  assert.equal(payload.aud, 'stage');
  assert.equal(payload.sub, SPACE);
  assert.equal(payload.acc, ACCOUNT);
  assert.equal(payload.role, undefined, 'the role is read from the Space, never from the pass');
  assert.equal(Number(payload.exp) - Number(payload.iat), 120);
});

test('a pass for another Space is refused with TOKEN_WRONG_SPACE', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const token = await tokens.issue({ spaceId: OTHER_SPACE, accountId: ACCOUNT });
  await rejectsWithCode(tokens.verify(token, SPACE), 'TOKEN_WRONG_SPACE');
});

test('a missing or empty pass is refused with TOKEN_MISSING', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  await rejectsWithCode(tokens.verify(undefined, SPACE), 'TOKEN_MISSING');
  await rejectsWithCode(tokens.verify('', SPACE), 'TOKEN_MISSING');
});

test('a pass whose payload was edited to another Space is refused with TOKEN_INVALID', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const token = await tokens.issue({ spaceId: OTHER_SPACE, accountId: ACCOUNT });
  const forged = withPayload(token, (payload) => {
    payload.sub = SPACE;
  });
  await rejectsWithCode(tokens.verify(forged, SPACE), 'TOKEN_INVALID');
});

test("a pass whose payload was edited to another account (say, the host's) is refused with TOKEN_INVALID", async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const token = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const forged = withPayload(token, (payload) => {
    payload.acc = OTHER_ACCOUNT;
  });
  await rejectsWithCode(tokens.verify(forged, SPACE), 'TOKEN_INVALID');
});

test('a pass with a role claim added to its payload is refused with TOKEN_INVALID', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const token = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const forged = withPayload(token, (payload) => {
    payload.role = 'host';
  });
  await rejectsWithCode(tokens.verify(forged, SPACE), 'TOKEN_INVALID');
});

test('a pass with a tampered signature is refused with TOKEN_INVALID', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const token = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const [header, payload, signature = ''] = token.split('.');
  // The first character of the signature carries six real bits; the last
  // one has padding bits a decoder may ignore, so it is not a safe flip.
  const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
  await rejectsWithCode(tokens.verify([header, payload, flipped].join('.'), SPACE), 'TOKEN_INVALID');
  await rejectsWithCode(tokens.verify([header, payload, ''].join('.'), SPACE), 'TOKEN_INVALID');
});

test('a pass signed with another secret is refused with TOKEN_INVALID', async () => {
  const token = await new StageTokens(randomBytes(32), 3600).issue({ spaceId: SPACE, accountId: ACCOUNT });
  await rejectsWithCode(new StageTokens(SECRET, 3600).verify(token, SPACE), 'TOKEN_INVALID');
});

test('an expired pass is refused with TOKEN_INVALID', async () => {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const expired = await craft({ iatSeconds: nowSeconds - 120, expSeconds: nowSeconds - 60 });
  await rejectsWithCode(new StageTokens(SECRET, 3600).verify(expired, SPACE), 'TOKEN_INVALID');
});

test('a pass without an expiry is refused with TOKEN_INVALID', async () => {
  await rejectsWithCode(new StageTokens(SECRET, 3600).verify(await craft({ expSeconds: null }), SPACE), 'TOKEN_INVALID');
});

test('a pass issued with a ttl of 1 s is refused with TOKEN_INVALID once the second is over', async () => {
  const tokens = new StageTokens(SECRET, 1);
  const token = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  // iat is the issue time floored to the second and exp = iat + 1; jose
  // refuses exp <= now (floored), so anything past one second is expired.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await rejectsWithCode(tokens.verify(token, SPACE), 'TOKEN_INVALID');
});

test('a correctly crafted pass verifies (the crafting below matches issue)', async () => {
  assert.deepEqual(await new StageTokens(SECRET, 3600).verify(await craft({}), SPACE), { spaceId: SPACE, accountId: ACCOUNT });
});

test('a pass from another issuer is refused with TOKEN_INVALID', async () => {
  await rejectsWithCode(new StageTokens(SECRET, 3600).verify(await craft({ iss: 'elsewhere' }), SPACE), 'TOKEN_INVALID');
});

test('a token signed with the same secret for another audience, or none, is refused with TOKEN_INVALID', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  await rejectsWithCode(tokens.verify(await craft({ aud: 'session' }), SPACE), 'TOKEN_INVALID');
  await rejectsWithCode(tokens.verify(await craft({ aud: null }), SPACE), 'TOKEN_INVALID');
});

test('a correctly signed pass without a well-formed account claim is refused with TOKEN_INVALID', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  for (const acc of ['', 'admin', 'ABCDEFGHJK23', 'abcdefghjk2', 'abcdefghjk231', 1, null, ['abcdefghjk23'], { id: ACCOUNT }]) {
    await rejectsWithCode(tokens.verify(await craft({ acc }), SPACE), 'TOKEN_INVALID');
  }
  await rejectsWithCode(tokens.verify(await craft({ acc: undefined }), SPACE), 'TOKEN_INVALID');
});

test('an unsigned pass (alg none) is refused with TOKEN_INVALID', async () => {
  const unsigned = new UnsecuredJWT({ acc: ACCOUNT }).setIssuer('tribune').setAudience('stage').setSubject(SPACE).setIssuedAt().setExpirationTime('1h').encode();
  await rejectsWithCode(new StageTokens(SECRET, 3600).verify(unsigned, SPACE), 'TOKEN_INVALID');
});

test('a pass that is not a JWT at all is refused with TOKEN_INVALID', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  for (const garbage of ['x', 'a.b.c', 'not a token', '...']) {
    await rejectsWithCode(tokens.verify(garbage, SPACE), 'TOKEN_INVALID');
  }
});

test('a pass longer than 2048 characters is refused with TOKEN_INVALID before it is parsed', async () => {
  await rejectsWithCode(new StageTokens(SECRET, 3600).verify('a'.repeat(2049), SPACE), 'TOKEN_INVALID');
});

// --- ES256 and the key edges hold ------------------------------------------

test('an issued pass is signed ES256, and verifies with node:crypto against publicKey() alone', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const token = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const [header = '', payload = '', signature = ''] = token.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString('utf8')), { alg: 'ES256' });
  const rs = Buffer.from(signature, 'base64url');
  assert.equal(rs.length, 64, 'a JWS ES256 signature is r || s (RFC 7518 §3.4)');
  const { x, y } = tokens.publicKey();
  const edgeKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from(`${header}.${payload}`), { key: edgeKey, dsaEncoding: 'ieee-p1363' }, rs));
});

test('the same secret gives the same public key, in every StageTokens; another secret another key', () => {
  const first = new StageTokens(SECRET, 3600).publicKey();
  assert.deepEqual(new StageTokens(Uint8Array.from(SECRET), 60).publicKey(), first);
  assert.deepEqual(stagePassKeys(SECRET).point, first);
  for (const coordinate of [first.x, first.y]) {
    assert.match(coordinate, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(coordinate, 'base64url').length, 32);
  }
  assert.notDeepEqual(new StageTokens(randomBytes(32), 3600).publicKey(), first);
});

test('the pass key is d = (HMAC-SHA256(secret, "tribune stage-pass ES256 v1") mod (n - 1)) + 1, pinned for a known secret', () => {
  // Pinned: a change here re-keys every origin and edge and kills every live pass.
  // The point was checked with an independent scalar multiplication on P-256 (Python, no library).
  const secret = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const keys = stagePassKeys(secret);
  assert.deepEqual(keys.point, { x: '3d66X2I7KufYVHZO2XCVLnl_itZKc8N418C5UHGaaxw', y: 'BgjNwLYS4-s2aBaPNXKpeBZpLJaAnBd7vkQ3AJFbl6E' });
  const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  for (const s of [secret, SECRET, Buffer.alloc(0)]) {
    const h = BigInt(`0x${createHmac('sha256', s).update('tribune stage-pass ES256 v1').digest('hex')}`);
    const d = (h % (n - 1n)) + 1n;
    const jwk = stagePassKeys(s).privateKey.export({ format: 'jwk' });
    assert.equal(jwk.d, Buffer.from(d.toString(16).padStart(64, '0'), 'hex').toString('base64url'));
  }
});

test('a pass signed HS256 with the secret (the old form) is refused with TOKEN_INVALID', async () => {
  const old = await new SignJWT({ acc: ACCOUNT }).setProtectedHeader({ alg: 'HS256' }).setIssuer('tribune').setAudience('stage').setSubject(SPACE).setIssuedAt().setExpirationTime('1h').sign(SECRET);
  await rejectsWithCode(new StageTokens(SECRET, 3600).verify(old, SPACE), 'TOKEN_INVALID');
});

test('a pass signed HS256 with the public key as its secret (key confusion) is refused with TOKEN_INVALID', async () => {
  const tokens = new StageTokens(SECRET, 3600);
  const { x, y } = tokens.publicKey();
  const pem = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  for (const key of [Buffer.from(pem), Buffer.from(x), Buffer.from(`${x}${y}`)]) {
    const confused = await new SignJWT({ acc: ACCOUNT }).setProtectedHeader({ alg: 'HS256' }).setIssuer('tribune').setAudience('stage').setSubject(SPACE).setIssuedAt().setExpirationTime('1h').sign(key);
    await rejectsWithCode(tokens.verify(confused, SPACE), 'TOKEN_INVALID');
  }
});

test('a pass the origin key signed under a header naming another algorithm (none, ES384, HS256) is refused with TOKEN_INVALID', async () => {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const claims = { acc: ACCOUNT, iss: 'tribune', aud: 'stage', sub: SPACE, iat: nowSeconds, exp: nowSeconds + 600 };
  const tokens = new StageTokens(SECRET, 3600);
  assert.deepEqual(await tokens.verify(signedUnder({ alg: 'ES256' }, claims), SPACE), { spaceId: SPACE, accountId: ACCOUNT }, 'the signing above is right');
  for (const alg of ['none', 'ES384', 'HS256', 'es256']) {
    await rejectsWithCode(tokens.verify(signedUnder({ alg }, claims), SPACE), 'TOKEN_INVALID');
  }
});

test('an expired ES256 pass is refused with TOKEN_INVALID "expired"; one with a bad signature, "bad signature or format"', async () => {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const tokens = new StageTokens(SECRET, 3600);
  const expired = await craft({ iatSeconds: nowSeconds - 700, expSeconds: nowSeconds - 100 });
  await assert.rejects(tokens.verify(expired, SPACE), (error: unknown) => error instanceof TribuneError && error.code === 'TOKEN_INVALID' && error.details === 'expired');
  const forged = await craft({}, randomBytes(32));
  await assert.rejects(tokens.verify(forged, SPACE), (error: unknown) => error instanceof TribuneError && error.code === 'TOKEN_INVALID' && error.details === 'bad signature or format');
});
