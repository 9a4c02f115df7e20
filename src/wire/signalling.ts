/**
 * Stage signalling over the Space's WebSocket (`/api/spaces/:id/stage`).
 *
 * The server is always the offerer (it owns the transceiver layout of every
 * stage member's peer connection), so the browser never offers and glare
 * (RFC 8829 §4.1.8.1) cannot happen. Each offer carries `slots`, the mid of
 * every m-line that carries another member's audio, so the client can name
 * the receivers it gets.
 *
 * These schemas are the border: every client message is checked against
 * them before anything reads it. The browser imports only the types.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { ErrorCode } from './errors.js';

/** Limits on what a client may send; documented in docs/LIMITS.md. */
export const SIGNAL_LIMITS = {
  /** Largest WebSocket message the server reads, in bytes. */
  maxMessageBytes: 16 * 1024,
  /** Largest SDP answer, in bytes: 13 audio m-lines from Chromium take about 6 KiB. */
  maxSdpBytes: 12 * 1024,
  /** Largest ICE candidate line, in bytes. */
  maxCandidateBytes: 512,
  /** Token bucket for client messages: sustained rate per second and burst. */
  messagesPerSecond: 10,
  messageBurst: 40,
  /** Time a new connection has to send `join`, in ms. */
  joinTimeoutMs: 10_000,
} as const;

export const DisplayName = Type.String({ minLength: 1, maxLength: 40, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });

const Candidate = Type.Object(
  {
    candidate: Type.String({ maxLength: SIGNAL_LIMITS.maxCandidateBytes }),
    sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Null()])),
    sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 64 }), Type.Null()])),
  },
  { additionalProperties: false },
);

export const ClientMessage = Type.Union([
  // The name shown is the account's display name; `name` is accepted from older clients and ignored.
  Type.Object({ type: Type.Literal('join'), name: Type.Optional(DisplayName) }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal('answer'), sdp: Type.String({ minLength: 1, maxLength: SIGNAL_LIMITS.maxSdpBytes }) },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('candidate'), candidate: Candidate }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('mute'), muted: Type.Boolean() }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('leave') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('end') }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false }),
]);
export type ClientMessage = Static<typeof ClientMessage>;

export type StageRole = 'host' | 'cohost' | 'speaker';

export interface MemberView {
  /** This connection; a rejoin gets a new one. */
  id: string;
  accountId: string;
  username: string;
  /** Display name. */
  name: string;
  role: StageRole;
  muted: boolean;
}

/** A request to speak, as the host and co-hosts see it in their queue. */
export interface RequestToSpeak {
  accountId: string;
  username: string;
  name: string;
  requestedAt: string;
}

export interface IceServerView {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type ServerMessage =
  | {
      type: 'welcome';
      you: MemberView;
      space: { id: string; title: string };
      members: MemberView[];
      iceServers: IceServerView[];
    }
  | {
      type: 'offer';
      sdp: string;
      /** mid of the m-line this member publishes its microphone on. */
      publishMid: string;
      /** mid -> member id for every m-line that carries another member's audio. */
      slots: Record<string, string>;
    }
  | { type: 'candidate'; candidate: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null } }
  | { type: 'member-joined'; member: MemberView }
  | { type: 'member-left'; memberId: string }
  | { type: 'member-updated'; member: MemberView }
  | { type: 'speaking'; memberIds: string[] }
  /** To hosts and co-hosts: the queue of requests to speak, whenever it changes. */
  | { type: 'requests'; requests: RequestToSpeak[] }
  /** To the member concerned: a host or co-host muted you, or your role changed. */
  | { type: 'muted-by'; by: string; name: string }
  | { type: 'role-changed'; role: StageRole }
  | { type: 'space-ended' }
  | { type: 'pong' }
  | { type: 'error'; code: ErrorCode; message: string; details?: string };
