/** Limits on what clients send to the HTTP API; documented in docs/LIMITS.md. */
export const API_LIMITS = {
  /** Largest JSON body on the Spaces API, in bytes. */
  maxBodyBytes: 4 * 1024,
  maxTitleChars: 100,
} as const;
