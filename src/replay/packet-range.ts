/**
 * Which packets a time range asks for. Opus packets cannot be split without
 * decoding, so a range is widened to whole packets: its start snapped down
 * to the start of the packet holding it, its end up to the end of the
 * packet holding the instant before it. With the recording's 20 ms packets
 * a clip is then exact to within 20 ms at each end.
 */
import type { RecordedPacket, RecordingPackets, TimeRange } from './remux-types.js';

/** Packets `first` (inclusive) to `end` (exclusive) of the recording. */
export interface PacketSpan {
  first: number;
  end: number;
  startS: number;
  endS: number;
}

/**
 * Float seconds from a query string (2.5, 7.48) rarely land on a whole
 * sample; a thousandth of a sample absorbs that without moving any real
 * boundary.
 */
const TOLERANCE_S = 1 / 48_000 / 1000;

/**
 * Throws RangeError (the caller's 400) for a start below 0, an end at or
 * before the start, an end past the recording, or a value that is not a
 * finite number.
 */
export function assertRange(recording: RecordingPackets, range: TimeRange): void {
  const { startS, endS } = range;
  if (typeof startS !== 'number' || !Number.isFinite(startS)) throw new RangeError(`startS must be a finite number of seconds, not ${String(startS)}`);
  if (typeof endS !== 'number' || !Number.isFinite(endS)) throw new RangeError(`endS must be a finite number of seconds, not ${String(endS)}`);
  if (startS < 0) throw new RangeError(`startS ${startS} is before the recording's start`);
  if (endS <= startS) throw new RangeError(`endS ${endS} must be after startS ${startS}`);
  if (endS > recording.durationS + TOLERANCE_S) throw new RangeError(`endS ${endS} is past the recording's end at ${recording.durationS} s`);
}

/** The packets covering [startS, endS), after assertRange. */
export function packetSpan(recording: RecordingPackets, range: TimeRange): PacketSpan {
  assertRange(recording, range);
  const { packets } = recording;
  // The packet holding startS: the last one starting at or before it.
  const first = Math.max(0, lastStartingBy(packets, range.startS + TOLERANCE_S));
  // Every packet starting before endS: the packet holding the instant before endS is the last.
  const end = Math.max(first + 1, lastStartingBy(packets, range.endS - TOLERANCE_S) + 1);
  const firstPacket = packets[first] as RecordedPacket;
  const lastPacket = packets[end - 1] as RecordedPacket;
  return { first, end, startS: firstPacket.timestampS, endS: lastPacket.timestampS + lastPacket.durationS };
}

/** Index of the last packet whose start is ≤ `timeS` (-1 if none): a binary search, the packets being in time order. */
function lastStartingBy(packets: readonly RecordedPacket[], timeS: number): number {
  let lo = 0;
  let hi = packets.length; // answer + 1 lies in [lo, hi]
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((packets[mid] as RecordedPacket).timestampS <= timeS) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
