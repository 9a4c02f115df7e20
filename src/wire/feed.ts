/**
 * The state feed of a Space (GET /api/spaces/:id/feed?v=N): one JSON
 * document per version, the same for every listener, so an edge can cache
 * it by version exactly like a blocking playlist reload. Listeners never
 * get a WebSocket; they long-poll this.
 */
import type { SpaceView } from './api.js';
import type { StageRole } from './signalling.js';

export interface FeedSeat {
  accountId: string;
  username: string;
  name: string;
  role: StageRole;
  muted: boolean;
  /** False while a granted speaker has not (yet, or any more) connected. */
  connected: boolean;
}

export interface FeedPin {
  id: string;
  url: string;
  label: string;
}

export interface ReactionSecond {
  /** Unix second the reactions arrived in. */
  second: number;
  counts: Record<string, number>;
}

export interface FeedState {
  /** Grows with every change, also across restarts (it starts from the clock). */
  version: number;
  space: Omit<SpaceView, 'members' | 'links'>;
  stage: FeedSeat[];
  /** Account ids talking now (from RFC 6464 levels; the playlist carries the same in step with the audio). */
  speaking: string[];
  /** Accounts the host invited up that have not answered yet. */
  invited: string[];
  /** How many requests to speak wait in the queue. */
  requests: number;
  listeners: { count: number; peak: number };
  /** The last few seconds of reactions, one entry per second with any. */
  reactions: ReactionSecond[];
  pins: FeedPin[];
  /**
   * At start, each waiting page waits a random time below this before it
   * loads the stream, so the start is not one synchronised wave.
   */
  joinSpreadMs: number;
}
