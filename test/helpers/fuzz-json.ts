/**
 * Hostile JSON for fuzzing a border: arbitrary values, near-valid mutations
 * of a valid message, and JSON text that is almost JSON.
 *
 * Objects are built with own properties only (Object.defineProperty), so a
 * key such as `__proto__` reaches the wire as a key, the way an attacker
 * sends it, instead of setting the prototype of the test's own object.
 */
import fc, { type Arbitrary } from 'fast-check';

/** Keys that poison a careless merge, lookup or `in` check. */
export const POISON_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'then', '__defineGetter__'] as const;

/** Strings a border meets: control characters, lone surrogates, bidi overrides, injections, numbers dressed as text. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\t\r\n',
  '\ud800',
  '\udfff',
  '\u202e',
  '\u200d',
  '\ufeff',
  '\u0085',
  '\u2028',
  'null',
  'undefined',
  'NaN',
  '-0',
  '1e309',
  '0x10',
  '%00%ff',
  '../../etc/passwd',
  "'; DROP TABLE accounts; --",
  '<script>alert(1)</script>',
  '${7*7}{{7*7}}',
  '__proto__',
  '👏🏽‍❤️‍🔥',
] as const;

/** An object with exactly these own, enumerable properties (a `__proto__` key stays a key). */
export function withOwnKeys(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/** Any string, from empty to past every body limit, in any script. */
export const hostileString: Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  // Long strings around the documented limits (40, 60, 100, 200, 512, 1,000, 4 KiB, 12 KiB, 16 KiB).
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(39, 40, 41, 60, 61, 100, 101, 200, 201, 512, 513, 1000, 1001, 4096, 12 * 1024, 16 * 1024, 70_000), fc.constantFrom('a', 'é', '😂', ' '))
      .map(([n, unit]) => unit.repeat(n)),
  },
);

const hostileNumber: Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_SAFE_INTEGER),
);

const key: Arbitrary<string> = fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: fc.constantFrom(...POISON_KEYS) });

/** Any JSON value, with poison keys, nasty strings and extreme numbers. */
export const hostileValue: Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    hostileNumber,
    hostileString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map(withOwnKeys),
  ),
})).value;

/**
 * JSON text of arrays or objects nested far deeper than any schema expects,
 * up to what fits in 16 KiB. Built as text: JSON.stringify itself would
 * overflow the stack on the way.
 */
export const deeplyNestedText: Arbitrary<string> = fc.tuple(fc.integer({ min: 50, max: 8000 }), fc.boolean()).map(([depth, asObject]) =>
  asObject ? '{"a":'.repeat(Math.floor(depth / 3)) + '1' + '}'.repeat(Math.floor(depth / 3)) : '['.repeat(depth) + '1' + ']'.repeat(depth),
);

/** A mutation of one valid object: a key dropped, added, retyped or poisoned; or the object wrapped. */
export function nearValid(valid: Arbitrary<Record<string, unknown>>): Arbitrary<unknown> {
  return fc
    .tuple(valid, fc.nat(), fc.integer({ min: 0, max: 7 }), key, hostileValue)
    .map(([object, pick, how, newKey, newValue]) => {
      const entries = Object.entries(object);
      const index = entries.length > 0 ? pick % entries.length : 0;
      const at = entries[index];
      switch (how) {
        case 0: // a field missing
          return withOwnKeys(entries.filter((_, i) => i !== index));
        case 1: // one field too many (often a poison key)
          return withOwnKeys([...entries, [newKey, newValue]]);
        case 2: // a field of the wrong type or value
          return at ? withOwnKeys(entries.map((e, i) => (i === index ? [e[0], newValue] : e))) : newValue;
        case 3: // a field's value as text, or text as a number
          return at ? withOwnKeys(entries.map((e, i) => (i === index ? [e[0], typeof e[1] === 'string' ? Number(e[1]) : (JSON.stringify(e[1]) ?? 'undefined')] : e))) : object;
        case 4: // a key with different case or padding
          return at ? withOwnKeys(entries.map((e, i) => (i === index ? [pick % 2 ? e[0].toUpperCase() : ` ${e[0]}`, e[1]] : e))) : object;
        case 5: // the message wrapped in an array or an envelope
          return pick % 2 ? [object] : { data: object };
        case 6: // a prototype key carrying a payload
          return withOwnKeys([...entries, ['__proto__', { polluted: true, type: 'join' }]]);
        default: // the same key twice is a text-level trick (mangledText); here: a null field
          return at ? withOwnKeys(entries.map((e, i) => (i === index ? [e[0], null] : e))) : null;
      }
    });
}

/** JSON text that is almost JSON: cut short, a byte flipped, a key repeated, garbage around it. */
export function mangledText(text: Arbitrary<string>): Arbitrary<string> {
  return fc.tuple(text, fc.nat(), fc.integer({ min: 0, max: 6 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 4 })).map(([t, pick, how, junk]) => {
    const at = t.length > 0 ? pick % t.length : 0;
    switch (how) {
      case 0:
        return t.slice(0, at);
      case 1:
        return t.slice(0, at) + junk + t.slice(at + 1);
      case 2: // a key repeated: JSON.parse keeps the last one
        return t.startsWith('{') && t.length > 2 ? `{"type":"join",${t.slice(1)}` : t + junk;
      case 3:
        return `\ufeff${t}`;
      case 4:
        return `${t}${junk}`;
      case 5: // a text `__proto__` key: JSON.parse makes it an own property
        return t.startsWith('{') && t.length > 2 ? `{"__proto__":{"polluted":true},${t.slice(1)}` : `{"__proto__":${t || '1'}}`;
      default:
        return `  \n${t}\t `;
    }
  });
}

/** JSON text for a border whose valid messages are `valid`: valid, near-valid, arbitrary, deep or mangled. */
export function hostileJsonText(valid: Arbitrary<Record<string, unknown>>): Arbitrary<string> {
  const validText = valid.map((v) => JSON.stringify(v));
  return fc.oneof(
    { weight: 2, arbitrary: validText },
    { weight: 4, arbitrary: nearValid(valid).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 2, arbitrary: hostileValue.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 2, arbitrary: mangledText(validText) },
    { weight: 1, arbitrary: deeplyNestedText },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  );
}
