/**
 * The top of the Space page, whatever the role: title, state (and whether
 * it is recorded), host, start, description, share link and .ics, listener
 * count and pinned links.
 */
import type { FeedState } from '../../../wire/feed.js';
import { api, describeError } from '../../api-client.js';
import { copyLinkButton } from '../../ui/copy-link.js';
import { h } from '../../ui/dom.js';
import { formatStart } from '../../ui/format.js';
import { stateBadge } from '../../ui/space-card.js';

export class SpaceSummary {
  readonly element: HTMLElement;
  private readonly title = h('h1', { id: 'space-title', tabindex: -1 });
  private badge: HTMLElement = h('span');
  /** Listeners and speakers are told, before and while, that the Space is kept. */
  private readonly recorded = h('span', { class: 'badge rec', id: 'recorded-badge', hidden: true });
  private readonly when = h('span', { class: 'muted' });
  private readonly host = h('span', { class: 'muted', id: 'space-host' });
  private readonly description = h('p', { class: 'description', id: 'space-description' });
  private readonly count = h('p', { class: 'listener-count', id: 'listener-count', 'aria-live': 'polite', 'aria-atomic': 'true' });
  private readonly pins = h('ul', { class: 'pins', id: 'pins', 'aria-label': 'Pinned links' });
  private readonly pinStatus = h('p', { class: 'error', role: 'alert' });
  private lastPins = '';
  private readonly share: HTMLElement;

  constructor(
    private readonly spaceId: string,
    /** Whether I may unpin (host or co-host), asked at each update. */
    private readonly canModerate: () => boolean,
  ) {
    const link = `${location.origin}/s/${spaceId}`;
    this.element = h(
      'header',
      { class: 'space-summary' },
      this.title,
      h('p', { class: 'meta-line' }, this.badge, this.recorded, this.when, this.host),
      this.description,
      this.count,
      this.share = h('div', { class: 'row share-row' }, copyLinkButton(link, 'this Space'), h('a', { href: `/api/spaces/${spaceId}/calendar.ics`, download: `${spaceId}.ics`, class: 'button-link secondary small', id: 'ics-link', 'aria-label': 'Calendar (.ics) for this Space' }, 'Calendar (.ics)')),
      this.pins,
      this.pinStatus,
    );
  }

  update(feed: FeedState): void {
    const space = feed.space;
    document.title = `${space.title} · Tribune`;
    this.title.textContent = space.title;
    this.badge.replaceWith((this.badge = stateBadge(space.state)));
    this.when.textContent = space.state === 'scheduled' ? formatStart(space.startsAt) : space.state === 'live' ? `since ${formatStart(space.startedAt)}` : '';
    this.host.textContent = space.host ? `Hosted by ${space.host.displayName}` : '';
    this.recorded.hidden = !space.recorded || !(space.state === 'live' || space.state === 'scheduled');
    this.recorded.textContent = space.state === 'live' ? '● Recording' : 'Recorded';
    this.recorded.title = space.state === 'live' ? 'This Space is being recorded: it can be replayed and clipped.' : 'This Space will be recorded: it can be replayed and clipped.';
    this.description.textContent = space.description;
    this.description.hidden = space.description === '';
    const { count, peak } = feed.listeners;
    const live = space.state === 'live';
    const open = live || space.state === 'scheduled';
    this.count.hidden = !open;
    // Nothing to share or put in a calendar once it is over.
    this.share.hidden = !open;
    this.count.textContent = live ? `${count} listening · peak ${peak}` : `${count} waiting`;
    this.renderPins(feed);
  }

  private renderPins(feed: FeedState): void {
    const key = JSON.stringify([feed.pins, this.canModerate()]);
    if (key === this.lastPins) return;
    this.lastPins = key;
    const moderator = this.canModerate();
    this.pins.replaceChildren(
      ...feed.pins.map((pin) => {
        const unpin = moderator
          ? h('button', {
              type: 'button',
              class: 'icon-button',
              'aria-label': `Unpin ${pin.label}`,
              onclick: (event: Event) => {
                const target = event.currentTarget as HTMLButtonElement;
                target.disabled = true;
                api.unpin(this.spaceId, pin.id).catch((error: unknown) => {
                  target.disabled = false;
                  this.pinStatus.textContent = describeError(error);
                });
              },
            }, '✕')
          : null;
        return h('li', { class: 'pin', 'data-pin': pin.id }, h('span', { 'aria-hidden': 'true' }, '📌 '), h('a', { href: pin.url, target: '_blank', rel: 'noopener noreferrer nofollow' }, pin.label), unpin);
      }),
    );
    this.pins.hidden = feed.pins.length === 0;
  }
}
