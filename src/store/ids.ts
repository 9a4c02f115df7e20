/** Random ids from an alphabet without look-alikes, safe in URLs. */
import { createHash, randomBytes } from 'node:crypto';
import { ID_ALPHABET as ALPHABET } from '../wire/public-id.js';

export function newId(length: number): string {
  // 32 symbols divide 256, so `byte % 32` has no bias.
  let id = '';
  for (const byte of randomBytes(length)) id += ALPHABET[byte % ALPHABET.length];
  return id;
}

/** A bearer secret (256 bits) and the hash the store keeps instead of it. */
export function newSecret(prefix: string): { secret: string; hash: string } {
  const secret = prefix + randomBytes(32).toString('base64url');
  return { secret, hash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
