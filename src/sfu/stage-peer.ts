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
import { peerConfig, withOpusFmtp } from './peer-config.js';
import { ReplayGuard } from './replay-window.js';
import { checkAnswer, checkCandidate, midsOf } from './sdp-checks.js';
import type { CandidateToSend, OfferToSend, PeerDropStats, SfuOptions } from './sfu-types.js';

export interface StagePeerEvents {
  offer: [OfferToSend];
  candidate: [CandidateToSend];
  /** An authenticated, non-replayed audio packet from this member, with its RFC 6464 level if sent. */
  rtp: [RtpPacket, number | undefined];
  connectionState: [string];
}

interface Slot {
  transceiver: RTCRtpTransceiver;
  sourceId: string | undefined;
}

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

export class StagePeer extends EventEmitter<StagePeerEvents> {
  readonly memberId: string;
  readonly stats: PeerDropStats = { rtpForwarded: 0, rtpReplayed: 0, rtpOversize: 0 };
  private readonly pc: RTCPeerConnection;
  private readonly inbound: RTCRtpTransceiver;
  private readonly slots: Slot[] = [];
  private readonly replay = new ReplayGuard();
  private readonly maxRtpBytes: number;
  private offerOutstanding = false;
  /** The offer as sent to the member (werift's, with our Opus parameters). */
  private sentOffer = '';
  private renegotiationWanted = false;
  private started = false;
  private closed = false;

  constructor(memberId: string, options: SfuOptions) {
    super();
    this.memberId = memberId;
    this.maxRtpBytes = options.maxRtpBytes;
    this.pc = new RTCPeerConnection(peerConfig(options));
    this.inbound = this.pc.addTransceiver('audio', { direction: 'recvonly' });
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
    checkAnswer(sdp, this.pc.localDescription?.sdp ?? '');
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
    checkCandidate(candidate.candidate);
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
    await this.pc.setLocalDescription(offer);
    if (this.closed) return;
    this.sentOffer = withOpusFmtp(this.pc.localDescription?.sdp ?? '');
    const slots: Record<string, string> = {};
    for (const slot of this.slots) {
      if (slot.sourceId !== undefined && slot.transceiver.mid) slots[slot.transceiver.mid] = slot.sourceId;
    }
    this.emit('offer', { sdp: this.sentOffer, publishMid: this.inbound.mid ?? '0', slots });
  }

  private onInboundRtp(rtp: RtpPacket, extensions: Record<string, unknown> | undefined): void {
    if (this.closed) return;
    if (rtp.serializeSize > this.maxRtpBytes) {
      this.stats.rtpOversize++;
      return;
    }
    if (!this.replay.accept(rtp.header.ssrc, rtp.header.sequenceNumber)) {
      this.stats.rtpReplayed++;
      return;
    }
    const level = extensions?.[AUDIO_LEVEL_URI] as { level?: number } | undefined;
    this.emit('rtp', rtp, typeof level?.level === 'number' ? level.level : undefined);
  }
}
