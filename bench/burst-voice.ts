/**
 * A stage member's voice for the latency benchmarks: digital silence, and a
 * tone burst whenever `request()` was called.
 */
import { SAMPLE_RATE } from '../src/tools/speaker-bot.js';
import { fillSine } from '../src/tools/tone.js';

export interface Burst {
  /** Length of one burst, in ms (whole 10 ms frames). */
  ms: number;
  hz: number;
  /** Level, 0..1 of full scale. */
  amplitude: number;
}

export class BurstVoice {
  private requested = false;
  private framesLeft = 0;
  private phase = 0;

  /** `onBurstStart` runs as the burst's first frame is handed over: it reads the send time. */
  constructor(
    private readonly burst: Burst,
    private readonly onBurstStart: () => void,
  ) {}

  request(): void {
    this.requested = true;
  }

  /** The AudioProgram fill: called right before the frame goes to RTCAudioSource.onData. */
  readonly fill = (out: Int16Array): void => {
    if (this.framesLeft === 0 && this.requested) {
      this.requested = false;
      this.framesLeft = this.burst.ms / 10;
      this.phase = 0;
      this.onBurstStart();
    }
    if (this.framesLeft === 0) return;
    this.phase = fillSine(out, this.burst.hz, SAMPLE_RATE, this.burst.amplitude, this.phase);
    this.framesLeft--;
  };
}
