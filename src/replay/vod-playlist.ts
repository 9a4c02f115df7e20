/**
 * The replay's and a clip's playlist: a VOD media playlist (RFC 8216bis
 * §4.4.3.5 EXT-X-PLAYLIST-TYPE:VOD) of the kept CMAF segments, ending in
 * EXT-X-ENDLIST. A program date-time on the first segment, and on any
 * segment after a gap, lets a player show the wall clock of each moment.
 */

export interface VodSegment {
  uri: string;
  startS: number;
  durationS: number;
}

const EPSILON_S = 0.001;

export function renderVodPlaylist(initUri: string, segments: readonly VodSegment[], mediaStartMs: number | undefined): string {
  // §4.4.3.1: an integer at least every EXTINF rounded to the nearest integer.
  const target = Math.max(1, ...segments.map((s) => Math.round(s.durationS)));
  const lines = [
    '#EXTM3U',
    // §7: EXT-X-MAP in a playlist without I-frames-only needs version 6; 7 as the live playlists' features go.
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${initUri}"`,
  ];
  let expected: number | undefined;
  for (const segment of segments) {
    if (mediaStartMs !== undefined && (expected === undefined || Math.abs(segment.startS - expected) > EPSILON_S)) {
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(mediaStartMs + segment.startS * 1000).toISOString()}`);
    }
    lines.push(`#EXTINF:${segment.durationS.toFixed(3)},`, segment.uri);
    expected = segment.startS + segment.durationS;
  }
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}
