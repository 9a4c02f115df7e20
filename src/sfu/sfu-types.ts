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
}

export const DEFAULT_SFU_OPTIONS: SfuOptions = {
  iceServers: [],
  icePortRange: undefined,
  iceAdditionalHostAddresses: [],
  maxRtpBytes: 1200,
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

/** Counters a peer keeps about what it dropped at the border. */
export interface PeerDropStats {
  rtpForwarded: number;
  rtpReplayed: number;
  rtpOversize: number;
}
