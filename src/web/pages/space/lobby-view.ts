/**
 * Before the start: a countdown to the scheduled time, "Remind me" and the
 * calendar file; the host gets Start. The page keeps long-polling the feed
 * and switches view when the Space goes live.
 */
import type { FeedState } from '../../../wire/feed.js';
import { signInUrl } from '../../account-session.js';
import { api, describeError } from '../../api-client.js';
import { button, h, runAction } from '../../ui/dom.js';
import { formatCountdown } from '../../ui/format.js';
import type { ModeView, SpaceContext } from './space-context.js';

export class LobbyView implements ModeView {
  readonly element: HTMLElement;
  private readonly countdown = h('p', { class: 'countdown', id: 'countdown', role: 'timer', 'aria-live': 'off' });
  private readonly status = h('p', { class: 'error', role: 'alert' });
  private readonly remind: HTMLButtonElement | null = null;
  private readonly timer: ReturnType<typeof setInterval>;
  private startsAtMs: number | null = null;

  constructor(private readonly ctx: SpaceContext) {
    const actions = h('div', { class: 'row' });
    const isHost = ctx.seat() === 'host';
    if (isHost) {
      const start = button('Start the Space', () => {
        void runAction(start, this.status, async () => {
          await api.startSpace(ctx.spaceId);
          ctx.enterStage();
        }, describeError);
      }, { id: 'start-space' });
      actions.append(start, h('a', { href: '/host', class: 'button-link secondary' }, 'Edit in dashboard'));
    } else if (ctx.account) {
      this.remind = button('Remind me', () => void this.toggleReminder(), { class: 'secondary', id: 'remind-me', 'aria-pressed': String(ctx.place()?.subscribed === true) });
      this.showReminder(ctx.place()?.subscribed === true);
      actions.append(this.remind);
    } else {
      actions.append(h('a', { href: signInUrl('signin'), class: 'button-link secondary' }, 'Sign in to get a reminder'));
    }
    this.element = h(
      'section',
      { class: 'panel lobby', 'aria-labelledby': 'lobby-heading', id: 'lobby' },
      h('h2', { id: 'lobby-heading' }, 'Starting soon'),
      this.countdown,
      h(
        'p',
        { class: 'muted' },
        isHost ? 'Start whenever you are ready, early or late: everyone waiting here tunes in by themselves.' : 'Keep this page open: it starts playing by itself when the host starts.',
      ),
      actions,
      this.status,
    );
    this.timer = setInterval(() => this.tick(), 1000);
  }

  update(feed: FeedState): void {
    this.startsAtMs = feed.space.startsAt ? Date.parse(feed.space.startsAt) : null;
    if (this.remind) this.showReminder(this.ctx.place()?.subscribed === true);
    this.tick();
  }

  destroy(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.startsAtMs === null) {
      this.countdown.textContent = 'Waiting for the host to start.';
      return;
    }
    const leftMs = this.startsAtMs - Date.now();
    this.countdown.textContent = leftMs > 0 ? `Starts in ${formatCountdown(leftMs)}` : 'Any moment now: waiting for the host to start.';
  }

  private showReminder(subscribed: boolean): void {
    if (!this.remind) return;
    this.remind.textContent = subscribed ? 'Reminder on ✓' : 'Remind me';
    this.remind.setAttribute('aria-pressed', String(subscribed));
  }

  private async toggleReminder(): Promise<void> {
    const subscribed = this.ctx.place()?.subscribed === true;
    await runAction(this.remind, this.status, async () => {
      if (subscribed) await api.unsubscribe(this.ctx.spaceId);
      else await api.subscribe(this.ctx.spaceId);
      await this.ctx.refreshPlace();
      this.showReminder(!subscribed);
      this.ctx.announce(subscribed ? 'Reminder off.' : 'We will tell you here when it starts.', 4000);
    }, describeError);
  }
}

/** The moment between "live" and the player starting, spread over joinSpreadMs. */
export function startingView(): ModeView {
  return {
    element: h('section', { class: 'panel', id: 'starting' }, h('h2', {}, 'The Space is starting'), h('p', { class: 'muted', role: 'status' }, 'Tuning in…')),
    update: () => undefined,
    destroy: () => undefined,
  };
}
