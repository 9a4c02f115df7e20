/**
 * LL-HLS playlists of a live Space, after RFC 8216bis (HLS 2nd edition,
 * draft-pantos-hls-rfc8216bis). Pure: a snapshot of the stream in, text
 * out. Section numbers cite that draft.
 *
 * URIs are relative to the playlist: init.mp4, seg/<msn>.m4s,
 * part/<msn>.<index>.m4s.
 */
import { CAN_SKIP_UNTIL_S, HOLD_BACK_S, PART_HOLD_BACK_S, PART_TARGET_S, PLAYLIST_SEGMENTS, TARGET_DURATION_S, type HlsSegment } from './hls-types.js';
import type { StateMark } from './live-stream.js';

export interface PlaylistSnapshot {
  segments: readonly HlsSegment[];
  ended: boolean;
  marks: readonly StateMark[];
}

/** Segments whose parts are listed: RFC 8216bis §6.2.2 lets parts go once over 3 target durations from the end. */
const SEGMENTS_WITH_PARTS = 3;
/** State marks listed at most. */
const MAX_MARKS = 8;

const seconds = (value: number): string => value.toFixed(3);
const iso = (ms: number): string => new Date(ms).toISOString();
export const segmentUri = (msn: number): string => `seg/${msn}.m4s`;
export const partUri = (msn: number, index: number): string => `part/${msn}.${index}.m4s`;

function segmentDuration(segment: HlsSegment): number {
  return segment.parts.reduce((sum, part) => sum + part.durationS, 0);
}

/**
 * The media playlist. With `skip`, segments further than CAN-SKIP-UNTIL
 * from the end are replaced by EXT-X-SKIP (a delta update, §4.4.5.2 and
 * §6.2.5.1).
 */
export function renderMediaPlaylist(snapshot: PlaylistSnapshot, options: { skip?: boolean } = {}): string {
  const listed = snapshot.segments.slice(-PLAYLIST_SEGMENTS).filter((s) => s.parts.length > 0);
  const first = listed[0];
  const lines = [
    '#EXTM3U',
    // §4.4.1.2: EXT-X-SKIP needs version 9 (§7 lists the version each feature needs).
    '#EXT-X-VERSION:9',
    `#EXT-X-TARGETDURATION:${TARGET_DURATION_S}`,
    `#EXT-X-MEDIA-SEQUENCE:${first?.msn ?? 0}`,
    // §4.4.2.1: every part and segment is an Opus fragment and starts a decode.
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '#EXT-X-MAP:URI="init.mp4"',
  ];
  if (!snapshot.ended) {
    // §4.4.3.7 PART-INF and §4.4.3.8 SERVER-CONTROL (blocking reload, hold-backs, skips).
    lines.push(`#EXT-X-PART-INF:PART-TARGET=${seconds(PART_TARGET_S)}`);
    lines.push(
      `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=${seconds(CAN_SKIP_UNTIL_S)},HOLD-BACK=${seconds(HOLD_BACK_S)},PART-HOLD-BACK=${seconds(PART_HOLD_BACK_S)}`,
    );
  }
  const endMs = listed.length > 0 ? (listed[listed.length - 1]?.wallClockMs ?? 0) + segmentDuration(listed[listed.length - 1] as HlsSegment) * 1000 : 0;
  let skipped = 0;
  if (options.skip && !snapshot.ended) {
    // §6.2.5.1: skip the segments that end more than CAN-SKIP-UNTIL before the end of the playlist.
    const boundaryMs = endMs - CAN_SKIP_UNTIL_S * 1000;
    while (skipped < listed.length - 1) {
      const segment = listed[skipped] as HlsSegment;
      if (!segment.complete || segment.wallClockMs + segmentDuration(segment) * 1000 >= boundaryMs) break;
      skipped++;
    }
    if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  }
  // A delta update keeps every date range (only _HLS_skip=v2 with
  // CAN-SKIP-DATERANGES may drop them, §4.4.3.8, which we do not offer).
  lines.push(...renderMarks(snapshot.marks, first?.wallClockMs ?? 0));
  // §4.4.3.7: EXT-X-PART needs PART-INF, which an ended playlist no longer has.
  const partsFrom = snapshot.ended ? listed.length : Math.max(skipped, listed.length - SEGMENTS_WITH_PARTS);
  listed.slice(skipped).forEach((segment, i) => {
    // §4.4.4.6: PROGRAM-DATE-TIME maps each segment to wall-clock time (listeners sync the stage view to it).
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${iso(segment.wallClockMs)}`);
    if (skipped + i >= partsFrom) {
      // §4.4.4.9: EXT-X-PART, every part an independent Opus fragment.
      for (const part of segment.parts) lines.push(`#EXT-X-PART:DURATION=${seconds(part.durationS)},URI="${partUri(part.msn, part.index)}",INDEPENDENT=YES`);
    }
    if (segment.complete) {
      lines.push(`#EXTINF:${seconds(segmentDuration(segment))},`, segmentUri(segment.msn));
    }
  });
  const last = listed[listed.length - 1];
  if (snapshot.ended) {
    lines.push('#EXT-X-ENDLIST'); // §4.4.3.4
  } else if (last) {
    // §4.4.5.3: hint the next part so a client can ask for it before it exists.
    const next = last.complete ? { msn: last.msn + 1, index: 0 } : { msn: last.msn, index: last.parts.length };
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${partUri(next.msn, next.index)}"`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Stage state as EXT-X-DATERANGE (§4.4.5.1): one range per change, with the
 * state as base64 JSON in a client attribute (§4.4.5.1.3: X- attributes).
 */
function renderMarks(marks: readonly StateMark[], windowStartMs: number): string[] {
  let from = 0;
  for (let i = 0; i < marks.length; i++) if ((marks[i]?.wallClockMs ?? 0) <= windowStartMs) from = i;
  return marks
    .slice(Math.max(from, marks.length - MAX_MARKS))
    .map((mark) => {
      const state = Buffer.from(JSON.stringify(mark.state)).toString('base64');
      return `#EXT-X-DATERANGE:ID="stage-${mark.id}",CLASS="org.tribune.stage",START-DATE="${iso(mark.wallClockMs)}",X-STATE="${state}"`;
    });
}

/** The multivariant playlist (§4.4.6): one audio-only Opus rendition. */
export function renderMultivariantPlaylist(bitrate: number): string {
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:9',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    // §4.4.6.2: BANDWIDTH is the peak, AVERAGE-BANDWIDTH the mean (bits/s, with container overhead).
    `#EXT-X-STREAM-INF:BANDWIDTH=${Math.round(bitrate * 1.25)},AVERAGE-BANDWIDTH=${Math.round(bitrate * 1.1)},CODECS="opus"`,
    'live.m3u8',
    '',
  ].join('\n');
}
