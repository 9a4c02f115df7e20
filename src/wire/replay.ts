/** What the replay page reads besides the audio: who was on stage, who talked, and the reactions, by replay time. */
import type { MemberView } from './signalling.js';

export interface TimelineStage {
  /** Seconds from the start of the replay. */
  t: number;
  members: MemberView[];
  speaking: string[];
}

export interface TimelineReactions {
  /** The start of the second the reactions were sent in, in replay seconds. */
  t: number;
  counts: Record<string, number>;
}

export interface ReplayTimeline {
  durationS: number;
  stage: TimelineStage[];
  reactions: TimelineReactions[];
}
