/**
 * TURN credentials per stage member, minted with the TURN REST API scheme
 * coturn checks with `use-auth-secret` (draft-uberti-behave-turn-rest-00
 * §2.2): username "<unix expiry>:<account id>", password
 * base64(HMAC-SHA1(shared secret, username)). coturn keeps no user list,
 * and its `user-quota` (deploy/coturn) then caps each person's relays, not
 * every member's together; a leaked credential names its owner and expires.
 */
import { createHmac } from 'node:crypto';
import type { IceServerConfig, SfuOptions } from './sfu-types.js';

export interface TurnRestOptions {
  /** turn: and turns: URLs of the relay (RFC 7065). */
  urls: string[];
  /** coturn's static-auth-secret. */
  secret: string;
  /** How long a credential lasts: a stage session refreshes its allocation with it. */
  lifetimeS: number;
}

export function turnCredential(turn: TurnRestOptions, accountId: string, nowMs: number): { username: string; credential: string } {
  const username = `${Math.floor(nowMs / 1000) + turn.lifetimeS}:${accountId}`;
  return { username, credential: createHmac('sha1', turn.secret).update(username).digest('base64') };
}

/** What a member's client is told to use: the configured servers, and a relay credential of its own. */
export function iceServersFor(options: Pick<SfuOptions, 'iceServers' | 'turn'>, accountId: string, nowMs: number): IceServerConfig[] {
  if (!options.turn) return options.iceServers;
  return [...options.iceServers, { urls: options.turn.urls, ...turnCredential(options.turn, accountId, nowMs) }];
}
