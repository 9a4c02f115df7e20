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

/**
 * Puts our Opus parameters back on every Opus payload type of an offer.
 * werift builds offers after the first from the answer's codecs, and
 * libwebrtc's answer carries no usedtx, so without this every
 * renegotiation (each join on the stage) silently turned DTX off for the
 * members already there, and silent members sent 50 packets a second.
 */
export function withOpusFmtp(sdp: string): string {
  // Each m-section repeats the payload types (BUNDLE): fix them one by one.
  return sdp
    .split(/(?=^m=)/m)
    .map((section) => {
      if (!section.startsWith('m=')) return section;
      let out = section;
      for (const [, pt] of section.matchAll(/^a=rtpmap:(\d+) opus\/48000\/2\r?$/gm)) {
        const fmtp = new RegExp(`^a=fmtp:${pt} (.*?)(\\r?)$`, 'm');
        if (fmtp.test(out)) {
          out = out.replace(fmtp, (_whole, params: string, cr: string) => `a=fmtp:${pt} ${mergeFmtp(params, OPUS_FMTP)}${cr}`);
        } else {
          const rtpmap = new RegExp(`^(a=rtpmap:${pt} opus\\/48000\\/2)(\\r?)$`, 'm');
          out = out.replace(rtpmap, (_whole, line: string, cr: string) => `${line}${cr}\na=fmtp:${pt} ${OPUS_FMTP}${cr}`);
        }
      }
      return out;
    })
    .join('');
}

function mergeFmtp(existing: string, wanted: string): string {
  const params = new Map<string, string>();
  for (const part of `${existing};${wanted}`.split(';')) {
    const [key, value] = part.split('=');
    if (key?.trim()) params.set(key.trim(), (value ?? '').trim());
  }
  return [...params].map(([key, value]) => (value ? `${key}=${value}` : key)).join(';');
}

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
