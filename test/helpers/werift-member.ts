/**
 * A stage member built on werift instead of libwebrtc, driven by the same
 * StageSession as the browser. werift lets a test reach below WebRTC's API:
 * `SrtpTap` sits on the member's ICE connection, where SRTP datagrams leave
 * already encrypted and authenticated, so a test can replay them verbatim or
 * send forged copies over the very same 5-tuple the SFU trusts.
 */
import { WebSocket } from 'ws';
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket, isMedia, isRtcp, type RTCRtpSender } from 'werift';
import { StageSession, type SocketLike } from '../../src/client/stage-session.js';
import { peerConfig } from '../../src/sfu/peer-config.js';
import { DEFAULT_SFU_OPTIONS } from '../../src/sfu/sfu-types.js';
import type { MemberView } from '../../src/wire/signalling.js';
import { waitFor } from './tribune.js';

/** Chrome's Opus DTX frame: TOC 0xf8 (CELT FB 20 ms, mono, one frame) and two bytes. */
const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);
/** 20 ms at 48 kHz, in RTP timestamp units. */
const SAMPLES_PER_PACKET = 960;

export type TapMode = 'pass' | 'withhold-and-forge';

/**
 * Wraps one ICE connection's `send`. Every outgoing SRTP datagram (RTP, not
 * RTCP) is recorded. In 'withhold-and-forge' mode the genuine datagram is
 * kept back and `forge(datagram)` goes on the wire instead.
 */
export class SrtpTap {
  mode: TapMode = 'pass';
  forge: (datagram: Buffer) => Buffer = flipAuthTagByte;
  /** Every genuine SRTP datagram the member produced, in order. */
  readonly sent: Buffer[] = [];
  /** Genuine datagrams held back in 'withhold-and-forge' mode. */
  readonly withheld: Buffer[] = [];
  private readonly sendOnWire: (data: Buffer) => Promise<void>;

  constructor(connection: { send: (data: Buffer) => Promise<void> }) {
    this.sendOnWire = connection.send;
    connection.send = (data: Buffer) => {
      if (!isMedia(data) || isRtcp(data)) return this.sendOnWire(data);
      const genuine = Buffer.from(data);
      this.sent.push(genuine);
      if (this.mode === 'pass') return this.sendOnWire(data);
      this.withheld.push(genuine);
      return this.sendOnWire(this.forge(Buffer.from(genuine)));
    };
  }

  /** Puts `datagram` on the wire as it is, bypassing werift's SRTP layer. */
  inject(datagram: Buffer): Promise<void> {
    return this.sendOnWire(datagram);
  }
}

/** AES_CM_128_HMAC_SHA1_80 ends with a 10-byte tag (RFC 3711 §4.2); flip a bit of its last byte. */
export function flipAuthTagByte(datagram: Buffer): Buffer {
  const forged = Buffer.from(datagram);
  forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 0x01;
  return forged;
}

export class WeriftMember {
  readonly session: StageSession;
  readonly track = new MediaStreamTrack({ kind: 'audio' });
  /** RTP packets received from other members, after werift's SRTP checks. */
  rtpReceived = 0;
  me: MemberView | undefined;
  private pc: RTCPeerConnection | undefined;
  private tap: SrtpTap | undefined;
  private sequenceNumber = 1000;
  private timestamp = 0;

  constructor(socketUrl: string, name: string) {
    this.session = new StageSession({
      socketUrl,
      name,
      track: this.track as unknown as globalThis.MediaStreamTrack,
      createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
      createPeerConnection: () => {
        this.pc = new RTCPeerConnection(peerConfig(DEFAULT_SFU_OPTIONS));
        return this.pc as unknown as globalThis.RTCPeerConnection;
      },
    });
    this.session.on('remoteTrack', (_memberId, track) => {
      (track as unknown as MediaStreamTrack).onReceiveRtp.subscribe(() => this.rtpReceived++);
    });
  }

  async join(): Promise<MemberView> {
    this.me = await this.session.join();
    return this.me;
  }

  connected(timeoutMs = 10_000): Promise<void> {
    return waitFor(() => this.pc?.connectionState === 'connected', timeoutMs, `${this.me?.name ?? 'member'} to connect`);
  }

  /** The tap on this member's ICE connection; installed on first use, once connected. */
  srtpTap(): SrtpTap {
    if (this.tap) return this.tap;
    const transceiver = this.pc?.getTransceivers()[0];
    if (!transceiver || this.pc?.connectionState !== 'connected') throw new Error('srtpTap() needs a connected member');
    // max-bundle: every m-line shares this one ICE connection.
    this.tap = new SrtpTap(transceiver.dtlsTransport.iceTransport.connection);
    return this.tap;
  }

  /** Sends `count` Opus packets through werift's own sender, `intervalMs` apart. */
  async sendAudio(count: number, intervalMs = 20): Promise<void> {
    const sender = this.publishSender();
    for (let i = 0; i < count; i++) {
      const header = new RtpHeader({ sequenceNumber: this.sequenceNumber, timestamp: this.timestamp, payloadType: 111, marker: i === 0 });
      this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
      this.timestamp = (this.timestamp + SAMPLES_PER_PACKET) >>> 0;
      await sender.sendRtp(new RtpPacket(header, OPUS_SILENCE));
      if (intervalMs > 0 && i < count - 1) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  close(): void {
    this.session.close();
    this.track.stop();
  }

  private publishSender(): RTCRtpSender {
    const transceiver = this.pc?.getTransceivers().find((t) => t.sender.track === this.track);
    if (!transceiver) throw new Error('no transceiver publishes this member’s track yet');
    return transceiver.sender;
  }
}
