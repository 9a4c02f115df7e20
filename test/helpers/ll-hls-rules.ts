/**
 * An independent reading of a media playlist against the LL-HLS rules of
 * RFC 8216bis (HLS 2nd edition) that hold for any playlist, whatever the
 * stream: it parses the text itself and knows nothing of the renderer or
 * its constants. Returns the rules broken, so a test can show all of them.
 */

export interface MediaPlaylistFacts {
  targetDurationS: number | undefined;
  mediaSequence: number | undefined;
  partTargetS: number | undefined;
  serverControl: Record<string, string>;
  /** EXTINF durations, in order. */
  extinfS: number[];
  /** EXT-X-PART DURATIONs, in order. */
  partS: number[];
  dateRangeIds: string[];
  programDateTimes: number;
  skippedSegments: number | undefined;
  preloadHints: number;
  endList: boolean;
}

/** Attribute list of a tag (RFC 8216bis §4.2): KEY=VALUE pairs, values quoted or not. */
export function parseAttributes(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  const pattern = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  for (const match of list.matchAll(pattern)) {
    const [, key, raw] = match;
    if (key === undefined || raw === undefined) continue;
    out[key] = raw.startsWith('"') ? raw.slice(1, -1) : raw;
  }
  return out;
}

export function readMediaPlaylist(text: string): MediaPlaylistFacts {
  const facts: MediaPlaylistFacts = {
    targetDurationS: undefined,
    mediaSequence: undefined,
    partTargetS: undefined,
    serverControl: {},
    extinfS: [],
    partS: [],
    dateRangeIds: [],
    programDateTimes: 0,
    skippedSegments: undefined,
    preloadHints: 0,
    endList: false,
  };
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    switch (tag) {
      case '#EXT-X-TARGETDURATION':
        facts.targetDurationS = Number(value);
        break;
      case '#EXT-X-MEDIA-SEQUENCE':
        facts.mediaSequence = Number(value);
        break;
      case '#EXT-X-PART-INF':
        facts.partTargetS = Number(parseAttributes(value)['PART-TARGET']);
        break;
      case '#EXT-X-SERVER-CONTROL':
        facts.serverControl = parseAttributes(value);
        break;
      case '#EXTINF':
        facts.extinfS.push(Number(value.split(',')[0]));
        break;
      case '#EXT-X-PART':
        facts.partS.push(Number(parseAttributes(value).DURATION));
        break;
      case '#EXT-X-DATERANGE':
        facts.dateRangeIds.push(parseAttributes(value).ID ?? '');
        break;
      case '#EXT-X-PROGRAM-DATE-TIME':
        facts.programDateTimes++;
        break;
      case '#EXT-X-SKIP':
        facts.skippedSegments = Number(parseAttributes(value)['SKIPPED-SEGMENTS']);
        break;
      case '#EXT-X-PRELOAD-HINT':
        facts.preloadHints++;
        break;
      case '#EXT-X-ENDLIST':
        facts.endList = true;
        break;
    }
  }
  return facts;
}

/** The RFC 8216bis rules `text` breaks; empty when it keeps them all. */
export function llHlsViolations(text: string): string[] {
  const broken: string[] = [];
  const f = readMediaPlaylist(text);
  const target = f.targetDurationS;
  if (!text.startsWith('#EXTM3U\n')) broken.push('§4.4.1.1: the first line is #EXTM3U');
  if (target === undefined || !Number.isInteger(target)) broken.push('§4.4.3.1: EXT-X-TARGETDURATION is REQUIRED, a decimal-integer');
  // §4.4.3.1: the EXTINF duration of each segment, rounded to the nearest integer, MUST be <= the target duration.
  for (const extinf of f.extinfS) if (target !== undefined && Math.round(extinf) > target) broken.push(`§4.4.3.1: EXTINF ${extinf} rounds above TARGETDURATION ${target}`);
  // §4.4.3.7: EXT-X-PART-INF is REQUIRED if the playlist has an EXT-X-PART tag.
  if (f.partS.length > 0 && f.partTargetS === undefined) broken.push('§4.4.3.7: EXT-X-PART without EXT-X-PART-INF');
  // §4.4.4.9: a Partial Segment's duration MUST be <= the Part Target Duration.
  if (f.partTargetS !== undefined) for (const part of f.partS) if (part > f.partTargetS) broken.push(`§4.4.4.9: part of ${part} s is longer than PART-TARGET ${f.partTargetS}`);
  const sc = f.serverControl;
  if (f.partTargetS !== undefined) {
    // §4.4.3.8: PART-HOLD-BACK is REQUIRED with EXT-X-PART-INF and MUST be >= twice the part target.
    const partHoldBack = Number(sc['PART-HOLD-BACK']);
    if (!(partHoldBack >= 2 * f.partTargetS)) broken.push(`§4.4.3.8: PART-HOLD-BACK ${sc['PART-HOLD-BACK']} < 2 × PART-TARGET`);
  }
  // §4.4.3.8: the Skip Boundary MUST be >= six target durations; HOLD-BACK MUST be >= three.
  if (sc['CAN-SKIP-UNTIL'] !== undefined && target !== undefined && !(Number(sc['CAN-SKIP-UNTIL']) >= 6 * target)) broken.push('§4.4.3.8: CAN-SKIP-UNTIL < 6 × TARGETDURATION');
  if (sc['HOLD-BACK'] !== undefined && target !== undefined && !(Number(sc['HOLD-BACK']) >= 3 * target)) broken.push('§4.4.3.8: HOLD-BACK < 3 × TARGETDURATION');
  // §4.4.5.1: a playlist with EXT-X-DATERANGE MUST have an EXT-X-PROGRAM-DATE-TIME; IDs identify one range each.
  if (f.dateRangeIds.length > 0 && f.programDateTimes === 0) broken.push('§4.4.5.1: EXT-X-DATERANGE without EXT-X-PROGRAM-DATE-TIME');
  if (new Set(f.dateRangeIds).size !== f.dateRangeIds.length) broken.push('§4.4.5.1: two EXT-X-DATERANGE tags share an ID');
  return broken;
}
