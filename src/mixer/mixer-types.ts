/**
 * Contracts of the mixer, apart from the codec library behind them, so the
 * core can be tested with any codec and the library replaced.
 */

/** Decodes one speaker's Opus stream to 48 kHz mono 16-bit PCM. */
export interface VoiceDecoder {
  /** Decodes a packet; throws on a packet it cannot decode. */
  decode(payload: Uint8Array): Int16Array;
  /**
   * Decodes the in-band FEC copy of the frame before `nextPayload` (RFC 7587
   * §3.2), or returns undefined when the codec cannot.
   */
  decodeFec(nextPayload: Uint8Array): Int16Array | undefined;
  /** Packet loss concealment for one 20 ms frame. */
  conceal(): Int16Array;
}

/** Encodes the mix: 20 ms of 48 kHz mono PCM in, one Opus packet out. */
export interface VoiceEncoder {
  encode(pcm: Int16Array): Uint8Array;
}

export interface VoiceCodecFactory {
  decoder(): VoiceDecoder;
  encoder(): VoiceEncoder;
}

/** One encoded 20 ms frame of the mix, on the Space's media timeline. */
export interface MixedFrame {
  /** Opus packet. */
  payload: Uint8Array;
  /** Index of the frame since the Space's start (frame n starts at n × 20 ms). */
  index: number;
  /** Wall-clock time the frame's audio started, in ms since the epoch. */
  wallClockMs: number;
}

export interface MixerStats {
  framesMixed: number;
  decodeErrors: number;
  speakers: number;
}
