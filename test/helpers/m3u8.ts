/**
 * A small, strict reader of HLS playlists for tests (RFC 8216bis §4.1 and
 * §4.2): lines become tags with their value and, for attribute lists, the
 * attributes; URI lines attach to the segment they end. It is independent
 * of src/hls on purpose, so the tests read our playlists the way a player
 * would rather than the way we wrote them.
 */

export interface PlaylistTag {
  /** The tag name without '#', e.g. 'EXT-X-PART'. */
  name: string;
  /** Everything after the first ':' (empty for a bare tag). */
  value: string;
  /** The attribute list (§4.2), for tags that carry one; quoted strings are unquoted. */
  attributes: Map<string, string>;
  /** 1-based line number, for messages. */
  line: number;
}

export interface MediaPlaylist {
  tags: PlaylistTag[];
  /** URI lines (not tags, not comments), in order. */
  uris: string[];
  /** All tags named `name`, in order. */
  all(name: string): PlaylistTag[];
  /** The one tag named `name`; throws when absent or repeated. */
  one(name: string): PlaylistTag;
  has(name: string): boolean;
}

/** Tags whose value is an attribute list (§4.4). */
const ATTRIBUTE_TAGS = new Set([
  'EXT-X-MAP',
  'EXT-X-PART-INF',
  'EXT-X-SERVER-CONTROL',
  'EXT-X-PART',
  'EXT-X-PRELOAD-HINT',
  'EXT-X-SKIP',
  'EXT-X-DATERANGE',
  'EXT-X-STREAM-INF',
  'EXT-X-MEDIA',
  'EXT-X-RENDITION-REPORT',
]);

/**
 * Parses an attribute list (§4.2): AttributeName=AttributeValue pairs split
 * by commas, where a quoted string may itself hold commas. Throws on
 * anything malformed (a tolerant parser would hide our bugs).
 */
export function parseAttributes(text: string, line = 0): Map<string, string> {
  const attributes = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: attribute without '=' in ${text}`);
    const name = text.slice(i, eq);
    if (!/^[A-Z0-9-]+$/.test(name)) throw new Error(`line ${line}: bad attribute name ${JSON.stringify(name)}`);
    let value: string;
    if (text[eq + 1] === '"') {
      const close = text.indexOf('"', eq + 2);
      if (close < 0) throw new Error(`line ${line}: unterminated quoted string`);
      value = text.slice(eq + 2, close);
      i = close + 1;
    } else {
      const comma = text.indexOf(',', eq + 1);
      const end = comma < 0 ? text.length : comma;
      value = text.slice(eq + 1, end);
      i = end;
    }
    if (attributes.has(name)) throw new Error(`line ${line}: attribute ${name} given twice`);
    attributes.set(name, value);
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`line ${line}: expected ',' at ${text.slice(i)}`);
      i++;
    }
  }
  return attributes;
}

export function parsePlaylist(text: string): MediaPlaylist {
  const lines = text.split('\n');
  if (lines[0] !== '#EXTM3U') throw new Error('a playlist starts with #EXTM3U (§4.4.1.1)');
  const tags: PlaylistTag[] = [];
  const uris: string[] = [];
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    if (raw.endsWith('\r')) throw new Error(`line ${lineNo}: CR in a line`);
    if (raw === '') return;
    if (!raw.startsWith('#')) {
      uris.push(raw);
      return;
    }
    if (!raw.startsWith('#EXT')) return; // a comment (§4.1)
    const colon = raw.indexOf(':');
    const name = raw.slice(1, colon < 0 ? undefined : colon);
    const value = colon < 0 ? '' : raw.slice(colon + 1);
    const attributes = ATTRIBUTE_TAGS.has(name) ? parseAttributes(value, lineNo) : new Map<string, string>();
    tags.push({ name, value, attributes, line: lineNo });
  });
  const all = (name: string): PlaylistTag[] => tags.filter((tag) => tag.name === name);
  return {
    tags,
    uris,
    all,
    has: (name) => all(name).length > 0,
    one(name) {
      const found = all(name);
      if (found.length !== 1) throw new Error(`expected one #${name}, found ${found.length}`);
      return found[0] as PlaylistTag;
    },
  };
}

/** A part position parsed from our part URIs (part/<msn>.<index>.m4s). */
export interface PartRef {
  msn: number;
  part: number;
}

export function partRefOf(uri: string): PartRef {
  const match = /^part\/(\d+)\.(\d+)\.m4s$/.exec(uri);
  if (!match) throw new Error(`not a part URI: ${uri}`);
  return { msn: Number(match[1]), part: Number(match[2]) };
}

/** The parts a playlist lists, in order. */
export function listedParts(playlist: MediaPlaylist): PartRef[] {
  return playlist.all('EXT-X-PART').map((tag) => partRefOf(tag.attributes.get('URI') ?? ''));
}

/** The part the playlist hints as the next (EXT-X-PRELOAD-HINT TYPE=PART), if any. */
export function hintedPart(playlist: MediaPlaylist): PartRef | undefined {
  const hint = playlist.all('EXT-X-PRELOAD-HINT').find((tag) => tag.attributes.get('TYPE') === 'PART');
  return hint ? partRefOf(hint.attributes.get('URI') ?? '') : undefined;
}

/** Media sequence numbers of the complete segments listed (EXTINF + URI). */
export function completeSegments(playlist: MediaPlaylist): number[] {
  return playlist.uris.filter((uri) => /^seg\/\d+\.m4s$/.test(uri)).map((uri) => Number(/\d+/.exec(uri)?.[0]));
}

/** The segments of a playlist in order: when each starts (its PROGRAM-DATE-TIME) and, once complete, its EXTINF. */
export function segmentsOf(playlist: MediaPlaylist): { startMs: number | undefined; durationS: number | undefined; uri: string | undefined }[] {
  const segments: { startMs: number | undefined; durationS: number | undefined; uri: string | undefined }[] = [];
  let current: { startMs: number | undefined; durationS: number | undefined; uri: string | undefined } | undefined;
  for (const tag of playlist.tags) {
    if (tag.name === 'EXT-X-PROGRAM-DATE-TIME') {
      // A date opens a segment unless the segment in progress has no media tag yet.
      if (!current || current.durationS !== undefined) {
        current = { startMs: undefined, durationS: undefined, uri: undefined };
        segments.push(current);
      }
      current.startMs = Date.parse(tag.value);
    } else if (tag.name === 'EXTINF') {
      if (!current || current.durationS !== undefined) {
        current = { startMs: undefined, durationS: undefined, uri: undefined };
        segments.push(current);
      }
      current.durationS = Number(tag.value.split(',')[0]);
    }
  }
  let complete = 0;
  for (const segment of segments) if (segment.durationS !== undefined) segment.uri = playlist.uris[complete++];
  return segments;
}

/**
 * Where the wall clock and the media timeline disagree (RFC 8216bis
 * §4.4.4.6): each segment's PROGRAM-DATE-TIME must be the previous one's
 * plus the previous one's EXTINF, within `toleranceMs`.
 */
export function dateTimeMismatches(playlist: MediaPlaylist, toleranceMs = 1): string[] {
  const segments = segmentsOf(playlist);
  const mismatches: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const [previous, segment] = [segments[i - 1], segments[i]];
    if (previous?.startMs === undefined || previous.durationS === undefined || segment?.startMs === undefined) continue;
    const stepMs = segment.startMs - previous.startMs;
    const extinfMs = previous.durationS * 1000;
    if (Math.abs(stepMs - extinfMs) > toleranceMs) {
      mismatches.push(`${previous.uri ?? `segment ${i - 1}`}: the next PROGRAM-DATE-TIME is ${stepMs.toFixed(0)} ms later, its EXTINF says ${extinfMs.toFixed(0)} ms`);
    }
  }
  return mismatches;
}
