/**
 * Reads a recording (the live stream's CMAF init, then its segments'
 * media: moof + mdat fragments, ISO/IEC 14496-12 §8.8) down to its Opus
 * packets, copied, never decoded. mediabunny parses the boxes; what we add
 * is the cut at the last complete fragment, so a crash's torn write is
 * left out instead of read as a short or garbled packet.
 */
import { BufferSource, EncodedPacketSink, Input, MP4 } from 'mediabunny';
import { isCompleteInit, scanSegment } from './fmp4-fragments.js';
import { RecordingFormatError, type RecordedPacket, type RecordingPackets, type TruncatedTail } from './remux-types.js';

const OPUS_RATE = 48_000;

/**
 * The packets of a recording, timed from its first packet.
 *
 * @param init ftyp + moov of the live stream
 * @param media each segment's fragments, in order; the last may be short or torn
 * @throws RecordingFormatError when the init is incomplete, the track is not Opus, or no fragment is complete
 */
export async function readRecording(init: Uint8Array, media: Uint8Array[]): Promise<RecordingPackets> {
  if (!isCompleteInit(init)) throw RecordingFormatError.badInit();
  const { kept, truncated } = completeFragments(media);
  const file = new Uint8Array(init.byteLength + kept.reduce((sum, bytes) => sum + bytes.byteLength, 0));
  file.set(init, 0);
  let offset = init.byteLength;
  for (const bytes of kept) {
    file.set(bytes, offset);
    offset += bytes.byteLength;
  }

  const input = new Input({ formats: [MP4], source: new BufferSource(file) });
  try {
    const track = await input.getPrimaryAudioTrack();
    const config = track && track.codec === 'opus' ? await track.getDecoderConfig() : null;
    const description = config?.description;
    if (!track || !config || !description) throw RecordingFormatError.noOpusTrack(track?.codec ?? null);
    const opusHead = toBytes(description);

    const packets: RecordedPacket[] = [];
    let firstSample: number | undefined;
    // Timed in whole samples: mediabunny gives seconds as floats (tfdt / timescale), and
    // rebasing those on an arbitrary first frame (frame 123456 is 2469.12 s) would leave
    // 0.019999999 where 0.02 belongs.
    for await (const packet of new EncodedPacketSink(track).packets()) {
      const sample = Math.round(packet.timestamp * OPUS_RATE);
      firstSample ??= sample;
      packets.push({
        data: packet.data,
        timestampS: (sample - firstSample) / OPUS_RATE,
        durationS: Math.round(packet.duration * OPUS_RATE) / OPUS_RATE,
      });
    }
    const last = packets[packets.length - 1];
    if (!last || firstSample === undefined) throw RecordingFormatError.noPackets();
    return {
      packets,
      decoderConfig: { codec: 'opus', numberOfChannels: config.numberOfChannels, sampleRate: config.sampleRate, description: opusHead },
      // RFC 7845 §5.1: pre-skip is the little-endian u16 at byte 10 of the OpusHead.
      preSkipSamples: opusHead.byteLength >= 12 ? (opusHead[10] as number) | ((opusHead[11] as number) << 8) : 0,
      mediaStartS: firstSample / OPUS_RATE,
      durationS: last.timestampS + last.durationS,
      truncated,
    };
  } finally {
    input.dispose();
  }
}

/** Each segment up to its last complete fragment; everything from the first torn fragment on is left out. */
function completeFragments(media: Uint8Array[]): { kept: Uint8Array[]; truncated: TruncatedTail | undefined } {
  const kept: Uint8Array[] = [];
  for (let i = 0; i < media.length; i++) {
    const bytes = media[i] as Uint8Array;
    const { completeBytes } = scanSegment(bytes);
    if (completeBytes === bytes.byteLength) {
      kept.push(bytes);
      continue;
    }
    // Later segments would follow a hole in the timeline: a torn fragment
    // is what a crash leaves at the very end, so anything after it is not
    // trusted either.
    const later = media.slice(i + 1);
    kept.push(bytes.subarray(0, completeBytes));
    return {
      kept,
      truncated: {
        segmentIndex: i,
        keptBytes: completeBytes,
        droppedBytes: bytes.byteLength - completeBytes + later.reduce((sum, s) => sum + s.byteLength, 0),
        droppedSegments: later.length,
      },
    };
  }
  return { kept, truncated: undefined };
}

function toBytes(source: AllowSharedBufferSource): Uint8Array {
  if (source instanceof Uint8Array) return source;
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  return new Uint8Array(source);
}
