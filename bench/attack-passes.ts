/**
 * Stage passes for the WebSocket attacks: a real one (the hostile member's
 * own, asked for through the edge with its API token, as its client would)
 * and the bad ones an attacker can make: none, forged (alg "none", or ES256
 * with a key of its own), tampered, expired (minted with the server's key,
 * as a pass kept past its 10 minutes is), for another Space, and garbage.
 * The claims follow src/control/stage-tokens.ts.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { stagePassKeys } from '../src/control/stage-tokens.js';
import type { AttackSetup } from './attack-types.js';
import { AttackConnection, randomSpaceId, randomToken, requestBytes, targetOf } from './attack-net.js';

export type PassKind = 'none' | 'forged alg none' | 'forged other key' | 'tampered' | 'expired' | 'other space' | 'garbage';
export const PASS_KINDS: PassKind[] = ['none', 'forged alg none', 'forged other key', 'tampered', 'expired', 'other space', 'garbage'];

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The hostile member's real stage pass, fetched through the edge from `localAddress`. */
export async function realPass(setup: AttackSetup, localAddress: string): Promise<string> {
  const target = targetOf(setup.edgeUrl, localAddress);
  const connection = new AttackConnection(target);
  try {
    const answer = await connection.request(
      requestBytes('POST', `/api/spaces/${setup.spaceId}/stage-pass`, `${target.host}:${target.port}`, { Authorization: `Bearer ${setup.member.apiToken}` }, '{}'),
      15_000,
    );
    const token = answer.status === 200 ? (JSON.parse(answer.body.toString('utf8')) as { token?: string }).token : undefined;
    if (!token) throw new Error(`stage pass refused: ${answer.status || answer.error} ${answer.body.toString('utf8').slice(0, 200)}`);
    return token;
  } finally {
    connection.close();
  }
}

/** A bad pass of `kind` (`real` is a valid pass to tamper with). */
export async function badPass(kind: PassKind, setup: AttackSetup, real: string): Promise<string | undefined> {
  const claims = { acc: setup.member.accountId, iss: 'tribune', aud: 'stage', sub: setup.spaceId };
  const now = Math.floor(Date.now() / 1000);
  // The origin's pass key, as it derives it from its secret (ES256: edges hold only the public half).
  const key = stagePassKeys(Buffer.from(setup.secretHex, 'hex')).privateKey;
  switch (kind) {
    case 'none':
      return undefined;
    case 'forged alg none':
      return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, iat: now, exp: now + 600 })}.`;
    case 'forged other key':
      return new SignJWT({ acc: claims.acc }).setProtectedHeader({ alg: 'ES256' }).setIssuer('tribune').setAudience('stage').setSubject(setup.spaceId).setIssuedAt().setExpirationTime('10m').sign(stagePassKeys(randomBytes(32)).privateKey);
    case 'tampered': {
      // Another account in the payload, the signature left as it was.
      const [head, , signature] = real.split('.');
      return `${head}.${b64url({ ...claims, acc: 'abcdefghijkm', iat: now, exp: now + 600 })}.${signature}`;
    }
    case 'expired':
      return new SignJWT({ acc: claims.acc }).setProtectedHeader({ alg: 'ES256' }).setIssuer('tribune').setAudience('stage').setSubject(setup.spaceId).setIssuedAt(now - 1200).setExpirationTime(now - 600).sign(key);
    case 'other space':
      return new SignJWT({ acc: claims.acc }).setProtectedHeader({ alg: 'ES256' }).setIssuer('tribune').setAudience('stage').setSubject(randomSpaceId()).setIssuedAt().setExpirationTime('10m').sign(key);
    case 'garbage':
      return randomToken(3000);
  }
}

export function stagePath(spaceId: string, token: string | undefined): string {
  return `/api/spaces/${spaceId}/stage${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;
}
