/**
 * Stage passes: short-lived signed JWTs (RFC 7519, HS256) that say "this
 * account may open the stage WebSocket of this Space". The pass carries no
 * role: the role is read from the Space when the socket opens, so a pass
 * issued before someone was moved to the audience opens nothing. A pass for
 * another Space, a tampered one or an expired one is refused before
 * anything changes.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { TribuneError } from '../wire/errors.js';

export interface StageGrant {
  spaceId: string;
  accountId: string;
}

const ISSUER = 'tribune';
const AUDIENCE = 'stage';

export class StageTokens {
  constructor(
    private readonly secret: Uint8Array,
    readonly ttlSeconds: number,
  ) {}

  issue(grant: StageGrant): Promise<string> {
    return new SignJWT({ acc: grant.accountId })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(grant.spaceId)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.secret);
  }

  /** Verifies a pass for `spaceId`; throws TOKEN_* errors. */
  async verify(token: string | undefined, spaceId: string): Promise<StageGrant> {
    if (!token) throw new TribuneError('TOKEN_MISSING');
    if (token.length > 2048) throw new TribuneError('TOKEN_INVALID', 'too long');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }));
    } catch (error) {
      const reason = error instanceof joseErrors.JWTExpired ? 'expired' : 'bad signature or format';
      throw new TribuneError('TOKEN_INVALID', reason);
    }
    if (payload.sub !== spaceId) throw new TribuneError('TOKEN_WRONG_SPACE');
    if (typeof payload.acc !== 'string' || !/^[a-z2-9]{12}$/.test(payload.acc)) throw new TribuneError('TOKEN_INVALID', 'no account');
    return { spaceId, accountId: payload.acc };
  }
}
