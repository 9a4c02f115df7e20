/**
 * The mix of one Space, as a pure core (after werift's
 * `processInput(input): Output[]`): RTP payloads go in with their arrival
 * time, and `render(index)` returns the encoded 20 ms frame `index` of the
 * Space's timeline. No timers, no sockets; `space-mixer.ts` adds the clock.
 *
 * Per speaker: TOC guard -> jitter buffer -> Opus decode (PLC for losses)
 * -> sum -> soft limiter -> Opus encode. A speaker's bad packets cost only
 * that speaker's audio: decode errors become silence, and nothing a sender
 * does changes another speaker's buffer or the output clock.
 */
import { FRAME_SAMPLES, JitterBuffer, type JitterBufferOptions, type JitterPacket } from './jitter-buffer.js';
import type { MixedFrame, MixerStats, VoiceCodecFactory, VoiceDecoder, VoiceEncoder } from './mixer-types.js';
import { TocGuard } from './toc-guard.js';

export const FRAME_MS = 20;

interface SpeakerChannel {
  buffer: JitterBuffer;
  decoder: VoiceDecoder;
  guard: TocGuard;
  /** Decoded samples beyond the current frame (packets longer than 20 ms). */
  leftover: Int16Array | undefined;
}

export interface MixerCoreOptions {
  /** Wall-clock time of frame 0, in ms since the epoch. */
  startMs: number;
  jitter?: Partial<JitterBufferOptions>;
}

/**
 * Soft limiter: linear below the knee, then a tanh curve that approaches
 * full scale, so several loud speakers never wrap around or hard-clip.
 */
export function limit(sample: number): number {
  const knee = 0.8;
  const magnitude = Math.abs(sample);
  if (magnitude <= knee) return sample;
  const over = (magnitude - knee) / (1 - knee);
  return Math.sign(sample) * (knee + (1 - knee) * Math.tanh(over));
}

export class MixerCore {
  readonly stats: MixerStats = { framesMixed: 0, decodeErrors: 0, speakers: 0 };
  private readonly speakers = new Map<string, SpeakerChannel>();
  private readonly encoder: VoiceEncoder;
  private readonly sum = new Float32Array(FRAME_SAMPLES);
  private readonly pcm = new Int16Array(FRAME_SAMPLES);

  constructor(
    private readonly codec: VoiceCodecFactory,
    private readonly options: MixerCoreOptions,
  ) {
    this.encoder = codec.encoder();
  }

  /** Wall-clock start of frame `index`. */
  frameStartMs(index: number): number {
    return this.options.startMs + index * FRAME_MS;
  }

  push(speakerId: string, packet: JitterPacket, arrivalMs: number): void {
    let channel = this.speakers.get(speakerId);
    if (!channel) {
      channel = { buffer: new JitterBuffer(this.options.jitter), decoder: this.codec.decoder(), guard: new TocGuard(), leftover: undefined };
      this.speakers.set(speakerId, channel);
      this.stats.speakers = this.speakers.size;
    }
    if (!channel.guard.accept(packet.payload)) return;
    channel.buffer.push(packet, arrivalMs);
  }

  removeSpeaker(speakerId: string): void {
    this.speakers.delete(speakerId);
    this.stats.speakers = this.speakers.size;
  }

  /** Mixes and encodes frame `index` (frames must be rendered in order). */
  render(index: number): MixedFrame {
    const frameMs = this.frameStartMs(index);
    this.sum.fill(0);
    for (const channel of this.speakers.values()) {
      const pcm = this.speakerFrame(channel, frameMs);
      if (!pcm) continue;
      for (let i = 0; i < FRAME_SAMPLES; i++) this.sum[i] = (this.sum[i] ?? 0) + (pcm[i] ?? 0) / 32768;
    }
    for (let i = 0; i < FRAME_SAMPLES; i++) this.pcm[i] = Math.round(limit(this.sum[i] ?? 0) * 32767);
    this.stats.framesMixed++;
    return { payload: this.encoder.encode(this.pcm), index, wallClockMs: frameMs };
  }

  private speakerFrame(channel: SpeakerChannel, frameMs: number): Int16Array | undefined {
    if (channel.leftover) {
      const frame = channel.leftover.subarray(0, FRAME_SAMPLES);
      channel.leftover = channel.leftover.length > FRAME_SAMPLES ? channel.leftover.subarray(FRAME_SAMPLES) : undefined;
      return frame;
    }
    const playout = channel.buffer.pull(frameMs);
    let pcm: Int16Array | undefined;
    try {
      switch (playout.kind) {
        case 'silence':
          return undefined;
        case 'packet':
          pcm = channel.decoder.decode(playout.payload);
          break;
        case 'fec':
          pcm = channel.decoder.decodeFec(playout.payload) ?? channel.decoder.conceal();
          break;
        case 'conceal':
          pcm = channel.decoder.conceal();
          break;
      }
    } catch {
      // A packet the decoder refuses is a lost packet: conceal it.
      this.stats.decodeErrors++;
      try {
        pcm = channel.decoder.conceal();
      } catch {
        return undefined;
      }
    }
    if (pcm.length > FRAME_SAMPLES) {
      channel.leftover = pcm.subarray(FRAME_SAMPLES);
      channel.buffer.skipSamples(pcm.length - FRAME_SAMPLES);
    }
    return pcm.length >= FRAME_SAMPLES ? pcm.subarray(0, FRAME_SAMPLES) : undefined;
  }
}
