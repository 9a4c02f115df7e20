/**
 * Single byte ranges (RFC 9110 §14) for the replay download and clip files:
 * Safari plays a media file only from a server that answers Range, and a
 * listener resuming a long download asks for the rest. Multiple ranges are
 * answered with the whole body (§14.2 lets a server ignore Range).
 */
import { TribuneError } from '../wire/errors.js';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** The range asked for, undefined for the whole body; throws RANGE_NOT_SATISFIABLE. */
export function parseRange(header: string | undefined, length: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!match) return undefined; // not a single byte range: ignored, the whole body goes
  const [, first, last] = match;
  if (first === '' && last === '') return undefined;
  let start: number;
  let end: number;
  if (first === '') {
    // A suffix: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable(length);
    start = Math.max(0, length - suffix);
    end = length - 1;
  } else {
    start = Number(first);
    end = last === '' ? length - 1 : Math.min(Number(last), length - 1);
    if (Number(last) < start && last !== '') return undefined; // invalid: ignored (§14.1.1)
  }
  if (start >= length) throw unsatisfiable(length);
  return { start, end };
}

function unsatisfiable(length: number): TribuneError {
  return new TribuneError('RANGE_NOT_SATISFIABLE', `bytes */${length}`);
}
