/**
 * Ids that appear in public URLs (Spaces and clips): 10 random symbols and
 * a 4-symbol tag, HMAC-SHA256 of the random part under a key the origin and
 * its edges share (TRIBUNE_ID_KEY, or one the store keeps).
 *
 * Why: a cache answers a random URL by asking the origin. With a tag, an
 * edge tells a made-up id from one the origin minted without asking anyone
 * (src/edge/njs/tribune-gate.js computes the same tag), so requests for
 * Spaces that do not exist stop at the edge: a guess passes once in 2^20.
 * The origin checks the tag too, before it reads the store, so both answer
 * the same and junk ids cost it no query.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ID_ALPHABET, PUBLIC_ID_RANDOM, PUBLIC_ID_TAG } from '../wire/public-id.js';
import { newId } from './ids.js';

export class PublicIds {
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length < 16) throw new Error('the id key must be at least 16 bytes');
    this.key = Buffer.from(key);
  }

  /** A new id: random part and its tag. */
  mint(): string {
    const random = newId(PUBLIC_ID_RANDOM);
    return random + this.tag(random);
  }

  /** True when `id` has the shape of a public id and its tag is ours. */
  isGenuine(id: string): boolean {
    if (id.length !== PUBLIC_ID_RANDOM + PUBLIC_ID_TAG) return false;
    for (const symbol of id) if (!ID_ALPHABET.includes(symbol)) return false;
    const expected = Buffer.from(this.tag(id.slice(0, PUBLIC_ID_RANDOM)));
    return timingSafeEqual(expected, Buffer.from(id.slice(PUBLIC_ID_RANDOM)));
  }

  /** The key as hex, for rendering an edge's configuration. */
  keyHex(): string {
    return this.key.toString('hex');
  }

  private tag(random: string): string {
    const mac = createHmac('sha256', this.key).update(random).digest();
    let tag = '';
    // 32 symbols divide 256: `byte % 32` has no bias.
    for (let i = 0; i < PUBLIC_ID_TAG; i++) tag += ID_ALPHABET[(mac[i] ?? 0) % ID_ALPHABET.length];
    return tag;
  }
}
