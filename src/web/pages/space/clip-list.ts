/**
 * The clips people cut from a Space (GET /api/spaces/:id/clips), newest
 * first: each with its link, where it sits in the replay ("Play from
 * 1:05" seeks the replay there), who cut it, a copy button, and Delete for
 * whoever cut it and the host.
 */
import type { ClipView } from '../../../wire/api.js';
import { api, describeError } from '../../api-client.js';
import { formatClock } from '../../replay/replay-timeline.js';
import { copyLinkButton } from '../../ui/copy-link.js';
import { button, h, runAction } from '../../ui/dom.js';

export interface ClipListOptions {
  spaceId: string;
  /** My account id, when signed in. */
  me: string | undefined;
  isHost: boolean;
  /** Seeks the replay to a clip's start; absent where there is no replay to seek. */
  playFrom?(startS: number): void;
  announce(text: string, clearAfterMs?: number): void;
}

export class ClipList {
  readonly element: HTMLElement;
  private readonly list = h('ul', { class: 'clip-list', id: 'clip-list', 'aria-labelledby': 'clips-heading' });
  private readonly status = h('p', { class: 'error', role: 'alert' });

  constructor(private readonly options: ClipListOptions) {
    this.element = h('section', { class: 'panel', 'aria-labelledby': 'clips-heading' }, h('h2', { id: 'clips-heading' }, 'Clips'), this.list, this.status);
    this.list.append(h('li', { class: 'muted empty' }, 'Loading clips…'));
  }

  async refresh(): Promise<void> {
    try {
      const { clips } = await api.clips(this.options.spaceId);
      this.render(clips);
    } catch (error) {
      this.status.textContent = describeError(error);
    }
  }

  private render(clips: ClipView[]): void {
    this.status.textContent = '';
    if (clips.length === 0) {
      this.list.replaceChildren(h('li', { class: 'muted empty' }, 'No clips yet.'));
      return;
    }
    this.list.replaceChildren(...clips.map((clip) => this.item(clip)));
  }

  private item(clip: ClipView): HTMLLIElement {
    const { me, isHost, playFrom } = this.options;
    const range = `${formatClock(clip.startS)}–${formatClock(clip.startS + clip.durationS)}`;
    const titleId = `clip-${clip.id}-title`;
    const item = h('li', { class: 'clip-item', 'data-clip': clip.id, 'aria-labelledby': titleId });
    const remove =
      me && (clip.by?.id === me || isHost)
        ? button('Delete', () => {
            if (!confirm(`Delete the clip “${clip.title}”? Its link stops working.`)) return;
            void runAction(remove, this.status, async () => {
              await api.deleteClip(clip.id);
              this.options.announce(`Clip “${clip.title}” deleted.`, 5000);
              await this.refresh();
            }, describeError);
          }, { class: 'danger small', 'aria-label': `Delete the clip ${clip.title}` })
        : null;
    item.append(
      h('a', { href: `/c/${clip.id}`, class: 'clip-title', id: titleId }, clip.title),
      h('p', { class: 'muted clip-meta' }, `${range} · ${Math.round(clip.durationS)} s${clip.by ? ` · cut by ${clip.by.displayName}` : ''}`),
      h(
        'div',
        { class: 'row tight' },
        playFrom ? button(`▶ Play from ${formatClock(clip.startS)}`, () => playFrom(clip.startS), { class: 'secondary small', 'aria-label': `Play the replay from ${formatClock(clip.startS)}, where ${clip.title} starts` }) : null,
        copyLinkButton(clip.links.page, `the clip ${clip.title}`),
        remove,
      ),
    );
    return item;
  }
}
