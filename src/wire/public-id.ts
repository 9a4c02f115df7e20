/**
 * The shape of ids in public URLs (Spaces, clips): 10 random symbols and a
 * 4-symbol tag the origin and its edges can check (src/store/public-ids.ts).
 * The browser, the tools and the edge's path patterns read the shape here.
 */

/** Symbols without look-alikes (no l, o, 0, 1), safe in URLs. */
export const ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';
export const PUBLIC_ID_RANDOM = 10;
export const PUBLIC_ID_TAG = 4;
/** A regex source (no anchors) matching a public id. */
export const PUBLIC_ID_SOURCE = `[a-z2-9]{${PUBLIC_ID_RANDOM + PUBLIC_ID_TAG}}`;
