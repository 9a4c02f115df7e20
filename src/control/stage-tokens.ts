/**
 * Stage and host tokens: signed JWTs (RFC 7519, HS256) bound to one Space
 * and one role. The share link of a Space carries a stage token; the host
 * keeps the host token. A token for another Space, a tampered one or an
 * expired one is refused before anything changes.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { TribuneError } from '../wire/errors.js';
import type { StageRole } from '../wire/signalling.js';

export interface StageGrant {
  spaceId: string;
  role: StageRole;
}

const ISSUER = 'tribune';

export class StageTokens {
  constructor(
    private readonly secret: Uint8Array,
    private readonly ttlSeconds: number,
  ) {}

  issue(grant: StageGrant): Promise<string> {
    return new SignJWT({ role: grant.role })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setSubject(grant.spaceId)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.secret);
  }

  /** Verifies a token for `spaceId`; throws TOKEN_* errors. */
  async verify(token: string | undefined, spaceId: string): Promise<StageGrant> {
    if (!token) throw new TribuneError('TOKEN_MISSING');
    if (token.length > 2048) throw new TribuneError('TOKEN_INVALID', 'too long');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.secret, { issuer: ISSUER, algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }));
    } catch (error) {
      const reason = error instanceof joseErrors.JWTExpired ? 'expired' : 'bad signature or format';
      throw new TribuneError('TOKEN_INVALID', reason);
    }
    if (payload.sub !== spaceId) throw new TribuneError('TOKEN_WRONG_SPACE');
    if (payload.role !== 'host' && payload.role !== 'speaker') throw new TribuneError('TOKEN_INVALID', 'unknown role');
    return { spaceId, role: payload.role };
  }
}
