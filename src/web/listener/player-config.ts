/**
 * The listener player's latency settings, shared by the page and the
 * benchmarks that model it (so a benchmark measures what listeners get).
 */

/** Seconds behind the newest part the player aims for (hls.js liveSyncDuration). */
export const LIVE_SYNC_S = 1.0;
/**
 * Fastest playback rate hls.js may use to catch up with LIVE_SYNC_S after
 * starting late in a part (hls.js maxLiveSyncPlaybackRate; 1 turns it off).
 * A 10 % speed-up is hard to hear in speech.
 */
export const MAX_LIVE_SYNC_RATE = 1.1;
/** Seconds added to the target after each stall (hls.js liveSyncOnStallIncrease). */
export const STALL_BACKOFF_S = 0.05;
