/**
 * Remuxing a recording without re-encoding: the live stream's CMAF (init +
 * segments of moof + mdat) read down to its Opus packets, and those packets
 * copied into a download file (Ogg Opus, RFC 7845) or an exact clip
 * (fragmented MP4, ISO/IEC 14496-12). No packet is decoded, so a remux
 * costs container work only and loses nothing.
 *
 *   readRecording(init, media) -> RecordingPackets --+--> toOgg(recording, range?)  Ogg Opus bytes
 *                                                    '--> cutClip(recording, range) { init, media } fMP4
 *
 * Ranges are seconds from the recording's first packet, end exclusive,
 * widened to whole 20 ms packets; a bad one throws RangeError (HTTP 400).
 * A recording the remuxer cannot read throws RecordingFormatError.
 */
export { readRecording } from './recording-reader.js';
export { toOgg, PRE_ROLL_SAMPLES } from './ogg-export.js';
export { cutClip } from './mp4-clip.js';
export { assertRange, packetSpan, type PacketSpan } from './packet-range.js';
export {
  RecordingFormatError,
  type Mp4Clip,
  type OpusDecoderConfig,
  type RecordedPacket,
  type RecordingFormatReason,
  type RecordingPackets,
  type TimeRange,
  type TruncatedTail,
} from './remux-types.js';
