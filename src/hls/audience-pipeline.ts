/**
 * The audience path of one Space, from the stage to HLS: the stage router's
 * audio tap -> mixer -> CMAF packager -> (recorder) -> live stream window.
 * Started with the Space, stopped at its end (the last part and
 * EXT-X-ENDLIST go out).
 *
 * A recorded Space's parts go through its PartKeeper first: a part reaches
 * the live window (and so any listener) only once it is durable, so a
 * replay holds whatever was served even if the process dies the next
 * instant. Parts stay in order: each waits for the one before it.
 */
import type { StageRouter } from '../sfu/stage-router.js';
import { SpaceMixer } from '../mixer/space-mixer.js';
import type { VoiceCodecFactory } from '../mixer/mixer-types.js';
import { CmafPackager, type PackagedPart } from './cmaf-packager.js';
import { PART_FRAMES } from './hls-types.js';
import { LiveStream, type StageState } from './live-stream.js';
import type { PartKeeper } from './part-keeper.js';

/** Time from a stage event to the mixed audio it belongs with: jitter buffer plus one frame, in ms. */
const STAGE_TO_MIX_MS = 80;

export class AudiencePipeline {
  readonly mixer: SpaceMixer;
  readonly stream = new LiveStream();
  private readonly packager: CmafPackager;
  private stopped = false;
  /** The chain of parts on their way through the keeper, in order. */
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly router: StageRouter,
    codec: VoiceCodecFactory,
    private readonly keeper?: PartKeeper,
  ) {
    this.mixer = new SpaceMixer(codec);
    this.packager = new CmafPackager(PART_FRAMES, {
      init: (bytes) => this.publish(() => keeper?.keepInit(bytes), () => this.stream.setInit(bytes)),
      part: (part: PackagedPart) => this.publish(() => keeper?.keepPart(part), () => this.stream.appendPart(part)),
    });
    this.mixer.on('frame', (frame) => {
      this.packager.push(frame).catch(() => undefined);
    });
    router.on('audio', this.mixer.onStageAudio);
    this.mixer.start();
  }

  /** Records what listeners should see of the stage from now on. */
  markState(state: StageState): void {
    const at = Date.now() + STAGE_TO_MIX_MS;
    this.stream.markState(state, at);
    this.keeper?.noteState(state, at);
  }

  noteReaction(emoji: string, wallClockMs: number): void {
    this.keeper?.noteReaction(emoji, wallClockMs);
  }

  removeSpeaker(memberId: string): void {
    this.mixer.removeSpeaker(memberId);
  }

  /** Flushes the last part, seals the recording and ends the stream. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.router.off('audio', this.mixer.onStageAudio);
    this.mixer.stop();
    await this.packager.finish().catch(() => undefined);
    await this.publishing;
    // The keeper reports its own failures; the stream ends regardless.
    await this.keeper?.close().catch(() => undefined);
    this.stream.end();
  }

  /** Keeps, then publishes; a part the keeper failed to keep is published anyway (listeners come first). */
  private publish(keep: () => Promise<void> | undefined, publish: () => void): void {
    if (!this.keeper) {
      publish();
      return;
    }
    this.publishing = this.publishing.then(async () => {
      await Promise.resolve(keep()).catch(() => undefined);
      publish();
    });
  }
}
