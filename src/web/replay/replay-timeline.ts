/**
 * Reading a replay's timeline (src/wire/replay.ts) at the moment the audio
 * plays: pure functions of replay seconds, so the page only asks "what is
 * true at t" and "what happened between the last tick and this one".
 */
import type { ReplayTimeline, TimelineReactions, TimelineStage } from '../../wire/replay.js';

/** The longest step between two ticks that still counts as playing through (a longer one is a seek). */
export const MAX_TICK_STEP_S = 1.5;

/** The index of the stage mark in force at `atS` (the last with t ≤ atS), or -1 before the first. */
export function stageIndexAt(stage: readonly TimelineStage[], atS: number): number {
  let low = 0;
  let high = stage.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if ((stage[mid]?.t ?? Infinity) <= atS) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

/**
 * The reactions to float when playback went from `fromS` to `toS`: those
 * sent in (fromS, toS]. Nothing when the step is backwards or longer than a
 * tick (a seek): jumping over ten minutes must not release them all at once.
 */
export function reactionsPassed(timeline: ReplayTimeline, fromS: number, toS: number): TimelineReactions[] {
  if (!(toS > fromS) || toS - fromS > MAX_TICK_STEP_S) return [];
  return timeline.reactions.filter((r) => r.t > fromS && r.t <= toS);
}

/** "1:05", "12:30", "1:02:03": a position or length in seconds, as players show it. */
export function formatClock(seconds: number): string {
  const total = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** "1 minute 5 seconds": the same for screen readers. */
export function spokenClock(seconds: number): string {
  const total = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  const parts: string[] = [];
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) parts.push(`${h} hour${h === 1 ? '' : 's'}`);
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (s || parts.length === 0) parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return parts.join(' ');
}
