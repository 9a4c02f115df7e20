/**
 * Who may do what to whom on a Space's stage: pure functions over roles
 * and counts, so every rule is testable without a server. The numbers are
 * the big platforms' (1 host, 2 co-hosts, 10 speakers) and configurable.
 */
import type { ErrorCode } from '../wire/errors.js';
import type { StageRole } from '../wire/signalling.js';

export type Place = StageRole | 'listener';

export interface RoleLimits {
  maxCohosts: number;
  maxSpeakers: number;
}

export interface StageCounts {
  cohosts: number;
  /** Speakers plus open invitations (an invitation holds a seat until it is answered). */
  speakers: number;
}

export const isModerator = (place: Place): boolean => place === 'host' || place === 'cohost';

/**
 * Can `actor` put `target` into `to`? Moving to 'listener' is "move to the
 * audience"; 'cohost' and 'speaker' promote or demote someone already on
 * stage (a listener comes up through a request or an invitation instead).
 */
export function checkRoleChange(actor: Place, target: Place, to: Place, counts: StageCounts, limits: RoleLimits): ErrorCode | undefined {
  if (!isModerator(actor)) return 'NOT_MODERATOR';
  if (target === 'host') return 'CANNOT_MODERATE_HOST';
  if (target === to) return undefined;
  if (to === 'listener') {
    if (target === 'cohost' && actor !== 'host') return 'NOT_HOST';
    return undefined;
  }
  if (actor !== 'host') return 'NOT_HOST';
  if (target === 'listener') return 'NOT_ON_STAGE';
  if (to === 'cohost' && counts.cohosts >= limits.maxCohosts) return 'COHOST_LIMIT';
  if (to === 'speaker' && counts.speakers >= limits.maxSpeakers) return 'SPEAKER_LIMIT';
  if (to === 'host') return 'NOT_HOST';
  return undefined;
}

/** Can `actor` mute `target`? Only moderators mute others, and nobody mutes the host but the host. */
export function checkMute(actor: Place, target: Place, self: boolean): ErrorCode | undefined {
  if (target === 'listener') return 'NOT_ON_STAGE';
  if (self) return undefined;
  if (!isModerator(actor)) return 'NOT_MODERATOR';
  if (target === 'host') return 'CANNOT_MODERATE_HOST';
  return undefined;
}

/** Can `actor` block `target` from the Space? */
export function checkBlock(actor: Place, target: Place, self: boolean): ErrorCode | undefined {
  if (!isModerator(actor)) return 'NOT_MODERATOR';
  if (self || target === 'host') return 'CANNOT_MODERATE_HOST';
  if (target === 'cohost' && actor !== 'host') return 'NOT_HOST';
  return undefined;
}

/** Can a listener come up as a speaker now (accepting a request or an invitation)? */
export function checkSeat(counts: StageCounts, limits: RoleLimits, holdsInvite: boolean): ErrorCode | undefined {
  // An accepted invitation already holds its seat in `counts.speakers`.
  if (!holdsInvite && counts.speakers >= limits.maxSpeakers) return 'SPEAKER_LIMIT';
  return undefined;
}
