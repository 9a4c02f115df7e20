/**
 * Codec and extension set every stage peer connection offers.
 *
 * Opus (RFC 7587) with in-band FEC and DTX (RFC 7587 §6.1: useinbandfec,
 * usedtx): FEC lets a receiver rebuild a lost 20 ms frame from the next one,
 * DTX stops sending when a speaker is silent, which on a stage of 13 is most
 * of them most of the time. The ssrc-audio-level extension (RFC 6464) gives
 * the SFU "who is talking" without decoding anything.
 */
import { RTCRtpCodecParameters, useAudioLevelIndication, useSdesMid, type PeerConfig } from 'werift';
import type { SfuOptions } from './sfu-types.js';

export const OPUS_FMTP = 'minptime=10;useinbandfec=1;usedtx=1';

export function peerConfig(options: SfuOptions): Partial<PeerConfig> {
  return {
    codecs: {
      audio: [
        new RTCRtpCodecParameters({
          mimeType: 'audio/opus',
          clockRate: 48000,
          channels: 2,
          parameters: OPUS_FMTP,
          rtcpFeedback: [{ type: 'transport-cc' }],
        }),
      ],
      video: [],
    },
    headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [] },
    iceServers: options.iceServers,
    icePortRange: options.icePortRange,
    iceAdditionalHostAddresses: options.iceAdditionalHostAddresses,
    iceUseIpv6: false,
    bundlePolicy: 'max-bundle',
  };
}
