/**
 * Mutations of session descriptions (RFC 8866) and ICE candidate lines
 * (RFC 8839 §5.1) for fuzzing: start from a real answer or candidate and
 * delete, repeat, swap, cut or replace lines and tokens with the values
 * parsers trip on (huge numbers, negative ports, unknown attributes, lines
 * a peer may only send in an offer, hostnames shaped to backtrack a regex).
 */
import fc, { type Arbitrary } from 'fast-check';

/** Lines an attacker puts in an answer: wrong roles, unknown media, broken attributes. */
export const ATTACK_LINES = [
  'a=setup:actpass',
  'a=setup:holdconn',
  'a=setup:active',
  'a=setup:passive',
  'a=fingerprint:sha-256 00',
  'a=fingerprint:md5 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
  `a=fingerprint:sha-512 ${Array.from({ length: 64 }, () => 'AB').join(':')}`,
  `a=fingerprint:sha-256 ${Array.from({ length: 200 }, () => 'AB').join(':')}`,
  'a=ice-ufrag:',
  'a=ice-ufrag:abcd',
  `a=ice-ufrag:${'u'.repeat(300)}`,
  'a=ice-pwd:short',
  'a=ice-pwd:0123456789012345678901',
  'a=ice-lite',
  'a=ice-options:ice2,trickle',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'm=audio 9 UDP/TLS/RTP/SAVPF 96 97 98',
  'm=audio 0 UDP/TLS/RTP/SAVPF 96',
  'm=audio 65536 UDP/TLS/RTP/SAVPF 96',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'm=audio 9 RTP/AVP 0',
  'm=audio',
  'a=mid:0',
  'a=mid:1',
  'a=mid:2',
  'a=mid:',
  'a=rtpmap:96 opus/48000/2',
  'a=rtpmap:96 opus/0/0',
  'a=rtpmap:97 PCMU/8000',
  'a=rtpmap:4294967296 opus/48000/2',
  'a=rtpmap:96',
  'a=fmtp:96 minptime=-1;maxplaybackrate=99999999999;stereo=2',
  'a=fmtp:96',
  'a=rtcp-fb:96 nack pli',
  'a=rtcp-fb:* ccm fir',
  'a=extmap:0 urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=extmap:15 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'a=extmap:4096 urn:x',
  'a=extmap:1/sendrecv urn:ietf:params:rtp-hdrext:sdes:mid',
  'a=ssrc:4294967296 cname:x',
  'a=ssrc:-1 cname:',
  'a=ssrc-group:FID 1 2 3',
  'a=msid:- -',
  'a=group:BUNDLE 0 1 2',
  'a=group:BUNDLE',
  'a=group:LS 0',
  'a=sendrecv',
  'a=sendonly',
  'a=inactive',
  'a=rtcp:0 IN IP4 0.0.0.0',
  'a=rtcp-mux-only',
  'a=rid:a send',
  'a=simulcast:send a;b',
  'a=sctp-port:5000',
  'a=max-message-size:-1',
  'a=candidate:1 1 udp 2122260223 127.0.0.1 9 typ host',
  'a=candidate:1 1 udp 2122260223 fuzz.invalid 9 typ host',
  'a=candidate:garbage',
  'a=end-of-candidates',
  'c=IN IP6 ::1',
  'c=IN IP4 999.999.999.999',
  'c=',
  'b=AS:-1',
  'b=TIAS:99999999999999999999',
  't=-1 -1',
  'o=- 99999999999999999999999 0 IN IP4 0.0.0.0',
  'v=1',
  'v=0',
  'a=',
  '=',
  'a=:',
  'x=unknown',
] as const;

/** Tokens that replace one field of a line. */
export const ATTACK_TOKENS = [
  '',
  '-1',
  '0',
  '65536',
  '4294967295',
  '4294967296',
  '99999999999999999999',
  '1e309',
  'NaN',
  '0x10',
  '1.5',
  'UDP',
  'tcp',
  'sctp',
  '::1',
  '127.0.0.1',
  '255.255.255.255',
  'fuzz.invalid',
  '999.1.1.1',
  '\u0000',
  '\u202e',
  'é',
  'x'.repeat(300),
] as const;

/** Hostnames shaped to make a host-name regex backtrack: long labels, hyphen runs, digit tails. */
export const BACKTRACKING_HOSTS: Arbitrary<string> = fc
  .tuple(fc.constantFrom('a', 'a-', '-', '1.', 'a.', 'aa-', '0'), fc.integer({ min: 1, max: 300 }), fc.constantFrom('', '-', '!', '.1', '.', '_'))
  .map(([unit, times, tail]) => unit.repeat(times) + tail);

type LineOp =
  | { kind: 'delete'; at: number }
  | { kind: 'duplicate'; at: number }
  | { kind: 'swap'; at: number; to: number }
  | { kind: 'replace'; at: number; line: string }
  | { kind: 'insert'; at: number; line: string }
  | { kind: 'token'; at: number; token: number; value: string }
  | { kind: 'cut'; at: number; keep: number };

const someLine: Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...ATTACK_LINES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);
const someToken: Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ATTACK_TOKENS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: BACKTRACKING_HOSTS },
);

const lineOp: Arbitrary<LineOp> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), line: someLine }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), line: someLine }),
  fc.record({ kind: fc.constant('token' as const), at: fc.nat(), token: fc.nat({ max: 12 }), value: someToken }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), keep: fc.nat({ max: 40 }) }),
);

function applyOp(items: string[], op: LineOp, separator: string): string[] {
  if (items.length === 0) return op.kind === 'insert' || op.kind === 'replace' ? [op.line] : items;
  const at = op.at % items.length;
  const out = [...items];
  const item = out[at] ?? '';
  switch (op.kind) {
    case 'delete':
      out.splice(at, 1);
      break;
    case 'duplicate':
      out.splice(at, 0, item);
      break;
    case 'swap': {
      const to = op.to % out.length;
      out[at] = out[to] ?? '';
      out[to] = item;
      break;
    }
    case 'replace':
      out[at] = op.line;
      break;
    case 'insert':
      out.splice(at, 0, op.line);
      break;
    case 'token': {
      const tokens = item.split(separator === ' ' ? /(?=[ :=/])/ : ' ');
      tokens[op.token % tokens.length] = (separator === ' ' ? (tokens[op.token % tokens.length]?.[0] ?? '') : '') + op.value;
      out[at] = tokens.join(separator === ' ' ? '' : ' ');
      break;
    }
    case 'cut':
      out[at] = item.slice(0, op.keep);
      break;
  }
  return out;
}

/** A real description with one to five line or token mutations, sometimes with other line ends or repeated sections. */
export function mutatedSdp(base: () => string): Arbitrary<string> {
  return fc
    .tuple(fc.array(lineOp, { minLength: 1, maxLength: 5 }), fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r', '\r\r\n'), fc.integer({ min: 0, max: 20 }))
    .map(([ops, eol, repeatMedia]) => {
      let lines = base().split('\r\n');
      for (const op of ops) lines = applyOp(lines, op, ' ');
      let text = lines.join(eol);
      // Repeating the last m-section (a peer that answers more than was offered), up to ~12 KiB.
      if (repeatMedia > 17) {
        const lastMedia = text.lastIndexOf('m=');
        if (lastMedia >= 0) text += text.slice(lastMedia).repeat(repeatMedia - 10);
      }
      return text;
    });
}

/** Any description: a mutated real one, or text that merely looks like SDP, or not at all. */
export function hostileSdp(base: () => string): Arbitrary<string> {
  return fc.oneof(
    { weight: 12, arbitrary: mutatedSdp(base) },
    { weight: 1, arbitrary: fc.array(someLine, { maxLength: 30 }).map((lines) => ['v=0', ...lines].join('\r\n')) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: fc.nat().map((cut) => base().slice(0, cut % base().length)) },
  );
}

/** A candidate line with one to four token mutations or extension attributes added. */
export function mutatedCandidate(seeds: () => string[]): Arbitrary<string> {
  const extension = fc.tuple(fc.constantFrom('raddr', 'rport', 'generation', 'ufrag', 'network-id', 'tcptype', 'x', '', '-'), someToken).map(([n, v]) => `${n} ${v}`);
  return fc
    .tuple(fc.nat(), fc.array(lineOp, { minLength: 0, maxLength: 4 }), fc.array(extension, { maxLength: 3 }), fc.boolean())
    .map(([pick, ops, extensions, prefix]) => {
      const all = seeds();
      let tokens = (all[pick % all.length] ?? '').split(' ');
      for (const op of ops) tokens = applyOp(tokens, op.kind === 'token' ? { kind: 'replace', at: op.at, line: op.value } : op, ',');
      const line = [...tokens, ...extensions].join(' ');
      return prefix ? `a=${line}` : line;
    });
}

/** Well-formed candidate lines of every type, the seeds mutatedCandidate starts from. */
export const CANDIDATE_SEEDS = [
  'candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host generation 0 ufrag abcd network-id 1',
  'candidate:2 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 192.0.2.10 rport 50000',
  'candidate:3 1 udp 41885439 203.0.113.9 3478 typ relay raddr 198.51.100.7 rport 61000',
  'candidate:4 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active',
  'candidate:5 1 udp 2122262783 2001:db8::1 50001 typ host',
  'candidate:6 1 udp 2122260223 3f1c2b7e-5d1a-4b8e-9c1d-2a3b4c5d6e7f.local 50002 typ host',
  'candidate:7 1 udp 2122260223 fuzz-host.invalid 50003 typ host',
  'candidate:8 2 udp 2122260222 192.0.2.10 50004 typ prflx',
  // The same kinds with addresses that keep every packet on this host (or nowhere), for real peers.
  'candidate:9 1 udp 1686052607 127.0.0.1 61000 typ srflx raddr 192.0.2.10 rport 50000',
  'candidate:10 1 udp 41885439 255.255.255.255 3478 typ relay raddr 0.0.0.0 rport 0',
  'candidate:11 1 udp 2122262783 ::1 50001 typ host',
] as const;
