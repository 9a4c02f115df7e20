/**
 * The download file: Ogg Opus (RFC 7845) of a whole recording or a range,
 * the recording's packets copied into Ogg pages by mediabunny's muxer.
 *
 * Timing in Ogg Opus lives in two numbers (RFC 7845 §4): the OpusHead's
 * pre-skip, the decoded samples to discard at the start (§4.2), and the
 * granule position of each page, the 48 kHz sample count up to the end of
 * its last packet, whose value on the final page may cut the last packet's
 * output short (end trimming, §4.4). A range uses both, so its decoded
 * audio is exactly the packets covering it:
 *
 *   pre-roll (≤ 80 ms)   the range, whole packets             tail
 *   |--p--|--p--|--p--|--p--|====|====| ... |====|====|--t--|
 *   '---- pre-skip: recording's + pre-roll ----'              '-' trimmed to the recording's pre-skip
 *
 * Pre-roll. A decoder that starts mid-stream has none of the state the
 * encoder assumed: CELT predicts each band's coarse energy from the
 * previous frame (RFC 6716 §4.3.2.1; at 20 ms the prediction coefficient is
 * 0.5, so a cold decoder's error about halves each frame) and overlaps each
 * MDCT with the frame before (§4.3.7); SILK's predictors start from zero.
 * Measured on a cut into a 440 Hz tone (test/unit/replay-remux.test.ts):
 * the level is right within 2 dB, but the waveform is off, 7 dB SNR
 * against a continuous decode in the first 10 ms, 18 dB at 20-30 ms, 30 dB
 * by 40-50 ms: a brief smear, no gap or click. RFC 7845 recommends
 * decoding 80 ms before a seek target (§4.6) and, for a stream cropped at
 * the start, a pre-skip of at least 3,840 samples (80 ms) "to ensure
 * complete convergence" (§5.1). That costs four packets (~300 bytes) and
 * every Ogg Opus decoder honours it (it is the header's own field), so
 * ranges here carry up to four packets before the start and a pre-skip
 * grown by their length: measured, over 50 dB SNR from the first sample.
 *
 * The tail. The recording's own pre-skip (the encoder's lookahead, 312
 * samples) delays the encoded audio: the packets covering [a, b) decode to
 * the input from a - 312 samples to b - 312. Skipping 312 more at the start
 * and decoding 312 samples of the next packet, trimmed at the end, gives
 * exactly [a, b). At the recording's end no next packet exists and the last
 * 6.5 ms never reached a packet.
 */
import { BufferTarget, EncodedAudioPacketSource, EncodedPacket, OggOutputFormat, Output } from 'mediabunny';
import { packetSpan } from './packet-range.js';
import type { RecordedPacket, RecordingPackets, TimeRange } from './remux-types.js';

const OPUS_RATE = 48_000;
/** RFC 7845 §4.6, §5.1: at least 80 ms of decoder convergence before a cropped start. */
export const PRE_ROLL_SAMPLES = 3_840;

/** Ogg Opus of the whole recording, or of the packets covering `range` with pre-roll (throws RangeError on a bad range). */
export async function toOgg(recording: RecordingPackets, range?: TimeRange): Promise<Uint8Array> {
  const { packets, preSkipSamples } = recording;
  const span = range ? packetSpan(recording, range) : { first: 0, end: packets.length };

  let preRollStart = span.first;
  let preRollSamples = 0;
  while (preRollStart > 0 && preRollSamples < PRE_ROLL_SAMPLES) {
    preRollStart--;
    preRollSamples += samplesOf(packets[preRollStart] as RecordedPacket);
  }
  let tailEnd = span.end;
  let tailSamples = 0;
  while (tailEnd < packets.length && tailSamples < preSkipSamples) {
    tailSamples += samplesOf(packets[tailEnd] as RecordedPacket);
    tailEnd++;
  }
  // A pre-skip is a u16 (RFC 7845 §5.1); 80 ms of pre-roll on a 312 pre-skip is far below.
  const preSkip = Math.min(0xffff, preSkipSamples + preRollSamples);

  const target = new BufferTarget();
  const output = new Output({ target, format: new OggOutputFormat() });
  const source = new EncodedAudioPacketSource('opus');
  output.addAudioTrack(source);
  await output.start();
  const meta = {
    decoderConfig: { ...recording.decoderConfig, description: withPreSkip(recording.decoderConfig.description, preSkip) },
  };
  // The first packet at exactly 0: mediabunny reads a later first timestamp
  // as a start offset and signals it in the first page's granule position.
  let atSamples = 0;
  for (let i = preRollStart; i < tailEnd; i++) {
    const packet = packets[i] as RecordedPacket;
    const samples = samplesOf(packet);
    // Only the final packet's duration matters to the muxer (it derives
    // the others from the TOC byte): shorter than the packet, it becomes the
    // end trim of the last granule position.
    const keep = i === tailEnd - 1 && tailEnd > span.end ? samples - (tailSamples - preSkipSamples) : samples;
    await source.add(new EncodedPacket(packet.data, 'key', atSamples / OPUS_RATE, keep / OPUS_RATE), i === preRollStart ? meta : undefined);
    atSamples += samples;
  }
  await output.finalize();
  if (!target.buffer) throw new Error('mediabunny finalized the Ogg output without a buffer');
  return new Uint8Array(target.buffer);
}

function samplesOf(packet: RecordedPacket): number {
  return Math.round(packet.durationS * OPUS_RATE);
}

/** A copy of the OpusHead with another pre-skip (RFC 7845 §5.1: u16 little-endian at byte 10). */
function withPreSkip(opusHead: Uint8Array, preSkip: number): Uint8Array {
  const head = opusHead.slice();
  new DataView(head.buffer).setUint16(10, preSkip, true);
  return head;
}
