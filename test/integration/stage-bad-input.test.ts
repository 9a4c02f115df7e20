/**
 * Bad input at every border of a live Space is refused with a stable code
 * from the catalogue (docs/ERRORS.md, docs/LIMITS.md), and nothing else
 * changes: two bots on stage keep hearing each other's tone and stay the
 * only members, and no Space is created or ended by a refused request.
 *
 * The bad signalling comes from raw `ws` clients holding a valid stage
 * pass (each joining connection its own accepted speaker's account: an
 * account is on a stage once); an SDP answer that is right, where a test
 * needs one, comes from a werift peer connection.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { stagePassKeys } from '../../src/control/stage-tokens.js';
import { RTCPeerConnection } from 'werift';
import { peerConfig } from '../../src/sfu/peer-config.js';
import { DEFAULT_SFU_OPTIONS } from '../../src/sfu/sfu-types.js';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import type { SpaceView } from '../../src/wire/api.js';
import type { ErrorCode } from '../../src/wire/errors.js';
import { SIGNAL_LIMITS } from '../../src/wire/signalling.js';
import { CookieJar, httpCall, type TestAccount } from '../helpers/accounts.js';
import { AudioRecorder } from '../helpers/audio-recorder.js';
import { RawStageClient, stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, startTribune, waitFor, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

const TONES = [440, 660] as const;
/** Every wait in a test has its own shorter timeout; this bounds the test as a whole. */
const LIMIT = { timeout: 20_000 };
const secret = randomBytes(32);

let server: RunningTribune;
let space: TestSpace;
let otherSpace: TestSpace;
/** An accepted speaker of `space` whose pass opens the connections that never join. */
let probe: { account: TestAccount; token: string };
const bots: SpeakerBot[] = [];
const recorders = TONES.map(() => new AudioRecorder());
/** Every account the first bot ever saw on stage, from its own session. */
const accountsSeenByBot = new Set<string>();
const clients: RawStageClient[] = [];
const peers: RTCPeerConnection[] = [];

before(async () => {
  // Every joining connection below is its own accepted speaker, and a
  // speaker keeps the seat after leaving: room for all of them.
  server = await startTribune({ secret, maxSpeakers: 40 });
  space = await server.createSpace('Bad input');
  otherSpace = await server.createSpace('Another Space');
  probe = await space.speaker('probe');
  for (const [i, hz] of TONES.entries()) {
    const spaceUrl = stageUrl(server.url, space.space.id, await space.speakerPass(`tone ${hz}`));
    bots.push(new SpeakerBot({ spaceUrl, name: `tone ${hz}`, program: { kind: 'tone', hz }, onAudio: recorders[i]!.onAudio }));
  }
  bots[0]!.session.on('members', (members) => members.forEach((m) => accountsSeenByBot.add(m.accountId)));
  for (const bot of bots) await bot.start();
  await Promise.all(bots.map((bot) => bot.connected()));
  await waitFor(
    () => recorders.every((r, i) => r.tonesHeard([...TONES]).includes(TONES[1 - i]!)),
    15_000,
    'each bot to hear the other bot’s tone',
  );
}, { timeout: 40_000 });

after(async () => {
  for (const client of clients) client.close();
  await Promise.all(peers.map((pc) => pc.close().catch(() => undefined)));
  for (const bot of bots) bot.stop();
  await server?.close();
}, { timeout: 15_000 });

// --- helpers ---------------------------------------------------------------

async function connect(token = probe.token, spaceId = space.space.id): Promise<RawStageClient> {
  const client = await RawStageClient.open(stageUrl(server.url, spaceId, token));
  clients.push(client);
  return client;
}

/** A new accepted speaker shown as `name`, connected with its own pass but not joined. */
async function speakerConnection(name: string): Promise<{ client: RawStageClient; account: TestAccount }> {
  const { account, token } = await space.speaker(name);
  return { client: await connect(token), account };
}

async function joined(name: string): Promise<RawStageClient> {
  const { client } = await speakerConnection(name);
  client.send({ type: 'join' });
  await client.next('welcome');
  return client;
}

/** Expects `code` as an error message followed by a close with `closeCode`. */
async function expectFatal(client: RawStageClient, code: ErrorCode, closeCode: number): Promise<void> {
  await client.expectError(code);
  const closed = await client.closed();
  assert.equal(closed.code, closeCode, `close code after ${code}`);
  assert.equal(closed.reason, code, 'close reason');
}

/** Expects `code` as an error message and the connection still served afterwards. */
async function expectSurvivable(client: RawStageClient, code: ErrorCode): Promise<void> {
  await client.expectError(code);
  await client.roundTrip();
  assert.ok(client.isOpen, `the connection stays open after ${code}`);
}

/** A member that joined over a raw client and holds a right answer from a werift peer. */
async function answeringMember(name: string): Promise<{ client: RawStageClient; pc: RTCPeerConnection; answer: string }> {
  const client = await joined(name);
  const offer = await client.next('offer');
  const pc = new RTCPeerConnection(peerConfig(DEFAULT_SFU_OPTIONS));
  peers.push(pc);
  await pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  const answer = pc.localDescription?.sdp;
  assert.ok(answer, 'werift made an answer');
  return { client, pc, answer };
}

async function getSpace(id = space.space.id): Promise<SpaceView> {
  const response = await fetch(`${server.url}/api/spaces/${id}`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { space: SpaceView }).space;
}

interface HttpAnswer {
  status: number;
  code: string | undefined;
}

/** Credentials as an integration sends them: the account's API token. */
const asBot = (account: TestAccount): Record<string, string> => ({ authorization: `Bearer ${account.apiToken}` });
/** Credentials as a browser sends them: the session cookie and the CSRF header. */
const asBrowser = (account: TestAccount): Record<string, string> => ({ cookie: account.jar.header(), 'x-csrf-token': account.csrf });

/** Credentials of a browser that is not signed in: a session's cookies and its CSRF token. */
async function anonymousSession(): Promise<Record<string, string>> {
  const jar = new CookieJar();
  const session = await httpCall<{ csrfToken: string }>(server.url, 'GET', '/api/session', { jar });
  assert.equal(session.status, 200);
  return { cookie: jar.header(), 'x-csrf-token': session.body.csrfToken };
}

/** A POST with the empty JSON object these actions take as their body. */
function post(path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return request('POST', path, { headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
}

async function request(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
  const response = await fetch(`${server.url}${path}`, { method, headers: init.headers, body: init.body });
  const text = await response.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = `not JSON: ${text.slice(0, 100)}`;
  }
  return { status: response.status, code };
}

/** A stage pass signed like the server's (with its secret unless `key` is given), every claim chosen by the test. */
function signToken(claims: { sub: string; acc?: string; role?: string; aud?: string; exp?: number }, key: Uint8Array = secret): Promise<string> {
  const payload: Record<string, string> = {};
  if (claims.acc !== undefined) payload.acc = claims.acc;
  if (claims.role !== undefined) payload.role = claims.role;
  const jwt = new SignJWT(payload).setProtectedHeader({ alg: 'ES256' }).setIssuer('tribune').setAudience(claims.aud ?? 'stage').setSubject(claims.sub).setIssuedAt();
  jwt.setExpirationTime(claims.exp ?? '1h');
  // Passes are ES256 under a key derived from the server's secret (src/control/stage-tokens.ts).
  return jwt.sign(stagePassKeys(key).privateKey);
}

/** The same token with one claim of its payload changed and the signature kept. */
function withClaim(token: string, name: string, value: string): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  return [header, Buffer.from(JSON.stringify({ ...claims, [name]: value })).toString('base64url'), signature].join('.');
}

/** The same token with one character in the middle of its signature changed. */
function withBadSignature(token: string): string {
  const [header, payload, signature = ''] = token.split('.');
  const i = Math.floor(signature.length / 2);
  const swapped = signature[i] === 'A' ? 'B' : 'A';
  return [header, payload, signature.slice(0, i) + swapped + signature.slice(i + 1)].join('.');
}

function unsignedToken(sub: string, acc: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ acc, iss: 'tribune', aud: 'stage', sub, exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
}

// --- signalling: framing ---------------------------------------------------

test('non-JSON text on the stage socket is refused with SIGNAL_NOT_JSON and close code 1007', LIMIT, async () => {
  const client = await connect();
  client.sendRaw('{"type": "join", name: oops');
  await expectFatal(client, 'SIGNAL_NOT_JSON', 1007);
});

test('JSON that is not an object (array, null, string, number) is refused with SIGNAL_NOT_JSON and close code 1007', LIMIT, async () => {
  for (const text of ['[{"type":"ping"}]', 'null', '"ping"', '42']) {
    const client = await connect();
    client.sendRaw(text);
    await expectFatal(client, 'SIGNAL_NOT_JSON', 1007);
  }
});

test('a binary frame is refused with SIGNAL_NOT_JSON and close code 1007, even when it holds valid JSON', LIMIT, async () => {
  const client = await connect();
  client.sendRaw(Buffer.from(JSON.stringify({ type: 'ping' })), { binary: true });
  await expectFatal(client, 'SIGNAL_NOT_JSON', 1007);
});

test('a text frame that is not valid UTF-8 closes the connection with 1007', LIMIT, async () => {
  const client = await connect();
  client.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  assert.equal((await client.closed()).code, 1007);
});

test('a message over SIGNAL_LIMITS.maxMessageBytes is refused with SIGNAL_TOO_LARGE and close code 1009', LIMIT, async () => {
  const client = await connect();
  const message = JSON.stringify({ type: 'ping', pad: 'x'.repeat(SIGNAL_LIMITS.maxMessageBytes) });
  assert.ok(message.length > SIGNAL_LIMITS.maxMessageBytes);
  client.sendRaw(message);
  await expectFatal(client, 'SIGNAL_TOO_LARGE', 1009);
});

test('a message under maxMessageBytes in characters but over it in UTF-8 bytes is refused with SIGNAL_TOO_LARGE', LIMIT, async () => {
  const client = await connect();
  // '€' is three bytes in UTF-8.
  const message = JSON.stringify({ type: 'ping', pad: '€'.repeat(Math.ceil(SIGNAL_LIMITS.maxMessageBytes / 2.5)) });
  assert.ok(message.length < SIGNAL_LIMITS.maxMessageBytes && Buffer.byteLength(message) > SIGNAL_LIMITS.maxMessageBytes);
  client.sendRaw(message);
  await expectFatal(client, 'SIGNAL_TOO_LARGE', 1009);
});

test('a message over the transport cap closes the connection with 1009', LIMIT, async () => {
  const client = await connect();
  client.sendRaw('x'.repeat(SIGNAL_LIMITS.maxMessageBytes * 4 + 1));
  assert.equal((await client.closed()).code, 1009);
});

test('a join sent right behind a message that ends the connection is not processed', LIMIT, async (t) => {
  const fatal: [string, string | Buffer, ErrorCode, number][] = [
    ['non-JSON text', 'not json', 'SIGNAL_NOT_JSON', 1007],
    ['a binary frame', Buffer.from('{}'), 'SIGNAL_NOT_JSON', 1007],
    ['an oversized message', 'x'.repeat(SIGNAL_LIMITS.maxMessageBytes + 1), 'SIGNAL_TOO_LARGE', 1009],
  ];
  for (const [what, data, code, closeCode] of fatal) {
    await t.test(`a join right behind ${what} never puts anyone on stage`, async () => {
      const { client, account } = await speakerConnection(`sneaky after ${what}`.slice(0, 40));
      // One burst: both frames arrive in the same read on the server.
      client.sendRaw(data);
      client.send({ type: 'join' });
      await expectFatal(client, code, closeCode);
      await sleep(300);
      assert.deepEqual(
        client.messages.map((m) => m.type),
        ['error'],
        'the refused connection got nothing but its error',
      );
      assert.ok(!accountsSeenByBot.has(account.id), 'a bot on stage saw the sneaky member join');
    });
  }
});

test('more messages than the rate limit allows get SIGNAL_RATE_LIMITED and close code 1008', LIMIT, async () => {
  const client = await connect();
  const sent = SIGNAL_LIMITS.messageBurst + 20;
  for (let i = 0; i < sent; i++) client.send({ type: 'ping' });
  await expectFatal(client, 'SIGNAL_RATE_LIMITED', 1008);
  const pongs = client.messages.filter((m) => m.type === 'pong').length;
  // Never more than the burst (plus one refilled token) is served; messages
  // admitted but not yet applied when the limit trips are dropped with the
  // connection.
  assert.ok(pongs <= SIGNAL_LIMITS.messageBurst + 1, `${pongs} pongs for ${sent} pings`);
});

// --- signalling: schema and order ------------------------------------------

test('messages of unknown type, with extra or missing fields or wrong types get SIGNAL_INVALID and the connection stays open', LIMIT, async () => {
  const { client, account } = await speakerConnection('finally valid');
  const invalid: unknown[] = [
    {},
    { type: 'dance' },
    { type: 'ping', extra: true },
    { type: 'mute', muted: 'yes' },
    { type: 'mute' },
    { type: 7 },
    { type: 'join', name: null },
    { type: 'join', name: '' },
    { type: 'join', name: 'n'.repeat(41) },
    { type: 'join', name: 'bell\u0007' },
    { type: 'join', name: 42 },
    { type: 'join', name: 'ok', role: 'host' },
    // Who joins is the pass's account; a message cannot name another one.
    { type: 'join', accountId: space.host.id },
    { type: 'join', name: 'ok', accountId: space.host.id },
    { type: 'answer', sdp: '' },
    { type: 'answer', sdp: 5 },
    { type: 'candidate', candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host' },
    { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host', sdpMLineIndex: 65 } },
    { type: 'candidate', candidate: { candidate: `candidate:${'1'.repeat(SIGNAL_LIMITS.maxCandidateBytes)} 1 udp 1 10.0.0.1 9 typ host` } },
  ];
  for (const message of invalid) {
    client.send(message);
    try {
      await client.expectError('SIGNAL_INVALID');
    } catch (error) {
      throw new Error(`${JSON.stringify(message).slice(0, 80)}: ${(error as Error).message}`, { cause: error });
    }
  }
  await client.roundTrip();
  // None of the invalid joins put this connection on stage: a right one still can.
  // The name it sends is ignored: the stage shows the account's display name.
  client.send({ type: 'join', name: 'someone else' });
  const welcome = await client.next('welcome');
  assert.deepEqual(
    { accountId: welcome.you.accountId, name: welcome.you.name, role: welcome.you.role },
    { accountId: account.id, name: 'finally valid', role: 'speaker' },
    'the joined member is the pass’s account, as a speaker',
  );
  assert.deepEqual(
    welcome.members.map((m) => m.name).sort(),
    ['finally valid', 'tone 440', 'tone 660'],
    'members after a valid join',
  );
  client.close();
});

test('answer, candidate, mute, leave and end before join get SIGNAL_NOT_JOINED and the connection can still join', LIMIT, async () => {
  const { client } = await speakerConnection('late joiner');
  const early: unknown[] = [
    { type: 'answer', sdp: 'v=0\r\n' },
    { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 2122260223 10.0.0.1 9 typ host', sdpMid: '0' } },
    { type: 'mute', muted: true },
    { type: 'leave' },
    { type: 'end' },
  ];
  for (const message of early) {
    client.send(message);
    await expectSurvivable(client, 'SIGNAL_NOT_JOINED');
  }
  client.send({ type: 'join' });
  await client.next('welcome');
  client.send({ type: 'join', name: 'late joiner again' });
  await expectSurvivable(client, 'SIGNAL_ALREADY_JOINED');
  client.close();
});

// --- signalling: SDP -------------------------------------------------------

test('an SDP answer between maxSdpBytes and maxMessageBytes gets SDP_TOO_LARGE and the connection stays open', LIMIT, async () => {
  const client = await joined('big answer');
  const line = `a=x-filler:${'y'.repeat(1000)}\r\n`;
  const sdp = 'v=0\r\n' + line.repeat(Math.ceil(SIGNAL_LIMITS.maxSdpBytes / line.length));
  const message = JSON.stringify({ type: 'answer', sdp });
  assert.ok(sdp.length > SIGNAL_LIMITS.maxSdpBytes && Buffer.byteLength(message) < SIGNAL_LIMITS.maxMessageBytes);
  client.sendRaw(message);
  await expectSurvivable(client, 'SDP_TOO_LARGE');
  client.close();
});

test('an SDP answer over maxSdpBytes in UTF-8 bytes but not in characters gets SDP_TOO_LARGE', LIMIT, async () => {
  const client = await joined('big answer in bytes');
  const sdp = 'v=0\r\na=x-filler:' + '€'.repeat(Math.ceil(SIGNAL_LIMITS.maxSdpBytes / 3) + 100);
  const message = JSON.stringify({ type: 'answer', sdp });
  assert.ok(sdp.length < SIGNAL_LIMITS.maxSdpBytes && Buffer.byteLength(sdp) > SIGNAL_LIMITS.maxSdpBytes);
  assert.ok(Buffer.byteLength(message) < SIGNAL_LIMITS.maxMessageBytes);
  client.sendRaw(message);
  await expectSurvivable(client, 'SDP_TOO_LARGE');
  client.close();
});

test('malformed SDP answers after join get SDP_INVALID and the member can still answer right and connect', LIMIT, async () => {
  const { client, pc, answer } = await answeringMember('clumsy answerer');
  const malformed: [string, string][] = [
    ['not SDP at all', 'hello'],
    ['a version line only', 'v=0\r\n'],
    ['no ICE credentials', answer.replace(/^a=ice-(ufrag|pwd):.*\r\n/gm, '')],
    ['no DTLS fingerprint', answer.replace(/^a=fingerprint:.*\r\n/gm, '')],
    ['an rtpmap werift cannot parse', answer.replace(/^a=rtpmap:(\d+) \S+/m, 'a=rtpmap:$1 ///')],
  ];
  for (const [what, sdp] of malformed) {
    assert.notEqual(sdp, answer, `the ${what} variant differs from the right answer`);
    client.send({ type: 'answer', sdp });
    try {
      await expectSurvivable(client, 'SDP_INVALID');
    } catch (error) {
      throw new Error(`answer with ${what}: ${(error as Error).message}`, { cause: error });
    }
  }
  client.send({ type: 'answer', sdp: answer });
  await waitFor(() => pc.connectionState === 'connected', 10_000, 'the member to connect with its right answer');
  await client.expectNoError();
  // The offer is answered now; one more answer is out of order.
  client.send({ type: 'answer', sdp: answer });
  await expectSurvivable(client, 'NEGOTIATION_OUT_OF_ORDER');
  client.close();
});

test('SDP answers that parse but do not fit the offer get SDP_INVALID and the member can still answer right', LIMIT, async (t) => {
  const mismatches: [string, (answer: string) => string][] = [
    ['a video m-line where audio was offered', (s) => s.replace(/^m=audio/m, 'm=video')],
    ['a mid the offer does not have', (s) => s.replace(/^a=mid:(\S+)$/m, 'a=mid:not-offered')],
    ['a DTLS setup role that does not exist', (s) => s.replace(/^a=setup:\S+$/m, 'a=setup:bogus')],
    ['a fingerprint that is not hex', (s) => s.replace(/^a=fingerprint:(\S+) \S+$/m, 'a=fingerprint:$1 ZZ')],
    ['a payload type that is not a number', (s) => s.replace(/^(m=audio \d+ \S+) \d+/m, '$1 abc')],
  ];
  for (const [what, mutate] of mismatches) {
    await t.test(`an answer with ${what} gets SDP_INVALID`, async () => {
      const { client, pc, answer } = await answeringMember(what.slice(0, 40));
      const bad = mutate(answer);
      assert.notEqual(bad, answer);
      client.send({ type: 'answer', sdp: bad });
      await client.expectError('SDP_INVALID', 1500);
      assert.ok(client.isOpen, 'the connection stays open');
      client.send({ type: 'answer', sdp: answer });
      await waitFor(() => pc.connectionState === 'connected', 10_000, 'the member to connect with its right answer');
      await client.expectNoError();
      client.close();
    });
  }
});

// --- signalling: ICE -------------------------------------------------------

test('a garbage ICE candidate gets ICE_CANDIDATE_INVALID and the connection stays open', LIMIT, async () => {
  const client = await joined('garbage candidate');
  for (const candidate of ['garbage', 'candidate:', 'a=candidate:1 1 udp 1 10.0.0.1 9 typ host', 'candidate:1 1 udp one 10.0.0.1 9 typ host']) {
    client.send({ type: 'candidate', candidate: { candidate, sdpMid: '0', sdpMLineIndex: 0 } });
    await expectSurvivable(client, 'ICE_CANDIDATE_INVALID');
  }
  // The end-of-candidates marker is not an error (RFC 8838 §4.4).
  client.send({ type: 'candidate', candidate: { candidate: '', sdpMid: '0', sdpMLineIndex: 0 } });
  await client.roundTrip();
  await client.expectNoError();
  client.close();
});

test('ICE candidates that look like candidate lines but cannot be used get ICE_CANDIDATE_INVALID', LIMIT, async (t) => {
  const client = await joined('impossible candidates');
  const impossible: [string, string, string][] = [
    ['an IPv4 address with an octet over 255', 'candidate:1 1 udp 2122260223 999.1.1.1 50000 typ host', '0'],
    ['a port over 65535', 'candidate:1 1 udp 2122260223 10.0.0.1 99999 typ host', '0'],
    ['an unknown transport', 'candidate:1 1 xyz 2122260223 10.0.0.1 50000 typ host', '0'],
    ['an unknown candidate type', 'candidate:1 1 udp 2122260223 10.0.0.1 50000 typ bogus', '0'],
    // Found by the attack harness: candidates that would have the SFU probe its own machine or nothing.
    ['port 0', 'candidate:1 1 udp 2122260223 10.0.0.1 0 typ host', '0'],
    ['component 2 (RTCP is multiplexed)', 'candidate:1 2 udp 2122260223 10.0.0.1 50000 typ host', '0'],
    ['a host name (localhost)', 'candidate:1 1 udp 2122260223 localhost 50000 typ host', '0'],
    ['a host name that is not mDNS', 'candidate:1 1 udp 2122260223 origin.internal 50000 typ host', '0'],
    ['an sdpMid the offer does not have', 'candidate:1 1 udp 2122260223 10.0.0.1 50000 typ host', 'not-offered'],
  ];
  for (const [what, candidate, sdpMid] of impossible) {
    await t.test(`a candidate with ${what} gets ICE_CANDIDATE_INVALID`, async () => {
      client.send({ type: 'candidate', candidate: { candidate, sdpMid } });
      await client.expectError('ICE_CANDIDATE_INVALID', 1000);
      await client.roundTrip();
    });
  }
  client.close();
});

// --- signalling: roles -----------------------------------------------------

test('end from a speaker gets NOT_HOST and the Space stays live', LIMIT, async () => {
  const client = await joined('would-be host');
  client.send({ type: 'end' });
  await expectSurvivable(client, 'NOT_HOST');
  assert.equal((await getSpace()).state, 'live');
  client.close();
});

test('a second connection with the same account’s pass replaces the first (4001 REPLACED): an account is on stage once', LIMIT, async () => {
  const { account, token } = await space.speaker('twice');
  const first = await connect(token);
  first.send({ type: 'join' });
  const firstWelcome = await first.next('welcome');
  const second = await connect(token);
  second.send({ type: 'join' });
  const welcome = await second.next('welcome');
  const closed = await first.closed();
  assert.deepEqual(closed, { code: 4001, reason: 'REPLACED' }, 'the first connection’s close');
  assert.notEqual(welcome.you.id, firstWelcome.you.id, 'the second connection is a new member');
  assert.deepEqual(
    welcome.members.filter((m) => m.accountId === account.id).map((m) => m.id),
    [welcome.you.id],
    'the account is on stage once, as the second connection',
  );
  const view = await getSpace();
  assert.deepEqual(view.members.filter((m) => m.accountId === account.id).map((m) => m.id), [welcome.you.id], 'the Space’s members');
  second.close();
});

// --- the WebSocket upgrade -------------------------------------------------

test('a stage upgrade for an unknown Space is refused with 404 SPACE_NOT_FOUND', LIMIT, async () => {
  const refused = await RawStageClient.refused(stageUrl(server.url, 'abcdefghijkmnp', probe.token));
  assert.equal(refused.status, 404);
  assert.equal(refused.body.error?.code, 'SPACE_NOT_FOUND');
});

test('a stage upgrade with a malformed Space id is refused with 400 VALIDATION_FAILED', LIMIT, async () => {
  for (const id of ['NOTANIDXYZ', 'abc', 'abcdefghi1']) {
    const refused = await RawStageClient.refused(stageUrl(server.url, id, probe.token));
    assert.deepEqual({ status: refused.status, code: refused.body.error?.code }, { status: 400, code: 'VALIDATION_FAILED' }, `id ${id}`);
  }
});

test('a stage upgrade without a pass is refused with 401 TOKEN_MISSING', LIMIT, async () => {
  for (const url of [stageUrl(server.url, space.space.id), stageUrl(server.url, space.space.id, '')]) {
    const refused = await RawStageClient.refused(url);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error?.code, 'TOKEN_MISSING');
  }
});

test('a stage upgrade with a pass of another Space is refused with 403 TOKEN_WRONG_SPACE, even for an account with a seat on both', LIMIT, async () => {
  // An account on both stages: its pass for the other Space still opens only that one.
  const both = await server.account(undefined, 'on both stages');
  for (const on of [space, otherSpace]) {
    assert.equal((await both.bot('POST', `/api/spaces/${on.space.id}/requests`, {})).status, 200);
    assert.equal((await on.host.bot('POST', `/api/spaces/${on.space.id}/requests/${both.id}/accept`, {})).status, 200);
  }
  const passes: [string, string][] = [
    ['the other Space’s host pass', otherSpace.hostToken],
    ['a pass of a speaker of the other Space', await otherSpace.speakerPass()],
    ['the other Space’s pass of an account with a seat here too', await both.stagePass(otherSpace.space.id)],
  ];
  for (const [what, token] of passes) {
    const refused = await RawStageClient.refused(stageUrl(server.url, space.space.id, token));
    assert.deepEqual({ status: refused.status, code: refused.body.error?.code }, { status: 403, code: 'TOKEN_WRONG_SPACE' }, what);
  }
});

test('a stage upgrade with a tampered, unsigned, foreign-key, expired, accountless or other-audience pass is refused with 401 TOKEN_INVALID', LIMIT, async () => {
  const id = space.space.id;
  const hostId = space.host.id;
  const tokens: [string, string][] = [
    ['its account changed to the host’s', withClaim(probe.token, 'acc', hostId)],
    ['a role claim added', withClaim(probe.token, 'role', 'host')],
    ['a changed signature', withBadSignature(probe.token)],
    ['a changed signature on the host’s pass', withBadSignature(space.hostToken)],
    ['alg none', unsignedToken(id, hostId)],
    ['another key', await signToken({ acc: hostId, sub: id }, randomBytes(32))],
    ['an expiry in the past', await signToken({ acc: probe.account.id, sub: id, exp: Math.floor(Date.now() / 1000) - 60 })],
    ['no account claim (a role-bearing token of old)', await signToken({ role: 'host', sub: id })],
    ['an account claim that is no account id', await signToken({ acc: 'admin', sub: id })],
    ['another audience', await signToken({ acc: hostId, sub: id, aud: 'session' })],
    ['no JWT at all', 'not-a-token'],
    ['an API token instead of a pass', space.host.apiToken],
    ['over 2048 characters', 'x'.repeat(2049)],
  ];
  for (const [what, token] of tokens) {
    const refused = await RawStageClient.refused(stageUrl(server.url, id, token));
    assert.deepEqual({ status: refused.status, code: refused.body.error?.code }, { status: 401, code: 'TOKEN_INVALID' }, `pass with ${what}`);
  }
});

test('a valid pass of an account without a seat on the stage is refused with 403 NOT_ON_STAGE', LIMIT, async () => {
  const id = space.space.id;
  // A listener gets no pass ...
  const listener = await server.account(undefined, 'just listening');
  assert.deepEqual(await post(`/api/spaces/${id}/stage-pass`, asBot(listener)), { status: 403, code: 'NOT_ON_STAGE' });
  // ... and a pass the server's own key signed for it opens nothing: the seat is read from the Space.
  const signed = await signToken({ acc: listener.id, sub: id });
  const refused = await RawStageClient.refused(stageUrl(server.url, id, signed));
  assert.deepEqual({ status: refused.status, code: refused.body.error?.code }, { status: 403, code: 'NOT_ON_STAGE' }, 'a listener’s signed pass');
  // A speaker whose request is waiting has no seat yet.
  const waiting = await server.account(undefined, 'still waiting');
  assert.equal((await waiting.bot('POST', `/api/spaces/${id}/requests`, {})).status, 200);
  const early = await RawStageClient.refused(stageUrl(server.url, id, await signToken({ acc: waiting.id, sub: id })));
  assert.deepEqual({ status: early.status, code: early.body.error?.code }, { status: 403, code: 'NOT_ON_STAGE' }, 'a pass before the request is accepted');
  // A speaker's pass issued before they were moved to the audience is dead.
  const moved = await space.speaker('moved down');
  assert.equal((await space.host.bot('PUT', `/api/spaces/${id}/roles/${moved.account.id}`, { role: 'listener' })).status, 200);
  const stale = await RawStageClient.refused(stageUrl(server.url, id, moved.token));
  assert.deepEqual({ status: stale.status, code: stale.body.error?.code }, { status: 403, code: 'NOT_ON_STAGE' }, 'a pass from before the move');
  assert.deepEqual(await post(`/api/spaces/${id}/stage-pass`, asBot(moved.account)), { status: 403, code: 'NOT_ON_STAGE' });
});

test('a plain GET on the stage route with a valid pass is refused with 426 UPGRADE_REQUIRED', LIMIT, async () => {
  const path = new URL(stageUrl(server.url, space.space.id, probe.token));
  assert.deepEqual(await request('GET', `${path.pathname}${path.search}`), { status: 426, code: 'UPGRADE_REQUIRED' });
});

test('a stage upgrade for an ended Space is refused with 410 SPACE_ENDED', LIMIT, async () => {
  const ended = await server.createSpace('Ended at once');
  const speakerPass = await ended.speakerPass();
  const response = await post(`/api/spaces/${ended.space.id}/end`, asBot(ended.host));
  assert.equal(response.status, 200);
  for (const [who, token] of [['the host', ended.hostToken], ['a speaker', speakerPass]] as const) {
    const refused = await RawStageClient.refused(stageUrl(server.url, ended.space.id, token));
    assert.deepEqual({ status: refused.status, code: refused.body.error?.code }, { status: 410, code: 'SPACE_ENDED' }, `${who}’s pass`);
  }
});

test('a stage upgrade for a scheduled Space is refused with 409 SPACE_NOT_LIVE, and its host gets no pass yet', LIMIT, async () => {
  const startsAt = new Date(Date.now() + 3600_000).toISOString();
  const created = await space.host.bot<{ space: SpaceView; stagePass: unknown }>('POST', '/api/spaces', { title: 'Later', startsAt });
  assert.equal(created.status, 201);
  assert.equal(created.body.stagePass, null, 'a scheduled Space comes without a stage pass');
  const id = created.body.space.id;
  assert.deepEqual(await post(`/api/spaces/${id}/stage-pass`, asBot(space.host)), { status: 409, code: 'SPACE_NOT_LIVE' });
  const refused = await RawStageClient.refused(stageUrl(server.url, id, await signToken({ acc: space.host.id, sub: id })));
  assert.deepEqual({ status: refused.status, code: refused.body.error?.code }, { status: 409, code: 'SPACE_NOT_LIVE' });
});

// --- REST ------------------------------------------------------------------

const JSON_HEADERS = { 'content-type': 'application/json' };
/** The host of `space`, by API token and by browser session. */
const credentials = (): [string, Record<string, string>][] => [
  ['an API token', asBot(space.host)],
  ['a session cookie and CSRF token', asBrowser(space.host)],
];

test('POST /api/spaces with a body that breaks its schema is refused with 400 VALIDATION_FAILED and creates no Space', LIMIT, async () => {
  const bodies: [string, string][] = [
    ['no title', JSON.stringify({})],
    ['an empty title', JSON.stringify({ title: '' })],
    ['a blank title', JSON.stringify({ title: '   ' })],
    ['a 101-character title', JSON.stringify({ title: 't'.repeat(101) })],
    ['a number for a title', JSON.stringify({ title: 42 })],
    ['null for a title', JSON.stringify({ title: null })],
    ['an array for a title', JSON.stringify({ title: ['a'] })],
    ['an unknown field', JSON.stringify({ title: 'ok', hostName: 'me' })],
    ['a start time that is no date', JSON.stringify({ title: 'ok', startsAt: 'tomorrow' })],
    ['an array body', JSON.stringify([{ title: 'ok' }])],
    ['a JSON null body', 'null'],
    ['a body that is not JSON', '{"title": "ok"'],
    ['an empty body', ''],
  ];
  const liveBefore = server.tribune.spaces.liveCount();
  for (const [as, auth] of credentials()) {
    for (const [what, body] of bodies) {
      const answer = await request('POST', '/api/spaces', { headers: { ...JSON_HEADERS, ...auth }, body });
      assert.deepEqual(answer, { status: 400, code: 'VALIDATION_FAILED' }, `body with ${what}, with ${as}`);
    }
  }
  assert.equal(server.tribune.spaces.liveCount(), liveBefore, 'live Spaces');
  assert.deepEqual((await space.host.bot<{ live: SpaceView[] }>('GET', '/api/me/spaces')).body.live.map((v) => v.id), [space.space.id], 'the host’s Spaces');
});

test('POST /api/spaces with a body over 4 KiB is refused with 413 BODY_TOO_LARGE and creates no Space', LIMIT, async () => {
  const liveBefore = server.tribune.spaces.liveCount();
  // A valid body padded with whitespace: refused for its size, not its content.
  const body = `{"title": "ok"${' '.repeat(4 * 1024)}}`;
  assert.equal(JSON.parse(body).title, 'ok');
  for (const [as, auth] of credentials()) {
    assert.deepEqual(await request('POST', '/api/spaces', { headers: { ...JSON_HEADERS, ...auth }, body }), { status: 413, code: 'BODY_TOO_LARGE' }, `with ${as}`);
  }
  assert.equal(server.tribune.spaces.liveCount(), liveBefore, 'live Spaces');
});

test('POST /api/spaces with a body that is not application/json is refused with 415 UNSUPPORTED_MEDIA_TYPE and creates no Space', LIMIT, async (t) => {
  const kinds: [string, string][] = [
    ['application/xml', '<space><title>ok</title></space>'],
    ['application/x-www-form-urlencoded', 'title=ok'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nok\r\n--x--\r\n'],
    ['text/plain', JSON.stringify({ title: 'ok' })],
  ];
  for (const [contentType, body] of kinds) {
    await t.test(`a ${contentType.split(';')[0]} body gets 415 UNSUPPORTED_MEDIA_TYPE`, async () => {
      const liveBefore = server.tribune.spaces.liveCount();
      for (const [as, auth] of credentials()) {
        assert.deepEqual(
          await request('POST', '/api/spaces', { headers: { 'content-type': contentType, ...auth }, body }),
          { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
          `with ${as}`,
        );
      }
      assert.equal(server.tribune.spaces.liveCount(), liveBefore, 'live Spaces');
    });
  }
});

test('POST /api/spaces without an account, or with a bad credential, is refused and creates no Space', LIMIT, async () => {
  const anonymous = await anonymousSession();
  const body = JSON.stringify({ title: 'ok' });
  const attempts: [string, Record<string, string>, number, ErrorCode][] = [
    ['no credentials at all', {}, 403, 'CSRF_INVALID'],
    ['a signed-out session with its CSRF token', anonymous, 401, 'SIGN_IN_REQUIRED'],
    ['the host’s session cookie without the CSRF header', { cookie: space.host.jar.header() }, 403, 'CSRF_INVALID'],
    ['a bearer token that is no API token', { authorization: 'Bearer trb_not-a-real-token' }, 401, 'TOKEN_INVALID'],
    ['a stage pass as a bearer token', { authorization: `Bearer ${space.hostToken}` }, 401, 'TOKEN_INVALID'],
  ];
  const liveBefore = server.tribune.spaces.liveCount();
  for (const [what, headers, status, code] of attempts) {
    assert.deepEqual(await request('POST', '/api/spaces', { headers: { ...JSON_HEADERS, ...headers }, body }), { status, code }, `create with ${what}`);
  }
  assert.equal(server.tribune.spaces.liveCount(), liveBefore, 'live Spaces');
});

test('GET /api/spaces/:id with a malformed or unknown id is refused with 400 VALIDATION_FAILED or 404 SPACE_NOT_FOUND', LIMIT, async () => {
  assert.deepEqual(await request('GET', '/api/spaces/NOTANIDXYZ'), { status: 400, code: 'VALIDATION_FAILED' });
  assert.deepEqual(await request('GET', '/api/spaces/abcdefghijkmnp'), { status: 404, code: 'SPACE_NOT_FOUND' });
});

test('POST /api/spaces/:id/end by anyone but the host’s account, or with a bad credential, is refused and the Space stays live', LIMIT, async () => {
  const id = space.space.id;
  const speaker = probe.account;
  const listener = await server.account(undefined, 'a listener');
  const anonymous = await anonymousSession();
  // A second API token of the host, revoked: it must stop working at once.
  const second = await space.host.call<{ token: string; apiToken: { id: string } }>('POST', '/api/tokens', { name: 'revoked' });
  assert.equal(second.status, 201);
  assert.equal((await space.host.call('DELETE', `/api/tokens/${second.body.apiToken.id}`)).status, 200);
  const hostToken = space.host.apiToken;
  const changedToken = hostToken.slice(0, -1) + (hostToken.endsWith('a') ? 'b' : 'a');
  const attempts: [string, Record<string, string>, number, ErrorCode][] = [
    ['no credentials at all', {}, 403, 'CSRF_INVALID'],
    ['a signed-out session with its CSRF token', anonymous, 401, 'SIGN_IN_REQUIRED'],
    ['a Basic Authorization header', { authorization: 'Basic dXNlcjpwYXNz' }, 401, 'TOKEN_INVALID'],
    ['an empty Bearer', { authorization: 'Bearer ' }, 401, 'TOKEN_INVALID'],
    ['a speaker’s API token', asBot(speaker), 403, 'NOT_HOST'],
    ['a speaker’s session', asBrowser(speaker), 403, 'NOT_HOST'],
    ['a listener’s API token', asBot(listener), 403, 'NOT_HOST'],
    ['another Space’s host’s API token', asBot(otherSpace.host), 403, 'NOT_HOST'],
    ['the host’s stage pass as a bearer token', { authorization: `Bearer ${space.hostToken}` }, 401, 'TOKEN_INVALID'],
    ['a speaker’s stage pass with its account changed to the host’s', { authorization: `Bearer ${withClaim(probe.token, 'acc', space.host.id)}` }, 401, 'TOKEN_INVALID'],
    ['the host’s API token with a changed character', { authorization: `Bearer ${changedToken}` }, 401, 'TOKEN_INVALID'],
    ['a revoked API token of the host', { authorization: `Bearer ${second.body.token}` }, 401, 'TOKEN_INVALID'],
    ['the host’s session cookie without the CSRF header', { cookie: space.host.jar.header() }, 403, 'CSRF_INVALID'],
    ['the host’s session cookie with another session’s CSRF token', { cookie: space.host.jar.header(), 'x-csrf-token': speaker.csrf }, 403, 'CSRF_INVALID'],
  ];
  for (const [what, headers, status, code] of attempts) {
    assert.deepEqual(await post(`/api/spaces/${id}/end`, headers), { status, code }, `end with ${what}`);
  }
  // The host's own request, with a body the action does not take.
  for (const [what, init] of [
    ['no body', { headers: asBot(space.host) }],
    ['a field in its body', { headers: { ...JSON_HEADERS, ...asBot(space.host) }, body: JSON.stringify({ force: true }) }],
  ] as const) {
    assert.deepEqual(await request('POST', `/api/spaces/${id}/end`, init), { status: 400, code: 'VALIDATION_FAILED' }, `the host’s end with ${what}`);
  }
  assert.deepEqual(await post('/api/spaces/NOTANIDXYZ/end', asBot(space.host)), {
    status: 400,
    code: 'VALIDATION_FAILED',
  });
  assert.deepEqual(await post('/api/spaces/abcdefghijkmnp/end', asBot(space.host)), {
    status: 404,
    code: 'SPACE_NOT_FOUND',
  });
  const view = await getSpace();
  assert.equal(view.state, 'live');
  const botIds = bots.map((bot) => bot.session.me?.id);
  assert.ok(botIds.every((botId) => view.members.some((m) => m.id === botId)), 'both bots are still on stage');
  assert.equal((await getSpace(otherSpace.space.id)).state, 'live', 'the other Space');
});

// --- and nothing else changed ----------------------------------------------

test('after all that bad input the two bots still hear each other and are the only members on stage', LIMIT, async () => {
  for (const client of clients) client.close();
  const botIds = bots.map((bot) => bot.session.me?.id);
  const stage = (await server.tribune.spaces.get(space.space.id)).stage;
  assert.ok(stage, 'the Space has its live stage');
  await waitFor(() => stage.router.size === 2, 5000, 'the raw clients to leave the stage');
  for (const recorder of recorders) recorder.clear();
  await sleep(1500);
  TONES.forEach((own, i) => {
    const heard = recorders[i]!.tonesHeard([...TONES]);
    assert.deepEqual(heard, TONES.filter((hz) => hz !== own), `the ${own} Hz bot heard ${heard.join(', ') || 'nothing'}`);
  });
  const view = await getSpace();
  assert.equal(view.state, 'live');
  assert.deepEqual(view.members.map((m) => m.id).sort(), [...botIds].sort());
  assert.deepEqual(view.members.map((m) => m.name).sort(), ['tone 440', 'tone 660']);
});
