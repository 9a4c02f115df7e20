/**
 * Contracts of the SFU, apart from its werift implementation (after
 * mediasoup's ProducerTypes.ts beside Producer.ts).
 */
export interface IceServerConfig {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface SfuOptions {
  /**
   * STUN/TURN servers handed to werift and to every client. Default: none,
   * which is enough when clients reach the server's host candidates (same
   * host or LAN). Deployments behind NAT set TRIBUNE_ICE_SERVERS.
   */
  iceServers: IceServerConfig[];
  /** UDP port range for ICE, inclusive. Default: any free port. */
  icePortRange: [number, number] | undefined;
  /** Extra host candidate addresses (loopback is not gathered otherwise). Default: none. */
  iceAdditionalHostAddresses: string[];
  /** Largest RTP packet forwarded, in bytes (header + payload). Default 1200. */
  maxRtpBytes: number;
  /**
   * Refuse members' candidates at loopback, private and link-local addresses
   * (TRIBUNE_PUBLIC_CANDIDATES_ONLY=1): for a server on the public internet,
   * so no member can point its ICE checks into the server's own network.
   * Default off: tests, LANs and one-machine setups use those addresses.
   */
  publicCandidatesOnly: boolean;
  /**
   * A TURN relay whose credentials are minted per member (TRIBUNE_TURN_URLS,
   * TRIBUNE_TURN_SECRET; src/sfu/turn-credentials.ts). Default: none.
   */
  turn: { urls: string[]; secret: string; lifetimeS: number } | undefined;
}

export const DEFAULT_SFU_OPTIONS: SfuOptions = {
  iceServers: [],
  icePortRange: undefined,
  iceAdditionalHostAddresses: [],
  maxRtpBytes: 1200,
  publicCandidatesOnly: false,
  turn: undefined,
};

export interface OfferToSend {
  sdp: string;
  publishMid: string;
  slots: Record<string, string>;
}

export interface CandidateToSend {
  candidate: string;
  sdpMid: string | null;
  sdpMLineIndex: number | null;
}

/**
 * Counters a peer keeps about what it dropped at the border, by the check
 * that dropped it (docs/SECURITY.md, "Media"). Every counter only grows.
 */
export interface PeerDropStats {
  /** RTP packets forwarded to this member (packets out, not a drop). */
  rtpForwarded: number;
  /** Authenticated RTP whose index the replay window had already seen or left behind. */
  rtpReplayed: number;
  /** SRTP datagrams over 1,500 bytes (before decryption) or RTP over `maxRtpBytes` (after). */
  rtpOversize: number;
  /** SRTP datagrams too short for their own header and tag (before decryption), or RTP with no payload. */
  rtpTruncated: number;
  /** SRTP werift refused: a bad authentication tag, or after decryption a padding length of 0 or past the payload. */
  rtpRefused: number;
  /** SRTCP datagrams over 1,500 bytes (before decryption). */
  rtcpOversize: number;
  /** SRTCP datagrams too short for header, index and tag, or whose first length word runs past them (before decryption). */
  rtcpTruncated: number;
  /** SRTCP werift refused: a bad authentication tag. */
  rtcpRefused: number;
  /** SRTCP whose index the replay window had already seen or left behind. */
  rtcpReplayed: number;
  /** STUN requests that are not an authenticated Binding for this peer's ufrag, or from one source too many. */
  stunRefused: number;
  /** Non-STUN datagrams (DTLS, SRTP, anything) from a source that has not passed an authenticated ICE check. */
  unknownSource: number;
  /** DTLS records that are malformed, claim a handshake message over 16 KiB, or re-open a finished handshake. */
  dtlsRefused: number;
  /** Datagrams from a checked source that are none of STUN, DTLS, RTP or RTCP (RFC 7983 §7). */
  unclassified: number;
}

export function emptyDropStats(): PeerDropStats {
  return {
    rtpForwarded: 0,
    rtpReplayed: 0,
    rtpOversize: 0,
    rtpTruncated: 0,
    rtpRefused: 0,
    rtcpOversize: 0,
    rtcpTruncated: 0,
    rtcpRefused: 0,
    rtcpReplayed: 0,
    stunRefused: 0,
    unknownSource: 0,
    dtlsRefused: 0,
    unclassified: 0,
  };
}
