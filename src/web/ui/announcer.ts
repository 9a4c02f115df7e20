/**
 * Announcements for screen readers and sighted people alike: a visible
 * notice line with role=status, so "You're on stage" is read out without
 * moving focus.
 */
import { h } from './dom.js';

export class Announcer {
  readonly element = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite', id: 'notice' });
  private timer: ReturnType<typeof setTimeout> | undefined;

  say(text: string, clearAfterMs = 0): void {
    clearTimeout(this.timer);
    this.element.textContent = text;
    this.element.hidden = text === '';
    if (clearAfterMs > 0) this.timer = setTimeout(() => this.say(''), clearAfterMs);
  }
}
