/**
 * Hostile UDP datagrams for the SFU's ports, and a sender that puts them on
 * the wire from a child process (so the memory the test measures in its own
 * process is the server's, as in junk-flood.ts).
 *
 * Every datagram belongs to a known crash class of WebRTC stacks, demuxed
 * by its first byte as RFC 7983 §7 does:
 *   [0..3]     STUN (RFC 8489): bad length fields, attributes whose length
 *              runs past the message, unknown comprehension-required
 *              attributes, unknown or half-known ufrags, forged integrity,
 *              role-conflict attributes (ICE-CONTROLLING with a huge
 *              tie-breaker) and USE-CANDIDATE;
 *   [20..63]   DTLS (RFC 6347 §4.1, §4.2.2): records and handshake
 *              fragments of length zero or longer than the datagram,
 *              well-formed ClientHellos from source ports that never did ICE;
 *   [128..191] RTP/RTCP (RFC 3550 §5.1, §6.4): the padding bit with a pad
 *              length of 0 or past the packet, CSRC counts and header
 *              extensions that run past the end, RTCP whose length words
 *              or report counts promise more than is there, and either over
 *              1,500 bytes;
 * plus zero-length datagrams and random bytes.
 *
 * Child usage: node --import tsx fuzz-datagrams.ts '<json SenderPlan>'
 */
import { reportFromChild } from './child-process.js';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import fc, { type Arbitrary } from 'fast-check';

export interface DatagramTarget {
  port: number;
  /** The SFU side's ICE ufrag on this port, for STUN that names it. */
  ufrag: string;
}

export interface SenderPlan {
  /** Loopback only: every target is 127.0.0.1:port. */
  targets: DatagramTarget[];
  total: number;
  ratePerSecond: number;
  /** Long-lived source sockets. */
  sockets: number;
  /** A fresh source port is taken every this many datagrams (a new, never-seen 5-tuple). */
  rotateEvery: number;
  seed: number;
  /** Only these kinds (e.g. 'stun', 'dtls-client-hello'), to narrow a failure down; all when absent. */
  kinds?: string[];
}

export interface SenderReport {
  sent: number;
  sendErrors: number;
  byClass: Record<string, number>;
  sourcePorts: number;
  elapsedMs: number;
}

interface Datagram {
  kind: string;
  bytes: Buffer;
}

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (min: number, max: number): Arbitrary<Buffer> => fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b));

function be16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
}
function be24(n: number): Buffer {
  return Buffer.from([(n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}
function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

// --- STUN (RFC 8489 §5, §14) ---------------------------------------------------

const MAGIC_COOKIE = 0x2112a442;

interface StunAttribute {
  type: number;
  value: Buffer;
  /** A length field that lies about the value, when set. */
  length?: number;
}

/**
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |0 0|     STUN Message Type     |         Message Length        |
 * |                         Magic Cookie                          |
 * |                     Transaction ID (96 bits)                  |
 */
function stunMessage(type: number, attributes: StunAttribute[], options: { lengthDelta: number; cookie: number; transactionId: Buffer }): Buffer {
  const body = Buffer.concat(
    attributes.map((a) => {
      const pad = Buffer.alloc((4 - (a.value.length % 4)) % 4);
      return Buffer.concat([be16(a.type), be16(a.length ?? a.value.length), a.value, pad]);
    }),
  );
  return Buffer.concat([be16(type & 0x3fff), be16(body.length + options.lengthDelta), be32(options.cookie), options.transactionId, body]);
}

function stunDatagrams(targets: () => DatagramTarget[]): Arbitrary<Datagram> {
  const username = fc.oneof(
    fc.string({ minLength: 0, maxLength: 40 }).map((s) => Buffer.from(s)),
    // Half-known: the SFU's ufrag with a peer part nobody negotiated.
    fc.tuple(fc.nat(), fc.string({ maxLength: 16 })).map(([i, peer]) => Buffer.from(`${targets()[i % targets().length]?.ufrag ?? 'none'}:${peer}`)),
    bytes(0, 600),
  );
  const attribute: Arbitrary<StunAttribute> = fc.oneof(
    username.map((value) => ({ type: 0x0006, value })), // USERNAME
    bytes(20, 20).map((value) => ({ type: 0x0008, value })), // MESSAGE-INTEGRITY, forged
    bytes(0, 40).map((value) => ({ type: 0x0008, value })), // MESSAGE-INTEGRITY of the wrong size
    u32.map((v) => ({ type: 0x8028, value: be32(v) })), // FINGERPRINT, wrong
    u32.map((v) => ({ type: 0x0024, value: be32(v) })), // PRIORITY
    fc.constant({ type: 0x0025, value: Buffer.alloc(0) }), // USE-CANDIDATE
    bytes(8, 8).map((value) => ({ type: 0x802a, value: Buffer.concat([Buffer.from([0xff]), value.subarray(1)]) })), // ICE-CONTROLLING, huge tie-breaker
    bytes(8, 8).map((value) => ({ type: 0x8029, value })), // ICE-CONTROLLED
    bytes(0, 24).map((value) => ({ type: 0x0020, value })), // XOR-MAPPED-ADDRESS, any family and size
    fc.tuple(fc.integer({ min: 0, max: 0x7fff }), bytes(0, 64)).map(([type, value]) => ({ type, value })), // comprehension-required, unknown
    fc.tuple(u16, bytes(0, 32), u16).map(([type, value, length]) => ({ type, value, length })), // length past the message
  );
  return fc
    .tuple(
      fc.constantFrom(0x0001, 0x0001, 0x0011, 0x0101, 0x0111, 0x0003, 0x0fff),
      fc.array(attribute, { maxLength: 8 }),
      fc.oneof(fc.constant(0), fc.integer({ min: -24, max: 24 }), u16),
      fc.oneof({ weight: 9, arbitrary: fc.constant(MAGIC_COOKIE) }, { weight: 1, arbitrary: u32 }),
      bytes(12, 12),
      fc.nat({ max: 30 }),
    )
    .map(([type, attributes, lengthDelta, cookie, transactionId, cut]) => {
      const message = stunMessage(type, attributes, { lengthDelta, cookie, transactionId });
      // Now and then a message cut short.
      return { kind: 'stun', bytes: cut === 0 ? message.subarray(0, Math.max(1, message.length - 7)) : message };
    });
}

// --- DTLS (RFC 6347 §4.1, §4.2.2) -----------------------------------------------

/**
 * record: type(1) version(2) epoch(2) sequence_number(6) length(2) fragment
 * handshake: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3) body
 */
function dtlsRecord(type: number, epoch: number, sequence: number, fragment: Buffer, lengthField = fragment.length, version = 0xfefd): Buffer {
  return Buffer.concat([Buffer.from([type]), be16(version), be16(epoch), be16(0), be32(sequence), be16(lengthField), fragment]);
}

function handshake(msgType: number, body: Buffer, fields: { length?: number; messageSeq?: number; offset?: number; fragmentLength?: number } = {}): Buffer {
  return Buffer.concat([
    Buffer.from([msgType]),
    be24(fields.length ?? body.length),
    be16(fields.messageSeq ?? 0),
    be24(fields.offset ?? 0),
    be24(fields.fragmentLength ?? body.length),
    body,
  ]);
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([be16(type), be16(data.length), data]);
}

/** A well-formed DTLS 1.2 ClientHello a browser could send (ECDHE-ECDSA-AES128-GCM, use_srtp). */
function clientHello(random: Buffer, cookie: Buffer): Buffer {
  const suites = Buffer.concat([0xc02b, 0xc02f, 0xc00a, 0xc014].map(be16));
  const extensions = Buffer.concat([
    extension(0x000a, Buffer.concat([be16(4), be16(0x0017), be16(0x001d)])), // supported_groups
    extension(0x000b, Buffer.from([1, 0])), // ec_point_formats
    extension(0x000d, Buffer.concat([be16(4), be16(0x0403), be16(0x0804)])), // signature_algorithms
    extension(0x000e, Buffer.concat([be16(4), be16(0x0001), be16(0x0007), Buffer.from([0])])), // use_srtp
    extension(0x0017, Buffer.alloc(0)), // extended_master_secret
  ]);
  return Buffer.concat([
    be16(0xfefd),
    random,
    Buffer.from([0]), // session_id
    Buffer.from([cookie.length]),
    cookie,
    be16(suites.length),
    suites,
    Buffer.from([1, 0]), // compression: null
    be16(extensions.length),
    extensions,
  ]);
}

/** One well-formed DTLS 1.2 ClientHello record (epoch 0, no cookie), as a stranger's first datagram. */
export function strangerClientHello(): Buffer {
  return dtlsRecord(22, 0, 0, handshake(1, clientHello(Buffer.alloc(32, 7), Buffer.alloc(0))));
}

/** A handshake record whose only fragment is empty, at offset `claimedLength` of a message claiming `claimedLength` bytes. */
export function emptyFragment(msgType: number, claimedLength: number, sequence = 0): Buffer {
  return dtlsRecord(22, 0, sequence, handshake(msgType, Buffer.alloc(0), { length: claimedLength, offset: claimedLength, fragmentLength: 0 }));
}

function dtlsDatagrams(): Arbitrary<Datagram> {
  const zeroFragment = fc
    .tuple(u8, fc.oneof(fc.constant(0), u16, fc.constant(0xffffff)), fc.oneof(fc.constant(0), fc.constant(0xffffff), u16), u16)
    .map(([msgType, length, offset, seq]) => ({ kind: 'dtls-zero-fragment', bytes: dtlsRecord(22, 0, seq, handshake(msgType, Buffer.alloc(0), { length, offset, fragmentLength: 0 })) }));
  const unbounded = fc
    .tuple(fc.constantFrom(1, 2, 11, 12, 14, 16, 20), bytes(0, 64), fc.constantFrom(0xffffff, 0x10000, 0x4000), fc.boolean(), u16)
    .map(([msgType, body, claimed, lieInRecord, seq]) => {
      const fragment = handshake(msgType, body, { length: claimed, fragmentLength: claimed });
      return { kind: 'dtls-unbounded-fragment', bytes: dtlsRecord(22, 0, seq, fragment, lieInRecord ? 0xffff : fragment.length) };
    });
  const hello = fc
    .tuple(bytes(32, 32), fc.oneof(fc.constant(Buffer.alloc(0)), bytes(1, 32)), fc.nat({ max: 3 }), u16)
    .map(([random, cookie, messageSeq, seq]) => ({ kind: 'dtls-client-hello', bytes: dtlsRecord(22, 0, seq, handshake(1, clientHello(random, cookie), { messageSeq })) }));
  const anyRecord = fc
    .tuple(fc.integer({ min: 20, max: 63 }), u16, fc.constantFrom(0xfefd, 0xfeff, 0x0303, 0x0000), bytes(0, 120), fc.oneof(fc.constant(-1), u16), u32)
    .map(([type, epoch, version, body, length, seq]) => ({ kind: 'dtls-record', bytes: dtlsRecord(type, epoch, seq, body, length < 0 ? body.length : length, version) }));
  const several = fc
    .array(fc.oneof(zeroFragment, unbounded, hello, anyRecord), { minLength: 2, maxLength: 4 })
    .map((parts) => ({ kind: 'dtls-several-records', bytes: Buffer.concat(parts.map((p) => p.bytes)) }));
  // A stranger's ClientHello (which resets a connected werift DtlsServer), then empty fragments claiming a huge message.
  const resetAndClaim = fc
    .tuple(hello, fc.constantFrom(11, 15, 16, 20, 1), fc.constantFrom(0xffffff, 0x100000, 0x10000), fc.integer({ min: 1, max: 5 }))
    .map(([first, msgType, claimed, count]) => ({
      kind: 'dtls-reset-and-claim',
      bytes: Buffer.concat([first.bytes, ...Array.from({ length: count }, (_, i) => emptyFragment(msgType, claimed, i + 1))]),
    }));
  return fc.oneof(zeroFragment, unbounded, hello, anyRecord, several, resetAndClaim);
}

// --- RTP / RTCP (RFC 3550 §5.1, §6.4) ------------------------------------------

/**
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * |                           timestamp                           |
 * |           synchronization source (SSRC) identifier            |
 */
function rtpHeader(first: number, second: number, seq: number, timestamp: number, ssrc: number): Buffer {
  return Buffer.concat([Buffer.from([first, second]), be16(seq), be32(timestamp), be32(ssrc)]);
}

function rtpDatagrams(): Arbitrary<Datagram> {
  const header = fc.tuple(fc.constantFrom(111, 96, 0, 72, 127), u16, u32, u32);
  const padding = fc
    .tuple(header, bytes(0, 200), fc.constantFrom(0, 1, 255, -1, -2))
    .map(([[pt, seq, ts, ssrc], payload, pad]) => {
      const body = Buffer.concat([payload, Buffer.from([0])]);
      // The last byte is the pad count: 0, 1, 255, the whole packet, or one past it.
      body[body.length - 1] = pad >= 0 ? pad : (12 + body.length + (pad === -2 ? 1 : 0)) & 0xff;
      return { kind: 'rtp-padding', bytes: Buffer.concat([rtpHeader(0xa0, pt, seq, ts, ssrc), body]) };
    });
  const runsPast = fc
    .tuple(header, fc.integer({ min: 0, max: 15 }), fc.boolean(), u16, bytes(0, 40))
    .map(([[pt, seq, ts, ssrc], cc, x, extensionWords, tail]) => {
      const ext = x ? Buffer.concat([be16(0xbede), be16(extensionWords)]) : Buffer.alloc(0);
      return { kind: 'rtp-runs-past-end', bytes: Buffer.concat([rtpHeader(0x80 | (x ? 0x10 : 0) | cc, pt, seq, ts, ssrc), ext, tail]) };
    });
  const oversize = fc
    .tuple(header, fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 1501, max: 9000 }) }, { weight: 1, arbitrary: fc.constant(65_507) }), fc.boolean())
    .map(([[pt, seq, ts, ssrc], size, rtcp]) => {
      const head = rtcp ? Buffer.concat([Buffer.from([0x81, 200]), be16((size >> 2) - 1), be32(ssrc)]) : rtpHeader(0x80, pt, seq, ts, ssrc);
      return { kind: rtcp ? 'rtcp-oversize' : 'rtp-oversize', bytes: Buffer.concat([head, Buffer.alloc(size - head.length, 0xab)]) };
    });
  // RTCP: |V=2|P|  RC   |   PT=200..207  |             length            |
  const rtcp = fc
    .tuple(fc.integer({ min: 200, max: 207 }), fc.integer({ min: 0, max: 31 }), fc.oneof(u16, fc.constant(0)), bytes(0, 80), fc.nat({ max: 3 }), fc.boolean())
    .map(([pt, count, lengthWords, body, extra, padded]) => {
      const packet = Buffer.concat([Buffer.from([0x80 | (padded ? 0x20 : 0) | count, pt]), be16(lengthWords), body]);
      // Compound: a truncated packet followed by more.
      return { kind: 'rtcp-truncated', bytes: extra > 1 ? Buffer.concat([packet, packet.subarray(0, extra * 3)]) : packet };
    });
  return fc.oneof(padding, runsPast, oversize, rtcp);
}

function randomDatagrams(): Arbitrary<Datagram> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant({ kind: 'zero-length', bytes: Buffer.alloc(0) }) },
    {
      weight: 3,
      arbitrary: fc.tuple(fc.constantFrom(0, 1, 2, 3, 16, 19, 20, 63, 64, 79, 127, 128, 191, 192, 255), bytes(0, 1500)).map(([first, rest]) => ({
        kind: 'random',
        bytes: Buffer.concat([Buffer.from([first]), rest]),
      })),
    },
  );
}

/** Every crash class, weighted towards the structured ones. */
export function hostileDatagrams(targets: () => DatagramTarget[]): Arbitrary<Datagram> {
  return fc.oneof(
    { weight: 3, arbitrary: stunDatagrams(targets) },
    { weight: 4, arbitrary: dtlsDatagrams() },
    { weight: 4, arbitrary: rtpDatagrams() },
    { weight: 2, arbitrary: randomDatagrams() },
  );
}

// --- the sender -------------------------------------------------------------------

async function send(plan: SenderPlan): Promise<SenderReport> {
  const all = hostileDatagrams(() => plan.targets);
  const arbitrary = plan.kinds && plan.kinds.length > 0 ? all.filter((d) => plan.kinds?.includes(d.kind) ?? true) : all;
  const byClass: Record<string, number> = {};
  let sent = 0;
  let sendErrors = 0;
  const ports = new Set<number>();
  const open = async (): Promise<Socket> => {
    const socket = createSocket('udp4');
    socket.on('error', () => sendErrors++);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    ports.add(socket.address().port);
    return socket;
  };
  const steady = await Promise.all(Array.from({ length: plan.sockets }, open));
  let fresh = await open();
  const startedAt = performance.now();
  const chunk = 250;
  for (let first = 0; first < plan.total; first += chunk) {
    const batch = fc.sample(arbitrary, { numRuns: Math.min(chunk, plan.total - first), seed: (plan.seed + first) | 0 });
    const pending: Promise<void>[] = [];
    const retired: Socket[] = [];
    for (const [i, datagram] of batch.entries()) {
      const n = first + i;
      if (n > 0 && n % plan.rotateEvery === 0) {
        retired.push(fresh);
        fresh = await open();
      }
      const target = plan.targets[n % plan.targets.length];
      if (!target) continue;
      const socket = n % 3 === 0 ? fresh : (steady[n % steady.length] ?? fresh);
      byClass[datagram.kind] = (byClass[datagram.kind] ?? 0) + 1;
      pending.push(
        new Promise<void>((resolve) =>
          socket.send(datagram.bytes, target.port, '127.0.0.1', (error) => {
            if (error) sendErrors++;
            else sent++;
            resolve();
          }),
        ),
      );
    }
    await Promise.all(pending);
    for (const socket of retired) socket.close();
    // Bounded rate: wait until this many datagrams are due.
    const dueMs = ((first + chunk) / plan.ratePerSecond) * 1000 - (performance.now() - startedAt);
    if (dueMs > 0) await new Promise((resolve) => setTimeout(resolve, dueMs));
  }
  for (const socket of [...steady, fresh]) socket.close();
  return { sent, sendErrors, byClass, sourcePorts: ports.size, elapsedMs: Math.round(performance.now() - startedAt) };
}

/** Runs the sender in a child process; resolves to its report. */
export function sendFromChild(plan: SenderPlan, timeoutMs: number): Promise<SenderReport> {
  return reportFromChild<SenderReport>('the datagram sender', fileURLToPath(import.meta.url), [JSON.stringify(plan)], timeoutMs);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const plan = JSON.parse(process.argv[2] ?? '{}') as SenderPlan;
  if (!Array.isArray(plan.targets) || plan.targets.some((t) => !Number.isInteger(t.port))) throw new Error('usage: fuzz-datagrams.ts <json plan with targets>');
  process.stdout.write(JSON.stringify(await send(plan)));
}
