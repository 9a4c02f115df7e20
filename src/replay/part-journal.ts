/**
 * The recording's write-ahead journal on the origin's local disk, one
 * directory per Space. A part is appended to its segment's file and synced
 * (fdatasync) before the audience may fetch it, so whatever a listener was
 * served survives a SIGKILL. Segments move on to the replay storage when
 * they complete; the journal then only holds the open segment, the list of
 * segments already kept, and the timeline.
 *
 * Layout: init.mp4, seg-<msn>.m4s (open or not yet kept), kept.jsonl (one
 * line per kept segment), timeline.jsonl (stage marks and reactions).
 */
import { mkdir, open, readdir, readFile, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export interface KeptSegment {
  msn: number;
  /** Storage key of the segment. */
  key: string;
  /** Decode time of its first sample, in the track's timescale. */
  decodeTime: number;
  /** 20 ms packets in it. */
  samples: number;
  bytes: number;
}

export interface JournalContents {
  init: Uint8Array | undefined;
  kept: KeptSegment[];
  /** Segments written but not kept yet, by msn, in order. */
  open: { msn: number; bytes: Uint8Array }[];
  timeline: string[];
}

const SEGMENT_FILE = /^seg-(\d{1,12})\.m4s$/;

/** fsync of a directory: makes a created, renamed or removed name durable (POSIX leaves it to the caller). */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class PartJournal {
  private segment: { msn: number; handle: FileHandle } | undefined;
  private timeline: FileHandle | undefined;
  private kept: FileHandle | undefined;
  private timelineDirty = false;
  /** Timeline lines being appended, in order; a part's sync waits for them. */
  private timelineWrites: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {}

  /** Creates the directory (durably: its parent is synced too). */
  async create(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await syncDir(join(this.dir, '..'));
  }

  async writeInit(bytes: Uint8Array): Promise<void> {
    const temp = join(this.dir, 'init.mp4.tmp');
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, join(this.dir, 'init.mp4'));
    await syncDir(this.dir);
  }

  /**
   * Appends one part to segment `msn` and syncs it, with any timeline lines
   * noted since the last part. Resolves once both are on disk.
   */
  async appendPart(msn: number, bytes: Uint8Array): Promise<void> {
    if (this.segment?.msn !== msn) {
      await this.closeSegment();
      const handle = await open(join(this.dir, segmentFile(msn)), 'a');
      this.segment = { msn, handle };
      await syncDir(this.dir);
    }
    await this.segment.handle.write(bytes);
    await Promise.all([this.segment.handle.datasync(), this.syncTimeline()]);
  }

  /** Closes the open segment's file (it completed, or the recording ends). */
  async closeSegment(): Promise<void> {
    const segment = this.segment;
    this.segment = undefined;
    await segment?.handle.close();
  }

  /** Notes a timeline line; it is synced with the next part (a lost last second of reactions is acceptable, lost audio is not). */
  noteTimeline(line: string): void {
    const write = async (): Promise<void> => {
      this.timeline ??= await open(join(this.dir, 'timeline.jsonl'), 'a');
      await this.timeline.write(`${line}\n`);
      this.timelineDirty = true;
    };
    this.timelineWrites = this.timelineWrites.then(write).catch(() => undefined);
  }

  private async syncTimeline(): Promise<void> {
    await this.timelineWrites;
    if (!this.timeline || !this.timelineDirty) return;
    this.timelineDirty = false;
    await this.timeline.datasync();
  }

  /** Records that a segment is in the replay storage, then drops its journal file. */
  async markKept(segment: KeptSegment): Promise<void> {
    this.kept ??= await open(join(this.dir, 'kept.jsonl'), 'a');
    await this.kept.write(`${JSON.stringify(segment)}\n`);
    await this.kept.datasync();
    if (this.segment?.msn === segment.msn) await this.closeSegment();
    await unlink(join(this.dir, segmentFile(segment.msn))).catch(() => undefined);
  }

  /** Everything the journal holds (after a crash, or at the end). */
  async read(): Promise<JournalContents> {
    await this.timelineWrites;
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const init = names.includes('init.mp4') ? new Uint8Array(await readFile(join(this.dir, 'init.mp4'))) : undefined;
    const open: JournalContents['open'] = [];
    for (const name of names) {
      const match = SEGMENT_FILE.exec(name);
      if (match) open.push({ msn: Number(match[1]), bytes: new Uint8Array(await readFile(join(this.dir, name))) });
    }
    open.sort((a, b) => a.msn - b.msn);
    const kept = (await linesOf(join(this.dir, 'kept.jsonl'))).flatMap((line) => {
      try {
        return [JSON.parse(line) as KeptSegment];
      } catch {
        return []; // a line torn by the crash: its segment file is still there and is kept again
      }
    });
    return { init, kept, open, timeline: await linesOf(join(this.dir, 'timeline.jsonl')) };
  }

  /** Closes every file; the journal stays on disk. */
  async close(): Promise<void> {
    await this.closeSegment();
    await this.timelineWrites;
    await this.timeline?.close();
    await this.kept?.close();
    this.timeline = undefined;
    this.kept = undefined;
  }

  /** Removes the journal once the replay is sealed in storage. */
  async remove(): Promise<void> {
    await this.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function segmentFile(msn: number): string {
  return `seg-${msn}.m4s`;
}

async function linesOf(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.length > 0);
}
