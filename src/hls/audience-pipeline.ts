/**
 * The audience path of one Space, from the stage to HLS: the stage router's
 * audio tap -> mixer -> CMAF packager -> live stream window. Started with
 * the Space, stopped at its end (the last part and EXT-X-ENDLIST go out).
 */
import type { StageRouter } from '../sfu/stage-router.js';
import { SpaceMixer } from '../mixer/space-mixer.js';
import type { VoiceCodecFactory } from '../mixer/mixer-types.js';
import { CmafPackager } from './cmaf-packager.js';
import { PART_FRAMES } from './hls-types.js';
import { LiveStream, type StageState } from './live-stream.js';

/** Time from a stage event to the mixed audio it belongs with: jitter buffer plus one frame, in ms. */
const STAGE_TO_MIX_MS = 80;

export class AudiencePipeline {
  readonly mixer: SpaceMixer;
  readonly stream = new LiveStream();
  private readonly packager: CmafPackager;
  private stopped = false;

  constructor(
    private readonly router: StageRouter,
    codec: VoiceCodecFactory,
  ) {
    this.mixer = new SpaceMixer(codec);
    this.packager = new CmafPackager(PART_FRAMES, {
      init: (bytes) => this.stream.setInit(bytes),
      part: (part) => this.stream.appendPart(part),
    });
    this.mixer.on('frame', (frame) => {
      this.packager.push(frame).catch(() => undefined);
    });
    router.on('audio', this.mixer.onStageAudio);
    this.mixer.start();
  }

  /** Records what listeners should see of the stage from now on. */
  markState(state: StageState): void {
    this.stream.markState(state, Date.now() + STAGE_TO_MIX_MS);
  }

  removeSpeaker(memberId: string): void {
    this.mixer.removeSpeaker(memberId);
  }

  /** Flushes the last part and ends the stream. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.router.off('audio', this.mixer.onStageAudio);
    this.mixer.stop();
    await this.packager.finish().catch(() => undefined);
    this.stream.end();
  }
}
