/**
 * The SFU's UDP border (docs/SECURITY.md, "Media"), proved with real
 * datagrams at the real ports the SFU gathered for a member, the way an
 * attacker would send them:
 *   - from stranger sockets (other source ports that never did ICE): DTLS
 *     ClientHellos while the member's handshake is under way and after it,
 *     10,000 STUN Binding requests, replayed SRTP;
 *   - from the member's own 5-tuple with the member's own SRTP keys (a
 *     member turned hostile, or an attacker on its path): replays inside and
 *     outside the window, SRTCP replays and forgeries, oversized, padded and
 *     truncated RTP/RTCP, DTLS junk.
 * After each, a member's genuine audio still reaches the other member.
 *
 * Two werift members share a stage. A werift member (not libwebrtc) lets a
 * test put exact bytes on the member's ICE connection, encrypted with the
 * member's SRTP keys, and read the SFU's per-peer counters.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import {
  DtlsClient,
  MediaStreamTrack,
  Message,
  RTCDtlsTransport,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  isMedia,
  isRtcp,
  type RTCRtpSender,
} from 'werift';
import { StageSession, type SocketLike } from '../../src/client/stage-session.js';
import { peerConfig } from '../../src/sfu/peer-config.js';
import { DEFAULT_SFU_OPTIONS, type PeerDropStats } from '../../src/sfu/sfu-types.js';
import type { PeerIceState, StagePeer } from '../../src/sfu/stage-peer.js';
import type { MemberView } from '../../src/wire/signalling.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';

const LIMIT = { timeout: 60_000 };
/** How long a dropped datagram gets to show up anyway before a test says it did not. */
const SETTLE_MS = 400;
/** Chrome's Opus DTX frame: TOC 0xf8 and two bytes. */
const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);

type Address = [string, number];

/**
 * A stage member on werift whose wire the test can reach: every SRTP
 * datagram it sends is recorded (and can be held back), and raw bytes can be
 * put on its ICE connection, the 5-tuple the SFU checked.
 */
class WireMember {
  readonly session: StageSession;
  readonly track = new MediaStreamTrack({ kind: 'audio' });
  pc: RTCPeerConnection | undefined;
  me: MemberView | undefined;
  rtpReceived = 0;
  /** The SFU's host candidates for this member, from its offer, as soon as it arrives. */
  readonly sfuAddresses: Address[] = [];
  /** Genuine SRTP datagrams this member put on the wire, in order. */
  readonly sentSrtp: Buffer[] = [];
  /** While set, genuine SRTP is recorded but not sent. */
  withhold = false;
  onOffer: (() => void) | undefined;
  private sequenceNumber = 2000;
  private timestamp = 0;
  private sendOnWire: ((data: Buffer) => Promise<void>) | undefined;

  constructor(socketUrl: string, name: string) {
    this.session = new StageSession({
      socketUrl,
      name,
      track: this.track as unknown as globalThis.MediaStreamTrack,
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      createPeerConnection: () => {
        const pc = new RTCPeerConnection(peerConfig(DEFAULT_SFU_OPTIONS));
        const setRemoteDescription = pc.setRemoteDescription.bind(pc);
        pc.setRemoteDescription = (description) => {
          this.learnSfuAddresses(description.sdp ?? '');
          return setRemoteDescription(description);
        };
        this.pc = pc;
        return pc as unknown as globalThis.RTCPeerConnection;
      },
    });
    this.session.on('remoteTrack', (_memberId, track) => {
      (track as unknown as MediaStreamTrack).onReceiveRtp.subscribe(() => this.rtpReceived++);
    });
  }

  async join(): Promise<void> {
    this.me = await this.session.join();
  }

  connected(timeoutMs = 15_000): Promise<void> {
    return waitFor(() => this.pc?.connectionState === 'connected', timeoutMs, `${this.me?.name ?? 'member'} to connect`);
  }

  /** The member's DTLS transport (one for every m-line: max-bundle). */
  get dtls(): RTCDtlsTransport {
    const dtls = this.pc?.getTransceivers()[0]?.dtlsTransport;
    assert.ok(dtls, 'the member has a transport');
    return dtls;
  }

  /** Puts `datagram` on the member's ICE connection as it is, bypassing werift's SRTP layer. */
  inject(datagram: Buffer): Promise<void> {
    this.tapWire();
    assert.ok(this.sendOnWire);
    return this.sendOnWire(datagram);
  }

  /** Sends `count` Opus packets through werift's own sender, `intervalMs` apart. */
  async sendAudio(count: number, intervalMs = 10, payload: (i: number) => Buffer = () => OPUS_SILENCE, padding = false): Promise<void> {
    this.tapWire();
    const sender = this.publishSender();
    for (let i = 0; i < count; i++) {
      const header = new RtpHeader({ sequenceNumber: this.sequenceNumber, timestamp: this.timestamp, payloadType: 111, padding });
      this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
      this.timestamp = (this.timestamp + 960) >>> 0;
      await sender.sendRtp(new RtpPacket(header, payload(i)));
      if (intervalMs > 0 && i < count - 1) await sleep(intervalMs);
    }
  }

  /** Encrypts one raw RTCP compound packet with the member's SRTCP keys (a fresh index each time). */
  srtcp(raw: Buffer): Buffer {
    return this.dtls.srtcp.encrypt(raw);
  }

  /** The SSRC the member publishes on. */
  get ssrc(): number {
    return this.publishSender().ssrc;
  }

  close(): void {
    this.session.close();
    this.track.stop();
  }

  private learnSfuAddresses(sdp: string): void {
    for (const [, host, port] of sdp.matchAll(/^a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host/gm)) {
      if (host && port && !this.sfuAddresses.some(([h, p]) => h === host && p === Number(port))) this.sfuAddresses.push([host, Number(port)]);
    }
    if (this.sfuAddresses.length > 0) this.onOffer?.();
  }

  private tapWire(): void {
    if (this.sendOnWire) return;
    const connection = this.dtls.iceTransport.connection as unknown as { send: (data: Buffer) => Promise<void> };
    const send = connection.send;
    this.sendOnWire = send;
    connection.send = (data: Buffer) => {
      if (!isMedia(data) || isRtcp(data)) return send(data);
      this.sentSrtp.push(Buffer.from(data));
      return this.withhold ? Promise.resolve() : send(data);
    };
  }

  private publishSender(): RTCRtpSender {
    const transceiver = this.pc?.getTransceivers().find((t) => t.sender.track === this.track);
    assert.ok(transceiver, 'the member publishes its track');
    return transceiver.sender;
  }
}

/** A few sockets on other source ports that never did ICE with the SFU. */
class Strangers {
  readonly sockets: Socket[] = [];
  /** Datagrams the SFU sent back to any of them. */
  answers = 0;

  static async open(count: number): Promise<Strangers> {
    const strangers = new Strangers();
    for (let i = 0; i < count; i++) strangers.sockets.push(await strangers.bind());
    return strangers;
  }

  async bind(): Promise<Socket> {
    const socket = createSocket('udp4');
    socket.on('message', () => this.answers++);
    await new Promise<void>((resolve) => socket.bind(0, resolve));
    return socket;
  }

  send(socket: Socket, datagram: Buffer, [host, port]: Address): Promise<void> {
    return new Promise((resolve) => socket.send(datagram, port, host, () => resolve()));
  }

  close(): void {
    for (const socket of this.sockets.splice(0)) socket.close();
  }
}

/** Datagrams the kernel dropped for a full receive buffer on the SFU's sockets at `addresses` (/proc/net/udp). */
function kernelDrops(addresses: Address[]): number {
  const ports = new Set(addresses.map(([, port]) => port.toString(16).toUpperCase().padStart(4, '0')));
  let drops = 0;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const port = fields[1]?.split(':')[1];
    if (port && ports.has(port)) drops += Number(fields[12] ?? 0);
  }
  return drops;
}

/** A real DTLS 1.2 ClientHello, as werift's own client writes its first flight. */
async function clientHello(): Promise<Buffer> {
  const certificate = await RTCDtlsTransport.SetupCertificate();
  let flight: Buffer | undefined;
  const client = new DtlsClient({
    cert: certificate.certPem,
    key: certificate.privateKey,
    signatureHash: certificate.signatureHash,
    srtpProfiles: [1, 7],
    extendedMasterSecret: true,
    transport: {
      type: 'capture',
      address: {} as never,
      closed: false,
      onData: () => undefined,
      send: async (data: Buffer) => {
        flight ??= Buffer.from(data);
      },
      close: async () => undefined,
    },
  });
  void client.connect().catch(() => undefined);
  await waitFor(() => flight !== undefined, 5000, 'werift to write a ClientHello');
  client.close();
  assert.ok(flight && flight[0] === 22 && flight[13] === 1, 'a handshake record holding a ClientHello');
  return flight;
}

/** A DTLS handshake record whose one fragment is empty, of a message claiming `claimed` bytes. */
function emptyFragment(claimed: number): Buffer {
  const record = Buffer.alloc(13 + 12);
  record.writeUInt8(22, 0); // handshake
  record.writeUInt16BE(0xfefd, 1); // DTLS 1.2
  record.writeUIntBE(7, 5, 6); // sequence number
  record.writeUInt16BE(12, 11);
  record.writeUInt8(16, 13); // client_key_exchange
  record.writeUIntBE(claimed, 14, 3);
  record.writeUIntBE(claimed, 19, 3); // fragment offset: the end of the message
  return record;
}

let server: RunningTribune;
let spaceId: string;
let a: WireMember;
let b: WireMember;

before(async () => {
  server = await startTribune();
  const created = await server.createSpace('SFU border');
  spaceId = created.space.id;
  a = new WireMember(stageUrl(server.url, spaceId, await created.speakerPass('member A')), 'member A');
  b = new WireMember(stageUrl(server.url, spaceId, await created.speakerPass('member B')), 'member B');
}, LIMIT);

after(async () => {
  a?.close();
  b?.close();
  await server?.close();
}, LIMIT);

function peerOf(member: WireMember): StagePeer {
  const peer = server.tribune.spaces.loaded(spaceId)?.stage?.router.peer(member.me?.id ?? '');
  assert.ok(peer, `the SFU has no peer for ${member.me?.name}`);
  return peer;
}

function dropsOf(member: WireMember): PeerDropStats {
  return { ...peerOf(member).stats };
}

function iceOf(member: WireMember): PeerIceState {
  return peerOf(member).iceState();
}

/** Fails unless `count` genuine packets from `from` reach `to`, on the SFU and at `to`. */
async function audioFlows(from: WireMember, to: WireMember, count = 10): Promise<void> {
  const forwarded = peerOf(to).stats.rtpForwarded;
  const received = to.rtpReceived;
  await from.sendAudio(count);
  await waitFor(() => to.rtpReceived - received >= count, 5000, `${count} packets from ${from.me?.name} to reach ${to.me?.name}`);
  assert.equal(peerOf(to).stats.rtpForwarded - forwarded, count, 'packets the SFU forwarded');
}

/** Runs `send`, then checks that nothing reached B and returns how A's drop counters moved. */
async function dropped(send: () => Promise<void>): Promise<Partial<PeerDropStats>> {
  const before = dropsOf(a);
  const forwarded = peerOf(b).stats.rtpForwarded;
  const received = b.rtpReceived;
  await send();
  await sleep(SETTLE_MS);
  assert.equal(peerOf(b).stats.rtpForwarded - forwarded, 0, 'packets forwarded to B');
  assert.equal(b.rtpReceived - received, 0, 'packets received by B');
  const after = dropsOf(a);
  const moved: Partial<PeerDropStats> = {};
  for (const key of Object.keys(after) as (keyof PeerDropStats)[]) {
    if (after[key] !== before[key]) moved[key] = after[key] - before[key];
  }
  return moved;
}

test('ClientHellos from strangers, sent all through a member’s ICE and DTLS handshake, neither block nor break it', LIMIT, async () => {
  const hello = await clientHello();
  const strangers = await Strangers.open(8);
  let sent = 0;
  let sentWhileHandshaking = 0;
  let firing = false;
  const fire = async () => {
    while (firing) {
      for (const socket of strangers.sockets) {
        for (const address of a.sfuAddresses) await strangers.send(socket, hello, address);
        sent++;
        if (a.pc?.getTransceivers()[0]?.dtlsTransport.state === 'connecting') sentWhileHandshaking++;
      }
      await sleep(2);
    }
  };
  let firingDone: Promise<void> = Promise.resolve();
  a.onOffer = () => {
    if (firing) return;
    firing = true;
    firingDone = fire();
  };
  try {
    await a.join();
    await a.connected();
    await sleep(300);
  } finally {
    firing = false;
    await firingDone;
    a.onOffer = undefined;
    strangers.close();
  }
  assert.ok(sentWhileHandshaking > 0, `no ClientHello went out while A's DTLS handshake was under way (${sent} in all)`);
  await sleep(SETTLE_MS);
  const drops = dropsOf(a);
  assert.ok(drops.unknownSource >= sent * 0.9, `the SFU counted ${drops.unknownSource} of ${sent} stranger datagrams`);
  assert.equal(strangers.answers, 0, 'the SFU answered a stranger');
  assert.equal(drops.dtlsRefused, 0, 'nothing from a stranger reached the DTLS checks');

  await b.join();
  await b.connected();
  await waitFor(() => b.session.trackOf(a.me?.id ?? '') !== undefined && a.session.trackOf(b.me?.id ?? '') !== undefined, 5000, 'receivers both ways');
  await audioFlows(a, b);
  await audioFlows(b, a);
});

test('after the handshake, a stranger’s ClientHello, and the member’s own ClientHello and oversized DTLS fragments, change nothing', LIMIT, async () => {
  const hello = await clientHello();
  const strangers = await Strangers.open(1);
  const [socket] = strangers.sockets;
  assert.ok(socket);
  try {
    const fromStranger = await dropped(async () => {
      for (const address of a.sfuAddresses) await strangers.send(socket, hello, address);
    });
    assert.deepEqual(fromStranger, { unknownSource: a.sfuAddresses.length });
  } finally {
    strangers.close();
  }
  // From A's own 5-tuple: werift would answer a ClientHello by starting the handshake over
  // (dropping the keys in use) and would allocate the 16 MiB a fragment claims.
  const fromMember = await dropped(async () => {
    await a.inject(hello);
    await a.inject(emptyFragment(0xffffff));
    await a.inject(emptyFragment(20_000));
  });
  assert.deepEqual(fromMember, { dtlsRefused: 3 });
  await audioFlows(a, b);
  await audioFlows(b, a);
});

test('10,000 STUN Binding requests with random ufrags from random source ports create no ICE state and get no answer', LIMIT, async () => {
  const before = iceOf(a);
  const beforeDrops = dropsOf(a);
  const strangers = new Strangers();
  const { localUsername } = a.dtls.iceTransport.connection as unknown as { localUsername: string };
  const sfuUfrag = /^a=ice-ufrag:(\S+)/m.exec(a.pc?.remoteDescription?.sdp ?? '')?.[1] ?? '';
  assert.ok(sfuUfrag, 'the SFU’s ufrag from its offer');
  const total = 10_000;
  const kernelBefore = kernelDrops(a.sfuAddresses);
  let socket: Socket | undefined;
  for (let i = 0; i < total; i++) {
    // A fresh source port every 50 requests: 200 of them.
    if (i % 50 === 0) {
      socket?.close();
      socket = await strangers.bind();
    }
    const request = new Message(1, 0);
    // Most requests carry a random ufrag; every tenth the SFU's real one with a forged
    // MESSAGE-INTEGRITY (the ufrag is in the SDP; the password never leaves signalling).
    const known = i % 10 === 0;
    request.setAttribute('USERNAME', `${known ? sfuUfrag : randomBytes(4).toString('hex')}:${known ? localUsername : randomBytes(4).toString('hex')}`);
    request.setAttribute('PRIORITY', 0x6e001eff);
    // A role conflict the SFU would lose, and a nomination (RFC 8445 §7.3.1.1, §7.3.1.5).
    request.setAttribute('ICE-CONTROLLING', 0xffffffffffffffffn);
    request.setAttribute('USE-CANDIDATE', null);
    if (known) request.addMessageIntegrity(randomBytes(16));
    request.addFingerprint();
    for (const address of a.sfuAddresses) await strangers.send(socket as Socket, request.bytes, address);
    if (i % 50 === 49) await sleep(2);
  }
  socket?.close();
  await sleep(SETTLE_MS);
  const afterDrops = dropsOf(a);
  // Every request that got past the kernel (whose receive buffer may overflow on a busy box) was refused.
  const lost = kernelDrops(a.sfuAddresses) - kernelBefore;
  assert.ok(lost < total / 10, `the kernel dropped ${lost} requests: too many to say much`);
  assert.equal(afterDrops.stunRefused - beforeDrops.stunRefused + lost, total * a.sfuAddresses.length, 'requests refused');
  assert.deepEqual(iceOf(a), before, 'ICE state of the member’s peer');
  assert.equal(strangers.answers, 0, 'the SFU answered a stranger');
  assert.equal(a.pc?.connectionState, 'connected');
  // The real member's own consent checks still pass, and its audio flows both ways.
  await audioFlows(a, b);
  await audioFlows(b, a);
});

test('genuine SRTP replayed from a stranger’s socket is dropped before decryption and the replay window, and never reaches B', LIMIT, async () => {
  const start = a.sentSrtp.length;
  await audioFlows(a, b, 5);
  const genuine = a.sentSrtp.slice(start);
  assert.equal(genuine.length, 5);
  const strangers = await Strangers.open(1);
  const [socket] = strangers.sockets;
  assert.ok(socket);
  try {
    // Only unknownSource moves: not rtpRefused (decryption) nor rtpReplayed (the window).
    const moved = await dropped(async () => {
      for (const datagram of genuine) for (const address of a.sfuAddresses) await strangers.send(socket, datagram, address);
    });
    assert.deepEqual(moved, { unknownSource: 5 * a.sfuAddresses.length });
  } finally {
    strangers.close();
  }
});

test('SRTP replayed on the member’s own 5-tuple is dropped at every age: 1, 63, 64 and 127 packets back, and past the window', LIMIT, async () => {
  const start = a.sentSrtp.length;
  await audioFlows(a, b, 200);
  const sent = a.sentSrtp.slice(start);
  const newest = sent.length - 1;
  const replays = [1, 63, 64, 127, 150].map((back) => sent[newest - back]);
  const moved = await dropped(async () => {
    for (const datagram of replays) await a.inject(datagram as Buffer);
  });
  // The window holds 128 packets (RFC 3711 §3.3.2 asks for at least 64).
  assert.deepEqual(moved, { rtpReplayed: 5 });
  await audioFlows(a, b);
});

test('SRTCP: a genuine packet goes through once; its replay, an old replay and a forgery are dropped and counted', LIMIT, async () => {
  // An empty receiver report (RFC 3550 §6.4.2) from A's SSRC.
  const rr = Buffer.alloc(8);
  rr.writeUInt8(0x80, 0);
  rr.writeUInt8(201, 1);
  rr.writeUInt16BE(1, 2);
  rr.writeUInt32BE(a.ssrc, 4);
  const first = a.srtcp(rr);
  const genuine = await dropped(() => a.inject(first));
  assert.deepEqual(genuine, {}, 'a genuine SRTCP packet is not dropped');
  assert.deepEqual(await dropped(() => a.inject(first)), { rtcpReplayed: 1 });

  // An APP packet (RFC 3550 §6.7) with 4 bytes of data; one encrypted byte flipped. (Not the
  // last byte: with AEAD-GCM that is the SRTCP index, and a changed index may be an old one.)
  const app = Buffer.alloc(16);
  app.writeUInt8(0x80, 0);
  app.writeUInt8(204, 1);
  app.writeUInt16BE(3, 2);
  app.writeUInt32BE(a.ssrc, 4);
  app.write('TRIBtest', 8, 'ascii');
  const forged = Buffer.from(a.srtcp(app));
  forged[13] = (forged[13] ?? 0) ^ 0x01;
  assert.deepEqual(await dropped(() => a.inject(forged)), { rtcpRefused: 1 });

  const later = [...Array(140)].map(() => a.srtcp(rr));
  assert.deepEqual(await dropped(async () => {
    for (const datagram of later) await a.inject(datagram);
  }), {}, '140 genuine SRTCP packets in a row');
  assert.deepEqual(await dropped(() => a.inject(later[0] as Buffer)), { rtcpReplayed: 1 }, '139 packets back: older than the window');
  await audioFlows(a, b);
});

test('RTP and RTCP over 1,500 bytes are dropped before decryption and counted; the session keeps working', LIMIT, async () => {
  // Genuine, correctly encrypted packets: werift would decrypt and accept them.
  const srtpBefore = peerOf(a).stats.rtpRefused;
  assert.deepEqual(await dropped(() => a.sendAudio(1, 0, () => Buffer.concat([OPUS_SILENCE, Buffer.alloc(1600, 0x55)]))), { rtpOversize: 1 });
  // Under the datagram limit but over the SFU's 1,200-byte RTP limit: dropped after decryption.
  assert.deepEqual(await dropped(() => a.sendAudio(1, 0, () => Buffer.concat([OPUS_SILENCE, Buffer.alloc(1300, 0x55)]))), { rtpOversize: 1 });
  assert.equal(peerOf(a).stats.rtpRefused, srtpBefore);

  // An APP packet (RFC 3550 §6.7) of 1,600 bytes.
  const app = Buffer.alloc(1600);
  app.writeUInt8(0x80, 0);
  app.writeUInt8(204, 1);
  app.writeUInt16BE(app.length / 4 - 1, 2);
  app.writeUInt32BE(a.ssrc, 4);
  app.write('TRIB', 8, 'ascii');
  assert.deepEqual(await dropped(() => a.inject(a.srtcp(app))), { rtcpOversize: 1 });
  await audioFlows(a, b);
  await audioFlows(b, a);
});

test('RTP with the padding bit and a padding length of 0, past the payload, or the whole payload never reaches B; valid padding does', LIMIT, async () => {
  const padded = (padding: Buffer) => () => a.sendAudio(1, 0, () => Buffer.concat([OPUS_SILENCE, padding]), true);
  // RFC 3550 §5.1: the last octet counts the padding, itself included.
  assert.deepEqual(await dropped(padded(Buffer.from([0, 0, 0, 0]))), { rtpRefused: 1 }, 'a padding length of 0');
  assert.deepEqual(await dropped(padded(Buffer.from([0, 0, 0, 255]))), { rtpRefused: 1 }, 'a padding length past the payload');
  assert.deepEqual(
    await dropped(() => a.sendAudio(1, 0, () => Buffer.from([0, 0, 0, 4]), true)),
    { rtpTruncated: 1 },
    'padding that is the whole payload: no audio left',
  );
  // A valid pad of 4 is stripped and the audio goes on.
  const received = b.rtpReceived;
  await padded(Buffer.from([0, 0, 0, 4]))();
  await waitFor(() => b.rtpReceived > received, 5000, 'the validly padded packet at B');
  await audioFlows(a, b);
});

test('truncated RTP and RTCP are dropped before decryption and counted; the session keeps working', LIMIT, async () => {
  const start = a.sentSrtp.length;
  await audioFlows(a, b, 1);
  const template = a.sentSrtp[start];
  assert.ok(template);
  const withFirstByte = (first: number, length: number) => {
    const datagram = Buffer.alloc(length);
    template.copy(datagram, 0, 0, Math.min(length, template.length));
    datagram[0] = first;
    return datagram;
  };
  const header = Buffer.from(template.subarray(0, 12));
  header[0] = 0x80;
  const extensionPastEnd = Buffer.concat([withFirstByte(0x90, 12), Buffer.from([0xbe, 0xde, 0xff, 0xff]), Buffer.alloc(10)]);
  const truncatedRtp = [
    header, // no payload, no tag
    Buffer.concat([header, Buffer.alloc(10)]), // a tag and nothing else
    withFirstByte(0x8f, 40), // 15 CSRCs promised, 40 bytes there
    extensionPastEnd, // a header extension of 65,535 words
  ];
  assert.deepEqual(await dropped(async () => {
    for (const datagram of truncatedRtp) await a.inject(datagram);
  }), { rtpTruncated: truncatedRtp.length });

  const rr = Buffer.alloc(8);
  rr.writeUInt8(0x80, 0);
  rr.writeUInt8(201, 1);
  rr.writeUInt16BE(1, 2);
  rr.writeUInt32BE(a.ssrc, 4);
  const genuine = a.srtcp(rr);
  const lengthPastEnd = Buffer.from(genuine);
  lengthPastEnd.writeUInt16BE(100, 2);
  const truncatedRtcp = [
    genuine.subarray(0, 8), // header and SSRC, no index, no tag
    genuine.subarray(0, genuine.length - 4), // part of the trailer cut off
    lengthPastEnd, // the first packet claims 404 bytes
  ];
  assert.deepEqual(await dropped(async () => {
    for (const datagram of truncatedRtcp) await a.inject(datagram);
  }), { rtcpTruncated: truncatedRtcp.length });
  await audioFlows(a, b);
  await audioFlows(b, a);
});

test('the router sums every member’s drops, and keeps those of a member who left', LIMIT, async () => {
  const router = server.tribune.spaces.loaded(spaceId)?.stage?.router;
  assert.ok(router);
  const sum = dropsOf(a);
  const other = dropsOf(b);
  for (const key of Object.keys(sum) as (keyof PeerDropStats)[]) sum[key] += other[key];
  assert.deepEqual(router.dropStats(), sum);
  assert.ok(sum.unknownSource > 0 && sum.stunRefused > 0 && sum.rtpReplayed > 0);
  b.close();
  await waitFor(() => router.size === 1, 5000, 'B to leave the stage');
  assert.deepEqual(router.dropStats(), sum);
});
