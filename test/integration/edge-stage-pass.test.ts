/**
 * The edge refuses bad stage passes itself: a real nginx (Debian's, with
 * libnginx-mod-http-js) runs src/edge/njs/stage-pass.js through
 * `auth_request` in front of the stage WebSocket, and a Node server stands in
 * for the origin behind it, counting every request it gets. The passes are
 * minted by the origin's own StageTokens (ES256, key derived from its
 * secret); the edge has only the public key.
 *
 * It checks that a good pass reaches the upstream and its WebSocket works
 * through the edge (10- and 14-character Space ids), and that missing,
 * forged, tampered, expired, other-Space, HS256, alg-none, garbage and
 * oversized passes are answered at the edge with the status and the JSON
 * body the origin would send (computed by the origin's StageTokens.verify
 * for the same pass), and never reach the upstream. An edge whose key
 * variables are broken refuses everything (500).
 *
 * The nginx configuration is written here, with the same directives the
 * production edge carries (src/edge/nginx-edge-config.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { WebSocket, WebSocketServer } from 'ws';
import { StageTokens, stagePassKeys } from '../../src/control/stage-tokens.js';
import { NGINX } from '../../src/edge/nginx-process.js';
import { freePort } from '../../src/tools/free-port.js';
import { TribuneError, type ErrorBody } from '../../src/wire/errors.js';

const JS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';
const NJS_DIR = fileURLToPath(new URL('../../src/edge/njs/', import.meta.url));
const LIMIT = { timeout: 30_000 };

const SECRET = randomBytes(32);
const tokens = new StageTokens(SECRET, 600);
const keys = stagePassKeys(SECRET);
/** Today's 10-character ids and the coming 14-character ones. */
const SPACE = 'abcdefghjkmnpq';
const SHORT_SPACE = 'abcdefgh23';
const OTHER_SPACE = 'zyxwvutsrqpnmk';
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
let edge: ChildProcess;
let prefix: string;
let edgeUrl: string;
let brokenEdgeUrl: string;

before(async () => {
  // Skip nothing: an edge without njs would let every bad pass through to the origin.
  assert.ok(existsSync(NGINX), `nginx is not installed (${NGINX}): apt-get install nginx (scripts/test.sh installs it)`);
  assert.ok(existsSync(JS_MODULE), `nginx's njs module is not installed (${JS_MODULE}): apt-get install libnginx-mod-http-js (scripts/test.sh installs it)`);

  const sockets = new WebSocketServer({ noServer: true });
  upstream = createServer((req, res) => {
    seen.push({ url: req.url ?? '', upgrade: false });
    res.writeHead(426, { 'content-type': 'application/json' }).end('{"error":{"code":"UPGRADE_REQUIRED","message":"This route speaks WebSocket only"}}');
  });
  upstream.on('upgrade', (req, socket, head) => {
    seen.push({ url: req.url ?? '', upgrade: true });
    sockets.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  });
  const upstreamPort = await freePort();
  await new Promise<void>((resolve) => upstream.listen(upstreamPort, '127.0.0.1', resolve));

  prefix = mkdtempSync(join(tmpdir(), 'tribune-edge-pass-'));
  for (const dir of ['client_temp', 'proxy_temp', 'fastcgi_temp', 'uwsgi_temp', 'scgi_temp']) mkdirSync(join(prefix, dir));
  const port = await freePort();
  const brokenPort = await freePort();
  const confPath = join(prefix, 'nginx.conf');
  writeFileSync(confPath, edgeConfig({ prefix, port, brokenPort, upstream: `127.0.0.1:${upstreamPort}` }));
  try {
    execFileSync(NGINX, ['-t', '-q', '-p', prefix, '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`nginx refused the edge configuration: ${String((error as { stderr?: Buffer }).stderr ?? error)}`, { cause: error });
  }
  edge = spawn(NGINX, ['-p', prefix, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  edge.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  edgeUrl = `http://127.0.0.1:${port}`;
  brokenEdgeUrl = `http://127.0.0.1:${brokenPort}`;
  await waitUntilListening(edgeUrl, () => stderr);
  await waitUntilListening(brokenEdgeUrl, () => stderr);
});

after(async () => {
  if (edge && edge.exitCode === null) {
    const exited = new Promise((resolve) => edge.once('exit', resolve));
    edge.kill('SIGQUIT');
    const timer = setTimeout(() => edge.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  if (prefix) rmSync(prefix, { recursive: true, force: true });
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
});

/**
 * A minimal edge: the stage location of the production edge with the pass
 * check in front, and a second server whose key variables are broken.
 */
function edgeConfig(options: { prefix: string; port: number; brokenPort: number; upstream: string }): string {
  const { x, y } = tokens.publicKey();
  const server = (port: number, passX: string, passY: string): string => `
  server {
    listen 127.0.0.1:${port};

    location ~ "^/api/spaces/[a-z2-9]{10,16}/stage$" {
      # The pass is checked here; only a good one is tunnelled to the origin.
      auth_request /_tribune/stage-pass;
      auth_request_set $tribune_pass_refusal $sent_http_x_tribune_refusal;
      error_page 401 = @tribune_pass_401;
      error_page 403 = @tribune_pass_403;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $tribune_connection;
      proxy_set_header Host $host;
      proxy_read_timeout 1h;
      proxy_pass http://stand_in_origin;
    }
    location = /_tribune/stage-pass {
      internal;
      set $tribune_pass_x "${passX}";
      set $tribune_pass_y "${passY}";
      js_content stage_pass.check;
    }
    location @tribune_pass_401 {
      default_type application/json;
      add_header cache-control no-store always;
      return 401 $tribune_pass_refusal;
    }
    location @tribune_pass_403 {
      default_type application/json;
      add_header cache-control no-store always;
      return 403 $tribune_pass_refusal;
    }
  }`;
  return `load_module ${JS_MODULE};
${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${options.prefix}/nginx.pid;
error_log ${options.prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${options.prefix}/client_temp;
  proxy_temp_path ${options.prefix}/proxy_temp;
  fastcgi_temp_path ${options.prefix}/fastcgi_temp;
  uwsgi_temp_path ${options.prefix}/uwsgi_temp;
  scgi_temp_path ${options.prefix}/scgi_temp;
  js_path ${NJS_DIR};
  js_import stage_pass from stage-pass.js;
  map $http_upgrade $tribune_connection { default upgrade; "" ""; }
  upstream stand_in_origin { server ${options.upstream}; }
${server(options.port, x, y)}
${server(options.brokenPort, x.slice(0, 20), y)}
}
`;
}

async function waitUntilListening(url: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (edge.exitCode !== null) throw new Error(`nginx exited: ${stderr()}`);
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nginx did not start listening on ${url}: ${stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

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

/** Asserts the edge refuses `path` as `expected` says, with a no-store JSON body, and the upstream never sees it. */
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

test('a good pass reaches the origin through the edge and its WebSocket carries messages both ways, for 14- and 10-character Space ids', LIMIT, async () => {
  for (const spaceId of [SPACE, SHORT_SPACE]) {
    const pass = await tokens.issue({ spaceId, accountId: ACCOUNT });
    const before = seen.length;
    const socket = new WebSocket(`${edgeUrl.replace(/^http/, 'ws')}${stagePath(spaceId, pass)}`);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
    });
    const echoed = new Promise<string>((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString('utf8'))));
    socket.send('{"type":"join"}');
    assert.equal(await echoed, '{"type":"join"}');
    socket.close();
    assert.deepEqual(seen.slice(before), [{ url: stagePath(spaceId, pass), upgrade: true }], 'the upstream got the upgrade, pass and all');
  }
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
    ['a 14-character Space’s pass on another', await tokens.issue({ spaceId: OTHER_SPACE, accountId: ACCOUNT }), SPACE],
    ['a 10-character Space’s pass on a 14-character one it prefixes', await tokens.issue({ spaceId: SHORT_SPACE, accountId: ACCOUNT }), `${SHORT_SPACE}abcd`],
    ['a 14-character Space’s pass on the 10-character id it starts with', await tokens.issue({ spaceId: `${SHORT_SPACE}abcd`, accountId: ACCOUNT }), SHORT_SPACE],
  ] as const) {
    const expected = await originRefusal(pass, spaceId);
    assert.equal(expected.status, 403);
    await assertRefusedAtEdge(what, stagePath(spaceId, pass), expected);
  }
});

test('a good pass on a path the origin routes to no stage (doubled slash, dot segments) names no Space at the edge: 403 TOKEN_WRONG_SPACE', LIMIT, async () => {
  // The origin answers these 404 ROUTE_NOT_FOUND; either way nothing opens.
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

test('an edge whose pass key variables are broken refuses even a good pass (500) and lets nothing through', LIMIT, async () => {
  const before = seen.length;
  const answer = await upgrade(stagePath(SPACE, await tokens.issue({ spaceId: SPACE, accountId: ACCOUNT })), brokenEdgeUrl);
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
