/** Limits on what clients send to the HTTP API; documented in docs/LIMITS.md. */
/** Longest stage pass read, in characters (an ES256 pass is about 300): the origin and the edge refuse longer ones. */
export const STAGE_PASS_MAX_CHARS = 2048;

export const API_LIMITS = {
  /** Largest JSON body on the Spaces API, in bytes. */
  maxBodyBytes: 4 * 1024,
  maxTitleChars: 100,
  maxDescriptionChars: 1000,
  /** How far ahead a Space can be scheduled. */
  maxScheduleAheadMs: 30 * 24 * 3600 * 1000,
  /** A start this far in the past still counts as "now" (clock skew between client and server). */
  scheduleGraceMs: 60 * 1000,
  minPasswordChars: 10,
  maxPasswordChars: 200,
  maxApiTokensPerAccount: 20,
  maxPins: 3,
  maxPinUrlChars: 500,
  maxPinLabelChars: 80,
  /** Longest clip, in seconds. */
  maxClipSeconds: 30,
} as const;

/** The reactions a listener can send; anything else is refused at the border. */
export const REACTION_EMOJI = ['👏', '❤️', '😂', '🔥', '💯', '🙌', '😮', '👍'] as const;
export type ReactionEmoji = (typeof REACTION_EMOJI)[number];
