/**
 * The mixer's thin adapter: a drift-free 20 ms clock around MixerCore, fed
 * by the stage router's audio tap. It runs from the Space's start to its
 * end, so the stream never stalls (silence when nobody talks).
 */
import { EventEmitter } from 'node:events';
import type { RtpPacket } from 'werift';
import { FRAME_MS, MixerCore } from './mixer-core.js';
import type { MixedFrame, VoiceCodecFactory } from './mixer-types.js';

export interface SpaceMixerEvents {
  frame: [MixedFrame];
}

/**
 * How long after a frame's start it is rendered, in ms: its own 20 ms plus
 * slack for a late timer. The jitter buffers decide what is in it.
 */
const RENDER_LAG_MS = FRAME_MS + 5;
/** Frames rendered at most per tick after a stall (the rest are skipped). */
const MAX_CATCH_UP_FRAMES = 50;

export class SpaceMixer extends EventEmitter<SpaceMixerEvents> {
  readonly core: MixerCore;
  private nextIndex = 0;
  private timer: NodeJS.Timeout | undefined;
  /** CPU spent mixing and encoding, in µs (for the benchmark). */
  cpuMicros = 0;

  constructor(codec: VoiceCodecFactory, startMs = Date.now()) {
    super();
    this.core = new MixerCore(codec, { startMs });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 10);
  }

  /** Taps the stage: every authenticated packet of an unmuted member. */
  readonly onStageAudio = (memberId: string, rtp: RtpPacket): void => {
    this.core.push(memberId, { seq16: rtp.header.sequenceNumber, timestamp32: rtp.header.timestamp, payload: rtp.payload }, Date.now());
  };

  removeSpeaker(memberId: string): void {
    this.core.removeSpeaker(memberId);
  }

  /** Renders what is due and stops. Safe to call twice. */
  stop(): void {
    if (!this.timer) return;
    this.tick();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    const started = process.cpuUsage();
    let rendered = 0;
    while (this.core.frameStartMs(this.nextIndex) + RENDER_LAG_MS <= now) {
      if (rendered === MAX_CATCH_UP_FRAMES) {
        // A stall of over a second: the timeline keeps its clock, the frames
        // in between stay silent gaps for the packager to fill.
        this.nextIndex = Math.floor((now - RENDER_LAG_MS - this.core.frameStartMs(0)) / FRAME_MS);
        break;
      }
      this.emit('frame', this.core.render(this.nextIndex++));
      rendered++;
    }
    const used = process.cpuUsage(started);
    this.cpuMicros += used.user + used.system;
  }
}
