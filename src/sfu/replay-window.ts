/**
 * SRTP and SRTCP replay protection, RFC 3711 §3.3.2: a sliding window over
 * the packet index of each SSRC. For SRTP the index is ROC << 16 | SEQ, the
 * rollover counter guessed as in Appendix A; SRTCP carries its 31-bit index
 * in the clear (§3.4). werift authenticates every packet (a forged tag
 * never updates a window) but keeps no replay list, so the SFU checks each
 * packet once more: SRTP after werift decrypted it, SRTCP before (a check
 * that changes nothing) and again after (the update).
 *
 *   highest index seen ----------------------------------------+
 *                                                              v
 *   [ bit size-1 ........................... bit 1 | bit 0 ]
 *     older                                           newest
 *
 * A packet older than the window, or one whose bit is already set, is a
 * replay and is dropped.
 */
export class ReplayWindow {
  /** Window size in packets; RFC 3711 requires at least 64. */
  readonly size: number;
  private highestIndex = -1;
  private mask = 0n;

  constructor(size = 128) {
    if (size < 64) throw new RangeError('RFC 3711 §3.3.2: the replay window holds at least 64 packets');
    this.size = size;
  }

  /** Returns true and records the packet when it is new; false for a replay. */
  accept(seq16: number): boolean {
    return this.acceptIndex(this.highestIndex < 0 ? seq16 : this.estimateIndex(seq16));
  }

  /** Like `accept`, for a full packet index (SRTCP's explicit 31-bit index). */
  acceptIndex(index: number): boolean {
    if (!this.isNewIndex(index)) return false;
    if (this.highestIndex < 0) {
      this.highestIndex = index;
      this.mask = 1n;
    } else if (index > this.highestIndex) {
      const shift = index - this.highestIndex;
      this.mask = shift >= this.size ? 1n : ((this.mask << BigInt(shift)) | 1n) & ((1n << BigInt(this.size)) - 1n);
      this.highestIndex = index;
    } else {
      this.mask |= 1n << BigInt(this.highestIndex - index);
    }
    return true;
  }

  /** Whether `index` would be accepted, without recording it (the check before authentication). */
  isNewIndex(index: number): boolean {
    if (this.highestIndex < 0 || index > this.highestIndex) return true;
    const delta = this.highestIndex - index;
    if (delta >= this.size) return false;
    return (this.mask & (1n << BigInt(delta))) === 0n;
  }

  /** RFC 3711 Appendix A: guess the rollover counter of a received SEQ. */
  private estimateIndex(seq16: number): number {
    const roc = Math.floor(this.highestIndex / 65536);
    const sL = this.highestIndex % 65536;
    let v = roc;
    if (sL < 32768) {
      if (seq16 - sL > 32768) v = roc - 1;
    } else if (sL - 32768 > seq16) {
      v = roc + 1;
    }
    return v * 65536 + seq16;
  }
}

/**
 * One window per SSRC, at most `maxSsrcs` of them. A new SSRC past the cap
 * takes the place of the one heard from least recently: only packets that
 * passed SRTP authentication get here, so only the member itself can make
 * new SSRCs, and a sender that restarts its stream is not silenced.
 */
export class ReplayGuard {
  /** In order of last use, oldest first (a Map keeps insertion order). */
  private readonly windows = new Map<number, ReplayWindow>();

  constructor(private readonly maxSsrcs = 4) {}

  accept(ssrc: number, seq16: number): boolean {
    return this.windowFor(ssrc).accept(seq16);
  }

  /** Records an explicit index (SRTCP) for `ssrc`; false for a replay. */
  acceptIndex(ssrc: number, index: number): boolean {
    return this.windowFor(ssrc).acceptIndex(index);
  }

  /** Whether `index` of `ssrc` would be accepted; changes nothing, so it is safe before authentication. */
  isNewIndex(ssrc: number, index: number): boolean {
    return this.windows.get(ssrc)?.isNewIndex(index) ?? true;
  }

  private windowFor(ssrc: number): ReplayWindow {
    let window = this.windows.get(ssrc);
    if (window) {
      this.windows.delete(ssrc);
    } else {
      if (this.windows.size >= this.maxSsrcs) {
        const oldest = this.windows.keys().next().value;
        if (oldest !== undefined) this.windows.delete(oldest);
      }
      window = new ReplayWindow();
    }
    this.windows.set(ssrc, window);
    return window;
  }

  /** SSRCs with a window now. */
  get size(): number {
    return this.windows.size;
  }
}
