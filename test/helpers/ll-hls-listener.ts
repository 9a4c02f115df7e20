/**
 * A well-behaved LL-HLS listener for tests: it follows a live playlist
 * with blocking reloads for the next part (RFC 8216bis §6.2.5.2) and
 * fetches every part in order, the way hls.js does, and records anything
 * that goes wrong: a failed request, a part missing from an answer, a hole
 * or a step back in the part sequence, a blocking reload that held too long.
 */
import { hintedPart, listedParts, parsePlaylist, type PartRef } from './m3u8.js';

const PARTS_PER_SEGMENT = 4;

export function nextPart(ref: PartRef): PartRef {
  return ref.part + 1 >= PARTS_PER_SEGMENT ? { msn: ref.msn + 1, part: 0 } : { msn: ref.msn, part: ref.part + 1 };
}

export function samePart(a: PartRef | undefined, b: PartRef | undefined): boolean {
  return a !== undefined && b !== undefined && a.msn === b.msn && a.part === b.part;
}

export interface ListenerReport {
  /** Parts received, in the order they were fetched. */
  parts: PartRef[];
  failures: string[];
  /** How long each blocking reload took, in ms. */
  blockingMs: number[];
}

export class LlHlsListener {
  readonly report: ListenerReport = { parts: [], failures: [], blockingMs: [] };
  private running = false;
  private loop: Promise<void> | undefined;
  private last: PartRef | undefined;

  /**
   * @param playlistUrl the media playlist (live.m3u8)
   * @param requestTimeoutMs longest wait for any one answer, in ms
   */
  constructor(
    private readonly playlistUrl: string,
    private readonly requestTimeoutMs = 5000,
    /** Called with every part as it arrives (a test's ledger of what the origin served). */
    private readonly onPart?: (part: PartRef, bytes: Uint8Array) => void,
  ) {}

  /** Reads the playlist once, then follows it from its newest part on. */
  async start(): Promise<void> {
    const response = await fetch(this.playlistUrl, { signal: AbortSignal.timeout(this.requestTimeoutMs) });
    if (response.status !== 200) throw new Error(`live playlist: ${response.status}`);
    const parts = listedParts(parsePlaylist(await response.text()));
    this.last = parts[parts.length - 1];
    if (!this.last) throw new Error('the live playlist lists no part yet');
    this.running = true;
    this.loop = this.follow();
  }

  /** Stops after the request in flight; resolves with the report. */
  async stop(): Promise<ListenerReport> {
    this.running = false;
    await this.loop;
    return this.report;
  }

  private fail(message: string): void {
    if (this.report.failures.length < 100) this.report.failures.push(`${new Date().toISOString()} ${message}`);
  }

  private async follow(): Promise<void> {
    let reloads = 0;
    while (this.running && this.last) {
      const want = nextPart(this.last);
      // Every other reload asks for a delta update, as hls.js does once CAN-SKIP-UNTIL allows it.
      const skip = reloads++ % 2 === 1 ? '&_HLS_skip=YES' : '';
      const url = `${this.playlistUrl}?_HLS_msn=${want.msn}&_HLS_part=${want.part}${skip}`;
      const startedAt = performance.now();
      let text: string;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(this.requestTimeoutMs) });
        text = await response.text();
        if (response.status !== 200) {
          this.fail(`reload for ${want.msn}.${want.part}: ${response.status} ${text.slice(0, 200)}`);
          await sleep(200);
          continue;
        }
      } catch (error) {
        this.fail(`reload for ${want.msn}.${want.part}: ${String(error)}`);
        await sleep(200);
        continue;
      }
      this.report.blockingMs.push(performance.now() - startedAt);
      let parts: PartRef[];
      try {
        const playlist = parsePlaylist(text);
        parts = listedParts(playlist);
        if (playlist.has('EXT-X-ENDLIST')) this.running = false;
        else if (!hintedPart(playlist)) this.fail(`reload for ${want.msn}.${want.part}: no preload hint`);
      } catch (error) {
        this.fail(`reload for ${want.msn}.${want.part}: unparsable playlist: ${String(error)}`);
        await sleep(200);
        continue;
      }
      const from = parts.findIndex((part) => samePart(part, want));
      if (from < 0) {
        this.fail(`the answer to a reload for ${want.msn}.${want.part} does not list it (newest ${JSON.stringify(parts.at(-1))})`);
        await sleep(200);
        continue;
      }
      for (const part of parts.slice(from)) {
        if (!(await this.fetchPart(part))) break;
      }
    }
  }

  /** Fetches one part; true when it came and is the successor of the last one. */
  private async fetchPart(part: PartRef): Promise<boolean> {
    const uri = new URL(`part/${part.msn}.${part.part}.m4s`, this.playlistUrl).toString();
    let bytes: ArrayBuffer;
    try {
      const response = await fetch(uri, { signal: AbortSignal.timeout(this.requestTimeoutMs) });
      bytes = await response.arrayBuffer();
      if (response.status !== 200 || bytes.byteLength === 0) {
        this.fail(`part ${part.msn}.${part.part}: ${response.status}, ${bytes.byteLength} bytes`);
        return false;
      }
    } catch (error) {
      this.fail(`part ${part.msn}.${part.part}: ${String(error)}`);
      return false;
    }
    if (this.last && !samePart(part, nextPart(this.last))) this.fail(`part ${part.msn}.${part.part} after ${this.last.msn}.${this.last.part}`);
    this.report.parts.push(part);
    this.last = part;
    this.onPart?.(part, new Uint8Array(bytes));
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
