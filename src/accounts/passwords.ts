/**
 * Password hashing with Argon2id (RFC 9106), the first choice of OWASP's
 * password storage guidance, through @node-rs/argon2. Hashing runs on the
 * libuv thread pool, so a sign-in never stalls the media loop.
 */
import { hash, verify } from '@node-rs/argon2';

/** OWASP's minimum for Argon2id: 19 MiB, 2 iterations, 1 lane. */
const PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, PARAMS);
}

// A real hash to verify against when the username does not exist, so a
// wrong username costs as long as a wrong password and names cannot be
// probed by timing.
let decoy: Promise<string> | undefined;

export async function verifyPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  if (passwordHash === undefined) {
    decoy ??= hashPassword('decoy password, never matches');
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  return verify(passwordHash, password).catch(() => false);
}
