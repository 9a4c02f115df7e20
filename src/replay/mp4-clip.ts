/**
 * A clip as fragmented MP4 (ISO/IEC 14496-12 §8.8; Opus per "Encapsulation
 * of Opus in ISO Base Media File Format"): the packets covering the range,
 * copied, retimed from 0, written by mediabunny as the live packager writes
 * the stream (src/hls/cmaf-packager.ts): an init (ftyp + moov with the
 * recording's 'dOps', so the same pre-skip) and fragments (moof + mdat) of
 * at most 1 s. The init stays apart so the clip can be an HLS VOD segment
 * behind EXT-X-MAP; init + media is also a whole .mp4 file.
 *
 * No pre-roll here, unlike the Ogg export (src/replay/ogg-export.ts, where
 * the warm-up is explained): the clip holds exactly the packets covering
 * the range, and the first of them meets a decoder with no history, so the
 * first ~50 ms are smeared (measured: 7 dB SNR against a continuous decode
 * in the first 10 ms, 30 dB by 40-50 ms, at the right level; no gap or
 * click). ISO BMFF could hide it with 80 ms of packets before the start and
 * an edit list (§8.6.6) whose media_time skips them, and mediabunny writes
 * one when the first timestamp is below 0. But an edit list lives in the
 * init, and fragmented-MP4 players (MSE, HLS clients) apply it unevenly; a
 * clip a player shows shifted by 80 ms, or opening with 80 ms of the
 * sentence before, is a worse failure than a soft first 50 ms.
 */
import { EncodedAudioPacketSource, EncodedPacket, Mp4OutputFormat, NullTarget, Output } from 'mediabunny';
import { packetSpan } from './packet-range.js';
import type { Mp4Clip, RecordedPacket, RecordingPackets, TimeRange } from './remux-types.js';

const OPUS_RATE = 48_000;
/** At most 1 s per fragment: the live part length, and what an HLS client fetches at once. */
const FRAGMENT_S = 1;

/** The packets covering [startS, endS) as fMP4 from 0 (throws RangeError on a bad range). */
export async function cutClip(recording: RecordingPackets, range: TimeRange): Promise<Mp4Clip> {
  const span = packetSpan(recording, range);
  const initParts: Uint8Array[] = [];
  const fragments: Uint8Array[] = [];
  const output = new Output({
    target: new NullTarget(),
    format: new Mp4OutputFormat({
      fastStart: 'fragmented',
      // mediabunny closes a fragment once it is at least this long, so just under 1 s gives 50 packets of 20 ms.
      minimumFragmentDuration: FRAGMENT_S - 1e-6,
      // The callbacks hand over exactly the boxes; the mfra mediabunny appends at the end of a file is left out.
      onFtyp: (data) => initParts.push(data.slice()),
      onMoov: (data) => initParts.push(data.slice()),
      onMoof: (data) => fragments.push(data.slice()),
      onMdat: (data) => fragments.push(data.slice()),
    }),
  });
  const source = new EncodedAudioPacketSource('opus');
  output.addAudioTrack(source);
  await output.start();
  const meta = { decoderConfig: recording.decoderConfig };
  // From 0: each fragment's tfdt (§8.8.12) carries the timestamps as given, so the clip's timeline starts at 0.
  let atSamples = 0;
  for (let i = span.first; i < span.end; i++) {
    const packet = recording.packets[i] as RecordedPacket;
    const samples = Math.round(packet.durationS * OPUS_RATE);
    await source.add(new EncodedPacket(packet.data, 'key', atSamples / OPUS_RATE, samples / OPUS_RATE), i === span.first ? meta : undefined);
    atSamples += samples;
  }
  await output.finalize();
  return {
    init: concat(initParts),
    media: concat(fragments),
    startS: span.startS,
    endS: span.endS,
    durationS: atSamples / OPUS_RATE,
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
