/**
 * Just enough of ISO/IEC 14496-12 to keep what a crash left: walk the
 * top-level boxes of a CMAF segment, keep the complete fragments (moof +
 * mdat pairs) and read each fragment's decode time and sample count.
 *
 * A segment in the recording journal is appended one part (one moof + mdat)
 * at a time and synced before the part is published, so after a SIGKILL it
 * ends either on a fragment boundary or inside a part nobody was served.
 */

export interface FragmentInfo {
  /** Byte offset of the moof in the segment. */
  offset: number;
  /** moof + mdat length. */
  length: number;
  /** tfdt baseMediaDecodeTime (§8.8.12), in the track's timescale. */
  decodeTime: number;
  /** trun sample_count (§8.8.8): 20 ms Opus packets here. */
  samples: number;
}

export interface SegmentScan {
  fragments: FragmentInfo[];
  /** Bytes up to the end of the last complete fragment. */
  completeBytes: number;
}

interface Box {
  type: string;
  start: number;
  headerSize: number;
  size: number;
}

/** The box at `offset`, or undefined when its header or body runs past `end` (a torn write). */
function boxAt(bytes: Uint8Array, offset: number, end: number): Box | undefined {
  if (end - offset < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let size = view.getUint32(offset);
  let headerSize = 8;
  if (size === 1) {
    // §4.2: a 64-bit largesize follows the type.
    if (end - offset < 16) return undefined;
    size = Number(view.getBigUint64(offset + 8));
    headerSize = 16;
  }
  if (size < headerSize || offset + size > end) return undefined;
  const type = String.fromCharCode(bytes[offset + 4]!, bytes[offset + 5]!, bytes[offset + 6]!, bytes[offset + 7]!);
  return { type, start: offset, headerSize, size };
}

function* children(bytes: Uint8Array, parent: Box): Generator<Box> {
  let offset = parent.start + parent.headerSize;
  const end = parent.start + parent.size;
  for (let box = boxAt(bytes, offset, end); box; box = boxAt(bytes, offset, end)) {
    yield box;
    offset += box.size;
  }
}

function child(bytes: Uint8Array, parent: Box, type: string): Box | undefined {
  for (const box of children(bytes, parent)) if (box.type === type) return box;
  return undefined;
}

/** decode time and sample count of one moof (first traf: the recording has one track). */
function readMoof(bytes: Uint8Array, moof: Box): { decodeTime: number; samples: number } | undefined {
  const traf = child(bytes, moof, 'traf');
  if (!traf) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let decodeTime = 0;
  const tfdt = child(bytes, traf, 'tfdt');
  if (tfdt) {
    const body = tfdt.start + tfdt.headerSize;
    const version = bytes[body]!;
    decodeTime = version === 1 ? Number(view.getBigUint64(body + 4)) : view.getUint32(body + 4);
  }
  let samples = 0;
  for (const box of children(bytes, traf)) {
    if (box.type === 'trun') samples += view.getUint32(box.start + box.headerSize + 4);
  }
  return { decodeTime, samples };
}

/** The complete fragments of a segment, and where the last one ends. */
export function scanSegment(bytes: Uint8Array): SegmentScan {
  const fragments: FragmentInfo[] = [];
  let offset = 0;
  let completeBytes = 0;
  while (offset < bytes.byteLength) {
    const moof = boxAt(bytes, offset, bytes.byteLength);
    if (!moof) break;
    if (moof.type !== 'moof') {
      // styp/prft/sidx and the like may sit between fragments; skip them.
      offset += moof.size;
      completeBytes = offset;
      continue;
    }
    const mdat = boxAt(bytes, offset + moof.size, bytes.byteLength);
    if (!mdat || mdat.type !== 'mdat') break;
    const info = readMoof(bytes, moof);
    if (!info) break;
    fragments.push({ offset, length: moof.size + mdat.size, ...info });
    offset += moof.size + mdat.size;
    completeBytes = offset;
  }
  return { fragments, completeBytes };
}

/** True when `bytes` holds a whole init segment (ftyp then moov). */
export function isCompleteInit(bytes: Uint8Array): boolean {
  const ftyp = boxAt(bytes, 0, bytes.byteLength);
  if (!ftyp || ftyp.type !== 'ftyp') return false;
  const moov = boxAt(bytes, ftyp.size, bytes.byteLength);
  return moov?.type === 'moov' && ftyp.size + moov.size === bytes.byteLength;
}

/** The track's timescale (mdhd, §8.4.2): what tfdt decode times count in. */
export function initTimescale(bytes: Uint8Array): number | undefined {
  const ftyp = boxAt(bytes, 0, bytes.byteLength);
  const moov = ftyp && boxAt(bytes, ftyp.size, bytes.byteLength);
  if (moov?.type !== 'moov') return undefined;
  const trak = child(bytes, moov, 'trak');
  const mdia = trak && child(bytes, trak, 'mdia');
  const mdhd = mdia && child(bytes, mdia, 'mdhd');
  if (!mdhd) return undefined;
  const body = mdhd.start + mdhd.headerSize;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(body + (bytes[body] === 1 ? 20 : 12));
}
