/**
 * A cheap filter for payloads that are not this speaker's Opus: every Opus
 * packet opens with a TOC byte (RFC 6716 §3.1) naming its configuration
 * (mode, bandwidth, frame size) and frame count. A real encoder changes mode
 * and bandwidth freely (libwebrtc moves between Hybrid SWB and FB at every
 * start and end of a talk spurt) but keeps its packet duration; random
 * bytes name a random one. Garbage that reaches a decoder decodes as noise,
 * so packets whose duration breaks the speaker's steady one are dropped
 * until a run of them shows the sender really changed its framing.
 *
 *   0 1 2 3 4 5 6 7
 *  +-+-+-+-+-+-+-+-+
 *  | config  |s| c |
 *  +-+-+-+-+-+-+-+-+
 */

/** Frame duration in 1/10 ms of each config (RFC 6716 §3.1, Table 2). */
const FRAME_TENTHS_MS = [
  100, 200, 400, 600, 100, 200, 400, 600, 100, 200, 400, 600, // SILK NB, MB, WB
  100, 200, 100, 200, // Hybrid SWB, FB
  25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, 25, 50, 100, 200, // CELT NB, WB, SWB, FB
];

/** Total duration of a packet in 1/10 ms, or undefined when its framing is malformed. */
export function opusPacketTenthsMs(payload: Uint8Array): number | undefined {
  const toc = payload[0];
  if (toc === undefined) return undefined;
  const frame = FRAME_TENTHS_MS[toc >> 3] ?? 0;
  switch (toc & 0x3) {
    case 0:
      return frame;
    case 1:
    case 2:
      return payload.length >= 2 ? frame * 2 : undefined;
    default: {
      // Code 3: the frame count is in the second byte (RFC 6716 §3.2.5).
      const count = (payload[1] ?? 0) & 0x3f;
      if (payload.length < 2 || count === 0 || frame * count > 1200) return undefined;
      return frame * count;
    }
  }
}

export class TocGuard {
  /** The speaker's packet duration, in 1/10 ms. */
  private duration: number | undefined;
  private candidate: { duration: number; count: number } | undefined;

  /**
   * @param switchAfter packets in a row with a new packet duration before it
   *   is taken as the encoder's. Default 3.
   */
  constructor(private readonly switchAfter = 3) {}

  accept(payload: Uint8Array): boolean {
    const duration = opusPacketTenthsMs(payload);
    if (duration === undefined || duration > 1200) return false;
    if (this.duration === undefined || duration === this.duration) {
      this.duration = duration;
      this.candidate = undefined;
      return true;
    }
    if (this.candidate?.duration === duration) this.candidate.count++;
    else this.candidate = { duration, count: 1 };
    if (this.candidate.count < this.switchAfter) return false;
    this.duration = duration;
    this.candidate = undefined;
    return true;
  }
}
