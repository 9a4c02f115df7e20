/**
 * The SRTP border of one stage member: wraps the `decrypt` of werift's SRTP
 * and SRTCP sessions for this member, which werift calls for every media
 * datagram that came through the ICE border (ice-border.ts), so that:
 *   - oversized and truncated SRTP/SRTCP are dropped before decryption
 *     (packet-checks.ts), and counted;
 *   - SRTCP whose index the replay window already holds is dropped before
 *     decryption, and the window only moves once werift has authenticated
 *     the packet (RFC 3711 §3.3.2, §3.4); SRTP's window is applied after
 *     decryption, in stage-peer.ts, where werift hands the RTP over;
 *   - what werift's SRTP layer refuses (a bad tag; after decryption, RTP
 *     padding of length 0 or past the payload, RFC 3550 §5.1) is counted.
 * A dropped datagram is signalled with werift's own SrtpAuthenticationError,
 * which its transport catches and drops quietly.
 */
import { SrtpAuthenticationError, type RTCDtlsTransport } from 'werift';
import { checkSrtcp, checkSrtp, srtcpIndexOf, srtcpSsrcOf, trailerOf, type SrtpTrailer } from './packet-checks.js';
import { ReplayGuard } from './replay-window.js';
import type { PeerDropStats } from './sfu-types.js';

type Decrypt = (datagram: Buffer) => Buffer;

export class SrtpBorder {
  private readonly rtcpReplay = new ReplayGuard();
  private readonly wrapped = new WeakSet<object>();

  constructor(
    private readonly dtls: RTCDtlsTransport,
    private readonly stats: PeerDropStats,
  ) {
    // werift makes the sessions once keys exist, just before it says "connected",
    // in the same synchronous step: no datagram can reach them unwrapped.
    dtls.onStateChange.subscribe((state) => {
      if (state === 'connected') this.wrapSessions();
    });
  }

  private wrapSessions(): void {
    const trailer = trailerOf(this.dtls.dtls?.srtp.srtpProfile);
    const { srtp, srtcp } = this.dtls;
    if (srtp && !this.wrapped.has(srtp)) {
      this.wrapped.add(srtp);
      srtp.decrypt = this.guardSrtp(srtp.decrypt, trailer);
    }
    if (srtcp && !this.wrapped.has(srtcp)) {
      this.wrapped.add(srtcp);
      srtcp.decrypt = this.guardSrtcp(srtcp.decrypt, trailer);
    }
  }

  private guardSrtp(decrypt: Decrypt, trailer: SrtpTrailer): Decrypt {
    return (datagram) => {
      const verdict = checkSrtp(datagram, trailer);
      if (verdict) {
        this.stats[verdict]++;
        throw new SrtpAuthenticationError(`SFU border: ${verdict}`);
      }
      try {
        return decrypt(datagram);
      } catch (error) {
        if (error instanceof SrtpAuthenticationError) this.stats.rtpRefused++;
        throw error;
      }
    };
  }

  private guardSrtcp(decrypt: Decrypt, trailer: SrtpTrailer): Decrypt {
    return (datagram) => {
      const verdict = checkSrtcp(datagram, trailer);
      if (verdict) {
        this.stats[verdict]++;
        throw new SrtpAuthenticationError(`SFU border: ${verdict}`);
      }
      const ssrc = srtcpSsrcOf(datagram);
      const index = srtcpIndexOf(datagram, trailer);
      if (!this.rtcpReplay.isNewIndex(ssrc, index)) {
        this.stats.rtcpReplayed++;
        throw new SrtpAuthenticationError('SFU border: SRTCP replay');
      }
      let plain: Buffer;
      try {
        plain = decrypt(datagram);
      } catch (error) {
        if (error instanceof SrtpAuthenticationError) this.stats.rtcpRefused++;
        throw error;
      }
      this.rtcpReplay.acceptIndex(ssrc, index);
      return plain;
    };
  }
}
