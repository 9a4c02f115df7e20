/**
 * A per-speaker jitter buffer for Opus over RTP (RFC 7587), as a pure core:
 * packets go in with their arrival time, and the mixer pulls one decision
 * per 20 ms output frame. No timers, no codec: the caller decodes.
 *
 * Playout runs on the speaker's RTP clock (48 kHz, RFC 7587 §4.1). The
 * first packet anchors it: RTP timestamp ts plays at
 *   anchorMs + targetDelayMs + (ts - anchorTs) / 48
 * Each pull asks for the frame at the playout cursor and gets:
 *   - `packet`   the packet that starts there;
 *   - `fec`      it was lost, but the next packet is here and carries its
 *                in-band FEC (RFC 7587 §3.2: decode the next with fec=1);
 *   - `conceal`  it was lost inside a talk spurt: run the decoder's PLC;
 *   - `silence`  nothing to play: before the first packet, in a DTX pause
 *                (sequence numbers continue, the timestamp jumps; RFC 7587
 *                §3.1.3), or after a loss too long to conceal.
 *
 * A misbehaving sender cannot hurt anyone else: the buffer is bounded,
 * packets far from the cursor are dropped, and only a run of consistent
 * far-away packets moves the anchor (a restarted sender, not a wild one).
 *
 * Clock drift: a sender whose clock runs slow delivers later and later;
 * after `lateResyncPackets` late packets in a row the anchor moves back
 * (more delay). One whose clock runs fast fills the buffer; when every
 * packet of a second arrived more than 40 ms earlier than needed, the
 * anchor moves 20 ms forward and one frame is skipped.
 */

export const FRAME_SAMPLES = 960; // 20 ms at 48 kHz
const SAMPLES_PER_MS = 48;

export interface JitterPacket {
  seq16: number;
  timestamp32: number;
  payload: Uint8Array;
}

export type Playout =
  | { kind: 'packet'; payload: Uint8Array }
  | { kind: 'fec'; payload: Uint8Array }
  | { kind: 'conceal' }
  | { kind: 'silence' };

export interface JitterBufferOptions {
  /** Delay between a packet's expected arrival and its playout, in ms. Default 60. */
  targetDelayMs: number;
  /** Packets held at most; a burst beyond it drops the oldest. Default 64 (1.28 s). */
  maxPackets: number;
  /** Consecutive lost frames concealed with PLC before going silent. Default 5 (100 ms). */
  maxConcealFrames: number;
  /** A packet further than this from the cursor, in ms, is wild. Default 2000. */
  wildMs: number;
  /** Consistent wild packets in a row that re-anchor the stream. Default 5. */
  resyncPackets: number;
  /** Consecutive late packets that move the anchor back. Default 3. */
  lateResyncPackets: number;
}

export const DEFAULT_JITTER_OPTIONS: JitterBufferOptions = {
  targetDelayMs: 60,
  maxPackets: 64,
  maxConcealFrames: 5,
  wildMs: 2000,
  resyncPackets: 5,
  lateResyncPackets: 3,
};

export interface JitterStats {
  received: number;
  played: number;
  late: number;
  duplicate: number;
  wild: number;
  overflow: number;
  concealed: number;
  fecRecovered: number;
  resyncs: number;
  skipped: number;
}

/** Signed distance a - b on the 32-bit RTP timestamp circle (RFC 3550 §5.1). */
export function tsDiff32(a: number, b: number): number {
  return ((((a - b) >>> 0) + 0x80000000) >>> 0) - 0x80000000;
}

/** Signed distance a - b on the 16-bit sequence number circle. */
export function seqDiff16(a: number, b: number): number {
  return ((((a - b) & 0xffff) + 0x8000) & 0xffff) - 0x8000;
}

export class JitterBuffer {
  readonly stats: JitterStats = { received: 0, played: 0, late: 0, duplicate: 0, wild: 0, overflow: 0, concealed: 0, fecRecovered: 0, resyncs: 0, skipped: 0 };
  private readonly options: JitterBufferOptions;
  /** Buffered packets by RTP timestamp. */
  private readonly packets = new Map<number, JitterPacket>();
  private anchor: { ts: number; ms: number } | undefined;
  /** RTP timestamp of the next frame to play. */
  private cursorTs = 0;
  private lastPlayedSeq: number | undefined;
  private concealedRun = 0;
  private wildRun: { offset: number; count: number } | undefined;
  private lateRun = 0;
  /** Smallest lead (due time minus arrival) over the current window, in ms. */
  private minLeadMs = Infinity;
  private leadSamples = 0;

  constructor(options: Partial<JitterBufferOptions> = {}) {
    this.options = { ...DEFAULT_JITTER_OPTIONS, ...options };
  }

  push(packet: JitterPacket, arrivalMs: number): void {
    this.stats.received++;
    if (!this.anchor) {
      this.reanchor(packet, arrivalMs);
    } else {
      const aheadMs = tsDiff32(packet.timestamp32, this.cursorTs) / SAMPLES_PER_MS;
      if (Math.abs(aheadMs) > this.options.wildMs) {
        if (!this.countWild(packet, arrivalMs)) return;
      } else {
        this.wildRun = undefined;
        if (aheadMs < 0) {
          this.stats.late++;
          if (++this.lateRun >= this.options.lateResyncPackets) {
            this.stats.resyncs++;
            this.reanchor(packet, arrivalMs);
          } else {
            return;
          }
        } else {
          this.lateRun = 0;
          this.trackLead(packet, arrivalMs);
        }
      }
    }
    if (this.packets.has(packet.timestamp32)) {
      this.stats.duplicate++;
      return;
    }
    if (this.packets.size >= this.options.maxPackets) this.dropOldest();
    this.packets.set(packet.timestamp32, packet);
  }

  /**
   * The playout decision for the output frame that starts at `frameMs` (the
   * mixer's frame clock, not the wall clock, so a late tick changes nothing).
   */
  pull(frameMs: number): Playout {
    if (!this.anchor) return { kind: 'silence' };
    if (frameMs < this.dueMs()) return { kind: 'silence' };
    // Behind by a whole frame or more (the anchor moved forward): skip.
    while (frameMs >= this.dueMs() + 20) {
      if (this.packets.delete(this.cursorTs)) this.stats.skipped++;
      this.cursorTs = (this.cursorTs + FRAME_SAMPLES) >>> 0;
    }
    const decision = this.decide();
    this.cursorTs = (this.cursorTs + FRAME_SAMPLES) >>> 0;
    return decision;
  }

  /**
   * Moves the cursor past the rest of a packet longer than 20 ms (Opus
   * frames may be 40 or 60 ms, RFC 6716 §3.1): the caller decoded more
   * samples than one frame and plays them over the next pulls.
   */
  skipSamples(samples: number): void {
    this.cursorTs = (this.cursorTs + samples) >>> 0;
  }

  /** Packets waiting. */
  get depth(): number {
    return this.packets.size;
  }

  private dueMs(): number {
    const anchor = this.anchor ?? { ts: this.cursorTs, ms: 0 };
    return anchor.ms + this.options.targetDelayMs + tsDiff32(this.cursorTs, anchor.ts) / SAMPLES_PER_MS;
  }

  /** Drift from a fast sender clock: see the file comment. */
  private trackLead(packet: JitterPacket, arrivalMs: number): void {
    const anchor = this.anchor;
    if (!anchor) return;
    const dueMs = anchor.ms + this.options.targetDelayMs + tsDiff32(packet.timestamp32, anchor.ts) / SAMPLES_PER_MS;
    this.minLeadMs = Math.min(this.minLeadMs, dueMs - arrivalMs);
    if (++this.leadSamples < 50) return;
    if (this.minLeadMs > this.options.targetDelayMs + 40) anchor.ms -= 20;
    this.minLeadMs = Infinity;
    this.leadSamples = 0;
  }

  private decide(): Playout {
    // Packets whose frame has passed (misaligned timestamps, say) would
    // otherwise sit in the buffer until it overflows.
    for (const ts of this.packets.keys()) if (tsDiff32(ts, this.cursorTs) < 0) this.packets.delete(ts);
    const here = this.packets.get(this.cursorTs);
    if (here) {
      this.packets.delete(this.cursorTs);
      this.lastPlayedSeq = here.seq16;
      this.concealedRun = 0;
      this.stats.played++;
      return { kind: 'packet', payload: here.payload };
    }
    const next = this.nextPacket();
    if (!next) return this.lost(false);
    // Consecutive sequence numbers across a timestamp jump: the sender was
    // in DTX, nothing was lost (RFC 7587 §3.1.3).
    if (this.lastPlayedSeq !== undefined && seqDiff16(next.seq16, this.lastPlayedSeq) === 1) {
      this.concealedRun = 0;
      return { kind: 'silence' };
    }
    if (tsDiff32(next.timestamp32, this.cursorTs) === FRAME_SAMPLES && this.concealedRun < this.options.maxConcealFrames) {
      this.concealedRun++;
      this.stats.fecRecovered++;
      return { kind: 'fec', payload: next.payload };
    }
    return this.lost(true);
  }

  private lost(moreComing: boolean): Playout {
    // A talker who stopped without DTX (or whose packets stopped) fades to
    // silence after a few concealed frames instead of buzzing on.
    if (this.lastPlayedSeq === undefined || this.concealedRun >= this.options.maxConcealFrames || (!moreComing && this.concealedRun >= 2)) {
      return { kind: 'silence' };
    }
    this.concealedRun++;
    this.stats.concealed++;
    return { kind: 'conceal' };
  }

  private nextPacket(): JitterPacket | undefined {
    let best: JitterPacket | undefined;
    let bestAhead = Infinity;
    for (const packet of this.packets.values()) {
      const ahead = tsDiff32(packet.timestamp32, this.cursorTs);
      if (ahead > 0 && ahead < bestAhead) {
        best = packet;
        bestAhead = ahead;
      }
    }
    return best;
  }

  private dropOldest(): void {
    let oldestTs: number | undefined;
    let oldestAhead = Infinity;
    for (const ts of this.packets.keys()) {
      const ahead = tsDiff32(ts, this.cursorTs);
      if (ahead < oldestAhead) {
        oldestAhead = ahead;
        oldestTs = ts;
      }
    }
    if (oldestTs !== undefined) this.packets.delete(oldestTs);
    this.stats.overflow++;
  }

  /**
   * Wild packets are dropped unless `resyncPackets` of them in a row agree
   * on the same new timeline; then the stream is re-anchored on them.
   */
  private countWild(packet: JitterPacket, arrivalMs: number): boolean {
    this.stats.wild++;
    // The sender's clock minus ours: constant for a sender that restarted on
    // a new timeline, scattered for one sending wild timestamps.
    const anchor = this.anchor ?? { ts: packet.timestamp32, ms: arrivalMs };
    const offset = tsDiff32(packet.timestamp32, anchor.ts) / SAMPLES_PER_MS - (arrivalMs - anchor.ms);
    const run = this.wildRun;
    if (run && Math.abs(run.offset - offset) < 50) run.count++;
    else this.wildRun = { offset, count: 1 };
    if ((this.wildRun?.count ?? 0) < this.options.resyncPackets) return false;
    this.stats.resyncs++;
    this.packets.clear();
    this.reanchor(packet, arrivalMs);
    return true;
  }

  private reanchor(packet: JitterPacket, arrivalMs: number): void {
    this.anchor = { ts: packet.timestamp32, ms: arrivalMs };
    this.cursorTs = packet.timestamp32;
    this.lastPlayedSeq = undefined;
    this.concealedRun = 0;
    this.wildRun = undefined;
    this.lateRun = 0;
    this.minLeadMs = Infinity;
    this.leadSamples = 0;
  }
}
