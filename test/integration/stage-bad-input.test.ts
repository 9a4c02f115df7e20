/**
 * Bad input at every border of a live Space is refused with a stable code
 * from the catalogue (docs/ERRORS.md, docs/LIMITS.md), and nothing else
 * changes: two bots on stage keep hearing each other's tone and stay the
 * only members, and no Space is created or ended by a refused request.
 *
 * The bad signalling comes from raw `ws` clients holding a valid stage
 * token; an SDP answer that is right, where a test needs one, comes from a
 * werift peer connection.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { SignJWT } from 'jose';
import { RTCPeerConnection } from 'werift';
import { peerConfig } from '../../src/sfu/peer-config.js';
import { DEFAULT_SFU_OPTIONS } from '../../src/sfu/sfu-types.js';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import type { CreatedSpace, SpaceView } from '../../src/wire/api.js';
import type { ErrorCode } from '../../src/wire/errors.js';
import { SIGNAL_LIMITS } from '../../src/wire/signalling.js';
import { AudioRecorder } from '../helpers/audio-recorder.js';
import { RawStageClient, stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';

const TONES = [440, 660] as const;
/** Every wait in a test has its own shorter timeout; this bounds the test as a whole. */
const LIMIT = { timeout: 20_000 };
const secret = randomBytes(32);

let server: RunningTribune;
let space: CreatedSpace;
let otherSpace: CreatedSpace;
const bots: SpeakerBot[] = [];
const recorders = TONES.map(() => new AudioRecorder());
/** Every name the first bot ever saw on stage, from its own session. */
const namesSeenByBot = new Set<string>();
const clients: RawStageClient[] = [];
const peers: RTCPeerConnection[] = [];

before(async () => {
  server = await startTribune({ secret });
  space = await server.createSpace('Bad input');
  otherSpace = await server.createSpace('Another Space');
  TONES.forEach((hz, i) => {
    bots.push(new SpeakerBot({ spaceUrl: space.stageUrl, name: `tone ${hz}`, program: { kind: 'tone', hz }, onAudio: recorders[i]!.onAudio }));
  });
  bots[0]!.session.on('members', (members) => members.forEach((m) => namesSeenByBot.add(m.name)));
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

async function connect(token = space.stageToken, spaceId = space.space.id): Promise<RawStageClient> {
  const client = await RawStageClient.open(stageUrl(server.url, spaceId, token));
  clients.push(client);
  return client;
}

async function joined(name: string): Promise<RawStageClient> {
  const client = await connect();
  client.send({ type: 'join', name });
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

function signToken(claims: { role: string; sub: string; exp?: number }, key: Uint8Array = secret): Promise<string> {
  const jwt = new SignJWT({ role: claims.role }).setProtectedHeader({ alg: 'HS256' }).setIssuer('tribune').setSubject(claims.sub).setIssuedAt();
  jwt.setExpirationTime(claims.exp ?? '1h');
  return jwt.sign(key);
}

/** The same token with its payload's `role` changed and the signature kept. */
function withRole(token: string, role: string): string {
  const [header, payload, signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  return [header, Buffer.from(JSON.stringify({ ...claims, role })).toString('base64url'), signature].join('.');
}

/** The same token with one character in the middle of its signature changed. */
function withBadSignature(token: string): string {
  const [header, payload, signature = ''] = token.split('.');
  const i = Math.floor(signature.length / 2);
  const swapped = signature[i] === 'A' ? 'B' : 'A';
  return [header, payload, signature.slice(0, i) + swapped + signature.slice(i + 1)].join('.');
}

function unsignedToken(sub: string): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part({ role: 'host', iss: 'tribune', sub, exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
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
      const name = `sneaky after ${what}`.slice(0, 40);
      const client = await connect();
      // One burst: both frames arrive in the same read on the server.
      client.sendRaw(data);
      client.send({ type: 'join', name });
      await expectFatal(client, code, closeCode);
      await sleep(300);
      assert.deepEqual(
        client.messages.map((m) => m.type),
        ['error'],
        'the refused connection got nothing but its error',
      );
      assert.ok(!namesSeenByBot.has(name), 'a bot on stage saw the sneaky member join');
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
  const client = await connect();
  const invalid: unknown[] = [
    {},
    { type: 'dance' },
    { type: 'ping', extra: true },
    { type: 'mute', muted: 'yes' },
    { type: 'mute' },
    { type: 7 },
    { type: 'join' },
    { type: 'join', name: '' },
    { type: 'join', name: 'n'.repeat(41) },
    { type: 'join', name: 'bell\u0007' },
    { type: 'join', name: 42 },
    { type: 'join', name: 'ok', role: 'host' },
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
  client.send({ type: 'join', name: 'finally valid' });
  const welcome = await client.next('welcome');
  assert.deepEqual(
    welcome.members.map((m) => m.name).sort(),
    ['finally valid', 'tone 440', 'tone 660'],
    'members after a valid join',
  );
  client.close();
});

test('answer, candidate, mute, leave and end before join get SIGNAL_NOT_JOINED and the connection can still join', LIMIT, async () => {
  const client = await connect();
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
  client.send({ type: 'join', name: 'late joiner' });
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

// --- the WebSocket upgrade -------------------------------------------------

test('a stage upgrade for an unknown Space is refused with 404 SPACE_NOT_FOUND', LIMIT, async () => {
  const refused = await RawStageClient.refused(stageUrl(server.url, 'abcdefghij', space.stageToken));
  assert.equal(refused.status, 404);
  assert.equal(refused.body.error?.code, 'SPACE_NOT_FOUND');
});

test('a stage upgrade with a malformed Space id is refused with 400 VALIDATION_FAILED', LIMIT, async () => {
  for (const id of ['NOTANIDXYZ', 'abc', 'abcdefghi1']) {
    const refused = await RawStageClient.refused(stageUrl(server.url, id, space.stageToken));
    assert.deepEqual({ status: refused.status, code: refused.body.error?.code }, { status: 400, code: 'VALIDATION_FAILED' }, `id ${id}`);
  }
});

test('a stage upgrade without a token is refused with 401 TOKEN_MISSING', LIMIT, async () => {
  for (const url of [stageUrl(server.url, space.space.id), stageUrl(server.url, space.space.id, '')]) {
    const refused = await RawStageClient.refused(url);
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error?.code, 'TOKEN_MISSING');
  }
});

test('a stage upgrade with a token for another Space is refused with 403 TOKEN_WRONG_SPACE', LIMIT, async () => {
  for (const token of [otherSpace.stageToken, otherSpace.hostToken]) {
    const refused = await RawStageClient.refused(stageUrl(server.url, space.space.id, token));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error?.code, 'TOKEN_WRONG_SPACE');
  }
});

test('a stage upgrade with a tampered, unsigned, foreign-key, expired or unknown-role token is refused with 401 TOKEN_INVALID', LIMIT, async () => {
  const id = space.space.id;
  const tokens: [string, string][] = [
    ['the role raised to host', withRole(space.stageToken, 'host')],
    ['a changed signature', withBadSignature(space.stageToken)],
    ['alg none', unsignedToken(id)],
    ['another key', await signToken({ role: 'speaker', sub: id }, randomBytes(32))],
    ['an expiry in the past', await signToken({ role: 'speaker', sub: id, exp: Math.floor(Date.now() / 1000) - 60 })],
    ['an unknown role', await signToken({ role: 'admin', sub: id })],
    ['no JWT at all', 'not-a-token'],
    ['over 2048 characters', 'x'.repeat(2049)],
  ];
  for (const [what, token] of tokens) {
    const refused = await RawStageClient.refused(stageUrl(server.url, id, token));
    assert.deepEqual({ status: refused.status, code: refused.body.error?.code }, { status: 401, code: 'TOKEN_INVALID' }, `token with ${what}`);
  }
});

test('a plain GET on the stage route with a valid token is refused with 426 UPGRADE_REQUIRED', LIMIT, async () => {
  const path = new URL(stageUrl(server.url, space.space.id, space.stageToken));
  assert.deepEqual(await request('GET', `${path.pathname}${path.search}`), { status: 426, code: 'UPGRADE_REQUIRED' });
});

test('a stage upgrade for an ended Space is refused with 410 SPACE_ENDED', LIMIT, async () => {
  const ended = await server.createSpace('Ended at once');
  const response = await request('POST', `/api/spaces/${ended.space.id}/end`, { headers: { authorization: `Bearer ${ended.hostToken}` } });
  assert.equal(response.status, 200);
  const refused = await RawStageClient.refused(stageUrl(server.url, ended.space.id, ended.stageToken));
  assert.equal(refused.status, 410);
  assert.equal(refused.body.error?.code, 'SPACE_ENDED');
});

// --- REST ------------------------------------------------------------------

const JSON_HEADERS = { 'content-type': 'application/json' };

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
    ['an array body', JSON.stringify([{ title: 'ok' }])],
    ['a JSON null body', 'null'],
    ['a body that is not JSON', '{"title": "ok"'],
    ['an empty body', ''],
  ];
  const liveBefore = server.tribune.spaces.liveCount();
  for (const [what, body] of bodies) {
    const answer = await request('POST', '/api/spaces', { headers: JSON_HEADERS, body });
    assert.deepEqual(answer, { status: 400, code: 'VALIDATION_FAILED' }, `body with ${what}`);
  }
  assert.equal(server.tribune.spaces.liveCount(), liveBefore, 'live Spaces');
});

test('POST /api/spaces with a body over 4 KiB is refused with 413 BODY_TOO_LARGE and creates no Space', LIMIT, async () => {
  const liveBefore = server.tribune.spaces.liveCount();
  // A valid body padded with whitespace: refused for its size, not its content.
  const body = `{"title": "ok"${' '.repeat(4 * 1024)}}`;
  assert.equal(JSON.parse(body).title, 'ok');
  assert.deepEqual(await request('POST', '/api/spaces', { headers: JSON_HEADERS, body }), { status: 413, code: 'BODY_TOO_LARGE' });
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
      assert.deepEqual(await request('POST', '/api/spaces', { headers: { 'content-type': contentType }, body }), {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      });
      assert.equal(server.tribune.spaces.liveCount(), liveBefore, 'live Spaces');
    });
  }
});

test('GET /api/spaces/:id with a malformed or unknown id is refused with 400 VALIDATION_FAILED or 404 SPACE_NOT_FOUND', LIMIT, async () => {
  assert.deepEqual(await request('GET', '/api/spaces/NOTANIDXYZ'), { status: 400, code: 'VALIDATION_FAILED' });
  assert.deepEqual(await request('GET', '/api/spaces/abcdefghij'), { status: 404, code: 'SPACE_NOT_FOUND' });
});

test('POST /api/spaces/:id/end without a token or with a wrong one is refused and the Space stays live', LIMIT, async () => {
  const id = space.space.id;
  const attempts: [string, Record<string, string>, number, ErrorCode][] = [
    ['no Authorization header', {}, 401, 'TOKEN_MISSING'],
    ['a Basic Authorization header', { authorization: 'Basic dXNlcjpwYXNz' }, 401, 'TOKEN_INVALID'],
    ['a speaker token', { authorization: `Bearer ${space.stageToken}` }, 403, 'NOT_HOST'],
    ['another Space’s host token', { authorization: `Bearer ${otherSpace.hostToken}` }, 403, 'TOKEN_WRONG_SPACE'],
    ['a speaker token raised to host', { authorization: `Bearer ${withRole(space.stageToken, 'host')}` }, 401, 'TOKEN_INVALID'],
    ['a host token with a changed signature', { authorization: `Bearer ${withBadSignature(space.hostToken)}` }, 401, 'TOKEN_INVALID'],
    ['an unsigned host token', { authorization: `Bearer ${unsignedToken(id)}` }, 401, 'TOKEN_INVALID'],
    [
      'an expired host token',
      { authorization: `Bearer ${await signToken({ role: 'host', sub: id, exp: Math.floor(Date.now() / 1000) - 60 })}` },
      401,
      'TOKEN_INVALID',
    ],
  ];
  for (const [what, headers, status, code] of attempts) {
    assert.deepEqual(await request('POST', `/api/spaces/${id}/end`, { headers }), { status, code }, `end with ${what}`);
  }
  assert.deepEqual(await request('POST', '/api/spaces/NOTANIDXYZ/end', { headers: { authorization: `Bearer ${space.hostToken}` } }), {
    status: 400,
    code: 'VALIDATION_FAILED',
  });
  assert.deepEqual(await request('POST', '/api/spaces/abcdefghij/end', { headers: { authorization: `Bearer ${space.hostToken}` } }), {
    status: 404,
    code: 'SPACE_NOT_FOUND',
  });
  const view = await getSpace();
  assert.equal(view.state, 'live');
  const botIds = bots.map((bot) => bot.session.me?.id);
  assert.ok(botIds.every((botId) => view.members.some((m) => m.id === botId)), 'both bots are still on stage');
});

// --- and nothing else changed ----------------------------------------------

test('after all that bad input the two bots still hear each other and are the only members on stage', LIMIT, async () => {
  for (const client of clients) client.close();
  const botIds = bots.map((bot) => bot.session.me?.id);
  await waitFor(() => server.tribune.spaces.get(space.space.id).router.size === 2, 5000, 'the raw clients to leave the stage');
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
