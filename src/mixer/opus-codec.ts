/**
 * The mixer's codec on @evan/opus (libopus 1.3.1; a native build ships in
 * the npm package, with a WebAssembly fallback). Chosen over
 * @discordjs/opus after measuring both (docs/BENCHMARKS.md): the same decode
 * cost, a cheaper encode, and nothing to build on install.
 *
 * Output: mono, 48 kHz, 32 kbit/s VBR, complexity 5, the "voip"
 * application (tuned for speech; music still comes through at 32 kbit/s).
 * 32 kbit/s is where Opus speech is transparent for most listeners
 * (RFC 7587 §3.1.1 gives 24–40 kbit/s for fullband speech) and keeps one
 * listener at about 4 KB/s.
 */
import { Decoder, Encoder } from '@evan/opus';
import type { VoiceCodecFactory, VoiceDecoder, VoiceEncoder } from './mixer-types.js';

export const MIX_BITRATE = 32_000;
const FRAME_SAMPLES = 960;

function toInt16(bytes: Uint8Array): Int16Array {
  // The decoder returns s16le bytes; copy so the view is aligned.
  const out = new Int16Array(bytes.byteLength >> 1);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.byteLength));
  return out;
}

class OpusVoiceDecoder implements VoiceDecoder {
  private readonly decoder = new Decoder({ channels: 1, sample_rate: 48000 });
  private lastToc = 0xf8;

  decode(payload: Uint8Array): Int16Array {
    if (payload.byteLength < 1) throw new RangeError('empty Opus packet');
    const pcm = toInt16(this.decoder.decode(payload));
    this.lastToc = payload[0] ?? this.lastToc;
    return pcm;
  }

  /** @evan/opus exposes no decode_fec (libopus's is hard-coded off), so the frame is concealed. */
  decodeFec(): Int16Array | undefined {
    return undefined;
  }

  conceal(): Int16Array {
    // libopus treats a packet of at most one byte as lost and runs PLC for
    // the frame size the TOC byte gives (RFC 6716 §3.1; opus_decode docs).
    const pcm = toInt16(this.decoder.decode(Uint8Array.of(this.lastToc)));
    return pcm.length > 0 ? pcm : new Int16Array(FRAME_SAMPLES);
  }
}

class OpusVoiceEncoder implements VoiceEncoder {
  private readonly encoder: Encoder;

  constructor() {
    this.encoder = new Encoder({ channels: 1, sample_rate: 48000, application: 'voip' });
    this.encoder.bitrate = MIX_BITRATE;
    this.encoder.complexity = 5;
    this.encoder.vbr = true;
  }

  encode(pcm: Int16Array): Uint8Array {
    return this.encoder.encode(pcm);
  }
}

export const opusCodec: VoiceCodecFactory = {
  decoder: () => new OpusVoiceDecoder(),
  encoder: () => new OpusVoiceEncoder(),
};
