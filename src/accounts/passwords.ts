/**
 * Password hashing with Argon2id (RFC 9106), the first choice of OWASP's
 * password storage guidance, through @node-rs/argon2. Hashing runs on the
 * libuv thread pool, so a sign-in never stalls the media loop; at most two
 * at once, so it never takes the whole pool either (src/guard/work-queue.ts:
 * the rest of a surge waits a little or is told to come back).
 */
import { hash, verify } from '@node-rs/argon2';
import { WorkQueue } from '../guard/work-queue.js';

/** OWASP's minimum for Argon2id: 19 MiB, 2 iterations, 1 lane. */
const PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Two of libuv's four threads; a queue of about two seconds of work; nobody waits past 5 s. */
export const passwordWork = new WorkQueue({ concurrency: 2, maxQueued: 64, maxWaitMs: 5_000 });

export function hashPassword(password: string): Promise<string> {
  return passwordWork.run(() => hash(password, PARAMS));
}

// A real hash to verify against when the username does not exist, so a
// wrong username costs as long as a wrong password and names cannot be
// probed by timing.
let decoy: Promise<string> | undefined;

export async function verifyPassword(passwordHash: string | undefined, password: string): Promise<boolean> {
  if (passwordHash === undefined) {
    decoy ??= hash('decoy password, never matches', PARAMS);
    const decoyHash = await decoy;
    await passwordWork.run(() => verify(decoyHash, password).catch(() => false));
    return false;
  }
  return passwordWork.run(() => verify(passwordHash, password).catch(() => false));
}
