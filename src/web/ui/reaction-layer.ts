/**
 * Reactions floating over the Space. The feed carries counts per emoji for
 * each of the last few seconds; a new feed version may repeat a second it
 * already carried (with the same or higher counts), so only the growth since
 * the last version floats. A replay floats each second's reactions as its
 * playback passes that second (`burst`). At most MAX_FLOATING are in the
 * air at once; with prefers-reduced-motion they fade in place instead of
 * rising.
 */
import type { ReactionSecond } from '../../wire/feed.js';
import { h } from './dom.js';

/** Emoji in the air at once, whatever the audience sends. */
const MAX_FLOATING = 24;
/** How long one floats, in ms (the CSS animation's duration). */
const FLOAT_MS = 2600;

export class ReactionLayer {
  readonly element = h('div', { class: 'reaction-layer', 'aria-hidden': 'true' });
  private readonly seen = new Map<number, Record<string, number>>();
  private primed = false;
  private readonly reducedMotion = window.matchMedia?.('(prefers-reduced-motion: reduce)');
  /** How many have floated since the page opened (for tests and diagnostics). */
  floated = 0;

  /** Takes a feed version's reactions; the first call only learns what was already there. */
  update(seconds: ReactionSecond[]): void {
    const fresh: string[] = [];
    for (const { second, counts } of seconds) {
      const before = this.seen.get(second) ?? {};
      for (const [emoji, count] of Object.entries(counts)) {
        for (let i = before[emoji] ?? 0; i < count; i++) fresh.push(emoji);
      }
      this.seen.set(second, { ...counts });
    }
    const oldest = seconds[0]?.second ?? Infinity;
    for (const second of this.seen.keys()) if (second < oldest) this.seen.delete(second);
    if (!this.primed) {
      this.primed = true;
      return;
    }
    this.spread(fresh);
  }

  /** Floats one second's reactions now (a replay passing the second they were sent in). */
  burst(counts: Record<string, number>): void {
    const emoji: string[] = [];
    for (const [name, count] of Object.entries(counts)) for (let i = 0; i < count; i++) emoji.push(name);
    this.spread(emoji);
  }

  /** Spreads a second's reactions over that second, as they were sent. */
  private spread(all: string[]): void {
    // No more timers than could float at once, whatever a second held.
    const emoji = all.length > MAX_FLOATING ? all.filter((_, i) => i % Math.ceil(all.length / MAX_FLOATING) === 0) : all;
    emoji.forEach((one, index) => setTimeout(() => this.float(one), Math.round((index / Math.max(1, emoji.length)) * 900)));
  }

  private float(emoji: string): void {
    if (this.element.childElementCount >= MAX_FLOATING) return;
    const still = this.reducedMotion?.matches === true;
    const node = h('span', { class: `floating-reaction${still ? ' still' : ''}`, 'data-emoji': emoji }, emoji);
    node.style.left = `${Math.round(8 + Math.random() * 76)}%`;
    node.style.setProperty('--drift', `${Math.round((Math.random() - 0.5) * 60)}px`);
    this.element.append(node);
    this.floated++;
    setTimeout(() => node.remove(), FLOAT_MS + 100);
  }
}
