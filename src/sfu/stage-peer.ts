/**
 * One stage member's peer connection on the SFU side (werift).
 *
 * Layout: m-line 0 receives the member's microphone (recvonly on our side);
 * every further m-line sends one other member's audio (sendonly). The SFU is
 * always the offerer (RFC 8829 §5.2); offers are serialised so that a new
 * one is only made once the previous answer is in, and changes that arrive
 * while an offer is out are folded into one renegotiation.
 *
 * When a member leaves, the m-line that carried them goes inactive and is
 * reused for the next member who joins, so a long Space does not grow its
 * SDP by one m-line per visitor.
 */
import { EventEmitter } from 'node:events';
import { RTCPeerConnection, RTCIceCandidate, type RTCRtpTransceiver, type RtpPacket } from 'werift';
import { TribuneError } from '../wire/errors.js';
import { IceBorder } from './ice-border.js';
import { peerConfig, withOpusFmtp } from './peer-config.js';
import { ReplayGuard } from './replay-window.js';
import { checkAnswer, checkCandidate, midsOf, type CandidateRules } from './sdp-checks.js';
import { emptyDropStats, type CandidateToSend, type OfferToSend, type PeerDropStats, type SfuOptions } from './sfu-types.js';
import { SrtpBorder } from './srtp-border.js';
import { connectionOf, type ConnectionInternals } from './werift-seams.js';

export interface StagePeerEvents {
  offer: [OfferToSend];
  candidate: [CandidateToSend];
  /** An authenticated, non-replayed audio packet from this member, with its RFC 6464 level if sent. */
  rtp: [RtpPacket, number | undefined];
  connectionState: [string];
}

/** Sizes of this member's ICE state in werift, for diagnostics and tests. */
export interface PeerIceState {
  candidatePairs: number;
  remoteCandidates: number;
  /** STUN requests queued until the check list exists. */
  earlyChecks: number;
  /** Source addresses that passed an authenticated ICE check. */
  checkedSources: number;
}

interface Slot {
  transceiver: RTCRtpTransceiver;
  sourceId: string | undefined;
}

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

export class StagePeer extends EventEmitter<StagePeerEvents> {
  readonly memberId: string;
  readonly stats: PeerDropStats = emptyDropStats();
  private readonly pc: RTCPeerConnection;
  private readonly inbound: RTCRtpTransceiver;
  private readonly ice: ConnectionInternals;
  private readonly iceBorder: IceBorder;
  private readonly slots: Slot[] = [];
  private readonly replay = new ReplayGuard();
  private readonly maxRtpBytes: number;
  private offerOutstanding = false;
  /** The offer as sent to the member (werift's, with our Opus parameters). */
  private sentOffer = '';
  private renegotiationWanted = false;
  private started = false;
  private closed = false;
  private readonly candidateRules: CandidateRules;

  constructor(memberId: string, options: SfuOptions) {
    super();
    this.memberId = memberId;
    this.maxRtpBytes = options.maxRtpBytes;
    this.candidateRules = { publicOnly: options.publicCandidatesOnly };
    this.pc = new RTCPeerConnection(peerConfig(options));
    this.inbound = this.pc.addTransceiver('audio', { direction: 'recvonly' });
    // max-bundle: this one transport carries every m-line. Guard it before the
    // first setLocalDescription opens its sockets (docs/SECURITY.md, "Media").
    const dtls = this.inbound.dtlsTransport;
    this.ice = connectionOf(dtls);
    this.iceBorder = new IceBorder(this.ice, this.stats, () => dtls.state === 'connected');
    new SrtpBorder(dtls, this.stats);
    this.inbound.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp, extensions) => this.onInboundRtp(rtp, extensions));
    });
    this.pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate || this.closed) return;
      const json = candidate.toJSON();
      this.emit('candidate', {
        candidate: json.candidate ?? '',
        sdpMid: json.sdpMid ?? null,
        sdpMLineIndex: json.sdpMLineIndex ?? null,
      });
    });
    this.pc.connectionStateChange.subscribe((state) => this.emit('connectionState', state));
  }

  /** Sends the first offer; until then, changes only shape the layout. */
  start(): Promise<void> {
    this.started = true;
    return this.negotiate();
  }

  /** Adds an m-line that carries `sourceId`'s audio to this member. */
  addSource(sourceId: string): Promise<void> {
    if (this.closed || this.slots.some((s) => s.sourceId === sourceId)) return Promise.resolve();
    const free = this.slots.find((s) => s.sourceId === undefined);
    if (free) {
      free.sourceId = sourceId;
      free.transceiver.setDirection('sendonly');
      // A different source continues the m-line: keep sequence numbers and
      // timestamps continuous for the receiver (RFC 3550 §5.1).
      free.transceiver.sender.replaceRTP({ sequenceNumber: 0, timestamp: 0 }, true, 960);
    } else {
      const transceiver = this.pc.addTransceiver('audio', { direction: 'sendonly' });
      this.slots.push({ transceiver, sourceId });
    }
    return this.negotiate();
  }

  removeSource(sourceId: string): Promise<void> {
    const slot = this.slots.find((s) => s.sourceId === sourceId);
    if (!slot || this.closed) return Promise.resolve();
    slot.sourceId = undefined;
    slot.transceiver.setDirection('inactive');
    return this.negotiate();
  }

  /** Forwards one packet of `sourceId` to this member, if it has a slot for it. */
  forward(sourceId: string, rtp: RtpPacket): void {
    const slot = this.slots.find((s) => s.sourceId === sourceId);
    if (!slot || this.closed) return;
    this.stats.rtpForwarded++;
    slot.transceiver.sender.sendRtp(rtp).catch(() => {
      // A send on a transport that is closing; nothing to recover.
    });
  }

  /** Resets RTP continuity of the slot carrying `sourceId` after a pause of `pausedMs`. */
  resumeSource(sourceId: string, pausedMs: number): void {
    const slot = this.slots.find((s) => s.sourceId === sourceId);
    if (!slot) return;
    slot.transceiver.sender.replaceRTP({ sequenceNumber: 0, timestamp: 0 }, true, Math.max(960, Math.round(pausedMs * 48)));
  }

  async applyAnswer(sdp: string): Promise<void> {
    if (!this.offerOutstanding) throw new TribuneError('NEGOTIATION_OUT_OF_ORDER');
    checkAnswer(sdp, this.pc.localDescription?.sdp ?? '', this.candidateRules);
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
    } catch (error) {
      throw new TribuneError('SDP_INVALID', error instanceof Error ? error.message.slice(0, 200) : undefined);
    }
    this.offerOutstanding = false;
    if (this.renegotiationWanted) {
      this.renegotiationWanted = false;
      await this.negotiate();
    }
  }

  async addCandidate(candidate: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null }): Promise<void> {
    // An empty candidate is the end-of-candidates marker (RFC 8838 §4.4).
    if (candidate.candidate === '') return;
    checkCandidate(candidate.candidate, this.candidateRules);
    if (candidate.sdpMid != null && !midsOf(this.pc.localDescription?.sdp ?? '').includes(candidate.sdpMid)) {
      throw new TribuneError('ICE_CANDIDATE_INVALID', `no m-section has mid ${candidate.sdpMid}`);
    }
    try {
      await this.pc.addIceCandidate(
        new RTCIceCandidate({
          candidate: candidate.candidate,
          sdpMid: candidate.sdpMid ?? undefined,
          sdpMLineIndex: candidate.sdpMLineIndex ?? undefined,
        }),
      );
    } catch (error) {
      throw new TribuneError('ICE_CANDIDATE_INVALID', error instanceof Error ? error.message.slice(0, 200) : undefined);
    }
  }

  /** The current local offer and remote answer, for diagnostics and tests. */
  descriptions(): { local: string | undefined; remote: string | undefined } {
    return { local: this.sentOffer || undefined, remote: this.pc.remoteDescription?.sdp };
  }

  iceState(): PeerIceState {
    return {
      candidatePairs: this.ice.checkList.length,
      remoteCandidates: this.ice.remoteCandidates.length,
      earlyChecks: this.ice.earlyChecks.length,
      checkedSources: this.iceBorder.checkedSources,
    };
  }

  /** Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.removeAllListeners();
    await this.pc.close().catch(() => undefined);
  }

  private async negotiate(): Promise<void> {
    if (this.closed || !this.started) return;
    if (this.offerOutstanding) {
      this.renegotiationWanted = true;
      return;
    }
    this.offerOutstanding = true;
    const offer = await this.pc.createOffer();
    this.assertOneTransport();
    await this.pc.setLocalDescription(offer);
    if (this.closed) return;
    this.sentOffer = withOpusFmtp(this.pc.localDescription?.sdp ?? '');
    const slots: Record<string, string> = {};
    for (const slot of this.slots) {
      if (slot.sourceId !== undefined && slot.transceiver.mid) slots[slot.transceiver.mid] = slot.sourceId;
    }
    this.emit('offer', { sdp: this.sentOffer, publishMid: this.inbound.mid ?? '0', slots });
  }

  /** Only the guarded transport may ever gather: an unguarded one would take STUN and DTLS from anyone. */
  private assertOneTransport(): void {
    const guarded = this.inbound.dtlsTransport;
    if (this.pc.getTransceivers().some((t) => t.dtlsTransport !== guarded)) {
      throw new Error('a stage peer connection must bundle every m-line on its one guarded transport');
    }
  }

  private onInboundRtp(rtp: RtpPacket, extensions: Record<string, unknown> | undefined): void {
    if (this.closed) return;
    if (rtp.serializeSize > this.maxRtpBytes) {
      this.stats.rtpOversize++;
      return;
    }
    // All padding and no audio (werift has already refused padding that runs past the payload).
    if (rtp.payload.length === 0) {
      this.stats.rtpTruncated++;
      return;
    }
    if (!this.replay.accept(rtp.header.ssrc, rtp.header.sequenceNumber)) {
      this.stats.rtpReplayed++;
      return;
    }
    // werift took the padding off the payload but left the P bit set; forwarded
    // as it is, each receiver would read the last audio byte as a pad length.
    rtp.header.padding = false;
    rtp.header.paddingSize = 0;
    const level = extensions?.[AUDIO_LEVEL_URI] as { level?: number } | undefined;
    this.emit('rtp', rtp, typeof level?.level === 'number' ? level.level : undefined);
  }
}
