/**
 * Records one live Space: every part into the journal (synced before the
 * audience may fetch it), every completed segment into the replay storage,
 * and the timeline of the stage and reactions. At the end it seals the
 * replay: the last segment, the manifest and the timeline go to storage and
 * the journal is removed. The segments are the very CMAF bytes listeners
 * were served; nothing is encoded twice.
 */
import type { PackagedPart } from '../hls/cmaf-packager.js';
import { PARTS_PER_SEGMENT, PART_FRAMES } from '../hls/hls-types.js';
import type { PartKeeper } from '../hls/part-keeper.js';
import type { StageState } from '../wire/stage-state.js';
import { initTimescale, scanSegment } from './fmp4-fragments.js';
import type { KeptSegment, PartJournal } from './part-journal.js';
import type { TimelineLine } from './replay-manifest.js';
import type { ReplayStorage } from './replay-storage.js';
import { replayKeys } from './replay-keys.js';

export interface RecorderEvents {
  /** Replay time 0 is known (the first part's wall clock). */
  mediaStart(wallClockMs: number): void;
  /** The recording ended; what it kept. Called once. */
  sealed(result: SealResult): Promise<void>;
  error(error: unknown, what: string): void;
}

export interface SealResult {
  kept: KeptSegment[];
  timeline: string[];
  timescale: number;
  mediaStartMs: number | undefined;
  lostParts: number;
}

/** The open segment, also in memory so a clip of the last seconds needs no disk read. */
interface OpenSegment {
  msn: number;
  chunks: Uint8Array[];
}

export class Recorder implements PartKeeper {
  /** Segments in the replay storage, in order. */
  readonly kept: KeptSegment[] = [];
  private open: OpenSegment | undefined;
  private mediaStartMs: number | undefined;
  private timescale = 48_000;
  private lostParts = 0;
  /** Storage uploads run behind the journal, one at a time and in order. */
  private uploads: Promise<void> = Promise.resolve();
  private reactionSecond: { second: number; counts: Record<string, number> } | undefined;
  private closed = false;

  constructor(
    readonly spaceId: string,
    private readonly journal: PartJournal,
    private readonly storage: ReplayStorage,
    private readonly events: RecorderEvents,
  ) {}

  async keepInit(bytes: Uint8Array): Promise<void> {
    this.timescale = initTimescale(bytes) ?? this.timescale;
    await this.journal.writeInit(bytes);
    this.upload(() => this.storage.put(replayKeys.init(this.spaceId), bytes, 'video/mp4'));
  }

  async keepPart(part: PackagedPart): Promise<void> {
    if (this.closed) return;
    const msn = Math.floor(part.sequence / PARTS_PER_SEGMENT);
    const index = part.sequence % PARTS_PER_SEGMENT;
    if (this.mediaStartMs === undefined) {
      this.mediaStartMs = part.wallClockMs;
      this.events.mediaStart(part.wallClockMs);
    }
    if (this.open && this.open.msn !== msn) this.sealOpen();
    this.open ??= { msn, chunks: [] };
    this.open.chunks.push(part.bytes);
    try {
      await this.journal.appendPart(msn, part.bytes);
    } catch (error) {
      // Published anyway (listeners come first); the replay will say what it lost.
      this.lostParts++;
      this.events.error(error, 'journaling a part');
    }
    // The last part of a segment, or a short part (the stream ended).
    if (index === PARTS_PER_SEGMENT - 1 || part.frames < PART_FRAMES) this.sealOpen();
  }

  noteState(state: StageState, wallClockMs: number): void {
    this.note({ k: 's', t: wallClockMs, members: state.members, speaking: state.speaking });
  }

  noteReaction(emoji: string, wallClockMs: number): void {
    const second = Math.floor(wallClockMs / 1000) * 1000;
    if (this.reactionSecond && this.reactionSecond.second !== second) this.flushReactions();
    this.reactionSecond ??= { second, counts: {} };
    this.reactionSecond.counts[emoji] = (this.reactionSecond.counts[emoji] ?? 0) + 1;
  }

  /** Seals the recording: the open segment, then the manifest (by `events.sealed`). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flushReactions();
    this.sealOpen();
    await this.uploads;
    await this.journal.close();
    const contents = await this.journal.read();
    // A segment whose upload failed is still in the journal: one more try
    // now; if storage is still down this throws, the journal stays, and the
    // next start seals the recording from it.
    for (const leftover of contents.open) {
      if (this.kept.some((k) => k.msn === leftover.msn)) continue;
      const segment = await keepSegment(this.storage, this.journal, this.spaceId, leftover.msn, leftover.bytes);
      if (segment) this.kept.push(segment);
    }
    this.kept.sort((a, b) => a.msn - b.msn);
    await this.events.sealed({ kept: [...this.kept], timeline: contents.timeline, timescale: this.timescale, mediaStartMs: this.mediaStartMs, lostParts: this.lostParts });
    await this.journal.remove();
  }

  /** What is recorded so far, for a clip of a live Space: kept segments and the open one. */
  liveSegments(): { kept: readonly KeptSegment[]; open: { msn: number; bytes: Uint8Array } | undefined; timescale: number; mediaStartMs: number | undefined } {
    const open = this.open && { msn: this.open.msn, bytes: concat(this.open.chunks) };
    return { kept: this.kept, open, timescale: this.timescale, mediaStartMs: this.mediaStartMs };
  }

  private note(line: TimelineLine): void {
    if (this.closed) return;
    this.journal.noteTimeline(JSON.stringify(line));
  }

  private flushReactions(): void {
    const done = this.reactionSecond;
    this.reactionSecond = undefined;
    if (done) this.note({ k: 'r', t: done.second, counts: done.counts });
  }

  /** Hands the open segment to storage, behind the journal. */
  private sealOpen(): void {
    const open = this.open;
    this.open = undefined;
    if (!open || open.chunks.length === 0) return;
    const bytes = concat(open.chunks);
    this.upload(async () => {
      const segment = await keepSegment(this.storage, this.journal, this.spaceId, open.msn, bytes);
      if (segment) this.kept.push(segment);
    });
  }

  private upload(task: () => Promise<void>): void {
    this.uploads = this.uploads.then(task).catch((error: unknown) => this.events.error(error, 'keeping a segment in the replay storage'));
  }
}

/**
 * Puts a segment's complete fragments into storage and records it as kept
 * in the journal; undefined when it holds no complete fragment (a part torn
 * by a crash, which nobody was served).
 */
export async function keepSegment(storage: ReplayStorage, journal: PartJournal, spaceId: string, msn: number, bytes: Uint8Array): Promise<KeptSegment | undefined> {
  const scan = scanSegment(bytes);
  const first = scan.fragments[0];
  if (!first) return undefined;
  const whole = bytes.subarray(0, scan.completeBytes);
  const segment: KeptSegment = {
    msn,
    key: replayKeys.segment(spaceId, msn),
    decodeTime: first.decodeTime,
    samples: scan.fragments.reduce((sum, f) => sum + f.samples, 0),
    bytes: whole.byteLength,
  };
  await storage.put(segment.key, whole, 'video/iso.segment');
  await journal.markKept(segment);
  return segment;
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
