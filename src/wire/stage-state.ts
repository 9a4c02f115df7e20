/**
 * What listeners see of the stage, carried in the playlist's EXT-X-DATERANGE
 * tags (src/hls/media-playlist.ts) and read by the listener page.
 */
import type { MemberView } from './signalling.js';

export interface StageState {
  members: MemberView[];
  speaking: string[];
}
