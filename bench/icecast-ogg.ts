/**
 * A streaming reader of an HTTP/1.x response carrying an Ogg stream, for the
 * Icecast fan-out benchmark's listeners: it skips the response head, then
 * walks the Ogg pages (RFC 3533) without copying or decoding them, and hands
 * each page's granule position to a callback. A page header is 27 bytes
 * ("OggS", version, flags, granule position as int64 LE at offset 6, serial,
 * sequence, CRC, segment count at offset 26) and then that many lacing
 * values, whose sum is the body length.
 */

export interface OggPageSink {
  /** Called once, when the response head has been read; `status` is the HTTP status code (0 if unreadable). */
  onHead(status: number): void;
  /** Called for every complete page header; `granule` is -1 for pages where no packet ends. */
  onPage(granule: number, flags: number, bodyBytes: number): void;
  /** Called when the bytes are not an Ogg stream any more; the reader stops. */
  onError(reason: string): void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const MAX_HEAD = 16 * 1024;
const MAX_PAGE_HEADER = 27 + 255;

export class OggHttpReader {
  private head: Buffer | undefined = Buffer.alloc(0);
  /** Body bytes of the current page still to skip. */
  private skip = 0;
  /** A page header split across reads. */
  private readonly header = Buffer.alloc(MAX_PAGE_HEADER);
  private headerLength = 0;
  private failed = false;

  constructor(private readonly sink: OggPageSink) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    let i = 0;
    if (this.head !== undefined) {
      const joined = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
      const end = joined.indexOf(HEAD_END);
      if (end < 0) {
        if (joined.length > MAX_HEAD) this.fail('response head too long');
        else this.head = Buffer.from(joined);
        return;
      }
      const statusLine = joined.toString('latin1', 0, Math.min(end, 64));
      const match = /^(?:HTTP\/1\.[01]|ICY) (\d{3})/.exec(statusLine);
      this.head = undefined;
      this.sink.onHead(match ? Number(match[1]) : 0);
      chunk = joined;
      i = end + HEAD_END.length;
    }
    const length = chunk.length;
    while (i < length && !this.failed) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, length - i);
        this.skip -= take;
        i += take;
        continue;
      }
      if (this.headerLength === 0 && i + 27 <= length) {
        // Fast path: the whole header is in this chunk.
        const segments = chunk[i + 26] ?? 0;
        if (i + 27 + segments <= length) {
          if (chunk.readUInt32BE(i) !== 0x4f676753) return this.fail('lost Ogg page sync');
          let body = 0;
          for (let s = 0; s < segments; s++) body += chunk[i + 27 + s] ?? 0;
          this.page(chunk, i, body);
          i += 27 + segments;
          this.skip = body;
          continue;
        }
      }
      // Slow path: gather the header across reads.
      const want = this.headerLength < 27 ? 27 : 27 + (this.header[26] ?? 0);
      const take = Math.min(want - this.headerLength, length - i);
      chunk.copy(this.header, this.headerLength, i, i + take);
      this.headerLength += take;
      i += take;
      if (this.headerLength < want) continue;
      if (this.header.readUInt32BE(0) !== 0x4f676753) return this.fail('lost Ogg page sync');
      if (want === 27 && (this.header[26] ?? 0) > 0) continue;
      let body = 0;
      for (let s = 0; s < (this.header[26] ?? 0); s++) body += this.header[27 + s] ?? 0;
      this.page(this.header, 0, body);
      this.headerLength = 0;
      this.skip = body;
    }
  }

  private page(buffer: Buffer, at: number, body: number): void {
    const low = buffer.readUInt32LE(at + 6);
    const high = buffer.readInt32LE(at + 10);
    const granule = high === -1 && low === 0xffffffff ? -1 : high * 0x1_0000_0000 + low;
    this.sink.onPage(granule, buffer[at + 5] ?? 0, body);
  }

  private fail(reason: string): void {
    this.failed = true;
    this.sink.onError(reason);
  }
}

/** Latencies in whole milliseconds, counted in 1 ms buckets (the last bucket holds everything above). */
export class MsHistogram {
  readonly counts: number[];

  constructor(readonly maxMs = 30_000) {
    this.counts = new Array<number>(maxMs + 1).fill(0);
  }

  add(ms: number): void {
    const bucket = Math.min(this.maxMs, Math.max(0, Math.round(ms)));
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
  }

  get total(): number {
    return this.counts.reduce((a, b) => a + b, 0);
  }

  /** Nearest-rank percentile, in ms (NaN when empty). */
  percentile(p: number): number {
    const total = this.total;
    if (total === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return i;
    }
    return this.maxMs;
  }

  /** Non-empty buckets only, as [ms, count] pairs (for IPC). */
  sparse(): [number, number][] {
    const out: [number, number][] = [];
    this.counts.forEach((count, ms) => {
      if (count > 0) out.push([ms, count]);
    });
    return out;
  }

  mergeSparse(pairs: [number, number][]): void {
    for (const [ms, count] of pairs) this.counts[ms] = (this.counts[ms] ?? 0) + count;
  }
}
