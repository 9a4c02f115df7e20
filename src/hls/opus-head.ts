/**
 * The OpusHead identification header (RFC 7845 §5.1), which the Opus in
 * ISOBMFF mapping carries as the 'dOps' box; mediabunny builds dOps from it.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |      'O'      |      'p'      |      'u'      |      's'      |
 * |      'H'      |      'e'      |      'a'      |      'd'      |
 * |  Version = 1  | Channel Count |           Pre-skip            |
 * |                     Input Sample Rate (Hz)                    |
 * |   Output Gain (Q7.8 in dB)    | Mapping Family|
 */
export const OPUS_PRE_SKIP = 312; // libopus's encoder lookahead at 48 kHz

export function opusHead(channels = 1, inputSampleRate = 48000): Uint8Array {
  const head = new Uint8Array(19);
  const view = new DataView(head.buffer);
  head.set(new TextEncoder().encode('OpusHead'), 0);
  head[8] = 1; // version
  head[9] = channels;
  view.setUint16(10, OPUS_PRE_SKIP, true);
  view.setUint32(12, inputSampleRate, true);
  view.setInt16(16, 0, true); // output gain
  head[18] = 0; // mapping family 0: mono or stereo, no table
  return head;
}
