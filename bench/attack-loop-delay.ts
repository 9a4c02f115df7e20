/**
 * This process's event-loop delay, the worst per second, kept for the whole
 * run so any window can be asked afterwards: when a speaker's audio has a
 * gap, the worst delay of the speakers' process and of the origin in that
 * window say on which side it was stalled.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export class LoopDelayLog {
  /** [Date.now() of the second's end, worst delay ms]. */
  private readonly seconds: [number, number][] = [];
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.seconds.push([Date.now(), Math.round(this.histogram.max / 1e6)]);
      this.histogram.reset();
      if (this.seconds.length > 7200) this.seconds.shift();
    }, 1000);
    this.timer.unref();
  }

  /** The worst delay in [fromMs, toMs), ms, and when (Date.now() of the end of that second). */
  worst(fromMs: number, toMs: number): { ms: number; atMs: number } {
    let worst = { ms: 0, atMs: 0 };
    for (const [at, ms] of this.seconds) if (at > fromMs && at <= toMs + 1000 && ms > worst.ms) worst = { ms, atMs: at };
    return worst;
  }
}
