import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withOpusFmtp } from '../../src/sfu/peer-config.js';

const section = (mid: number, fmtp: string | undefined): string =>
  [`m=audio 9 UDP/TLS/RTP/SAVPF 111`, `a=mid:${mid}`, `a=rtpmap:111 opus/48000/2`, ...(fmtp === undefined ? [] : [`a=fmtp:111 ${fmtp}`])].join('\r\n');

test('withOpusFmtp puts usedtx and useinbandfec back on every m-section of a renegotiated offer', () => {
  const offer = ['v=0', section(0, 'minptime=10;useinbandfec=1'), section(1, 'minptime=10;useinbandfec=1'), ''].join('\r\n');
  const fixed = withOpusFmtp(offer);
  const lines = fixed.split('\r\n').filter((l) => l.startsWith('a=fmtp:111'));
  assert.equal(lines.length, 2);
  for (const line of lines) assert.equal(line, 'a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1');
  assert.ok(!fixed.includes('\n\n') && !/[^\r]\n/.test(fixed), 'line endings stay CRLF');
});

test('withOpusFmtp adds an fmtp line where the offer has none and keeps other parameters', () => {
  const offer = ['v=0', section(0, undefined), section(1, 'stereo=1;usedtx=0'), ''].join('\r\n');
  const fixed = withOpusFmtp(offer);
  assert.match(fixed, /a=mid:0\r\na=rtpmap:111 opus\/48000\/2\r\na=fmtp:111 minptime=10;useinbandfec=1;usedtx=1\r\n/);
  assert.match(fixed, /a=fmtp:111 stereo=1;usedtx=1;minptime=10;useinbandfec=1\r\n/);
});
