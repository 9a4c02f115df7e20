/**
 * Contracts of the remuxer (src/replay/remux.ts): a recording read down to
 * its Opus packets, the ranges asked of it and the files made from it,
 * apart from mediabunny, which reads and writes the containers.
 */

/** One Opus packet of the recording, copied byte for byte from its mdat. */
export interface RecordedPacket {
  data: Uint8Array;
  /** Start on the recording's timeline: seconds from its first packet (whole 48 kHz samples). */
  timestampS: number;
  /** 0.02 s for every packet the live packager writes. */
  durationS: number;
}

/** What the Opus decoder needs (the WebCodecs AudioDecoderConfig shape mediabunny uses). */
export interface OpusDecoderConfig {
  codec: 'opus';
  numberOfChannels: number;
  /** 48,000: Opus always decodes at 48 kHz (RFC 7845 §4). */
  sampleRate: number;
  /** The OpusHead (RFC 7845 §5.1), rebuilt by mediabunny from the init's 'dOps'. */
  description: Uint8Array;
}

/** Where a recording stopped short: a fragment cut by a crash, and whatever came after it. */
export interface TruncatedTail {
  /** Index in `media` of the segment holding the incomplete fragment. */
  segmentIndex: number;
  /** Bytes of that segment kept: up to the end of its last complete fragment. */
  keptBytes: number;
  /** Bytes left out: the incomplete fragment, and all of any later segments. */
  droppedBytes: number;
  /** Later segments left out whole (0 when the truncated one is the last, as after a crash). */
  droppedSegments: number;
}

export interface RecordingPackets {
  packets: RecordedPacket[];
  decoderConfig: OpusDecoderConfig;
  /** Pre-skip of the OpusHead, in 48 kHz samples (RFC 7845 §4.2): the encoder's lookahead. */
  preSkipSamples: number;
  /** Timestamp of the first packet on the Space's media timeline (frame index × 20 ms), in s. */
  mediaStartS: number;
  /** End of the last packet, in s from the first. */
  durationS: number;
  /** Set when the recording ended inside a fragment; the packets stop at the last complete one. */
  truncated: TruncatedTail | undefined;
}

/** A range of the recording in seconds from its first packet, end exclusive. */
export interface TimeRange {
  startS: number;
  endS: number;
}

/** A clip as fragmented MP4 (ISO/IEC 14496-12 §8.8): the init apart, so it can be an HLS VOD segment behind EXT-X-MAP. */
export interface Mp4Clip {
  /** ftyp + moov. */
  init: Uint8Array;
  /** moof + mdat pairs of at most 1 s, timestamps from 0. init + media is a playable .mp4 file. */
  media: Uint8Array;
  /** Where the clip starts on the recording's timeline: the asked start, snapped down to a packet boundary. */
  startS: number;
  /** Where it ends: the asked end, snapped up to a packet boundary. */
  endS: number;
  durationS: number;
}

export type RecordingFormatReason = 'bad-init' | 'no-opus-track' | 'no-packets';

/**
 * A recording the remuxer cannot read: a server-side fault (the recorder
 * wrote it), not the asker's, so callers map it to a 5xx, unlike the
 * RangeError of a bad range.
 */
export class RecordingFormatError extends Error {
  override readonly name = 'RecordingFormatError';

  private constructor(
    readonly reason: RecordingFormatReason,
    message: string,
  ) {
    super(message);
  }

  static badInit(): RecordingFormatError {
    return new RecordingFormatError('bad-init', 'the init segment is not a complete ftyp + moov');
  }

  static noOpusTrack(codec: string | null): RecordingFormatError {
    return new RecordingFormatError('no-opus-track', `the recording has no Opus track with an OpusHead (found ${codec ?? 'no audio track'})`);
  }

  static noPackets(): RecordingFormatError {
    return new RecordingFormatError('no-packets', 'the recording holds no complete fragment');
  }
}
