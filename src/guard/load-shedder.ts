/**
 * Load shedding by priority. When the event loop falls behind or memory
 * runs short, the least important requests are refused first, at once and
 * cheaply, so the important ones keep their latency:
 *
 *   stage   speakers' signalling, stage passes, a host creating/starting a Space (never shed)
 *   edge    the origin's answers to edges: playlists, parts, the feed, replay media
 *   join    pages, sign-in, sign-up, a listener's first look at a Space
 *   chatter presence beacons, reactions
 *   other   everything else
 *
 * Media never reaches this: it is UDP to the SFU. A shed request gets 503
 * OVERLOADED with a jittered Retry-After, so a crowd does not come back in
 * one synchronised wave.
 */
import { getHeapStatistics } from 'node:v8';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { TribuneError } from '../wire/errors.js';

export const PRIORITIES = ['stage', 'edge', 'join', 'chatter', 'other'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface ShedderOptions {
  /**
   * Event-loop delay (the median over a sample, ms) at which levels 1-4
   * start. The median, held for two samples in a row: a garbage collection
   * or the start-up's module loading is one long stall, not overload.
   */
  delayMs: readonly [number, number, number, number];
  /** Heap used as a share of the heap limit at which levels 2-4 start. */
  heapShare: readonly [number, number, number];
  /** How often the level is recomputed, ms. */
  sampleMs: number;
}

export const DEFAULT_SHEDDER: ShedderOptions = {
  delayMs: [50, 100, 200, 400],
  heapShare: [0.8, 0.88, 0.95],
  sampleMs: 250,
};

export interface ShedderState {
  level: number;
  delayP50Ms: number;
  delayP99Ms: number;
  heapShare: number;
  shed: Record<Priority, number>;
}

export class LoadShedder {
  /** 0: nothing shed; n: the last n priorities are shed (at most 4: stage never). */
  private level = 0;
  private delayP99Ms = 0;
  private delayP50Ms = 0;
  /** The level the last sample asked for: a rise needs two samples that agree. */
  private lastWanted = 0;
  private heapShare = 0;
  private readonly shedCounts: Record<Priority, number> = { stage: 0, edge: 0, join: 0, chatter: 0, other: 0 };
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private forced: number | undefined;

  constructor(private readonly options: ShedderOptions = DEFAULT_SHEDDER) {
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), options.sampleMs);
    this.timer.unref();
  }

  /** Throws OVERLOADED when requests of this priority are being shed. */
  admit(priority: Priority): void {
    const rank = PRIORITIES.indexOf(priority);
    if (rank === 0 || rank < PRIORITIES.length - this.currentLevel()) return;
    this.shedCounts[priority]++;
    // 1-5 s, more the deeper the trouble, with full jitter.
    const retryAfterS = 1 + Math.floor(Math.random() * (1 + this.currentLevel()));
    throw new TribuneError('OVERLOADED', `shedding ${priority} requests`, { retryAfterS });
  }

  state(): ShedderState {
    return { level: this.currentLevel(), delayP50Ms: this.delayP50Ms, delayP99Ms: this.delayP99Ms, heapShare: this.heapShare, shed: { ...this.shedCounts } };
  }

  /** Tests: hold the level where it is told, whatever the measurements say (undefined: measure again). */
  force(level: number | undefined): void {
    this.forced = level;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  private currentLevel(): number {
    return this.forced ?? this.level;
  }

  private sample(): void {
    this.delayP99Ms = this.histogram.percentile(99) / 1e6;
    this.delayP50Ms = this.histogram.percentile(50) / 1e6;
    this.histogram.reset();
    const heap = getHeapStatistics();
    this.heapShare = heap.used_heap_size / heap.heap_size_limit;
    const { delayMs, heapShare } = this.options;
    const byDelay = delayMs.filter((threshold) => this.delayP50Ms >= threshold).length;
    // Heap pressure starts at level 2: whatever else is shed, chatter goes first.
    const heapPassed = heapShare.filter((threshold) => this.heapShare >= threshold).length;
    const byHeap = heapPassed === 0 ? 0 : heapPassed + 1;
    const asked = Math.min(4, Math.max(byDelay, byHeap));
    const wanted = Math.min(asked, this.lastWanted);
    this.lastWanted = asked;
    // Up when two samples agree; down one level per quiet sample, so a
    // recovering server is not flooded by everything it refused a moment ago.
    this.level = wanted >= this.level ? wanted : this.level - 1;
  }
}
