/** A Space in a list: state (and whether it is recorded), title (the link to its page), host, start, share link and .ics. */
import type { SpaceView } from '../../wire/api.js';
import { copyLinkButton } from './copy-link.js';
import { h, type Child } from './dom.js';
import { formatStart } from './format.js';

export function stateBadge(state: SpaceView['state']): HTMLElement {
  const text = { scheduled: 'UPCOMING', live: 'LIVE', ended: 'ENDED', interrupted: 'INTERRUPTED', cancelled: 'CANCELLED' }[state];
  return h('span', { class: `badge ${state}` }, text);
}

/** The marker of a Space its host records: it will have a replay and clips. */
export function recordedBadge(): HTMLElement {
  return h('span', { class: 'badge rec', title: 'Recorded: it can be replayed and clipped' }, 'Recorded');
}

/** `actions` are extra controls (the host dashboard's start, edit, cancel). */
export function spaceCard(space: SpaceView, ...actions: Child[]): HTMLLIElement {
  const when = space.state === 'live' ? `Started ${formatStart(space.startedAt)}` : formatStart(space.startsAt);
  const titleId = `space-${space.id}-title`;
  return h(
    'li',
    { class: 'space-card', 'data-space': space.id, 'aria-labelledby': titleId },
    h('div', { class: 'card-top' }, stateBadge(space.state), space.recorded ? recordedBadge() : null, h('time', { datetime: space.state === 'live' ? (space.startedAt ?? '') : (space.startsAt ?? '') }, when)),
    h('h3', { id: titleId }, h('a', { href: `/s/${space.id}`, class: 'space-link' }, space.title)),
    space.host ? h('p', { class: 'muted host-line' }, 'Hosted by ', space.host.displayName) : null,
    space.description ? h('p', { class: 'description' }, space.description) : null,
    h(
      'div',
      { class: 'row card-actions' },
      copyLinkButton(space.links.page, space.title),
      h('a', { href: space.links.calendar, download: `${space.id}.ics`, class: 'button-link secondary small', 'aria-label': `Calendar (.ics) for ${space.title}` }, 'Calendar (.ics)'),
      ...actions,
    ),
  );
}
