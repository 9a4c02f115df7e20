/**
 * What the views of the Space page share: the Space, who I am, the latest
 * feed and my place, and the page's announcer. The page (space-page.ts)
 * owns them and switches views; a view only reads them and asks the page
 * to act (go on stage, refresh my place).
 */
import type { AccountView, MyPlace } from '../../../wire/api.js';
import type { FeedState } from '../../../wire/feed.js';
import type { StageRole } from '../../../wire/signalling.js';

export interface SpaceContext {
  readonly spaceId: string;
  readonly account: AccountView | null;
  feed(): FeedState | undefined;
  /** My requests, invitation, block and reminder; undefined when signed out. */
  place(): MyPlace | undefined;
  /** My seat on stage in the latest feed, if I have one. */
  seat(): StageRole | undefined;
  refreshPlace(): Promise<void>;
  /** Go on stage now (I have a seat): stops the HLS player first. */
  enterStage(): void;
  announce(text: string, clearAfterMs?: number): void;
}

/** One view of the Space page (lobby, listener, stage, ...). */
export interface ModeView {
  readonly element: HTMLElement;
  /** A new feed version arrived. */
  update(feed: FeedState): void;
  /** Stops everything the view started (players, sockets, timers). Safe to call twice. */
  destroy(): void;
}

export const TERMINAL_STATES = new Set(['ended', 'cancelled', 'interrupted']);
