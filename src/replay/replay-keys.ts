/** Where a replay's and a clip's objects live in the replay storage. */
export const replayKeys = {
  space: (spaceId: string): string => `spaces/${spaceId}/`,
  init: (spaceId: string): string => `spaces/${spaceId}/init.mp4`,
  /** Zero-padded so the storage lists segments in order. */
  segment: (spaceId: string, msn: number): string => `spaces/${spaceId}/seg-${String(msn).padStart(12, '0')}.m4s`,
  manifest: (spaceId: string): string => `spaces/${spaceId}/manifest.json`,
  timeline: (spaceId: string): string => `spaces/${spaceId}/timeline.json`,
  download: (spaceId: string): string => `spaces/${spaceId}/download.ogg`,
  clip: (clipId: string): string => `clips/${clipId}/`,
  clipInit: (clipId: string): string => `clips/${clipId}/init.mp4`,
  clipMedia: (clipId: string): string => `clips/${clipId}/clip.m4s`,
};
