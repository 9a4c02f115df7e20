/**
 * The delivery directives of a playlist request (RFC 8216bis §6.2.5):
 * _HLS_msn, _HLS_part and _HLS_skip. Nothing else in the query matters:
 * other parameters are ignored, so junk query strings can never make
 * distinct answers (or distinct waits) on the origin.
 */
import { PARTS_PER_SEGMENT, type PartPosition } from '../hls/hls-types.js';
import { TribuneError } from '../wire/errors.js';

export interface HlsDirectives {
  /** The part to wait for, normalised: a part index past a segment's last is part 0 of the next (§6.2.5.2). */
  target: PartPosition | undefined;
  /** True when the request names a whole segment (_HLS_msn without _HLS_part). */
  wholeSegment: boolean;
  skip: boolean;
}

const INTEGER = /^\d{1,9}$/;

function single(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  throw new TribuneError('HLS_QUERY_INVALID', 'a directive given twice');
}

/**
 * Parses and checks the directives against the live edge `head` (the
 * newest part, or undefined before the first). Throws the 400s of
 * §6.2.5.2 at once; never waits.
 */
export function parseHlsDirectives(query: Record<string, unknown>, head: PartPosition | undefined): HlsDirectives {
  const msnText = single(query._HLS_msn);
  const partText = single(query._HLS_part);
  const skipText = single(query._HLS_skip);
  if (skipText !== undefined && skipText !== 'YES' && skipText !== 'v2') throw new TribuneError('HLS_QUERY_INVALID', '_HLS_skip');
  const skip = skipText !== undefined;
  if (partText !== undefined && msnText === undefined) throw new TribuneError('HLS_PART_WITHOUT_MSN');
  if (msnText === undefined) return { target: undefined, wholeSegment: false, skip };
  if (!INTEGER.test(msnText) || (partText !== undefined && !INTEGER.test(partText))) throw new TribuneError('HLS_QUERY_INVALID');
  const msn = Number(msnText);
  const edge = head?.msn ?? 0;
  if (msn > edge + 2) throw new TribuneError('HLS_MSN_TOO_FAR', `live edge is segment ${edge}`);
  if (partText === undefined) return { target: { msn, part: PARTS_PER_SEGMENT - 1 }, wholeSegment: true, skip };
  const part = Number(partText);
  if (part > PARTS_PER_SEGMENT) throw new TribuneError('HLS_PART_TOO_FAR', `a segment has ${PARTS_PER_SEGMENT} parts`);
  const target = part === PARTS_PER_SEGMENT ? { msn: msn + 1, part: 0 } : { msn, part };
  return { target, wholeSegment: false, skip };
}

/** a is at or after b. */
export function reached(a: PartPosition | undefined, b: PartPosition): boolean {
  return a !== undefined && (a.msn > b.msn || (a.msn === b.msn && a.part >= b.part));
}
