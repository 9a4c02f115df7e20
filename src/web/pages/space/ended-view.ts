/**
 * After the end: ended by its host, cancelled before it started, or
 * interrupted by a server stop. A recorded Space shows its replay instead
 * (replay-view.ts), and this when it has none.
 */
import type { FeedState } from '../../../wire/feed.js';
import { h } from '../../ui/dom.js';
import { formatStart } from '../../ui/format.js';
import type { ModeView } from './space-context.js';

const MESSAGES: Record<string, string> = {
  ended: 'This Space has ended.',
  cancelled: 'The host cancelled this Space.',
  interrupted: 'This Space was interrupted when the server stopped.',
};

/** "This Space has ended.", or how else it ended. */
export function endedMessage(feed: FeedState | undefined): string {
  return MESSAGES[feed?.space.state ?? 'ended'] ?? (MESSAGES.ended as string);
}

export function endedView(feed: FeedState | undefined): ModeView {
  const state = feed?.space.state ?? 'ended';
  const endedAt = feed?.space.endedAt ?? null;
  return {
    element: h(
      'section',
      { class: 'panel ended', id: 'ended-view', 'aria-labelledby': 'ended' },
      h('h2', { id: 'ended', tabindex: -1 }, endedMessage(feed)),
      endedAt ? h('p', { class: 'muted' }, `${state === 'cancelled' ? 'Cancelled' : 'Ended'} ${formatStart(endedAt)}.`) : null,
      h('div', { class: 'row' }, h('a', { href: '/', class: 'button-link' }, 'Find another Space'), h('a', { href: '/host', class: 'button-link secondary' }, 'Host your own')),
    ),
    update: () => undefined,
    destroy: () => undefined,
  };
}

export function notFoundView(message: string): ModeView {
  return {
    element: h('section', { class: 'panel', id: 'not-found' }, h('h2', {}, message), h('p', {}, h('a', { href: '/' }, 'See the Spaces live now'))),
    update: () => undefined,
    destroy: () => undefined,
  };
}
