/**
 * "Talking now" from the audio level every sender puts in its RTP header,
 * RFC 6464 §3: a level in -dBov, 0 (loudest) to 127 (silence). The SFU never
 * decodes audio for this. A pure core: callers pass the clock.
 */
export interface SpeakingDetectorOptions {
  /** Level (in -dBov) a packet must be at or above in loudness to count as voice. Default 50. */
  thresholdDbov: number;
  /** Loud packets within `windowMs` needed to start talking. Default 3. */
  onsetPackets: number;
  /** Window for onset, in ms. Default 300. */
  windowMs: number;
  /** Quiet time after which a talker stops talking, in ms. Default 600. */
  hangoverMs: number;
}

const DEFAULTS: SpeakingDetectorOptions = { thresholdDbov: 50, onsetPackets: 3, windowMs: 300, hangoverMs: 600 };

export class SpeakingDetector {
  private readonly options: SpeakingDetectorOptions;
  private loudTimesMs: number[] = [];
  private lastLoudMs = -Infinity;
  private speaking = false;

  constructor(options: Partial<SpeakingDetectorOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /**
   * The V (voice activity) flag of RFC 6464 is not used: senders set it from
   * their own VAD, which calls music and tones "not voice".
   */
  addLevel(levelDbov: number, nowMs: number): void {
    // Apply the hangover before counting, so a talker who went quiet while
    // nobody asked (muted, say) needs a full onset to talk again.
    this.isSpeaking(nowMs);
    if (levelDbov > this.options.thresholdDbov) return;
    this.lastLoudMs = nowMs;
    this.loudTimesMs.push(nowMs);
    const cutoff = nowMs - this.options.windowMs;
    while (this.loudTimesMs.length > 0 && (this.loudTimesMs[0] ?? 0) < cutoff) this.loudTimesMs.shift();
    if (this.loudTimesMs.length >= this.options.onsetPackets) this.speaking = true;
  }

  isSpeaking(nowMs: number): boolean {
    if (this.speaking && nowMs - this.lastLoudMs > this.options.hangoverMs) {
      this.speaking = false;
      this.loudTimesMs = [];
    }
    return this.speaking;
  }
}
