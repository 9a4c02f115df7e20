/**
 * The ICE border of one stage member's peer connection: every datagram that
 * reaches one of the member's ICE sockets passes here before werift sees it
 * (werift-seams.ts says how, and why werift alone is not enough).
 *
 * Demultiplexed by first byte as RFC 7983 §7 does:
 *   - STUN requests must be a Binding request whose USERNAME starts with our
 *     ufrag (and ends with the member's, once known) and whose
 *     MESSAGE-INTEGRITY verifies with our ICE password (RFC 8445 §7.3,
 *     RFC 8489 §9.1.3). Anything else is dropped with no answer and no
 *     state: no peer-reflexive candidate, no candidate pair, no triggered
 *     check, no role switch, no queued early check. The source address of a
 *     request that passes becomes a checked source (at most
 *     MAX_CHECKED_SOURCES per member).
 *   - STUN responses go on: werift matches them to its own transactions and
 *     verifies their integrity with the member's password.
 *   - Everything else (DTLS, SRTP, SRTCP) is taken only from a checked
 *     source or the nominated pair's remote address. A ClientHello from an
 *     address that never proved it knows the ICE password therefore never
 *     reaches werift's DTLS server (RFC 8445 §11: media comes over a pair
 *     that passed its checks).
 *   - DTLS from a checked source must still be well formed (packet-checks.ts).
 */
import { isMedia, isStunMessage, parseMessage } from 'werift';
import { checkDtls } from './packet-checks.js';
import type { PeerDropStats } from './sfu-types.js';
import { wrapEntryPoint, type Address, type ConnectionInternals, type ProtocolInternals } from './werift-seams.js';

/**
 * Source addresses one member may check from: a browser checks from each of
 * its host, server-reflexive and relay candidates, rarely more than six.
 * The cap bounds what a member holding the password could make werift keep.
 */
export const MAX_CHECKED_SOURCES = 16;

/** STUN message class bits and the Binding method (RFC 8489 §5, §18.2). */
const STUN_CLASS_MASK = 0x0110;
const STUN_REQUEST = 0x0000;
const STUN_SUCCESS = 0x0100;
const STUN_ERROR = 0x0110;
const STUN_METHOD_MASK = 0x3eef;
const STUN_BINDING = 0x0001;

export class IceBorder {
  /** `${protocol number}/${host}/${port}` of every checked source. */
  private readonly checked = new Set<string>();
  private nextProtocol = 0;

  /**
   * Hooks into `connection` so that every protocol it makes from now on is
   * guarded. Call before the first gathering (setLocalDescription).
   */
  constructor(
    private readonly connection: ConnectionInternals,
    private readonly stats: PeerDropStats,
    /** Whether the DTLS handshake has finished (a ClientHello after it is refused). */
    private readonly dtlsConnected: () => boolean,
  ) {
    const ensureProtocol = connection.ensureProtocol.bind(connection);
    connection.ensureProtocol = (protocol) => {
      this.guard(protocol);
      ensureProtocol(protocol);
    };
  }

  /** Sources that passed an authenticated check, for diagnostics and tests. */
  get checkedSources(): number {
    return this.checked.size;
  }

  private guard(protocol: ProtocolInternals): void {
    const id = this.nextProtocol++;
    wrapEntryPoint(protocol, (deliver) => (data, addr) => {
      if (this.admit(id, protocol, data, addr)) deliver(data, addr);
    });
  }

  private admit(id: number, protocol: ProtocolInternals, data: Buffer, addr: Address): boolean {
    if (isStunMessage(data)) return this.admitStun(`${id}/${addr[0]}/${addr[1]}`, data);
    if (!this.checked.has(`${id}/${addr[0]}/${addr[1]}`) && !this.isNominated(protocol, addr)) {
      this.stats.unknownSource++;
      return false;
    }
    const first = data[0] ?? 0;
    if (first >= 20 && first <= 63) {
      if (checkDtls(data, this.dtlsConnected()) === undefined) return true;
      this.stats.dtlsRefused++;
      return false;
    }
    // SRTP and SRTCP: checked before decryption by srtp-border.ts, which knows the profile.
    if (isMedia(data)) return true;
    this.stats.unclassified++;
    return false;
  }

  private admitStun(source: string, data: Buffer): boolean {
    const type = data.readUInt16BE(0);
    const messageClass = type & STUN_CLASS_MASK;
    if (messageClass === STUN_SUCCESS || messageClass === STUN_ERROR) return true;
    if (messageClass === STUN_REQUEST && (type & STUN_METHOD_MASK) === STUN_BINDING && this.isAuthentic(data)) {
      if (this.checked.has(source)) return true;
      if (this.checked.size < MAX_CHECKED_SOURCES) {
        this.checked.add(source);
        return true;
      }
    }
    this.stats.stunRefused++;
    return false;
  }

  /** RFC 8445 §7.3: USERNAME is "our ufrag:their ufrag", MESSAGE-INTEGRITY keyed with our password. */
  private isAuthentic(data: Buffer): boolean {
    const { localUsername, localPassword, remoteUsername } = this.connection;
    let message: ReturnType<typeof parseMessage>;
    try {
      message = parseMessage(data);
    } catch {
      return false;
    }
    const username: unknown = message?.getAttributeValue('USERNAME');
    if (typeof username !== 'string') return false;
    const [ours, theirs, ...rest] = username.split(':');
    if (rest.length > 0 || ours !== localUsername || theirs === undefined) return false;
    // Before the answer is applied the member's ufrag is unknown; the integrity check still holds.
    if (remoteUsername !== '' && theirs !== remoteUsername) return false;
    try {
      // Keyed, werift's parser returns nothing unless MESSAGE-INTEGRITY (and FINGERPRINT, if present) verify.
      return parseMessage(data, Buffer.from(localPassword, 'utf8')) !== undefined;
    } catch {
      return false;
    }
  }

  private isNominated(protocol: ProtocolInternals, addr: Address): boolean {
    const nominated = this.connection.nominated;
    return nominated !== undefined && nominated.protocol === protocol && nominated.remoteAddr[0] === addr[0] && nominated.remoteAddr[1] === addr[1];
  }
}
