/**
 * Where the audience pipeline hands each part before listeners may fetch
 * it: the recorder of a recorded Space (src/replay). The pipeline waits for
 * `keepPart` before publishing, so a replay holds everything the audience
 * was served even if the process is killed the next instant.
 */
import type { StageState } from '../wire/stage-state.js';
import type { PackagedPart } from './cmaf-packager.js';

export interface PartKeeper {
  keepInit(bytes: Uint8Array): Promise<void>;
  /** Resolves once the part is durable. A rejection is logged and the part published anyway: listeners come first. */
  keepPart(part: PackagedPart): Promise<void>;
  /** What the stage looked like from `wallClockMs` on, for the replay's timeline. */
  noteState(state: StageState, wallClockMs: number): void;
  noteReaction(emoji: string, wallClockMs: number): void;
  /** The stream ended: seal the recording. */
  close(): Promise<void>;
}
