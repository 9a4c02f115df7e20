/**
 * Structural checks on the datagrams a stage member sends the SFU, made on
 * the bytes that travel in the clear, so a bad datagram is dropped before
 * werift spends a decryption or an allocation on it. Pure: no werift state,
 * no sockets (ice-border.ts and srtp-border.ts apply them).
 *
 * SRTP (RFC 3711 §3.1, RFC 3550 §5.1): the header is in the clear, the
 * payload (and any padding) is encrypted, the tag ends the packet.
 *
 *    0                   1                   2                   3
 *   |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *   |                           timestamp                           |
 *   |                             SSRC                              |
 *   |            CSRC list: CC x 32 bits                            |
 *   |  profile (16)                 |  extension length (16, words) |  if X
 *   |            extension: length x 32 bits                        |  if X
 *   |            payload (encrypted) ... [padding, last byte = count]
 *   |            authentication tag (10 bytes; 16 with AEAD-GCM)    |
 *
 * SRTCP (RFC 3711 §3.4, RFC 7714 §9): the first 8 bytes (first header and
 * sender SSRC) are in the clear; the trailer holds the E flag and 31-bit
 * SRTCP index (4 bytes) and the tag. With AES-CM the index comes before the
 * tag; with AEAD-GCM the tag comes first and the index ends the packet.
 *
 *   |V=2|P|   RC    |   PT=SR/RR... |     length (words - 1)        |
 *   |                       sender SSRC                             |
 *   |            rest of the compound packet (encrypted) ...        |
 *   |E|                    SRTCP index (31)                         |  AES-CM
 *   |            authentication tag (10 bytes)                      |
 */

/** Largest SRTP or SRTCP datagram accepted: one Ethernet MTU. Audio packets are far smaller. */
export const MAX_MEDIA_DATAGRAM_BYTES = 1500;
/** Largest DTLS handshake message a peer may announce; a WebRTC certificate is about 0.5-1 KiB. */
export const MAX_DTLS_HANDSHAKE_BYTES = 16 * 1024;

/** werift's SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2). */
export const SRTP_AES128_CM_HMAC_SHA1_80 = 1;
export const SRTP_AEAD_AES_128_GCM = 7;

/** Where an SRTP profile puts its tag and the SRTCP index. */
export interface SrtpTrailer {
  tagBytes: number;
  /** Offset of the E flag and SRTCP index, counted back from the end of the datagram. */
  srtcpIndexFromEnd: number;
}

export function trailerOf(profile: number | undefined): SrtpTrailer {
  return profile === SRTP_AEAD_AES_128_GCM ? { tagBytes: 16, srtcpIndexFromEnd: 4 } : { tagBytes: 10, srtcpIndexFromEnd: 14 };
}

export type SrtpVerdict = 'rtpOversize' | 'rtpTruncated';
export type SrtcpVerdict = 'rtcpOversize' | 'rtcpTruncated';

/** Why an SRTP datagram must be dropped before decryption, or undefined when it may go on. */
export function checkSrtp(datagram: Buffer, trailer: SrtpTrailer): SrtpVerdict | undefined {
  if (datagram.length > MAX_MEDIA_DATAGRAM_BYTES) return 'rtpOversize';
  const end = datagram.length - trailer.tagBytes;
  const first = datagram[0] ?? 0;
  let offset = 12 + 4 * (first & 0x0f);
  if (first & 0x10) {
    // Header extension (RFC 3550 §5.3.1): 4 bytes of profile and length, then `length` words.
    if (offset + 4 > end) return 'rtpTruncated';
    offset += 4 + 4 * datagram.readUInt16BE(offset + 2);
  }
  // An audio packet has at least one payload byte (Opus: its TOC byte).
  if (offset >= end) return 'rtpTruncated';
  return undefined;
}

/** Why an SRTCP datagram must be dropped before decryption, or undefined when it may go on. */
export function checkSrtcp(datagram: Buffer, trailer: SrtpTrailer): SrtcpVerdict | undefined {
  if (datagram.length > MAX_MEDIA_DATAGRAM_BYTES) return 'rtcpOversize';
  const trailerBytes = trailer.tagBytes + 4;
  // Header and sender SSRC are the least an RTCP packet has (RFC 3550 §6.4.2, an empty RR).
  if (datagram.length < 8 + trailerBytes) return 'rtcpTruncated';
  const firstPacketBytes = (datagram.readUInt16BE(2) + 1) * 4;
  if (firstPacketBytes < 8 || firstPacketBytes > datagram.length - trailerBytes) return 'rtcpTruncated';
  return undefined;
}

/** The SRTCP index (without the E flag) of a datagram `checkSrtcp` let through. */
export function srtcpIndexOf(datagram: Buffer, trailer: SrtpTrailer): number {
  return datagram.readUInt32BE(datagram.length - trailer.srtcpIndexFromEnd) & 0x7fffffff;
}

/** The sender SSRC of an SRTCP datagram `checkSrtcp` let through. */
export function srtcpSsrcOf(datagram: Buffer): number {
  return datagram.readUInt32BE(4);
}

export type DtlsVerdict = 'malformed' | 'handshakeTooLong' | 'clientHelloAfterHandshake';

/**
 * Why a DTLS datagram must be dropped, or undefined when it may go on
 * (RFC 6347 §4.1 records, §4.2.2 handshake fragments). Only plaintext
 * (epoch 0) handshake records are read inside; later epochs are encrypted.
 *
 *   record:    type(1) version(2) epoch(2) sequence_number(6) length(2) fragment
 *   handshake: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3) body
 *
 * `handshakeDone`: a ClientHello after the handshake asks werift to start
 * over, throwing away the keys the real peer is using; WebRTC never does.
 */
export function checkDtls(datagram: Buffer, handshakeDone: boolean): DtlsVerdict | undefined {
  let offset = 0;
  while (offset < datagram.length) {
    if (datagram.length - offset < 13) return 'malformed';
    const type = datagram[offset] ?? 0;
    const epoch = datagram.readUInt16BE(offset + 3);
    const length = datagram.readUInt16BE(offset + 11);
    const body = offset + 13;
    // change_cipher_spec(20), alert(21), handshake(22), application_data(23).
    if (type < 20 || type > 23 || length === 0 || body + length > datagram.length) return 'malformed';
    if (type === 22 && epoch === 0) {
      const verdict = checkHandshake(datagram.subarray(body, body + length), handshakeDone);
      if (verdict) return verdict;
    }
    offset = body + length;
  }
  return undefined;
}

function checkHandshake(record: Buffer, handshakeDone: boolean): DtlsVerdict | undefined {
  let offset = 0;
  while (offset < record.length) {
    if (record.length - offset < 12) return 'malformed';
    const msgType = record[offset] ?? 0;
    const messageBytes = record.readUIntBE(offset + 1, 3);
    const fragmentOffset = record.readUIntBE(offset + 6, 3);
    const fragmentBytes = record.readUIntBE(offset + 9, 3);
    if (messageBytes > MAX_DTLS_HANDSHAKE_BYTES) return 'handshakeTooLong';
    if (fragmentOffset + fragmentBytes > messageBytes || offset + 12 + fragmentBytes > record.length) return 'malformed';
    // An empty fragment of a non-empty message carries nothing but work for the reassembler.
    if (fragmentBytes === 0 && messageBytes > 0) return 'malformed';
    if (msgType === 1 && handshakeDone) return 'clientHelloAfterHandshake';
    offset += 12 + fragmentBytes;
  }
  return undefined;
}
