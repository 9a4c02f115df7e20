/**
 * Timing of the audience stream and the shapes the HLS stage hands on.
 *
 * Why 1 s parts in 4 s segments (docs/ARCHITECTURE.md, "The audience path"):
 * hls.js, the player the listener page uses, makes one blocking playlist
 * reload and one part request per part whatever the segment length, and
 * ignores EXT-X-PRELOAD-HINT, so listener requests per second are 2 / part
 * duration. A 1 s part is the shortest that keeps a listener at 2 requests
 * per second. The player aims at 1 s behind the newest part and starts at
 * the beginning of a part of unknown age, so it sits 1-2 s behind the
 * program date-time until it catches up (docs/BENCHMARKS.md).
 */
export const PART_FRAMES = 50; // 50 × 20 ms Opus frames = 1 s
export const PART_TARGET_S = 1.0;
export const PARTS_PER_SEGMENT = 4;
export const TARGET_DURATION_S = 4; // RFC 8216bis §4.4.3.1: an integer ≥ every EXTINF
/** RFC 8216bis §4.4.3.8: PART-HOLD-BACK MUST be ≥ 2 and SHOULD be ≥ 3 part targets. */
export const PART_HOLD_BACK_S = 3 * PART_TARGET_S;
/** RFC 8216bis §4.4.3.8: HOLD-BACK ≥ 3 target durations. */
export const HOLD_BACK_S = 3 * TARGET_DURATION_S;
/** RFC 8216bis §4.4.3.8: CAN-SKIP-UNTIL ≥ 6 target durations. */
export const CAN_SKIP_UNTIL_S = 6 * TARGET_DURATION_S;
/** Segments listed in the playlist (40 s: longer than the skip boundary so delta updates pay). */
export const PLAYLIST_SEGMENTS = 10;
/**
 * RFC 8216bis §6.2.2: a segment stays downloadable for 3 target durations
 * after it leaves the playlist; we keep three more segments than that.
 */
export const RETAINED_SEGMENTS = PLAYLIST_SEGMENTS + 6;

/** One part: a CMAF fragment (moof + mdat) of PART_FRAMES Opus frames. */
export interface HlsPart {
  /** Media sequence number of the segment the part belongs to. */
  msn: number;
  /** Index of the part in its segment, from 0. */
  index: number;
  durationS: number;
  bytes: Uint8Array;
  /** Wall-clock time of the part's first sample, in ms since the epoch. */
  wallClockMs: number;
}

export interface HlsSegment {
  msn: number;
  parts: HlsPart[];
  /** True once every part is in; only then does the segment get EXTINF and a URI. */
  complete: boolean;
  /** The parts joined, made once when the segment completes (the origin serves it as is). */
  bytes?: Uint8Array;
  wallClockMs: number;
}

/** The position of the newest part: (msn, index). */
export interface PartPosition {
  msn: number;
  part: number;
}
