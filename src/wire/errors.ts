/**
 * The error catalogue: every error Tribune reports to a client, HTTP or
 * WebSocket, has a stable code from this table. Clients and tests match on
 * `code`, never on `message` (after fastify's lib/errors.js).
 *
 * `status` is the HTTP status at the REST border; `close` is the WebSocket
 * close code (RFC 6455 §7.4) when the error ends a signalling connection,
 * or undefined when the connection survives it.
 *
 * docs/ERRORS.md documents every code; test/unit/error-catalogue.test.ts
 * keeps the two in step.
 */
export const ERRORS = {
  // --- HTTP border -------------------------------------------------------
  VALIDATION_FAILED: { status: 400, message: 'The request does not match its schema' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than this route accepts' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the body as application/json' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  UPGRADE_REQUIRED: { status: 426, message: 'This route speaks WebSocket only' },
  INTERNAL: { status: 500, message: 'Something went wrong on our side' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too many or too large (16 KiB in all)' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
  BAD_REQUEST: { status: 400, message: 'The request could not be parsed as HTTP' },
  RATE_LIMITED: { status: 429, message: 'Too many requests of this kind; wait as long as Retry-After says' },
  OVERLOADED: { status: 503, message: 'The server is shedding load to keep live audio going; try again after Retry-After' },
  // --- Spaces (control) --------------------------------------------------
  SPACE_NOT_FOUND: { status: 404, message: 'No Space with this id' },
  SPACE_ENDED: { status: 410, message: 'This Space has ended' },
  SPACE_LIMIT_REACHED: { status: 503, message: 'This server hosts as many live Spaces as it is configured for' },
  TOKEN_MISSING: { status: 401, message: 'A stage pass is required (POST /api/spaces/:id/stage-pass)' },
  TOKEN_INVALID: { status: 401, message: 'The token is malformed, forged or expired' },
  TOKEN_WRONG_SPACE: { status: 403, message: 'The token belongs to another Space' },
  NOT_HOST: { status: 403, message: 'Only the host can do this' },
  STAGE_FULL: { status: 409, message: 'The stage has as many people as it allows' },
  SPACE_NOT_LIVE: { status: 409, message: 'This Space is not live' },
  SPACE_NOT_SCHEDULED: { status: 409, message: 'Only a scheduled Space can be edited this way, started early or cancelled' },
  START_OUT_OF_RANGE: { status: 400, message: 'The start time must be between now and 30 days from now' },
  // --- Accounts -----------------------------------------------------------
  SIGN_IN_REQUIRED: { status: 401, message: 'Sign in first' },
  BAD_CREDENTIALS: { status: 401, message: 'Wrong username or password' },
  SIGN_IN_RATE_LIMITED: { status: 429, message: 'Too many sign-in attempts; wait a minute' },
  USERNAME_TAKEN: { status: 409, message: 'That username is taken' },
  CSRF_INVALID: { status: 403, message: 'The request lacks a valid CSRF token (get one from GET /api/session)' },
  API_TOKEN_NOT_FOUND: { status: 404, message: 'No such API token' },
  ACCOUNT_NOT_FOUND: { status: 404, message: 'No such account' },
  NOTIFICATION_NOT_FOUND: { status: 404, message: 'No such notification' },
  // --- Roles on a Space ---------------------------------------------------
  NOT_MODERATOR: { status: 403, message: 'Only the host and co-hosts can do this' },
  NOT_ON_STAGE: { status: 403, message: 'This account has no place on the stage' },
  ALREADY_ON_STAGE: { status: 409, message: 'This account is already on the stage' },
  BLOCKED: { status: 403, message: 'This account is blocked from this Space', close: 4003 },
  COHOST_LIMIT: { status: 409, message: 'The Space has as many co-hosts as it allows' },
  SPEAKER_LIMIT: { status: 409, message: 'The Space has as many speakers as it allows' },
  REQUEST_NOT_FOUND: { status: 404, message: 'No request to speak from this account' },
  INVITE_NOT_FOUND: { status: 404, message: 'No invitation to speak for this account' },
  CANNOT_UNMUTE_OTHERS: { status: 403, message: 'Only a speaker can unmute themself' },
  CANNOT_MODERATE_HOST: { status: 403, message: 'Nobody can mute, move or block the host' },
  HOST_CANNOT_STEP_DOWN: { status: 409, message: 'The host ends the Space or leaves it; a host does not step down' },
  // --- Audience state (feed, presence, reactions, pins) -------------------
  REACTION_RATE_LIMITED: { status: 429, message: 'More reactions than a person sends; this one was dropped' },
  PIN_LIMIT: { status: 409, message: 'The Space has as many pinned links as it allows' },
  PIN_NOT_FOUND: { status: 404, message: 'No such pinned link' },
  // --- Audience stream (origin) -------------------------------------------
  HLS_QUERY_INVALID: { status: 400, message: '_HLS_msn and _HLS_part take non-negative integers, _HLS_skip takes YES or v2' },
  HLS_PART_WITHOUT_MSN: { status: 400, message: '_HLS_part needs _HLS_msn (RFC 8216bis §6.2.5.2)' },
  HLS_MSN_TOO_FAR: { status: 400, message: '_HLS_msn is more than two segments past the live edge' },
  HLS_PART_TOO_FAR: { status: 400, message: '_HLS_part is past the parts a segment has' },
  HLS_HOLD_TIMEOUT: { status: 503, message: 'The part did not appear within three target durations' },
  HLS_NOT_FOUND: { status: 404, message: 'No such part, segment or playlist' },
  EDGE_ONLY: { status: 403, message: 'Listen through an edge: this origin serves listener routes only to its edges' },
  // --- Replays and clips ----------------------------------------------------
  NOT_RECORDED: { status: 409, message: 'This Space is not recorded: it has no replay and cannot be clipped' },
  REPLAY_NOT_READY: { status: 409, message: 'The replay is ready when the Space ends' },
  REPLAY_GONE: { status: 410, message: 'The replay was deleted by its host or expired' },
  REPLAY_NOT_FOUND: { status: 404, message: 'No such replay segment' },
  CLIP_RANGE: { status: 400, message: 'The clip must start at 0 or later and end after its start, within the recording' },
  CLIP_TOO_LONG: { status: 400, message: 'A clip is at most 30 seconds long' },
  CLIP_NOT_FOUND: { status: 404, message: 'No such clip' },
  CLIP_GONE: { status: 410, message: 'The clip was deleted or expired' },
  NOT_CLIP_OWNER: { status: 403, message: 'Only whoever cut the clip, or the host of its Space, can delete it' },
  RANGE_NOT_SATISFIABLE: { status: 416, message: 'The byte range starts past the end of the file' },
  CLIP_RATE_LIMITED: { status: 429, message: 'Too many clips at once; wait a little' },
  // --- Signalling (WebSocket) --------------------------------------------
  SIGNAL_NOT_JSON: { status: 400, message: 'A signalling message must be a JSON object', close: 1007 },
  SIGNAL_TOO_LARGE: { status: 413, message: 'A signalling message is larger than allowed', close: 1009 },
  SIGNAL_INVALID: { status: 400, message: 'The signalling message does not match its schema', close: undefined },
  SIGNAL_RATE_LIMITED: { status: 429, message: 'More signalling messages than a person sends', close: 1008 },
  SIGNAL_NOT_JOINED: { status: 409, message: 'Send join before anything else', close: undefined },
  SIGNAL_ALREADY_JOINED: { status: 409, message: 'This connection already joined the stage', close: undefined },
  SDP_INVALID: { status: 400, message: 'The session description could not be applied', close: undefined },
  SDP_TOO_LARGE: { status: 413, message: 'The session description is larger than allowed', close: undefined },
  NEGOTIATION_OUT_OF_ORDER: { status: 409, message: 'No offer is waiting for this answer', close: undefined },
  ICE_CANDIDATE_INVALID: { status: 400, message: 'The ICE candidate could not be applied', close: undefined },
  JOIN_TIMEOUT: { status: 408, message: 'The connection did not join in time', close: 1008 },
  REPLACED: { status: 409, message: 'The same account joined the stage from another connection', close: 4001 },
  MOVED_TO_AUDIENCE: { status: 409, message: 'A host or co-host moved you to the audience', close: 4002 },
} as const satisfies Record<string, { status: number; message: string; close?: number | undefined }>;

export type ErrorCode = keyof typeof ERRORS;

/** The JSON body of every error answer at the HTTP border. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: string | undefined };
}

export class TribuneError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: string | undefined;
  /** For 429 and 503: when to try again, in seconds (the Retry-After header, RFC 9110 §10.2.3). */
  readonly retryAfterS: number | undefined;

  constructor(code: ErrorCode, details?: string, options: { retryAfterS?: number } = {}) {
    super(ERRORS[code].message);
    this.name = 'TribuneError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
    this.retryAfterS = options.retryAfterS;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }

  /** WebSocket close code for errors that end a signalling connection. */
  get closeCode(): number | undefined {
    const entry = ERRORS[this.code] as { close?: number | undefined };
    return entry.close;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}
