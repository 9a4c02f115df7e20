/**
 * The live audience stream of one Space: the init segment and a rolling
 * window of segments and parts, with the stage state at each moment (so
 * listeners see who talks in step with what they hear). The origin reads
 * snapshots of it; the packager appends to it.
 */
import { EventEmitter } from 'node:events';
import type { StageState } from '../wire/stage-state.js';
import type { PackagedPart } from './cmaf-packager.js';
import { PARTS_PER_SEGMENT, PART_FRAMES, RETAINED_SEGMENTS, type HlsPart, type HlsSegment, type PartPosition } from './hls-types.js';

export type { StageState };

export interface StateMark {
  id: number;
  wallClockMs: number;
  state: StageState;
}

export interface LiveStreamEvents {
  /** A part was appended; the position is the newest part. */
  part: [PartPosition];
  ended: [];
}

export class LiveStream extends EventEmitter<LiveStreamEvents> {
  init: Uint8Array | undefined;
  readonly segments: HlsSegment[] = [];
  ended = false;
  /** Bumped on every change; playlists are rendered once per version. */
  version = 0;
  private readonly marks: StateMark[] = [];
  private nextMarkId = 1;
  private lastStateJson = '';

  constructor() {
    super();
    this.setMaxListeners(0);
  }

  setInit(bytes: Uint8Array): void {
    this.init = bytes;
  }

  appendPart(packaged: PackagedPart): void {
    if (this.ended) return;
    const msn = Math.floor(packaged.sequence / PARTS_PER_SEGMENT);
    const index = packaged.sequence % PARTS_PER_SEGMENT;
    let segment = this.segments[this.segments.length - 1];
    if (!segment || segment.msn !== msn) {
      segment = { msn, parts: [], complete: false, wallClockMs: packaged.wallClockMs };
      this.segments.push(segment);
      while (this.segments.length > RETAINED_SEGMENTS) this.segments.shift();
    }
    const part: HlsPart = { msn, index, durationS: packaged.frames * 0.02, bytes: packaged.bytes, wallClockMs: packaged.wallClockMs };
    segment.parts.push(part);
    // A short last part (the end of the Space) still completes its segment.
    if (segment.parts.length === PARTS_PER_SEGMENT || packaged.frames < PART_FRAMES) complete(segment);
    this.pruneMarks();
    this.version++;
    this.emit('part', { msn, part: index });
  }

  /** Records the stage state from `wallClockMs` on, if it changed. */
  markState(state: StageState, wallClockMs: number): void {
    const json = JSON.stringify(state);
    if (json === this.lastStateJson) return;
    this.lastStateJson = json;
    this.marks.push({ id: this.nextMarkId++, wallClockMs, state });
  }

  stateMarks(): readonly StateMark[] {
    return this.marks;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const last = this.segments[this.segments.length - 1];
    if (last && last.parts.length > 0 && !last.complete) complete(last);
    this.version++;
    this.emit('ended');
  }

  /** The newest part, or undefined before the first. */
  get head(): PartPosition | undefined {
    const last = this.segments[this.segments.length - 1];
    const part = last?.parts[last.parts.length - 1];
    return last && part ? { msn: last.msn, part: part.index } : undefined;
  }

  segment(msn: number): HlsSegment | undefined {
    return this.segments.find((s) => s.msn === msn);
  }

  /** Keeps the marks listeners can still reach: those in the window, plus the one in force at its start. */
  private pruneMarks(): void {
    const windowStart = this.segments[0]?.wallClockMs ?? 0;
    while (this.marks.length > 1 && (this.marks[1]?.wallClockMs ?? Infinity) <= windowStart) this.marks.shift();
  }
}

function complete(segment: HlsSegment): void {
  segment.complete = true;
  segment.bytes = Buffer.concat(segment.parts.map((part) => part.bytes));
}
