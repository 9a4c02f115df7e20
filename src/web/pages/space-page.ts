/**
 * The Space page, one page for every role and state, driven by the state
 * feed (long-poll) and, when signed in, my place (GET /api/spaces/:id/me):
 *
 *   scheduled -> lobby (countdown, reminder; the host's Start)
 *   live      -> listener (HLS) or, with a seat on stage, the stage (WebRTC)
 *   ended, cancelled, interrupted -> the end (the replay, when recorded)
 *
 * Going up swaps the HLS player for the stage in place: the player is
 * stopped and detached first, so the conversation is never heard twice;
 * stepping down (or being moved down) swaps back. After leaving the stage
 * the page does not go up again by itself until the feed has shown me
 * without a seat (so a feed answer from before the change cannot pull me
 * back up); "Join the stage" does it on request.
 */
import type { AccountView, MyPlace } from '../../wire/api.js';
import type { FeedState } from '../../wire/feed.js';
import type { StageRole } from '../../wire/signalling.js';
import { backoffDelayMs } from '../../client/backoff.js';
import { MAX_RETRIES } from '../../client/retry.js';
import { signedInAccount } from '../account-session.js';
import { ApiError, api } from '../api-client.js';
import { FeedWatcher } from '../listener/feed-watcher.js';
import { PresenceBeacon } from '../listener/presence-beacon.js';
import { describeJoinError, joinStage } from '../stage/stage-join.js';
import { Announcer } from '../ui/announcer.js';
import { h, mount } from '../ui/dom.js';
import { ReactionLayer } from '../ui/reaction-layer.js';
import { endedView, notFoundView } from './space/ended-view.js';
import { ListenerView } from './space/listener-view.js';
import { ReplayView } from './space/replay-view.js';
import { LobbyView, startingView } from './space/lobby-view.js';
import { TERMINAL_STATES, type ModeView, type SpaceContext } from './space/space-context.js';
import { SpaceSummary } from './space/space-summary.js';
import { StageView } from './space/stage-view.js';

type Mode = 'loading' | 'lobby' | 'starting' | 'listener' | 'joining' | 'stage' | 'ended';

const EXIT_MESSAGES: Record<string, string> = {
  STEPPED_DOWN: 'You’re back in the audience.',
  LEFT: 'You left the stage.',
  MOVED_TO_AUDIENCE: 'A host moved you to the audience.',
  BLOCKED: 'A host blocked you from this Space: you can still listen.',
  REPLACED: 'You joined the stage from another tab or device.',
};

/** Diagnostics for the browser tests and for people debugging a Space. */
interface PageDiagnostics {
  mode: Mode;
  player: unknown;
  session: unknown;
  reactions: ReactionLayer;
}

export function spacePage(root: HTMLElement, spaceId: string): void {
  new SpacePage(root, spaceId).open();
}

class SpacePage implements SpaceContext {
  readonly account: AccountView | null = signedInAccount();
  private latest: FeedState | undefined;
  private myPlace: MyPlace | undefined;
  private mode: Mode = 'loading';
  private view: ModeView | undefined;
  private readonly slot = h('div', { class: 'space-view' });
  private readonly announcer = new Announcer();
  private readonly reactions = new ReactionLayer();
  private readonly watcher: FeedWatcher;
  private readonly presence: PresenceBeacon;
  private readonly summary: SpaceSummary;
  private startTimer: ReturnType<typeof setTimeout> | undefined;
  private stayDown = false;
  /** Automatic rejoins since the stage connection last held (at most MAX_RETRIES in a row). */
  private stageRetries = 0;
  private rejoinTimer: ReturnType<typeof setTimeout> | undefined;
  private lastRequests = -1;
  private readonly diagnostics: PageDiagnostics;

  constructor(
    private readonly root: HTMLElement,
    readonly spaceId: string,
  ) {
    this.watcher = new FeedWatcher(spaceId);
    this.presence = new PresenceBeacon(spaceId);
    this.summary = new SpaceSummary(spaceId, () => this.mode === 'stage' && (this.seat() === 'host' || this.seat() === 'cohost'));
    this.diagnostics = { mode: 'loading', player: undefined, session: undefined, reactions: this.reactions };
    (window as unknown as { tribune: PageDiagnostics }).tribune = this.diagnostics;
  }

  open(): void {
    this.announcer.say('');
    mount(this.root, this.summary.element, this.announcer.element, this.slot, this.reactions.element);
    this.slot.append(h('p', { class: 'muted' }, 'Loading…'));
    this.watcher.on('feed', (feed) => this.onFeed(feed));
    this.watcher.on('trouble', (error) => this.onTrouble(error));
    // My place first, so a host's first view is the right one.
    void this.refreshPlace().finally(() => this.watcher.start());
  }

  // --- SpaceContext ---------------------------------------------------------------

  feed(): FeedState | undefined {
    return this.latest;
  }

  place(): MyPlace | undefined {
    return this.myPlace;
  }

  seat(): StageRole | undefined {
    return this.latest ? this.seatIn(this.latest) : undefined;
  }

  private seatIn(feed: FeedState): StageRole | undefined {
    const me = this.account?.id;
    return me ? feed.stage.find((s) => s.accountId === me)?.role : undefined;
  }

  async refreshPlace(): Promise<void> {
    if (!this.account) return;
    try {
      this.myPlace = await api.myPlace(this.spaceId);
    } catch {
      // Without my place the page still works as for a listener without an account.
    }
  }

  announce(text: string, clearAfterMs = 0): void {
    this.announcer.say(text, clearAfterMs);
  }

  enterStage(): void {
    void this.goOnStage();
  }

  // --- the feed drives the page -------------------------------------------------

  private onFeed(feed: FeedState): void {
    const previous = this.latest;
    this.latest = feed;
    this.summary.update(feed);
    this.reactions.update(feed.reactions);
    const state = feed.space.state;
    if (TERMINAL_STATES.has(state)) {
      this.showEnded();
      return;
    }
    const seat = this.seat();
    if (!seat) this.stayDown = false;
    // Only someone waiting for an answer, or whose own seat came or went, asks
    // the server again; everyone else reads the shared feed. (A request and its
    // acceptance can land in one feed version, so the queue length alone can miss it.)
    const seatChanged = previous !== undefined && this.seatIn(previous) !== seat;
    const queueMoved = this.myPlace?.requested === true && feed.requests !== this.lastRequests && this.lastRequests !== -1;
    if (seatChanged || queueMoved) void this.refreshPlace().then(() => this.view?.update(feed));
    this.lastRequests = feed.requests;
    if (state === 'scheduled') {
      if (this.mode !== 'lobby') this.show('lobby', new LobbyView(this));
    } else if (state === 'live') {
      if (seat && !this.stayDown && this.mode !== 'stage' && this.mode !== 'joining') {
        void this.goOnStage();
      } else if (this.mode === 'lobby' && previous?.space.state === 'scheduled') {
        this.startAfterSpread(feed.joinSpreadMs);
      } else if (this.mode === 'loading' || this.mode === 'lobby') {
        this.showListener();
      }
    }
    this.view?.update(feed);
  }

  private onTrouble(error: ApiError): void {
    if (error.code === 'SPACE_NOT_FOUND' || error.code === 'VALIDATION_FAILED') {
      document.title = 'Not found · Tribune';
      this.summary.element.hidden = true;
      this.show('ended', notFoundView('This Space does not exist. Check the link you were sent.'));
      return;
    }
    if (this.mode === 'loading') this.slot.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'Tribune cannot be reached. Retrying…'));
  }

  // --- views ----------------------------------------------------------------------

  private show(mode: Mode, view: ModeView): void {
    clearTimeout(this.startTimer);
    this.view?.destroy();
    this.mode = mode;
    this.view = view;
    this.diagnostics.mode = mode;
    this.diagnostics.player = view instanceof ListenerView ? view.player : undefined;
    this.slot.replaceChildren(view.element);
    // The audience counts those in the lobby and those listening; the stage is not audience.
    if ((mode === 'lobby' || mode === 'listener' || mode === 'starting') && this.seat() !== 'host') this.presence.start();
    // Once the Space is over the server refuses beacons; there is nobody to tell.
    else this.presence.stop(mode !== 'ended');
  }

  /** At start, each waiting page waits a random time below the spread, so the start is not one wave. */
  private startAfterSpread(spreadMs: number): void {
    this.show('starting', startingView());
    this.startTimer = setTimeout(() => {
      if (this.mode === 'starting') this.showListener();
    }, Math.floor(Math.random() * Math.max(0, spreadMs)));
  }

  private showListener(): void {
    this.show('listener', new ListenerView(this));
  }

  /** The feed says the Space is over: its replay when it was recorded, else the last view; no more polling. */
  private showEnded(): void {
    this.watcher.stop();
    this.summary.element.hidden = false;
    this.show('ended', this.latest?.space.recorded ? new ReplayView(this, this.latest) : endedView(this.latest));
    this.announce('');
  }

  private async goOnStage(): Promise<void> {
    if (!this.account || this.mode === 'joining' || this.mode === 'stage') return;
    // The HLS player goes first (ListenerView.destroy stops and detaches it).
    this.show('joining', {
      element: h('section', { class: 'panel', id: 'joining' }, h('h2', {}, 'Joining the stage…'), h('p', { class: 'muted', role: 'status' }, 'Allow the microphone if your browser asks.')),
      update: () => undefined,
      destroy: () => undefined,
    });
    let joined;
    try {
      joined = await joinStage(this.spaceId, this.account.displayName);
    } catch (error) {
      if (!this.stillJoining()) return;
      this.stayDown = true;
      this.showListener();
      this.announce(error instanceof ApiError && error.code === 'NOT_ON_STAGE' ? 'You no longer have a seat on stage.' : describeJoinError(error));
      return;
    }
    if (!this.stillJoining()) {
      joined.session.close();
      for (const track of joined.stream.getTracks()) track.stop();
      return;
    }
    const view = new StageView(this, joined, (code, reason) => this.leftStage(code, reason));
    this.show('stage', view);
    this.stageRetries = 0;
    this.diagnostics.session = joined.session;
    this.announce('You’re on stage. Everyone hears you now.', 6000);
    (view.element.querySelector('#on-stage-heading') as HTMLElement | null)?.focus();
  }

  /** Whether the page still waits for the stage (the Space may have ended meanwhile). */
  private stillJoining(): boolean {
    return this.mode === 'joining';
  }

  private leftStage(code: number, reason: string): void {
    this.diagnostics.session = undefined;
    if (reason === 'SPACE_ENDED') {
      // The stage heard it first; the feed confirms in a moment (and then fills in the details).
      this.show('ended', endedView(undefined));
      return;
    }
    console.info(`stage connection closed: ${code} ${reason}`);
    // A lost connection (not a decision of the person or a host): back on
    // stage with a fresh pass, at most three times, after a jittered wait,
    // listening over HLS meanwhile.
    if (!(reason in EXIT_MESSAGES) && this.stageRetries < MAX_RETRIES && this.seat() !== undefined) {
      const waitMs = backoffDelayMs(this.stageRetries++, 1000, 8000);
      // Held down until the wait is over, so the next feed version does not rejoin at once.
      this.stayDown = true;
      this.showListener();
      this.announce('The stage connection dropped. Reconnecting…');
      clearTimeout(this.rejoinTimer);
      this.rejoinTimer = setTimeout(() => {
        this.stayDown = false;
        if (this.mode === 'listener' && this.seat() !== undefined) void this.goOnStage();
      }, waitMs);
      return;
    }
    this.stayDown = true;
    this.showListener();
    this.announce(EXIT_MESSAGES[reason] ?? 'You were disconnected from the stage. Join again when you are ready.');
  }
}
