/**
 * A recorded Space after its end: the page becomes its replay
 * (GET /api/spaces/:id/replay). The VOD player with seek and speed, who was
 * on stage and who talked at the moment playing (the timeline's last stage
 * mark at or before it), the reactions floating as playback passes the
 * second they were sent in, the download, cutting a clip, the clips so far,
 * and the host's Delete. A replay that was deleted or expired says so; a
 * recorded Space that never went live shows the plain end.
 */
import type { ReplayView as Replay } from '../../../wire/api.js';
import type { FeedState } from '../../../wire/feed.js';
import type { ReplayTimeline } from '../../../wire/replay.js';
import { ApiError, api, describeError } from '../../api-client.js';
import { formatClock, reactionsPassed, stageIndexAt } from '../../replay/replay-timeline.js';
import { VodPlayer, type VodStatus } from '../../replay/vod-player.js';
import { copyLinkButton } from '../../ui/copy-link.js';
import { button, h, mount, runAction } from '../../ui/dom.js';
import { formatStart } from '../../ui/format.js';
import { MediaTransport } from '../../ui/media-transport.js';
import { renderStage, type SeatView } from '../../ui/member-tile.js';
import { ReactionLayer } from '../../ui/reaction-layer.js';
import { clipControl } from './clip-control.js';
import { ClipList } from './clip-list.js';
import { endedMessage, endedView } from './ended-view.js';
import type { ModeView, SpaceContext } from './space-context.js';

/** How often the stage and reactions follow the audio, in ms (timeupdate alone is every 250 ms). */
const FOLLOW_MS = 100;
/** While the end is being sealed the replay says 'recording' for a moment: ask again this often, this many times. */
const SEALING_RETRY_MS = 1000;
const SEALING_RETRIES = 15;

const PLAYER_TROUBLE: Partial<Record<VodStatus, string>> = {
  failed: 'The replay cannot be loaded right now. Check your connection, or download it below.',
  gone: 'This replay was just deleted.',
  unsupported: 'This browser cannot play the replay here. Download it below and play it in any audio player.',
};

export class ReplayView implements ModeView {
  readonly element: HTMLElement;
  /** The player, once the replay is ready (for diagnostics and tests). */
  player: VodPlayer | undefined;
  private readonly audio = h('audio', { id: 'replay-audio', preload: 'auto' });
  private transport: MediaTransport | undefined;
  private readonly reactions = new ReactionLayer();
  private readonly stage = h('ul', { class: 'stage', id: 'replay-stage', 'aria-label': 'On stage at this moment' });
  private timeline: ReplayTimeline | undefined;
  private shownStage = -2;
  private lastS: number | undefined;
  private follow: ReturnType<typeof setInterval> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private destroyed = false;

  constructor(
    private readonly ctx: SpaceContext,
    private readonly feed: FeedState | undefined,
  ) {
    this.element = h('div', { class: 'replay-view', id: 'replay-view' }, h('section', { class: 'panel' }, h('p', { class: 'muted', role: 'status' }, 'Loading the replay…')));
    void this.load(0);
  }

  update(): void {
    // The Space is over: the feed has nothing more to say to a replay.
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearTimeout(this.retry);
    this.stopPlayback();
  }

  private stopPlayback(): void {
    clearInterval(this.follow);
    this.timeline = undefined;
    this.transport?.destroy();
    this.player?.destroy();
    this.audio.remove();
    this.reactions.element.remove();
  }

  private async load(attempt: number): Promise<void> {
    let replay: Replay;
    try {
      replay = (await api.replay(this.ctx.spaceId)).replay;
    } catch (error) {
      if (this.destroyed) return;
      if (error instanceof ApiError && (error.code === 'NOT_RECORDED' || error.code === 'REPLAY_NOT_READY')) {
        // Recorded but never live (cancelled, or ended in its lobby): nothing was kept.
        this.showPlain();
        return;
      }
      this.showTrouble(describeError(error));
      return;
    }
    if (this.destroyed) return;
    if (replay.state === 'recording') {
      if (attempt >= SEALING_RETRIES) return this.showTrouble('The replay is taking longer than usual to prepare.');
      this.showNote('Preparing the replay…');
      this.retry = setTimeout(() => void this.load(attempt + 1), SEALING_RETRY_MS);
      return;
    }
    if (replay.state === 'deleted') return this.showGone('The host deleted the replay of this Space.');
    if (replay.state === 'expired') return this.showGone('The replay of this Space has expired.');
    this.showReplay(replay);
    try {
      this.timeline = await api.timeline(replay.links.timeline);
      this.followAudio();
    } catch {
      if (!this.destroyed) this.renderStageAt(-1, 'Who was on stage cannot be shown right now; the audio plays as usual.');
    }
  }

  // --- states ---------------------------------------------------------------------

  private showPlain(): void {
    mount(this.element, endedView(this.feed).element);
  }

  private showNote(text: string): void {
    mount(this.element, h('section', { class: 'panel' }, h('h2', { id: 'ended', tabindex: -1 }, endedMessage(this.feed)), h('p', { class: 'muted', role: 'status' }, text)));
  }

  private showTrouble(text: string): void {
    const again = button('Try again', () => {
      this.showNote('Loading the replay…');
      void this.load(0);
    }, { class: 'secondary', id: 'replay-retry' });
    mount(this.element, h('section', { class: 'panel' }, h('h2', { id: 'ended', tabindex: -1 }, endedMessage(this.feed)), h('p', { class: 'error', role: 'alert' }, text), h('div', { class: 'row' }, again)));
  }

  private showGone(text: string): void {
    const plain = endedView(this.feed).element;
    plain.querySelector('h2')?.after(h('p', { class: 'replay-gone', id: 'replay-gone' }, text));
    mount(this.element, plain);
  }

  // --- the replay ---------------------------------------------------------------

  private showReplay(replay: Replay): void {
    const feed = this.feed;
    const isHost = this.ctx.account !== null && feed?.space.host?.id === this.ctx.account.id;
    const startS = Number(new URLSearchParams(location.search).get('t'));
    this.player = new VodPlayer(this.audio, replay.links.playlist, Number.isFinite(startS) && startS > 0 ? Math.min(startS, replay.durationS) : 0);
    const transport = (this.transport = new MediaTransport(this.audio, { idPrefix: 'replay', what: 'replay', durationS: replay.durationS }));
    const trouble = h('p', { class: 'error', role: 'alert', id: 'replay-trouble' });
    this.player.on('status', (status) => {
      trouble.textContent = PLAYER_TROUBLE[status] ?? '';
    });

    const about = [replay.endedAt ? formatStart(replay.endedAt) : '', `${formatClock(replay.durationS)} long`, replay.expiresAt ? `available until ${formatStart(replay.expiresAt)}` : '']
      .filter(Boolean)
      .join(' · ');
    const actionStatus = h('p', { class: 'error', role: 'alert' });
    const remove = isHost
      ? button('Delete replay', () => {
          if (!confirm(`Delete the replay of “${feed?.space.title ?? 'this Space'}”? Its clips are deleted too, and this cannot be undone.`)) return;
          void runAction(remove, actionStatus, async () => {
            await api.deleteReplay(this.ctx.spaceId);
            this.stopPlayback();
            this.showGone('You deleted the replay of this Space.');
            this.ctx.announce('The replay was deleted.', 6000);
          }, describeError);
        }, { class: 'danger small', id: 'delete-replay' })
      : null;

    const clips = new ClipList({ spaceId: this.ctx.spaceId, me: this.ctx.account?.id, isHost, playFrom: (s) => this.playFrom(s), announce: (text, ms) => this.ctx.announce(text, ms) });
    const cutter = clipControl({
      spaceId: this.ctx.spaceId,
      signedIn: this.ctx.account !== null,
      mode: 'replay',
      endS: async () => this.audio.currentTime,
      announce: (text, ms) => this.ctx.announce(text, ms),
      onCut: () => void clips.refresh(),
    });

    mount(
      this.element,
      h(
        'section',
        { class: 'panel replay-player', 'aria-labelledby': 'replay-heading' },
        h('h2', { id: 'replay-heading', tabindex: -1 }, h('span', { class: 'badge replay' }, 'REPLAY'), ' ', h('span', { id: 'ended' }, endedMessage(feed))),
        h('p', { class: 'muted', id: 'replay-about' }, about),
        replay.lostParts > 0 ? h('p', { class: 'hint' }, `About ${replay.lostParts} s could not be kept and are missing from the replay.`) : null,
        this.audio,
        transport.element,
        trouble,
        h(
          'div',
          { class: 'row replay-actions' },
          h('a', { href: replay.links.download, download: '', class: 'button-link secondary small', id: 'replay-download', 'aria-label': 'Download the whole conversation (Ogg audio)' }, '⬇ Download (.ogg)'),
          copyLinkButton(`${location.origin}/s/${this.ctx.spaceId}`, 'this replay'),
          remove,
        ),
        actionStatus,
      ),
      h('section', { class: 'panel', 'aria-labelledby': 'replay-stage-heading' }, h('h2', { id: 'replay-stage-heading' }, 'On stage'), this.stage),
      cutter,
      clips.element,
      this.reactions.element,
    );
    this.renderStageAt(-1, 'Loading who was on stage…');
    this.player.start();
    void clips.refresh();
  }

  private playFrom(startS: number): void {
    this.transport?.seek(startS);
    void this.transport?.play();
    (this.element.querySelector('#replay-play') as HTMLElement | null)?.focus();
  }

  /** Keeps the stage and the reactions in step with the audio playing now. */
  private followAudio(): void {
    const tick = (): void => {
      const timeline = this.timeline;
      if (!timeline || this.destroyed) return;
      const atS = this.audio.currentTime;
      const index = stageIndexAt(timeline.stage, atS);
      if (index !== this.shownStage) this.renderStageAt(index);
      if (!this.audio.paused && this.lastS !== undefined) for (const second of reactionsPassed(timeline, this.lastS, atS)) this.reactions.burst(second.counts);
      this.lastS = atS;
    };
    // A seek starts the reactions afresh from where it lands.
    this.audio.addEventListener('seeking', () => (this.lastS = undefined));
    this.audio.addEventListener('seeked', tick);
    this.follow = setInterval(tick, FOLLOW_MS);
    tick();
  }

  private renderStageAt(index: number, empty = 'Nobody was on stage at this moment.'): void {
    this.shownStage = index;
    const mark = index >= 0 ? this.timeline?.stage[index] : undefined;
    const members = mark?.members ?? [];
    const speaking = new Set(mark?.speaking ?? []);
    const seats: SeatView[] = members.map((m) => ({ accountId: m.accountId, name: m.name, role: m.role, muted: m.muted, memberId: m.id }));
    const talking = new Set(members.filter((m) => speaking.has(m.id)).map((m) => m.accountId));
    renderStage(this.stage, seats, talking, this.ctx.account?.id, empty);
  }
}
