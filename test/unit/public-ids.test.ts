/**
 * Public ids (src/store/public-ids.ts): minted ids pass, made-up ones and
 * ones minted under another key do not, and the tag is what the edge's njs
 * gate computes (checked there against real nginx in edge-gate.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { PublicIds } from '../../src/store/public-ids.js';
import { PUBLIC_ID_SOURCE } from '../../src/wire/public-id.js';

test('minted ids have the public shape and pass; every changed symbol, another key, or a made-up id fails', () => {
  const ids = new PublicIds(randomBytes(32));
  const shape = new RegExp(`^${PUBLIC_ID_SOURCE}$`);
  const minted = Array.from({ length: 200 }, () => ids.mint());
  assert.equal(new Set(minted).size, minted.length);
  for (const id of minted) {
    assert.match(id, shape);
    assert.equal(ids.isGenuine(id), true);
  }
  const [first = ''] = minted;
  for (let i = 0; i < first.length; i++) {
    const swapped = first.slice(0, i) + (first[i] === 'a' ? 'b' : 'a') + first.slice(i + 1);
    assert.equal(ids.isGenuine(swapped), false, `symbol ${i} changed`);
  }
  assert.equal(new PublicIds(randomBytes(32)).isGenuine(first), false, 'another key');
  for (const bad of ['', first.slice(0, 13), `${first}a`, first.toUpperCase(), `${first.slice(0, 13)}1`, `${first.slice(0, 10)}..../`]) {
    assert.equal(ids.isGenuine(bad), false, JSON.stringify(bad));
  }
  // Guessing: about one in 2^20 made-up ids passes.
  let passed = 0;
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  for (let n = 0; n < 20_000; n++) {
    let guess = '';
    for (const byte of randomBytes(14)) guess += alphabet[byte % 32];
    if (ids.isGenuine(guess)) passed++;
  }
  assert.ok(passed <= 2, `${passed} of 20,000 guesses passed`);
});

test('the same key gives the same tags (every node and restart agrees); keys under 16 bytes are refused', () => {
  const key = randomBytes(32);
  const id = new PublicIds(key).mint();
  assert.equal(new PublicIds(Buffer.from(key)).isGenuine(id), true);
  assert.equal(new PublicIds(key).keyHex(), key.toString('hex'));
  assert.throws(() => new PublicIds(randomBytes(15)), /at least 16 bytes/);
});
