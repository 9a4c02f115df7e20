/**
 * Stage passes: short-lived signed JWTs (RFC 7519) that say "this account
 * may open the stage WebSocket of this Space". The pass carries no role: the
 * role is read from the Space when the socket opens, so a pass issued before
 * someone was moved to the audience opens nothing. A pass for another Space,
 * a tampered one or an expired one is refused before anything changes.
 *
 * Signed ES256 (RFC 7518 §3.4: ECDSA on P-256 with SHA-256; the JWS
 * signature is r || s, 64 bytes), not HS256, so that the edges can check
 * passes without being able to mint them: an edge holds only the public key
 * (`publicKey()`, given to nginx as two variables) and refuses forged,
 * tampered, expired and other-Space passes before they reach the origin
 * (src/edge/njs/stage-pass.js). With HS256 every edge would hold the key
 * that signs passes.
 *
 * The key pair is derived from the origin's secret (TRIBUNE_SECRET), so
 * every origin node with the same secret signs with the same key and passes
 * survive a restart:
 *
 *     d = (HMAC-SHA256(secret, "tribune stage-pass ES256 v1") mod (n - 1)) + 1
 *
 * with n the order of P-256 (SEC 2 §2.4.2), so 1 <= d < n. The reduction's
 * bias is below 2^-32 (n is within 2^224 of 2^256). The label keeps this key
 * apart from every other use of the secret; change "v1" to roll the key
 * (passes then live 10 minutes, so a roll costs at most that).
 */
import { createECDH, createHmac, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { TribuneError } from '../wire/errors.js';
import { STAGE_PASS_MAX_CHARS } from '../wire/limits.js';

export interface StageGrant {
  spaceId: string;
  accountId: string;
}

/** The public half of the pass key as an edge takes it: the P-256 point, base64url, 32 bytes each (RFC 7518 §6.2.1). */
export interface StagePassPublicKey {
  x: string;
  y: string;
}

/** The key pair passes are signed with, derived from the origin's secret. */
export interface StagePassKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public point, for edges. */
  point: StagePassPublicKey;
}

const ISSUER = 'tribune';
const AUDIENCE = 'stage';
const ALGORITHM = 'ES256';
const KEY_LABEL = 'tribune stage-pass ES256 v1';
/** The order n of the base point of P-256 (SEC 2 §2.4.2). */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** The pass key pair for `secret`: the same secret always gives the same pair. */
export function stagePassKeys(secret: Uint8Array): StagePassKeys {
  const digest = createHmac('sha256', secret).update(KEY_LABEL).digest();
  const d = (BigInt(`0x${digest.toString('hex')}`) % (P256_ORDER - 1n)) + 1n;
  const dBytes = Buffer.from(d.toString(16).padStart(64, '0'), 'hex');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(dBytes);
  // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
  const point = ecdh.getPublicKey();
  const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') };
  return {
    privateKey: createPrivateKey({ key: { ...jwk, d: dBytes.toString('base64url') }, format: 'jwk' }),
    publicKey: createPublicKey({ key: jwk, format: 'jwk' }),
    point: { x: jwk.x, y: jwk.y },
  };
}

export class StageTokens {
  private readonly keys: StagePassKeys;

  constructor(
    secret: Uint8Array,
    readonly ttlSeconds: number,
  ) {
    this.keys = stagePassKeys(secret);
  }

  /** The public key edges verify passes with; it cannot sign. */
  publicKey(): StagePassPublicKey {
    return { ...this.keys.point };
  }

  issue(grant: StageGrant): Promise<string> {
    return new SignJWT({ acc: grant.accountId })
      .setProtectedHeader({ alg: ALGORITHM })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(grant.spaceId)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.keys.privateKey);
  }

  /** Verifies a pass for `spaceId`; throws TOKEN_* errors. Only ES256 with our key passes. */
  async verify(token: string | undefined, spaceId: string): Promise<StageGrant> {
    if (!token) throw new TribuneError('TOKEN_MISSING');
    if (token.length > STAGE_PASS_MAX_CHARS) throw new TribuneError('TOKEN_INVALID', 'too long');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keys.publicKey, { issuer: ISSUER, audience: AUDIENCE, algorithms: [ALGORITHM], requiredClaims: ['exp', 'sub'] }));
    } catch (error) {
      const reason = error instanceof joseErrors.JWTExpired ? 'expired' : 'bad signature or format';
      throw new TribuneError('TOKEN_INVALID', reason);
    }
    if (payload.sub !== spaceId) throw new TribuneError('TOKEN_WRONG_SPACE');
    if (typeof payload.acc !== 'string' || !/^[a-z2-9]{12}$/.test(payload.acc)) throw new TribuneError('TOKEN_INVALID', 'no account');
    return { spaceId, accountId: payload.acc };
  }
}
