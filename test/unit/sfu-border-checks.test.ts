/**
 * The SFU border's parts without sockets: the structural checks of
 * packet-checks.ts, the explicit-index replay window SRTCP uses, and the ICE
 * border wrapped around a fake werift protocol (what it hands on, what it
 * drops and counts). test/integration/sfu-border.test.ts sends the same
 * kinds of datagrams at a real SFU.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Message, RTCPeerConnection, StunOverTurnProtocol, StunProtocol, TcpPassiveProtocol } from 'werift';
import { IceBorder, MAX_CHECKED_SOURCES } from '../../src/sfu/ice-border.js';
import {
  MAX_DTLS_HANDSHAKE_BYTES,
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  checkDtls,
  checkSrtcp,
  checkSrtp,
  srtcpIndexOf,
  trailerOf,
} from '../../src/sfu/packet-checks.js';
import { peerConfig } from '../../src/sfu/peer-config.js';
import { ReplayGuard } from '../../src/sfu/replay-window.js';
import { DEFAULT_SFU_OPTIONS, emptyDropStats, type PeerDropStats } from '../../src/sfu/sfu-types.js';
import { connectionOf, wrapEntryPoint, type Address, type ConnectionInternals, type ProtocolInternals } from '../../src/sfu/werift-seams.js';

const CM = trailerOf(SRTP_AES128_CM_HMAC_SHA1_80);
const GCM = trailerOf(SRTP_AEAD_AES_128_GCM);

/** An SRTP datagram: a 12-byte header with `first` as its first byte, `middle`, and a tag. */
function srtp(first: number, middle: Buffer, tagBytes = 10): Buffer {
  const header = Buffer.alloc(12);
  header[0] = first;
  header[1] = 111;
  return Buffer.concat([header, middle, Buffer.alloc(tagBytes, 0xaa)]);
}

test('checkSrtp passes a header, one payload byte and a tag, and drops what is shorter or over 1,500 bytes', () => {
  assert.equal(checkSrtp(srtp(0x80, Buffer.from([0xf8])), CM), undefined);
  assert.equal(checkSrtp(srtp(0x80, Buffer.alloc(0)), CM), 'rtpTruncated', 'no payload');
  assert.equal(checkSrtp(srtp(0x80, Buffer.from([0xf8]), 10), GCM), 'rtpTruncated', 'a GCM tag is 16 bytes');
  assert.equal(checkSrtp(srtp(0x82, Buffer.alloc(8)), CM), 'rtpTruncated', 'two CSRCs and no payload');
  assert.equal(checkSrtp(srtp(0x82, Buffer.alloc(9)), CM), undefined, 'two CSRCs and a payload byte');
  const extension = Buffer.from([0xbe, 0xde, 0x00, 0x01, 0x10, 0xff, 0x00, 0x00]);
  assert.equal(checkSrtp(srtp(0x90, Buffer.concat([extension, Buffer.from([0xf8])])), CM), undefined, 'a one-word extension');
  assert.equal(checkSrtp(srtp(0x90, Buffer.from([0xbe, 0xde, 0xff, 0xff, 0xf8])), CM), 'rtpTruncated', 'an extension past the end');
  assert.equal(checkSrtp(srtp(0x90, Buffer.from([0xbe, 0xde])), CM), 'rtpTruncated', 'half an extension header');
  assert.equal(checkSrtp(srtp(0x80, Buffer.alloc(1500 - 22 + 1)), CM), 'rtpOversize', '1,501 bytes');
  assert.equal(checkSrtp(srtp(0x80, Buffer.alloc(1500 - 22)), CM), undefined, '1,500 bytes');
});

/** An SRTCP datagram: an RTCP header with `lengthWords`, a sender SSRC, `body`, and a profile's trailer with `index`. */
function srtcp(lengthWords: number, body: Buffer, index: number, trailer = CM): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt8(0x80, 0);
  head.writeUInt8(201, 1);
  head.writeUInt16BE(lengthWords, 2);
  head.writeUInt32BE(0x1234, 4);
  const e = Buffer.alloc(4);
  e.writeUInt32BE((0x80000000 | index) >>> 0);
  const tag = Buffer.alloc(trailer.tagBytes, 0xaa);
  return Buffer.concat(trailer === GCM ? [head, body, tag, e] : [head, body, e, tag]);
}

test('checkSrtcp and srtcpIndexOf read the trailer of both profiles and drop short, overlong and oversized packets', () => {
  for (const trailer of [CM, GCM]) {
    const rr = srtcp(1, Buffer.alloc(0), 77, trailer);
    assert.equal(checkSrtcp(rr, trailer), undefined);
    assert.equal(srtcpIndexOf(rr, trailer), 77, 'the index without its E flag');
    assert.equal(checkSrtcp(rr.subarray(0, rr.length - 1), trailer), 'rtcpTruncated', 'one trailer byte short');
    assert.equal(checkSrtcp(srtcp(2, Buffer.alloc(0), 1, trailer), trailer), 'rtcpTruncated', 'a length word past the end');
    assert.equal(checkSrtcp(srtcp(0, Buffer.alloc(0), 1, trailer), trailer), 'rtcpTruncated', 'no room for a sender SSRC');
    assert.equal(checkSrtcp(srtcp(2, Buffer.alloc(4), 1, trailer), trailer), undefined, 'a first packet of 12 bytes');
    assert.equal(checkSrtcp(srtcp(1, Buffer.alloc(1500), 1, trailer), trailer), 'rtcpOversize');
  }
});

/** A DTLS 1.2 record of `type` and `epoch` around `body`. */
function record(type: number, epoch: number, body: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(0xfefd, 1);
  header.writeUInt16BE(epoch, 3);
  header.writeUInt16BE(body.length, 11);
  return Buffer.concat([header, body]);
}

/** One handshake fragment: `msgType`, the message's length, the fragment's offset and its bytes. */
function fragment(msgType: number, messageBytes: number, offset: number, bytes: Buffer): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt8(msgType, 0);
  header.writeUIntBE(messageBytes, 1, 3);
  header.writeUIntBE(offset, 6, 3);
  header.writeUIntBE(bytes.length, 9, 3);
  return Buffer.concat([header, bytes]);
}

test('checkDtls passes a ClientHello and encrypted records, and drops malformed records, huge claims and a late ClientHello', () => {
  const hello = record(22, 0, fragment(1, 40, 0, Buffer.alloc(40)));
  assert.equal(checkDtls(hello, false), undefined);
  assert.equal(checkDtls(hello, true), 'clientHelloAfterHandshake');
  assert.equal(checkDtls(Buffer.concat([hello, record(23, 1, Buffer.alloc(30))]), false), undefined, 'two records in one datagram');
  assert.equal(checkDtls(record(23, 1, Buffer.alloc(30)), true), undefined, 'application data after the handshake');
  assert.equal(checkDtls(record(22, 1, Buffer.alloc(30)), true), undefined, 'an encrypted Finished is not read');
  assert.equal(checkDtls(record(22, 0, fragment(14, 0, 0, Buffer.alloc(0))), false), undefined, 'an empty ServerHelloDone');
  assert.equal(checkDtls(record(22, 0, fragment(16, 0xffffff, 0xffffff, Buffer.alloc(0))), false), 'handshakeTooLong');
  assert.equal(checkDtls(record(22, 0, fragment(11, MAX_DTLS_HANDSHAKE_BYTES + 1, 0, Buffer.alloc(10))), false), 'handshakeTooLong');
  assert.equal(checkDtls(record(22, 0, fragment(16, 100, 0, Buffer.alloc(0))), false), 'malformed', 'an empty fragment');
  assert.equal(checkDtls(record(22, 0, fragment(16, 100, 90, Buffer.alloc(20))), false), 'malformed', 'a fragment past its message');
  assert.equal(checkDtls(record(22, 0, Buffer.alloc(5)), false), 'malformed', 'half a handshake header');
  assert.equal(checkDtls(hello.subarray(0, hello.length - 1), false), 'malformed', 'a record past the datagram');
  assert.equal(checkDtls(record(23, 1, Buffer.alloc(0)), true), 'malformed', 'an empty record');
  assert.equal(checkDtls(record(30, 0, Buffer.alloc(4)), false), 'malformed', 'an unknown content type');
  assert.equal(checkDtls(Buffer.from([22, 0xfe, 0xfd]), false), 'malformed', 'three bytes');
});

test('ReplayGuard with explicit indices: isNewIndex changes nothing, acceptIndex records, and the window holds 128', () => {
  const guard = new ReplayGuard();
  assert.equal(guard.isNewIndex(7, 1000), true);
  assert.equal(guard.isNewIndex(7, 1000), true, 'a check before authentication records nothing');
  assert.equal(guard.size, 0, 'nor makes a window');
  assert.equal(guard.acceptIndex(7, 1000), true);
  assert.equal(guard.isNewIndex(7, 1000), false);
  assert.equal(guard.acceptIndex(7, 1000), false);
  assert.equal(guard.acceptIndex(7, 1200), true);
  assert.equal(guard.isNewIndex(7, 1200 - 127), true, 'inside the window, never seen');
  assert.equal(guard.isNewIndex(7, 1200 - 128), false, 'older than the window');
  assert.equal(guard.acceptIndex(7, 0x7fffffff), true, 'the largest 31-bit index');
  assert.equal(guard.isNewIndex(8, 5), true, 'another SSRC has its own window');
});

// --- the ICE border on a fake werift protocol ---------------------------------------------------

const UFRAG = 'sfu1';
const PASSWORD = 'abcdefghijklmnopqrstuv';

function fakeConnection(): ConnectionInternals {
  return {
    localUsername: UFRAG,
    localPassword: PASSWORD,
    remoteUsername: '',
    checkList: [],
    remoteCandidates: [],
    earlyChecks: [],
    ensureProtocol: () => undefined,
  };
}

/** A border around one fake UDP protocol; `deliver` returns whether werift would have seen the datagram. */
function borderOnFakeProtocol(connection = fakeConnection(), dtlsConnected = false) {
  const stats = emptyDropStats();
  const border = new IceBorder(connection, stats, () => dtlsConnected);
  const received: Buffer[] = [];
  const protocol: ProtocolInternals = { type: 'stun', datagramReceived: (data: Buffer) => void received.push(data) };
  connection.ensureProtocol(protocol);
  const deliver = (data: Buffer, addr: Address = ['198.51.100.7', 40000]): boolean => {
    const before = received.length;
    protocol.datagramReceived?.(data, addr);
    return received.length > before;
  };
  return { border, stats, deliver, connection, protocol };
}

function bindingRequest(username: string | undefined, password: string | undefined, method = 1): Buffer {
  const request = new Message(method, 0);
  if (username !== undefined) request.setAttribute('USERNAME', username);
  request.setAttribute('PRIORITY', 1);
  if (password !== undefined) request.addMessageIntegrity(Buffer.from(password, 'utf8'));
  return request.addFingerprint().bytes;
}

function moved(before: PeerDropStats, after: PeerDropStats): Partial<PeerDropStats> {
  const out: Partial<PeerDropStats> = {};
  for (const key of Object.keys(after) as (keyof PeerDropStats)[]) if (after[key] !== before[key]) out[key] = after[key] - before[key];
  return out;
}

test('the ICE border hands on only Binding requests for our ufrag with our MESSAGE-INTEGRITY, and counts the rest', () => {
  const { stats, deliver, border, connection } = borderOnFakeProtocol();
  const start = { ...stats };
  assert.equal(deliver(bindingRequest('nope:peer', PASSWORD)), false, 'another ufrag');
  assert.equal(deliver(bindingRequest(`${UFRAG}:peer`, undefined)), false, 'no MESSAGE-INTEGRITY');
  assert.equal(deliver(bindingRequest(`${UFRAG}:peer`, 'wrong-password-wrong-pw')), false, 'a forged MESSAGE-INTEGRITY');
  assert.equal(deliver(bindingRequest(undefined, PASSWORD)), false, 'no USERNAME');
  assert.equal(deliver(bindingRequest(`${UFRAG}:peer:x`, PASSWORD)), false, 'three parts');
  assert.equal(deliver(bindingRequest(`${UFRAG}:peer`, PASSWORD, 3)), false, 'an Allocate');
  assert.equal(deliver(new Message(1, 0x10).addFingerprint().bytes), false, 'a Binding indication');
  assert.deepEqual(moved(start, stats), { stunRefused: 7 });
  assert.equal(border.checkedSources, 0);

  assert.equal(deliver(bindingRequest(`${UFRAG}:peer`, PASSWORD)), true, 'a genuine check');
  assert.equal(border.checkedSources, 1);
  assert.equal(deliver(new Message(1, 0x100).addFingerprint().bytes, ['203.0.113.9', 1]), true, 'responses go on to werift’s transactions');
  connection.remoteUsername = 'peer';
  assert.equal(deliver(bindingRequest(`${UFRAG}:other`, PASSWORD)), false, 'once known, the remote ufrag must match');
});

test('the ICE border takes DTLS and SRTP only from a checked source, and well-formed DTLS only', () => {
  const { stats, deliver } = borderOnFakeProtocol();
  const hello = record(22, 0, fragment(1, 40, 0, Buffer.alloc(40)));
  const media = srtp(0x80, Buffer.from([0xf8]));
  const start = { ...stats };
  assert.equal(deliver(hello), false);
  assert.equal(deliver(media), false);
  assert.deepEqual(moved(start, stats), { unknownSource: 2 });

  assert.equal(deliver(bindingRequest(`${UFRAG}:peer`, PASSWORD)), true);
  assert.equal(deliver(hello), true, 'a ClientHello from the checked source');
  assert.equal(deliver(media), true, 'SRTP from the checked source (srtp-border.ts checks it next)');
  assert.equal(deliver(hello, ['198.51.100.7', 40001]), false, 'another port of the same host is another source');
  const checked = { ...stats };
  assert.equal(deliver(record(22, 0, fragment(16, 0xffffff, 0xffffff, Buffer.alloc(0)))), false);
  assert.equal(deliver(Buffer.from([0x50, 1, 2, 3])), false, 'a TURN ChannelData-looking datagram');
  assert.deepEqual(moved(checked, stats), { dtlsRefused: 1, unclassified: 1 });
});

test('the ICE border checks at most 16 sources per member; past that, requests from new ones are refused', () => {
  const { stats, deliver, border } = borderOnFakeProtocol();
  for (let port = 0; port < MAX_CHECKED_SOURCES; port++) assert.equal(deliver(bindingRequest(`${UFRAG}:peer`, PASSWORD), ['198.51.100.7', 50000 + port]), true);
  assert.equal(deliver(bindingRequest(`${UFRAG}:peer`, PASSWORD), ['198.51.100.7', 60000]), false);
  assert.equal(stats.stunRefused, 1);
  assert.equal(deliver(bindingRequest(`${UFRAG}:peer`, PASSWORD), ['198.51.100.7', 50000]), true, 'a source already checked stays checked');
  assert.equal(border.checkedSources, MAX_CHECKED_SOURCES);
});

test('regression: werift still has every internal the border wraps (a werift upgrade that moves one fails here)', () => {
  const pc = new RTCPeerConnection(peerConfig(DEFAULT_SFU_OPTIONS));
  try {
    const transceiver = pc.addTransceiver('audio', { direction: 'recvonly' });
    const connection = connectionOf(transceiver.dtlsTransport);
    assert.equal(typeof connection.ensureProtocol, 'function');
  } finally {
    void pc.close();
  }
  // Each kind of protocol still hands its datagrams to the method the border wraps.
  assert.equal(typeof StunProtocol.prototype['datagramReceived' as keyof StunProtocol], 'function');
  assert.equal(typeof TcpPassiveProtocol.prototype['handleFrame' as keyof TcpPassiveProtocol], 'function');
  const fakeTurn = { onData: { subscribe: () => ({ disposer: () => undefined }) } };
  const overTurn = new StunOverTurnProtocol(fakeTurn as unknown as ConstructorParameters<typeof StunOverTurnProtocol>[0]);
  assert.equal(typeof overTurn['handleStunMessage' as keyof StunOverTurnProtocol], 'function');
  assert.throws(() => wrapEntryPoint({ type: 'mystery' }, (deliver) => deliver), /none of datagramReceived/);
});
