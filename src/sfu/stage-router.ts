/**
 * The routing of one Space's stage: every member's audio goes to every other
 * member, never back to its sender. Forwarding is packet for packet (no
 * decoding); a muted member's packets stop at the router, so a host's mute
 * holds even against a client that keeps sending.
 */
import { EventEmitter } from 'node:events';
import type { RtpPacket } from 'werift';
import { SpeakingDetector } from './speaking-detector.js';
import { StagePeer } from './stage-peer.js';
import { emptyDropStats, type PeerDropStats, type SfuOptions } from './sfu-types.js';

export interface StageRouterEvents {
  /** The set of members talking now changed. */
  speaking: [string[]];
  /** Every authenticated audio packet a member sent while unmuted (the mixer taps here). */
  audio: [string, RtpPacket];
}

interface RoutedMember {
  peer: StagePeer;
  muted: boolean;
  mutedAtMs: number;
  detector: SpeakingDetector;
}

/** How often the talking set is recomputed, in ms. */
const SPEAKING_TICK_MS = 100;

export class StageRouter extends EventEmitter<StageRouterEvents> {
  private readonly members = new Map<string, RoutedMember>();
  /** Drop counters of members who have left. */
  private readonly departed = emptyDropStats();
  private readonly timer: NodeJS.Timeout;
  private speakingKey = '';
  private closed = false;

  constructor(private readonly options: SfuOptions) {
    super();
    this.timer = setInterval(() => this.updateSpeaking(), SPEAKING_TICK_MS);
    this.timer.unref();
  }

  /** Creates the member's peer; call `start()` on it once its events are wired. */
  addMember(memberId: string): StagePeer {
    const peer = new StagePeer(memberId, this.options);
    const member: RoutedMember = { peer, muted: false, mutedAtMs: 0, detector: new SpeakingDetector() };
    peer.on('rtp', (rtp, level) => this.route(memberId, member, rtp, level));
    for (const [otherId, other] of this.members) {
      void other.peer.addSource(memberId);
      void peer.addSource(otherId);
    }
    this.members.set(memberId, member);
    return peer;
  }

  async removeMember(memberId: string): Promise<void> {
    const member = this.members.get(memberId);
    if (!member) return;
    this.members.delete(memberId);
    addInto(this.departed, member.peer.stats);
    await member.peer.close();
    for (const other of this.members.values()) void other.peer.removeSource(memberId);
  }

  setMuted(memberId: string, muted: boolean): void {
    const member = this.members.get(memberId);
    if (!member || member.muted === muted) return;
    member.muted = muted;
    if (muted) {
      member.mutedAtMs = Date.now();
      return;
    }
    const pausedMs = Date.now() - member.mutedAtMs;
    for (const [otherId, other] of this.members) if (otherId !== memberId) other.peer.resumeSource(memberId, pausedMs);
  }

  peer(memberId: string): StagePeer | undefined {
    return this.members.get(memberId)?.peer;
  }

  get size(): number {
    return this.members.size;
  }

  /** What the border dropped for this stage so far, every member (present or gone) summed. */
  dropStats(): PeerDropStats {
    const total = { ...this.departed };
    for (const member of this.members.values()) addInto(total, member.peer.stats);
    return total;
  }

  /** Safe to call twice; closes every peer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const peers = [...this.members.values()].map((m) => m.peer);
    this.members.clear();
    this.removeAllListeners();
    await Promise.all(peers.map((p) => p.close()));
  }

  private route(sourceId: string, source: RoutedMember, rtp: RtpPacket, level: number | undefined): void {
    if (source.muted) return;
    if (level !== undefined) source.detector.addLevel(level, Date.now());
    for (const [memberId, member] of this.members) {
      if (memberId !== sourceId) member.peer.forward(sourceId, rtp);
    }
    this.emit('audio', sourceId, rtp);
  }

  private updateSpeaking(): void {
    const now = Date.now();
    const talking: string[] = [];
    for (const [memberId, member] of this.members) {
      if (!member.muted && member.detector.isSpeaking(now)) talking.push(memberId);
    }
    const key = talking.join(',');
    if (key === this.speakingKey) return;
    this.speakingKey = key;
    this.emit('speaking', talking);
  }
}

function addInto(total: PeerDropStats, stats: PeerDropStats): void {
  for (const key of Object.keys(total) as (keyof PeerDropStats)[]) total[key] += stats[key];
}
