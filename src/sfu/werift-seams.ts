/**
 * The werift internals the SFU's border reaches into, all in one place.
 * werift 0.25 declares most of them private; each is checked at run time
 * when a peer is made, so a werift upgrade that renames one fails every
 * join (and the tests) loudly instead of leaving a peer unguarded.
 *
 * Why reach in at all: werift's ICE agent hands every STUN request to its
 * connectivity-check logic without checking USERNAME or MESSAGE-INTEGRITY,
 * and every other datagram to DTLS and SRTP without its source address
 * (StunProtocol.datagramReceived -> onDataReceived(data)). The only place
 * that sees both the bytes and the source is the method each ICE protocol
 * hands its datagrams to, so the border wraps that method on every protocol
 * the agent makes, before the protocol opens its socket.
 */
import type { RTCDtlsTransport } from 'werift';

/** [host, port] as werift writes addresses. */
export type Address = readonly [string, number];

/** What each kind of werift ICE protocol calls with every datagram it receives. */
export const PROTOCOL_ENTRY_POINTS = [
  'datagramReceived', // StunProtocol: one UDP socket (host candidates)
  'handleFrame', // TcpPassiveProtocol / TcpActiveProtocol: one framed STUN or data message (RFC 6544)
  'handleStunMessage', // StunOverTurnProtocol: a datagram from a peer through our TURN allocation
] as const;

type EntryPoint = (data: Buffer, addr: Address) => void;

/** A werift ICE protocol as the border sees it. */
export type ProtocolInternals = { type: string } & Partial<Record<(typeof PROTOCOL_ENTRY_POINTS)[number], EntryPoint>>;

/** werift's ICE agent (ice/src/ice.ts `Connection`), the parts the border reads or wraps. */
export interface ConnectionInternals {
  /** Our ufrag and password for this generation (RFC 8445 §5.3). */
  localUsername: string;
  localPassword: string;
  /** The remote ufrag, '' until the answer is applied. */
  remoteUsername: string;
  checkList: unknown[];
  remoteCandidates: unknown[];
  /** Requests that came before the check list existed, replayed once it does. */
  earlyChecks: unknown[];
  nominated?: { protocol: unknown; remoteAddr: Address };
  /** Subscribes the agent to a protocol's events; werift calls it before the protocol's socket opens. */
  ensureProtocol(protocol: ProtocolInternals): void;
}

/** The ICE agent under a DTLS transport, checked for every member the border uses. */
export function connectionOf(dtls: RTCDtlsTransport): ConnectionInternals {
  const connection = dtls.iceTransport.connection as unknown as Partial<ConnectionInternals>;
  const missing: string[] = [];
  for (const key of ['localUsername', 'localPassword', 'remoteUsername'] as const) {
    if (typeof connection[key] !== 'string') missing.push(key);
  }
  for (const key of ['checkList', 'remoteCandidates', 'earlyChecks'] as const) {
    if (!Array.isArray(connection[key])) missing.push(key);
  }
  if (typeof connection.ensureProtocol !== 'function') missing.push('ensureProtocol');
  if (missing.length) throw new Error(`werift's ICE Connection lacks ${missing.join(', ')}: src/sfu/werift-seams.ts needs updating`);
  return connection as ConnectionInternals;
}

/** Replaces `protocol`'s entry point with `wrap(original)`; throws when it has none the border knows. */
export function wrapEntryPoint(protocol: ProtocolInternals, wrap: (original: EntryPoint) => EntryPoint): void {
  for (const name of PROTOCOL_ENTRY_POINTS) {
    const original = protocol[name];
    if (typeof original !== 'function') continue;
    const bound: EntryPoint = (data, addr) => original.call(protocol, data, addr);
    protocol[name] = wrap(bound);
    return;
  }
  throw new Error(`werift ICE protocol "${protocol.type}" has none of ${PROTOCOL_ENTRY_POINTS.join(', ')}: src/sfu/werift-seams.ts needs updating`);
}
