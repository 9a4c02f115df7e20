/**
 * On stage (speaker, co-host, host): the other members over WebRTC, who
 * talks, my microphone (mute, level), stepping down or leaving; moderators
 * also get the request queue and per-member controls (moderator-panel.ts),
 * and the host ends the Space. When the stage connection closes, for any
 * reason, the page gets `onExit` with the close reason and takes me back
 * to the audience.
 */
import type { FeedState } from '../../../wire/feed.js';
import type { MemberView, StageRole } from '../../../wire/signalling.js';
import { api, describeError } from '../../api-client.js';
import type { JoinedStage } from '../../stage/stage-join.js';
import { levelMeter } from '../../stage/level-meter.js';
import { button, h, runAction } from '../../ui/dom.js';
import { ROLE_NAMES, renderStage, type SeatView } from '../../ui/member-tile.js';
import { reactionBar } from '../../ui/reaction-bar.js';
import { ModeratorPanel } from './moderator-panel.js';
import type { ModeView, SpaceContext } from './space-context.js';

export class StageView implements ModeView {
  readonly element: HTMLElement;
  private readonly stage = h('ul', { class: 'stage', id: 'stage', 'aria-label': 'People on stage' });
  private readonly audios = h('div', { hidden: true, id: 'stage-audio' });
  private readonly connection = h('span', { class: 'muted', id: 'connection', role: 'status' }, 'Connecting audio…');
  private readonly roleLine = h('span', { class: 'badge role', id: 'my-role' });
  private readonly muteButton = h('button', { type: 'button', class: 'secondary', id: 'mute' }, 'Mute');
  private readonly controls = h('nav', { class: 'controls', 'aria-label': 'Stage controls' });
  private readonly status = h('p', { class: 'error', role: 'alert' });
  private readonly meter = h('div', { class: 'meter', title: 'Your microphone level', 'aria-hidden': 'true' }, h('div'));
  private readonly moderation: ModeratorPanel;
  private readonly stopMeter: () => void;
  private readonly unsubscribe: (() => void)[] = [];
  private destroyed = false;
  /** Set when I asked to go (step down, leave), so the close is not reported as a drop. */
  private leaving: string | undefined;

  constructor(
    private readonly ctx: SpaceContext,
    private readonly joined: JoinedStage,
    private readonly onExit: (code: number, reason: string) => void,
  ) {
    const { session } = joined;
    this.moderation = new ModeratorPanel(ctx, session);
    this.stopMeter = levelMeter(joined.stream, this.meter.firstElementChild as HTMLElement);
    this.muteButton.addEventListener('click', () => this.setMuted(!(session.me?.muted ?? false)));

    const on = (off: () => void): void => {
      this.unsubscribe.push(off);
    };
    on(session.on('members', () => this.render()));
    on(session.on('speaking', () => this.render()));
    on(session.on('remoteTrack', (memberId, track) => this.play(memberId, track)));
    on(session.on('connectionState', (state) => {
      this.connection.textContent = state === 'connected' ? 'Audio connected' : state === 'failed' ? 'Audio connection failed' : 'Connecting audio…';
    }));
    on(session.on('mutedBy', (_by, name) => {
      // The server already mutes me; stop sending too, so unmuting is my decision alone.
      session.setMuted(true);
      this.ctx.announce(`${name || 'A host'} muted you. Unmute when you are ready to speak.`);
      this.render();
    }));
    on(session.on('roleChanged', (role) => {
      this.ctx.announce(`You are now ${role === 'host' ? 'the host' : role === 'cohost' ? 'a co-host' : 'a speaker'}.`, 6000);
      this.renderControls();
      this.moderation.roleChanged(role);
      this.render();
    }));
    on(session.on('closed', (code, reason) => {
      if (this.destroyed) return;
      this.onExit(code, this.leaving ?? reason);
    }));

    this.element = h(
      'div',
      { class: 'stage-view', id: 'stage-view' },
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'on-stage-heading' },
        h('h2', { id: 'on-stage-heading', tabindex: -1 }, 'You’re on stage'),
        h('p', { class: 'meta-line' }, this.roleLine, ' ', this.connection),
        this.stage,
        h('p', { class: 'meter-label muted' }, 'Your microphone'),
        this.meter,
      ),
      reactionBar(ctx.spaceId),
      this.moderation.element,
      this.status,
      this.controls,
      this.audios,
    );
    for (const memberId of session.members.keys()) {
      const track = session.trackOf(memberId);
      if (track) this.play(memberId, track);
    }
    this.renderControls();
    this.render();
    // Closed between the welcome and this view: report it all the same.
    const closed = session.closeReason;
    if (closed) queueMicrotask(() => this.destroyed || this.onExit(closed.code, closed.reason));
  }

  update(feed: FeedState): void {
    this.render(feed);
    this.moderation.update(feed);
  }

  /** Leaves the stage connection and stops the microphone. Safe to call twice. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const off of this.unsubscribe) off();
    this.joined.session.close();
    this.stopMeter();
    for (const track of this.joined.stream.getTracks()) track.stop();
    for (const audio of this.audios.querySelectorAll('audio')) {
      audio.pause();
      audio.srcObject = null;
    }
    this.audios.replaceChildren();
    this.moderation.destroy();
  }

  private get role(): StageRole {
    return this.joined.session.me?.role ?? 'speaker';
  }

  private render(feed = this.ctx.feed()): void {
    if (this.destroyed) return;
    const session = this.joined.session;
    const members = [...session.members.values()];
    const talking = new Set(members.filter((m) => session.speaking.includes(m.id)).map((m) => m.accountId));
    const seats: SeatView[] = members.map((m: MemberView) => ({ accountId: m.accountId, name: m.name, role: m.role, muted: m.muted, memberId: m.id }));
    // Seats granted but not connected (an accepted speaker on the way up).
    const connected = new Set(members.map((m) => m.accountId));
    for (const seat of feed?.stage ?? []) if (!connected.has(seat.accountId)) seats.push({ ...seat, connected: false });
    const order: Record<StageRole, number> = { host: 0, cohost: 1, speaker: 2 };
    seats.sort((a, b) => order[a.role] - order[b.role]);
    renderStage(this.stage, seats, talking, this.ctx.account?.id);
    const muted = session.me?.muted ?? false;
    this.muteButton.textContent = muted ? 'Unmute' : 'Mute';
    this.muteButton.classList.toggle('is-muted', muted);
    this.meter.classList.toggle('muted', muted);
    this.roleLine.textContent = ROLE_NAMES[this.role];
    this.moderation.renderMembers(members);
  }

  private renderControls(): void {
    const isHost = this.role === 'host';
    const stepDown = button('Step down', () => {
      void runAction(stepDown, this.status, async () => {
        this.leaving = 'STEPPED_DOWN';
        try {
          await api.stepDown(this.ctx.spaceId);
        } catch (error) {
          this.leaving = undefined;
          throw error;
        }
      }, describeError);
    }, { class: 'secondary', id: 'step-down' });
    const leave = button('Leave', () => {
      if (!confirm('Leave the stage? A co-host takes over as host; without one, the Space ends.')) return;
      this.leaving = 'LEFT';
      this.joined.session.leave();
    }, { class: 'secondary', id: 'leave' });
    const end = button('End Space', () => {
      if (!confirm('End this Space for everyone?')) return;
      void runAction(end, this.status, () => api.endSpace(this.ctx.spaceId), describeError);
    }, { class: 'danger', id: 'end', 'aria-label': 'End Space for everyone' });
    this.controls.replaceChildren(this.muteButton, ...(isHost ? [leave, end] : [stepDown]));
  }

  private setMuted(muted: boolean): void {
    this.joined.session.setMuted(muted);
    this.ctx.announce(muted ? 'You are muted.' : 'You are live: everyone hears you.', 3000);
    // The server confirms with member-updated; show the intent at once.
    if (this.joined.session.me) this.joined.session.me = { ...this.joined.session.me, muted };
    this.render();
  }

  private play(memberId: string, track: MediaStreamTrack): void {
    this.audios.querySelector(`[data-member="${CSS.escape(memberId)}"]`)?.remove();
    const audio = h('audio', { autoplay: true, 'data-member': memberId });
    audio.srcObject = new MediaStream([track]);
    this.audios.append(audio);
    void audio.play().catch(() => undefined);
  }
}
