/**
 * CMAF packaging of the mix (ISO/IEC 23000-19; Opus in ISOBMFF per the
 * "Encapsulation of Opus in ISO Base Media File Format" spec): an init
 * segment (ftyp + moov with an 'Opus' sample entry and 'dOps'), then one
 * fragment (moof + mdat) per 1 s part. mediabunny writes the boxes; we
 * decide the boundaries.
 *
 * mediabunny closes a fragment when the first packet of the next one comes
 * in (minimumFragmentDuration just under the part length), so each part is
 * handed on 20 ms after its last frame was encoded.
 */
import { EncodedAudioPacketSource, EncodedPacket, Mp4OutputFormat, NullTarget, Output } from 'mediabunny';
import type { MixedFrame } from '../mixer/mixer-types.js';
import { opusHead } from './opus-head.js';

const FRAME_S = 0.02;
/**
 * A 20 ms Opus packet of silence: TOC 0xf8 (CELT fullband, 20 ms, mono, one
 * frame, RFC 6716 §3.1) and a frame that decodes to digital silence.
 */
const OPUS_SILENCE = Uint8Array.of(0xf8, 0xff, 0xfe);

export interface PackagedPart {
  /** Parts since the start of the stream, from 0. */
  sequence: number;
  /** Index of the first mixed frame in the part. */
  firstFrame: number;
  frames: number;
  /** moof + mdat. */
  bytes: Uint8Array;
  wallClockMs: number;
}

export interface PackagerSink {
  init(bytes: Uint8Array): void;
  part(part: PackagedPart): void;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

export class CmafPackager {
  private readonly output: Output;
  private readonly source = new EncodedAudioPacketSource('opus');
  private ftyp: Uint8Array | undefined;
  private moof: Uint8Array | undefined;
  private started = false;
  private packets = 0;
  /** Parts written but not yet emitted, in order. */
  private readonly pending: { firstFrame: number; frames: number; wallClockMs: number }[] = [];
  private emitted = 0;
  private nextIndex: number | undefined;
  private chain: Promise<void> = Promise.resolve();

  /**
   * @param partFrames frames (20 ms each) per part
   */
  constructor(
    private readonly partFrames: number,
    private readonly sink: PackagerSink,
  ) {
    this.output = new Output({
      target: new NullTarget(),
      format: new Mp4OutputFormat({
        fastStart: 'fragmented',
        minimumFragmentDuration: partFrames * FRAME_S - 1e-6,
        onFtyp: (data) => {
          this.ftyp = data.slice();
        },
        onMoov: (data) => this.sink.init(concat(this.ftyp ?? new Uint8Array(0), data)),
        onMoof: (data) => {
          this.moof = data.slice();
        },
        onMdat: (data) => this.onFragment(data),
      }),
    });
    this.output.addAudioTrack(this.source);
  }

  /**
   * Queues a frame. Frames come in index order; frames the mixer skipped
   * (after a stall of the process) are filled with silence, so every part
   * holds exactly its 50 frames and the timeline matches the wall clock.
   */
  push(frame: MixedFrame): Promise<void> {
    this.chain = this.chain.then(async () => {
      while (this.nextIndex !== undefined && this.nextIndex < frame.index) {
        const index = this.nextIndex;
        await this.add({ payload: OPUS_SILENCE, index, wallClockMs: frame.wallClockMs - (frame.index - index) * 20 });
      }
      if (this.nextIndex !== undefined && frame.index < this.nextIndex) return;
      await this.add(frame);
    });
    return this.chain;
  }

  /** Writes the last, partial part. Safe to call twice. */
  finish(): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.started && this.output.state === 'started') await this.output.finalize();
    });
    return this.chain;
  }

  private async add(frame: MixedFrame): Promise<void> {
    this.nextIndex = frame.index + 1;
    if (!this.started) {
      await this.output.start();
      this.started = true;
    }
    if (this.packets % this.partFrames === 0) this.pending.push({ firstFrame: frame.index, frames: 0, wallClockMs: frame.wallClockMs });
    const current = this.pending[this.pending.length - 1];
    if (current) current.frames++;
    const packet = new EncodedPacket(frame.payload, 'key', frame.index * FRAME_S, FRAME_S);
    const meta = this.packets === 0 ? { decoderConfig: { codec: 'opus' as const, numberOfChannels: 1, sampleRate: 48000, description: opusHead() } } : undefined;
    this.packets++;
    await this.source.add(packet, meta);
  }

  private onFragment(mdat: Uint8Array): void {
    const moof = this.moof;
    const info = this.pending.shift();
    if (!moof || !info) return;
    this.moof = undefined;
    this.sink.part({ sequence: this.emitted++, firstFrame: info.firstFrame, frames: info.frames, bytes: concat(moof, mdat), wallClockMs: info.wallClockMs });
  }
}
