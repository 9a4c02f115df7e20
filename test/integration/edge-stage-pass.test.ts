/**
 * The edge refuses bad stage passes itself: the production edge
 * configuration (src/edge/nginx-edge-config.ts, run by startNginxEdge on
 * Debian's nginx with libnginx-mod-http-js) checks every stage upgrade with
 * src/edge/njs/stage-pass.js through `auth_request`, and a Node server
 * stands in for the origin behind it, counting every request it gets. The
 * passes are minted by the origin's own StageTokens (ES256, key derived from
 * its secret); the edge has only the public key. Space ids are minted with
 * the origin's id key (PublicIds), which the edge checks too.
 *
 * It checks that a good pass reaches the upstream and its WebSocket works
 * through the edge, and that missing, forged, tampered, expired,
 * other-Space, HS256, alg-none, garbage and oversized passes are answered at
 * the edge with the status and the JSON body the origin would send
 * (computed by the origin's StageTokens.verify for the same pass), and never
 * reach the upstream; so do ids the origin did not mint, and stage paths
 * spelled with doubled slashes or dot segments. An edge whose pass key is
 * the renderer's placeholder refuses everything (500).
 */
import assert from 'node:assert/strict';
import { randomBytes, sign } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { WebSocket, WebSocketServer } from 'ws';
import { StageTokens, stagePassKeys } from '../../src/control/stage-tokens.js';
import { nginxInstalled, startNginxEdge, type RunningEdge } from '../../src/edge/nginx-process.js';
import { PublicIds } from '../../src/store/public-ids.js';
import { freePort } from '../../src/tools/free-port.js';
import { TribuneError, type ErrorBody } from '../../src/wire/errors.js';
import { ID_ALPHABET } from '../../src/wire/public-id.js';

const LIMIT = { timeout: 30_000 };

const SECRET = randomBytes(32);
const tokens = new StageTokens(SECRET, 600);
const keys = stagePassKeys(SECRET);
/** The origin's id key (TRIBUNE_ID_KEY) and its edge secret (TRIBUNE_EDGE_SECRET). */
const ID_KEY_HEX = randomBytes(32).toString('hex');
const EDGE_SECRET = randomBytes(24).toString('base64url');
const ids = new PublicIds(Buffer.from(ID_KEY_HEX, 'hex'));
/** Space ids as the origin mints them: 10 random symbols and a 4-symbol tag. */
const SPACE = ids.mint();
const OTHER_SPACE = ids.mint();
const ACCOUNT = 'abcdefghjk23';
const HOST_ACCOUNT = 'zyxwvutsrq98';

/** One request the stand-in origin got. */
interface UpstreamRequest {
  url: string;
  upgrade: boolean;
}

/** What the edge answered to a WebSocket upgrade. */
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

let upstream: Server;
const seen: UpstreamRequest[] = [];
/** The headers of each request in `seen`, in the same order. */
const seenHeaders: IncomingHttpHeaders[] = [];
let edge: RunningEdge | undefined;
let brokenEdge: RunningEdge | undefined;
let edgeUrl: string;

before(async () => {
  // Skip nothing: an edge without njs would let every bad pass through to the origin.
  assert.ok(nginxInstalled(), 'nginx and libnginx-mod-http-js are not installed: apt-get install nginx libnginx-mod-http-js (scripts/test.sh installs them)');

  const sockets = new WebSocketServer({ noServer: true });
  upstream = createServer((req, res) => {
    seen.push({ url: req.url ?? '', upgrade: false });
    seenHeaders.push(req.headers);
    res.writeHead(426, { 'content-type': 'application/json' }).end('{"error":{"code":"UPGRADE_REQUIRED","message":"This route speaks WebSocket only"}}');
  });
  upstream.on('upgrade', (req, socket, head) => {
    seen.push({ url: req.url ?? '', upgrade: true });
    seenHeaders.push(req.headers);
    sockets.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  });
  const upstreamPort = await freePort();
  await new Promise<void>((resolve) => upstream.listen(upstreamPort, '127.0.0.1', resolve));

  const origin = `127.0.0.1:${upstreamPort}`;
  edge = await startNginxEdge({ port: await freePort(), origin, edgeSecret: EDGE_SECRET, idKey: ID_KEY_HEX, stagePassKey: tokens.publicKey(), unlimited: ['127.0.0.0/8'] });
  edgeUrl = edge.url;
  // The renderer's placeholder, what an edge deployed without its key carries (it refuses other malformed keys).
  brokenEdge = await startNginxEdge({ port: await freePort(), origin, edgeSecret: EDGE_SECRET, idKey: ID_KEY_HEX, stagePassKey: { x: 'CHANGE-ME', y: 'CHANGE-ME' }, unlimited: ['127.0.0.0/8'] });
});

after(async () => {
  await edge?.stop();
  await brokenEdge?.stop();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
});

function stagePath(spaceId: string, pass?: string): string {
  return `/api/spaces/${spaceId}/stage${pass === undefined ? '' : `?token=${encodeURIComponent(pass)}`}`;
}

/** A WebSocket upgrade request for `path`, sent as is; a 101 is closed at once. */
function upgrade(path: string, base = edgeUrl): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({
      host: url.hostname,
      port: url.port,
      path,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') },
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer to ${path}`)));
    req.on('error', reject);
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end();
  });
}

/** What the origin answers for `pass` on `spaceId`'s stage: StageTokens.verify's error, as its error handler sends it. */
async function originRefusal(pass: string | undefined, spaceId: string): Promise<{ status: number; body: ErrorBody }> {
  try {
    await tokens.verify(pass, spaceId);
  } catch (error) {
    assert.ok(error instanceof TribuneError, `expected a TribuneError, got ${String(error)}`);
    return { status: error.status, body: JSON.parse(JSON.stringify(error.toBody())) as ErrorBody };
  }
  throw new Error('the origin would accept this pass');
}

/**
 * Asserts the edge refuses `path` as `expected` says, with a JSON body that is
 * not to be kept (no-store), and the upstream never sees it.
 */
async function assertRefusedAtEdge(what: string, path: string, expected: { status: number; body: ErrorBody }): Promise<void> {
  const before = seen.length;
  const answer = await upgrade(path);
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    body = `not JSON: ${answer.body.slice(0, 200)}`;
  }
  assert.deepEqual({ status: answer.status, body }, expected, what);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/, `${what}: content-type`);
  assert.equal(answer.headers['cache-control'], 'no-store', `${what}: cache-control`);
  assert.equal(answer.headers['x-tribune-refusal'], undefined, `${what}: the subrequest's header stays inside the edge`);
  assert.deepEqual(seen.slice(before), [], `${what}: reached the upstream`);
}

const nowS = (): number => Math.floor(Date.now() / 1000);
const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A pass signed ES256 with the origin's own key by node:crypto (not jose),
 * header and claims chosen by the test: what only a broken origin would mint.
 */
function signedByOrigin(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'ES256' }): string {
  const signingInput = `${part(header)}.${part(claims)}`;
  const signature = sign('sha256', Buffer.from(signingInput), { key: keys.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** The same pass with its payload edited and its signature kept. */
function withClaims(pass: string, edit: Record<string, unknown>): string {
  const [header, payload, signature] = pass.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  return [header, part({ ...claims, ...edit }), signature].join('.');
}

test('a good pass reaches the origin through the edge and its WebSocket carries messages both ways', LIMIT, async () => {
  const pass = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const before = seen.length;
  const socket = new WebSocket(`${edgeUrl.replace(/^http/, 'ws')}${stagePath(SPACE, pass)}`);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
  });
  const echoed = new Promise<string>((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString('utf8'))));
  socket.send('{"type":"join"}');
  assert.equal(await echoed, '{"type":"join"}');
  socket.close();
  assert.deepEqual(seen.slice(before), [{ url: stagePath(SPACE, pass), upgrade: true }], 'the upstream got the upgrade, pass and all');
  // What the origin needs from the edge: the Host with its port (it builds links from it) and the edge's secret.
  const headers = seenHeaders[before];
  assert.equal(headers?.host, new URL(edgeUrl).host, 'the Host the client sent, port included');
  assert.equal(headers?.['x-tribune-edge'], EDGE_SECRET);
});

test('a good pass, or its Space id, percent-encoded is read as the origin reads it, and let through', LIMIT, async () => {
  const pass = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  for (const path of [
    `/api/spaces/${SPACE}/stage?token=${pass.replace(/\./g, '%2E').replace(/^e/, '%65')}`,
    `/api/spaces/%${SPACE.charCodeAt(0).toString(16)}${SPACE.slice(1)}/stage?token=${pass}`,
    `/api/spaces/${SPACE}/stage?%74oken=${pass}`,
  ]) {
    const before = seen.length;
    assert.equal((await upgrade(path)).status, 101, path);
    assert.deepEqual(seen.slice(before), [{ url: path, upgrade: true }], path);
  }
});

test('a pass a few seconds past its expiry still passes the edge (clock skew); the origin decides', LIMIT, async () => {
  const now = nowS();
  const pass = signedByOrigin({ acc: ACCOUNT, iss: 'tribune', aud: 'stage', sub: SPACE, iat: now - 600, exp: now - 1 });
  assert.equal((await upgrade(stagePath(SPACE, pass))).status, 101);
});

test('an upgrade without a pass, or with an empty one, is refused at the edge with 401 TOKEN_MISSING', LIMIT, async () => {
  const expected = await originRefusal(undefined, SPACE);
  assert.equal(expected.body.error.code, 'TOKEN_MISSING');
  for (const path of [stagePath(SPACE), stagePath(SPACE, ''), `/api/spaces/${SPACE}/stage?token`, `/api/spaces/${SPACE}/stage?tokens=x&x=token`, `/api/spaces/${SPACE}/stage?`]) {
    await assertRefusedAtEdge(path, path, expected);
  }
});

test('a pass for another Space is refused at the edge with 403 TOKEN_WRONG_SPACE', LIMIT, async () => {
  for (const [what, pass, spaceId] of [
    ['another Space’s pass on this one', await tokens.issue({ spaceId: OTHER_SPACE, accountId: ACCOUNT }), SPACE],
    // The edge compares the whole id: a pass whose Space is a prefix of this one's is not this one's.
    ['a pass whose Space is the first 10 characters of this one’s id', await tokens.issue({ spaceId: SPACE.slice(0, 10), accountId: ACCOUNT }), SPACE],
  ] as const) {
    const expected = await originRefusal(pass, spaceId);
    assert.equal(expected.status, 403);
    await assertRefusedAtEdge(what, stagePath(spaceId, pass), expected);
  }
});

test('ids the origin did not mint stop at the edge, even with a pass for them: a 10-character id 404 ROUTE_NOT_FOUND, a made-up 14-character one 404 SPACE_NOT_FOUND', LIMIT, async () => {
  const short = SPACE.slice(0, 10);
  // The same random part under another tag: never one the origin minted.
  const last = SPACE.at(-1) ?? '';
  const madeUp = SPACE.slice(0, -1) + (ID_ALPHABET[(ID_ALPHABET.indexOf(last) + 1) % ID_ALPHABET.length] ?? '');
  assert.equal(ids.isGenuine(madeUp), false);
  for (const [what, spaceId, code] of [
    ['a 10-character id (the old form), which matches no route of the edge', short, 'ROUTE_NOT_FOUND'],
    ['a 14-character id whose tag is wrong', madeUp, 'SPACE_NOT_FOUND'],
  ] as const) {
    const path = stagePath(spaceId, await tokens.issue({ spaceId, accountId: ACCOUNT }));
    await assertRefusedAtEdge(what, path, { status: 404, body: JSON.parse(JSON.stringify(new TribuneError(code).toBody())) as ErrorBody });
  }
});

test('a good pass on a path the origin routes to no stage (doubled slash, dot segments) names no Space at the edge: 403 TOKEN_WRONG_SPACE', LIMIT, async () => {
  // nginx normalises these paths before it picks a location (merge_slashes,
  // dot segments resolved), so they land in the real stage location, not the
  // catch-all: the id it captures from the normalised $uri is genuine and
  // passes the id check. The pass check reads $request_uri, the path as the
  // client spelled it (and as proxy_pass would forward it), which is no
  // stage path, so it names no Space and no pass is for it: 403
  // TOKEN_WRONG_SPACE. The origin answers these paths 404 ROUTE_NOT_FOUND;
  // either way nothing opens.
  const pass = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const query = `?token=${pass}`;
  for (const path of [`//api/spaces/${SPACE}/stage${query}`, `/api/spaces/x/../${SPACE}/stage${query}`, `/api/spaces/./${SPACE}/stage${query}`]) {
    await assertRefusedAtEdge(path, path, await originRefusal(pass, 'no Space'));
  }
});

test('forged, tampered, expired, HS256, alg-none and wrongly-claimed passes are refused at the edge with 401 TOKEN_INVALID, as the origin refuses them', LIMIT, async () => {
  const now = nowS();
  const good = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const otherSpaces = await tokens.issue({ spaceId: OTHER_SPACE, accountId: ACCOUNT });
  const [header, payload, signature = ''] = good.split('.');
  const flipped = signature.slice(0, 40) + (signature[40] === 'A' ? 'B' : 'A') + signature.slice(41);
  const claims = { acc: ACCOUNT, iss: 'tribune', aud: 'stage', sub: SPACE, iat: now, exp: now + 600 };
  const hs256 = (key: Uint8Array): Promise<string> => new SignJWT({ acc: ACCOUNT }).setProtectedHeader({ alg: 'HS256' }).setIssuer('tribune').setAudience('stage').setSubject(SPACE).setIssuedAt().setExpirationTime('10m').sign(key);
  const passes: [string, string][] = [
    ['signed with another key (an attacker’s own ES256 key)', await new StageTokens(randomBytes(32), 600).issue({ spaceId: SPACE, accountId: HOST_ACCOUNT })],
    ['another Space’s pass edited to this Space', withClaims(otherSpaces, { sub: SPACE })],
    ['its account edited to the host’s', withClaims(good, { acc: HOST_ACCOUNT })],
    ['its expiry pushed back', withClaims(good, { exp: now + 86_400 })],
    ['a changed signature', [header, payload, flipped].join('.')],
    ['no signature', `${header}.${payload}.`],
    ['a signature of zeros', `${header}.${payload}.${Buffer.alloc(64).toString('base64url')}`],
    ['a DER signature instead of r || s', `${header}.${payload}.${Buffer.concat([Buffer.from([0x30, 0x44, 0x02, 0x20]), Buffer.alloc(32, 1), Buffer.from([0x02, 0x20]), Buffer.alloc(32, 1)]).toString('base64url')}`],
    ['expired a minute ago', signedByOrigin({ ...claims, iat: now - 660, exp: now - 60 })],
    ['HS256 with the origin’s secret (the old form)', await hs256(SECRET)],
    ['HS256 with the public key as its secret (key confusion)', await hs256(Buffer.from(keys.publicKey.export({ type: 'spki', format: 'pem' })))],
    ['alg none', `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`],
    ['alg none with the good pass’s signature', `${part({ alg: 'none' })}.${payload}.${signature}`],
    ['ES256 in lower case', `${part({ alg: 'es256' })}.${payload}.${signature}`],
    ['the origin’s key under a header that says ES384', signedByOrigin(claims, { alg: 'ES384' })],
    ['the origin’s key under a header that says none', signedByOrigin(claims, { alg: 'none' })],
    ['another issuer', signedByOrigin({ ...claims, iss: 'elsewhere' })],
    ['another audience', signedByOrigin({ ...claims, aud: 'session' })],
    ['no audience', signedByOrigin({ acc: ACCOUNT, iss: 'tribune', sub: SPACE, exp: now + 600 })],
    ['no expiry', signedByOrigin({ acc: ACCOUNT, iss: 'tribune', aud: 'stage', sub: SPACE })],
    ['an expiry that is a string', signedByOrigin({ ...claims, exp: String(now + 600) })],
    ['not valid before an hour from now', signedByOrigin({ ...claims, nbf: now + 3600 })],
    ['a critical header extension', signedByOrigin(claims, { alg: 'ES256', crit: ['x-tribune'], 'x-tribune': 1 })],
  ];
  for (const [what, pass] of passes) {
    const expected = await originRefusal(pass, SPACE);
    assert.equal(expected.body.error.code, 'TOKEN_INVALID', `the origin's own answer to a pass with ${what}`);
    await assertRefusedAtEdge(`a pass with ${what}`, stagePath(SPACE, pass), expected);
  }
});

test('garbage and oversized passes are refused at the edge with 401 TOKEN_INVALID', LIMIT, async () => {
  const good = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const garbage: [string, string][] = [
    ['a word', 'not-a-token'],
    ['three dots', '...'],
    ['a.b.c', 'a.b.c'],
    ['four parts', `${good}.${good.split('.')[2] ?? ''}`],
    ['random base64url parts', [randomBytes(30), randomBytes(120), randomBytes(64)].map((b) => b.toString('base64url')).join('.')],
    ['JSON that is no object', `${part([1])}.${part('x')}.${good.split('.')[2] ?? ''}`],
    ['a signature in the standard base64 alphabet', `${good.split('.').slice(0, 2).join('.')}.${Buffer.alloc(64, 0xfb).toString('base64').replace(/=+$/, '')}`],
    ['binary junk', randomBytes(200).toString('latin1')],
    ['an API token', 'trb_' + randomBytes(24).toString('hex')],
    ['2049 characters', 'x'.repeat(2049)],
    ['a pass the origin signed carrying 2,100 characters of claims', signedByOrigin({ acc: ACCOUNT, iss: 'tribune', aud: 'stage', sub: SPACE, exp: nowS() + 600, pad: 'x'.repeat(2100) })],
  ];
  for (const [what, pass] of garbage) {
    const expected = await originRefusal(pass, SPACE);
    assert.equal(expected.body.error.code, 'TOKEN_INVALID', `the origin's own answer to ${what}`);
    await assertRefusedAtEdge(what, stagePath(SPACE, pass), expected);
  }
  // Two passes where the origin reads one: its query parser makes a list, which no pass is (even with an empty first).
  for (const query of [`token=${good}&token=${good}`, `token=&token=${good}`, 'token&token']) {
    await assertRefusedAtEdge(`the token parameter twice: ${query}`, `/api/spaces/${SPACE}/stage?${query}`, {
      status: 401,
      body: new TribuneError('TOKEN_INVALID', 'bad signature or format').toBody() as ErrorBody,
    });
  }
});

test('a good pass whose signature is re-encoded (padding, the standard base64 alphabet) is refused at the edge with 401 TOKEN_INVALID', LIMIT, async () => {
  // The origin's jose decodes such a signature to the same bytes and accepts it;
  // no client of ours writes one (passes are only ever copied as issued), so
  // the edge keeps to RFC 7515's base64url without padding.
  let good = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  while (!/[-_]/.test(good.split('.')[2] ?? '')) good = await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT });
  const [header, payload, signature = ''] = good.split('.');
  for (const [what, recoded] of [
    ['padded', `${signature}==`],
    ['standard alphabet', signature.replace(/-/g, '+').replace(/_/g, '/')],
  ] as const) {
    await assertRefusedAtEdge(`a good pass with its signature ${what}`, stagePath(SPACE, `${header}.${payload}.${recoded}`), {
      status: 401,
      body: new TribuneError('TOKEN_INVALID', 'bad signature or format').toBody() as ErrorBody,
    });
  }
});

test('an edge whose pass key is the renderer’s placeholder refuses even a good pass (500) and lets nothing through', LIMIT, async () => {
  assert.ok(brokenEdge);
  const before = seen.length;
  const answer = await upgrade(stagePath(SPACE, await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT })), brokenEdge.url);
  assert.equal(answer.status, 500);
  assert.deepEqual(seen.slice(before), []);
});

test('the upstream saw only upgrades carrying passes the edge should have let through', () => {
  assert.ok(seen.length > 0);
  for (const request of seen) {
    assert.equal(request.upgrade, true, request.url);
    const pass = new URLSearchParams(request.url.split('?')[1] ?? '').get('token') ?? '';
    const claims = JSON.parse(Buffer.from(pass.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: string };
    assert.equal(claims.iss, 'tribune', request.url);
  }
});
