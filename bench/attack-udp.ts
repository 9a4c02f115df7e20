/**
 * Hostile datagrams for the SFU's UDP ports (attack 6), one builder per
 * kind. Layouts:
 *
 *   RTP (RFC 3550 §5.1)          |V=2|P|X| CC |M|  PT  |  sequence number  |
 *                                |            timestamp                    |
 *                                |               SSRC                      |
 *                                | CSRCs, extension, payload, (SRTP tag)   |
 *   RTCP (RFC 3550 §6.4)         |V=2|P| RC |  PT=200-204 | length (words-1)|  SSRC | …
 *   STUN (RFC 8489 §5)           | 0 0 | type (14) | length | magic 0x2112A442 | transaction id (96) |
 *                                  attributes: TLV, 4-byte aligned
 *   DTLS 1.2 record (RFC 6347 §4.1) | type 22 | version fe fd | epoch (16) | seq (48) | length (16) |
 *                                  handshake: | msg type | length (24) | msg seq (16) | frag offset (24) | frag length (24) | …
 */
import { createHmac, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** What a builder may know about its target (an on-path attacker sees SSRCs and ufrags). */
export interface DatagramTarget {
  ssrc: number;
  sfuUfrag: string;
  memberUfrag: string;
}

const u32 = (): number => randomBytes(4).readUInt32BE(0);

/** A 12-byte RTP header. */
function rtpHeader(options: { pt?: number; ssrc?: number; padding?: boolean; extension?: boolean; csrcs?: number; seq?: number }): Buffer {
  const header = Buffer.alloc(12 + 4 * (options.csrcs ?? 0));
  header[0] = 0x80 | (options.padding ? 0x20 : 0) | (options.extension ? 0x10 : 0) | ((options.csrcs ?? 0) & 0x0f); // V=2, P, X, CC
  header[1] = (options.pt ?? 96) & 0x7f; // M=0, payload type (96: the Opus type the SFU offers)
  header.writeUInt16BE(options.seq ?? Math.floor(Math.random() * 65_536), 2); // sequence number
  header.writeUInt32BE(u32(), 4); // timestamp
  header.writeUInt32BE(options.ssrc ?? u32(), 8); // SSRC
  for (let i = 0; i < (options.csrcs ?? 0); i++) header.writeUInt32BE(u32(), 12 + 4 * i); // CSRCs
  return header;
}

/** A STUN Binding request with the given attributes (already encoded). */
function stun(attributes: Buffer[], options: { lengthLie?: number } = {}): Buffer {
  const body = Buffer.concat(attributes);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0); // Binding request
  header.writeUInt16BE(options.lengthLie ?? body.length, 2); // message length (attributes only)
  header.writeUInt32BE(0x2112a442, 4); // magic cookie
  randomBytes(12).copy(header, 8); // transaction id
  return Buffer.concat([header, body]);
}

function attribute(type: number, value: Buffer): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

/** STUN with USERNAME, PRIORITY, a MESSAGE-INTEGRITY keyed with a wrong password, and a correct FINGERPRINT (RFC 8489 §14.5, §14.7). */
function stunWithIntegrity(username: string): Buffer {
  const attrs = [attribute(0x0006, Buffer.from(username)), attribute(0x0024, Buffer.from([0x6e, 0x7f, 0x1e, 0xff]))];
  // Length as if MESSAGE-INTEGRITY (24 bytes) were the last attribute, then the HMAC over the message so far.
  const withoutMi = stun(attrs, { lengthLie: Buffer.concat(attrs).length + 24 });
  const mi = attribute(0x0008, createHmac('sha1', randomBytes(22)).update(withoutMi).digest());
  const withMi = stun([...attrs, mi], { lengthLie: Buffer.concat(attrs).length + 24 + 8 });
  withoutMi.copy(withMi, 8, 8, 20); // the same transaction id
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE((crc32(withMi) ^ 0x5354554e) >>> 0, 0);
  return Buffer.concat([withMi, attribute(0x8028, fingerprint)]);
}

function dtlsClientHello(fragmentLength?: number): Buffer {
  const hello = Buffer.concat([
    Buffer.from([0xfe, 0xfd]), // client version DTLS 1.2
    randomBytes(32), // random
    Buffer.from([0x00]), // session id length
    Buffer.from([0x00]), // cookie length
    Buffer.from([0x00, 0x02, 0xc0, 0x2b]), // one cipher suite: ECDHE-ECDSA-AES128-GCM-SHA256
    Buffer.from([0x01, 0x00]), // compression: null
  ]);
  const handshake = Buffer.alloc(12);
  handshake[0] = 1; // ClientHello
  handshake.writeUIntBE(hello.length, 1, 3); // length
  handshake.writeUInt16BE(0, 4); // message sequence
  handshake.writeUIntBE(0, 6, 3); // fragment offset
  handshake.writeUIntBE(fragmentLength ?? hello.length, 9, 3); // fragment length (a lie when given)
  const record = Buffer.alloc(13);
  record[0] = 22; // handshake
  record.writeUInt16BE(0xfefd, 1); // DTLS 1.2
  record.writeUInt16BE(0, 3); // epoch
  record.writeUIntBE(Math.floor(Math.random() * 2 ** 40), 5, 6); // sequence number
  record.writeUInt16BE(handshake.length + hello.length, 11); // length
  return Buffer.concat([record, handshake, hello]);
}

export const DATAGRAM_KINDS = {
  'forged RTP, random SSRC': () => Buffer.concat([rtpHeader({}), randomBytes(80), randomBytes(10)]),
  "forged RTP, the member's SSRC": (t: DatagramTarget) => Buffer.concat([rtpHeader({ ssrc: t.ssrc }), randomBytes(80), randomBytes(10)]),
  'oversized RTP (1,500-9,000 bytes)': (t: DatagramTarget) => Buffer.concat([rtpHeader({ ssrc: t.ssrc }), randomBytes(1500 + Math.floor(Math.random() * 7500))]),
  'truncated RTP (5 bytes)': () => rtpHeader({}).subarray(0, 5),
  'RTP with padding longer than the packet': (t: DatagramTarget) => Buffer.concat([rtpHeader({ ssrc: t.ssrc, padding: true }), randomBytes(20), Buffer.from([255])]),
  'RTP with 15 CSRCs and a lying extension': (t: DatagramTarget) => Buffer.concat([rtpHeader({ ssrc: t.ssrc, csrcs: 15, extension: true }), Buffer.from([0xbe, 0xde, 0xff, 0xff]), randomBytes(8)]),
  'forged RTCP sender report': () => {
    const sr = Buffer.alloc(28 + 4 + 10);
    sr[0] = 0x80; // V=2, RC=0
    sr[1] = 200; // SR
    sr.writeUInt16BE(6, 2); // length in words - 1
    sr.writeUInt32BE(u32(), 4); // SSRC
    randomBytes(20).copy(sr, 8); // NTP, RTP time, counts
    sr.writeUInt32BE((0x80000000 | Math.floor(Math.random() * 1e6)) >>> 0, 28); // SRTCP E bit + index
    randomBytes(10).copy(sr, 32); // fake auth tag
    return sr;
  },
  "forged RTCP BYE for the member's SSRC": (t: DatagramTarget) => {
    const bye = Buffer.alloc(8 + 4 + 10);
    bye[0] = 0x81; // V=2, SC=1
    bye[1] = 203; // BYE
    bye.writeUInt16BE(1, 2);
    bye.writeUInt32BE(t.ssrc, 4);
    bye.writeUInt32BE(0x80000001, 8); // SRTCP E bit + index
    randomBytes(10).copy(bye, 12);
    return bye;
  },
  'truncated RTCP (length says 400 bytes)': () => Buffer.from([0x80, 201, 0x00, 0x63, 1, 2, 3, 4]),
  'STUN binding, unknown ufrag': () => stunWithIntegrity(`${randomBytes(4).toString('hex')}:${randomBytes(4).toString('hex')}`),
  "STUN binding, the member's ufrags, wrong key": (t: DatagramTarget) => stunWithIntegrity(`${t.sfuUfrag}:${t.memberUfrag}`),
  'STUN with a lying length': () => stun([attribute(0x0006, Buffer.from('x:y'))], { lengthLie: 4000 }),
  'DTLS ClientHello from a stranger': () => dtlsClientHello(),
  'DTLS handshake fragment of 16 MiB': () => dtlsClientHello(0xffffff),
  'empty datagram': () => Buffer.alloc(0),
  'random bytes': () => randomBytes(1 + Math.floor(Math.random() * 200)),
} satisfies Record<string, (t: DatagramTarget) => Buffer>;

export type DatagramKind = keyof typeof DATAGRAM_KINDS;
export const DATAGRAM_KIND_NAMES = Object.keys(DATAGRAM_KINDS) as DatagramKind[];
