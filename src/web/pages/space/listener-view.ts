/**
 * The audience's view of a live Space: the mixed conversation over LL-HLS
 * (LivePlayer), the stage with who talks (in step with the audio, from the
 * playlist's DATERANGE state; from the feed until the player has it),
 * reactions, clipping the last 30 s heard when the Space is recorded, and
 * the way up: request to speak, answer an invitation, or rejoin the stage
 * when I still hold a seat.
 */
import type { FeedState } from '../../../wire/feed.js';
import type { StageState } from '../../../wire/stage-state.js';
import { signInUrl } from '../../account-session.js';
import { api, describeError } from '../../api-client.js';
import { LivePlayer } from '../../listener/live-player.js';
import { button, h, mount, runAction } from '../../ui/dom.js';
import { renderStage, type SeatView } from '../../ui/member-tile.js';
import { reactionBar } from '../../ui/reaction-bar.js';
import { clipControl } from './clip-control.js';
import type { ModeView, SpaceContext } from './space-context.js';

const VOLUME_KEY = 'tribune.volume';
const STATUS_TEXT = {
  connecting: 'Connecting…',
  playing: 'Listening live',
  reconnecting: 'Reconnecting…',
  ended: 'The stream has ended.',
  failed: 'The stream is not reachable. Check your connection.',
} as const;

export class ListenerView implements ModeView {
  readonly element: HTMLElement;
  readonly player: LivePlayer;
  private readonly audio = h('audio', { id: 'listener-audio', preload: 'auto' });
  private readonly stage = h('ul', { class: 'stage', id: 'stage', 'aria-label': 'People on stage' });
  private readonly actions = h('div', { class: 'audience-actions', id: 'audience-actions' });
  private readonly actionStatus = h('p', { class: 'error', role: 'alert' });
  private playerState: StageState | undefined;
  private lastActions = '';
  private destroyed = false;
  private readonly recorded: boolean;

  constructor(private readonly ctx: SpaceContext) {
    const status = h('span', { class: 'muted', id: 'listen-status', role: 'status' }, STATUS_TEXT.connecting);
    const playButton = h('button', { type: 'button', id: 'listen', hidden: true }, '▶ Play');
    const saved = Number(localStorage.getItem(VOLUME_KEY) ?? '1');
    const volume = h('input', { type: 'range', id: 'volume', min: 0, max: 1, step: 0.05, value: Number.isFinite(saved) ? saved : 1, 'aria-label': 'Volume' });
    this.audio.volume = Number(volume.value);
    volume.addEventListener('input', () => {
      this.audio.volume = Number(volume.value);
      localStorage.setItem(VOLUME_KEY, volume.value);
    });

    this.player = new LivePlayer(this.audio, `/hls/${encodeURIComponent(ctx.spaceId)}/master.m3u8`);
    this.player.on('state', (state) => {
      this.playerState = state;
      this.renderStage();
    });
    // Autoplay with sound needs a gesture in most browsers; until then the stream only buffers.
    let needsGesture = false;
    this.player.on('status', (value) => {
      if (value === 'playing') {
        needsGesture = false;
        playButton.hidden = true;
      }
      status.textContent = needsGesture && (value === 'connecting' || value === 'reconnecting') ? 'Press Play to listen.' : STATUS_TEXT[value];
      if (value === 'ended') this.audio.pause();
    });
    const play = (): void => {
      void this.player.play().then((playing) => {
        if (this.destroyed) return;
        needsGesture = !playing;
        playButton.hidden = playing;
        if (!playing) status.textContent = 'Press Play to listen.';
      });
    };
    playButton.addEventListener('click', play);

    const account = ctx.account;
    const blocked = ctx.place()?.blocked === true;
    this.recorded = ctx.feed()?.space.recorded === true;
    const clip = this.recorded && account
      ? clipControl({ spaceId: ctx.spaceId, signedIn: true, mode: 'live', endS: () => this.heardUpToS(), announce: (text, ms) => ctx.announce(text, ms) })
      : null;
    this.element = h(
      'div',
      { class: 'listener-view', id: 'listener-view' },
      h(
        'section',
        { class: 'panel player', 'aria-label': 'Listening' },
        h('div', { class: 'row player-row' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), status, playButton),
        h('div', { class: 'row' }, h('label', { for: 'volume', class: 'inline' }, 'Volume'), volume),
        clip,
        this.audio,
      ),
      h('section', { class: 'panel', 'aria-labelledby': 'stage-heading' }, h('h2', { id: 'stage-heading' }, 'On stage'), this.stage),
      h('section', { class: 'panel', 'aria-label': 'Take part' }, this.actions, this.actionStatus),
      account && !blocked ? reactionBar(ctx.spaceId) : null,
    );
    const feed = ctx.feed();
    if (feed) this.update(feed);
    this.player.start();
    play();
  }

  update(feed: FeedState): void {
    this.renderStage(feed);
    this.renderActions(feed);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    // Silence first, then let go of the stream: the stage must never be heard twice.
    this.audio.muted = true;
    this.audio.pause();
    this.player.destroy();
    this.audio.removeAttribute('src');
    this.audio.load();
    this.audio.remove();
  }

  /**
   * The replay second of the audio playing now: its program date-time minus
   * the recording's start, within what is recorded so far (the recording
   * holds every part before listeners get it). Before the player knows the
   * date-time, the end of the recording.
   */
  private async heardUpToS(): Promise<number | null> {
    const { replay } = await api.replay(this.ctx.spaceId);
    if (!replay.mediaStartedAt) return null;
    const playingMs = this.player.playingDate?.getTime();
    const heardS = playingMs === undefined ? replay.durationS : (playingMs - Date.parse(replay.mediaStartedAt)) / 1000;
    return Math.min(replay.durationS, heardS);
  }

  private renderStage(feed = this.ctx.feed()): void {
    if (!feed) return;
    // Talking and muted as of the audio playing now, when the playlist has told us.
    const heard = this.playerState;
    const heardMembers = new Map((heard?.members ?? []).map((m) => [m.accountId, m]));
    const talking = heard ? new Set(heard.members.filter((m) => heard.speaking.includes(m.id)).map((m) => m.accountId)) : new Set(feed.speaking);
    const seats: SeatView[] = feed.stage.map((seat) => ({ ...seat, muted: heardMembers.get(seat.accountId)?.muted ?? seat.muted }));
    renderStage(this.stage, seats, talking, this.ctx.account?.id);
  }

  private renderActions(feed: FeedState): void {
    const account = this.ctx.account;
    const place = this.ctx.place();
    if (!account || !place) {
      const what = this.recorded ? ' to react, clip or ask to speak.' : ' to react or ask to speak.';
      this.setActions('anonymous', () => [h('p', { class: 'muted' }, h('a', { href: signInUrl('signin'), id: 'signin-to-take-part' }, 'Sign in'), what)]);
      return;
    }
    if (place.blocked) {
      this.setActions('blocked', () => [h('p', { class: 'muted' }, 'The host has blocked you from taking part in this Space.')]);
      return;
    }
    if (this.ctx.seat()) {
      this.setActions('seated', () => [
        h('p', {}, 'You have a seat on stage.'),
        h('div', { class: 'row' }, button('Join the stage', () => this.ctx.enterStage(), { id: 'rejoin-stage' }), button('Step down', (event) => void this.stepDown(event), { class: 'secondary', id: 'give-up-seat' })),
      ]);
      return;
    }
    if (feed.invited.includes(account.id)) {
      this.setActions('invited', () => [
        h('p', { class: 'invitation', role: 'alert' }, 'The host invites you to speak.'),
        h(
          'div',
          { class: 'row' },
          button('Accept and go on stage', (event) => void this.answerInvite(event, true), { id: 'accept-invite' }),
          button('Decline', (event) => void this.answerInvite(event, false), { class: 'secondary', id: 'decline-invite' }),
        ),
      ]);
      return;
    }
    if (place.requested) {
      this.setActions('requested', () => [
        h('p', {}, 'You asked to speak. The host sees your request in their queue.'),
        h('div', { class: 'row' }, button('Cancel request', (event) => void this.withdraw(event), { class: 'secondary', id: 'cancel-request' })),
      ]);
      return;
    }
    this.setActions('listener', () => [
      h('div', { class: 'row' }, button('Request to speak', (event) => void this.request(event), { id: 'request-to-speak' })),
      h('p', { class: 'hint' }, `The host can also invite you up by your username, @${account.username}.`),
    ]);
  }

  /** Re-renders the actions only when what they show changes, so focus stays put. */
  private setActions(key: string, render: () => HTMLElement[]): void {
    if (key === this.lastActions) return;
    const hadFocus = this.actions.contains(document.activeElement);
    this.lastActions = key;
    mount(this.actions, ...render());
    if (hadFocus) this.actions.querySelector('button')?.focus();
  }

  private async request(event: Event): Promise<void> {
    const ok = await runAction(event.currentTarget as HTMLButtonElement, this.actionStatus, async () => {
      await api.requestToSpeak(this.ctx.spaceId);
      await this.ctx.refreshPlace();
    }, describeError);
    if (ok) this.ctx.announce('Request sent. You will go on stage when the host accepts.', 5000);
    this.refresh();
  }

  private async withdraw(event: Event): Promise<void> {
    await runAction(event.currentTarget as HTMLButtonElement, this.actionStatus, async () => {
      await api.withdrawRequest(this.ctx.spaceId);
      await this.ctx.refreshPlace();
    }, describeError);
    this.refresh();
  }

  private async answerInvite(event: Event, accept: boolean): Promise<void> {
    const ok = await runAction(event.currentTarget as HTMLButtonElement, this.actionStatus, () => api.answerInvite(this.ctx.spaceId, accept), describeError);
    if (ok && accept) this.ctx.enterStage();
  }

  private async stepDown(event: Event): Promise<void> {
    await runAction(event.currentTarget as HTMLButtonElement, this.actionStatus, () => api.stepDown(this.ctx.spaceId), describeError);
  }

  private refresh(): void {
    const feed = this.ctx.feed();
    if (feed && !this.destroyed) this.renderActions(feed);
  }
}
