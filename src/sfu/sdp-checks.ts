/**
 * Checks on what a client hands the SFU before werift sees it. werift
 * accepts some malformed answers and candidates silently (and a bad one can
 * kill the member's connection later), so the border is here.
 */
import { BlockList, isIP } from 'node:net';
import { TribuneError } from '../wire/errors.js';

export interface CandidateRules {
  /**
   * Refuse candidates at special-use addresses (loopback, private, link-local,
   * shared, unspecified, multicast; RFC 6890). On a public server no member
   * reaches it from those, and accepting them would have the SFU send ICE
   * checks into its own host or network on a member's say-so.
   */
  publicOnly: boolean;
}

const SPECIAL_USE = new BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) SPECIAL_USE.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) SPECIAL_USE.addSubnet(address, prefix, 'ipv6');

/** True for an address no public member connects from (RFC 6890 special-use ranges). */
export function isSpecialUseAddress(address: string): boolean {
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as the IPv4 address it names.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return isIP(mapped) === 4 && SPECIAL_USE.check(mapped, 'ipv4');
  const family = isIP(address);
  return family !== 0 && SPECIAL_USE.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

interface MediaSection {
  media: string;
  payloadTypes: string[];
  mid: string | undefined;
}

function sections(sdp: string): MediaSection[] {
  return sdp
    .split(/\r?\n(?=m=)/)
    .slice(1)
    .map((block) => {
      const mLine = /^m=(\S+) \d+ \S+ ?(.*)$/m.exec(block);
      return {
        media: mLine?.[1] ?? '',
        payloadTypes: (mLine?.[2] ?? '').trim().split(/\s+/).filter(Boolean),
        mid: /^a=mid:(\S+)/m.exec(block)?.[1],
      };
    });
}

/**
 * An answer must mirror the offer (RFC 8829 §5.3.1): the same m-sections in
 * the same order, with the same media and mids, payload types among those
 * offered; a DTLS role (RFC 8842 §5.3: active or passive in an answer) and
 * a well-formed fingerprint (RFC 8122 §5).
 */
export function checkAnswer(answer: string, offer: string, rules: CandidateRules = { publicOnly: false }): void {
  const fail = (why: string): never => {
    throw new TribuneError('SDP_INVALID', why);
  };
  if (!answer.startsWith('v=0')) fail('an SDP starts with v=0 (RFC 8866 §5)');
  const offered = sections(offer);
  const answered = sections(answer);
  if (offered.length !== answered.length) fail(`the answer has ${answered.length} m-sections, the offer ${offered.length}`);
  answered.forEach((section, i) => {
    const match = offered[i];
    if (!match) return;
    if (section.media !== match.media) fail(`m-section ${i} is ${section.media}, the offer's is ${match.media}`);
    if (section.mid !== match.mid) fail(`m-section ${i} has mid ${section.mid ?? 'none'}, the offer's is ${match.mid ?? 'none'}`);
    for (const pt of section.payloadTypes) {
      if (!/^\d{1,3}$/.test(pt) || !match.payloadTypes.includes(pt)) fail(`m-section ${i} answers payload type ${pt}, which was not offered`);
    }
  });
  if (!/^a=ice-ufrag:\S{4,256}$/m.test(answer) || !/^a=ice-pwd:\S{22,256}$/m.test(answer)) fail('no valid ICE credentials (RFC 8839 §5.4)');
  const setups = answer.match(/^a=setup:.*$/gm) ?? [];
  if (setups.length === 0 || setups.some((line) => !/^a=setup:(active|passive)\r?$/.test(line))) fail('a=setup must be active or passive in an answer');
  const fingerprints = answer.match(/^a=fingerprint:.*$/gm) ?? [];
  if (fingerprints.length === 0 || fingerprints.some((line) => !/^a=fingerprint:(sha-1|sha-224|sha-256|sha-384|sha-512) [0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}\r?$/.test(line))) {
    fail('a=fingerprint must be "<hash> XX:XX:..." (RFC 8122 §5)');
  }
  // Candidates in the answer meet the same checks as trickled ones; the answer is what is refused.
  for (const line of answer.match(/^a=candidate:.*$/gm) ?? []) {
    try {
      checkCandidate(line.slice(2).replace(/\r$/, ''), rules);
    } catch (error) {
      fail(`a=candidate: ${error instanceof TribuneError ? (error.details ?? error.message) : String(error)}`);
    }
  }
}

/** The mids of a description, for checking a candidate's sdpMid. */
export function midsOf(sdp: string): string[] {
  return sections(sdp)
    .map((s) => s.mid)
    .filter((mid): mid is string => mid !== undefined);
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function validPort(value: string | undefined): boolean {
  return value !== undefined && /^\d{1,5}$/.test(value) && Number(value) <= 65535;
}

function validAddress(value: string | undefined): boolean {
  // A name whose last label is all digits is a bad IPv4 address, not a
  // host name (RFC 1123 §2.1).
  return value !== undefined && (isIP(value) !== 0 || (HOSTNAME.test(value) && !/(^|\.)\d+$/.test(value)));
}

/**
 * The candidate attribute grammar of RFC 8839 §5.1:
 *   candidate:<foundation> <component-id> <transport> <priority>
 *     <connection-address> <port> typ <cand-type>
 *     [raddr <address>] [rport <port>] *(<name> <value>)
 */
export function checkCandidate(candidate: string, rules: CandidateRules = { publicOnly: false }): void {
  const fail = (why: string): never => {
    throw new TribuneError('ICE_CANDIDATE_INVALID', why);
  };
  const parts = candidate.split(' ');
  const [head, component, transport, priority, address, port, typ, type, ...rest] = parts;
  if (!head || !/^candidate:[A-Za-z0-9+/]{1,32}$/.test(head)) fail('foundation');
  // The stage bundles and muxes RTCP (RFC 8843, RFC 5761): component 1 is the only one it uses.
  if (component !== '1') fail('component-id must be 1 (RTCP is multiplexed)');
  if (!transport || !/^(udp|tcp)$/i.test(transport)) fail('transport must be UDP or TCP');
  if (!priority || !/^\d{1,10}$/.test(priority) || Number(priority) > 2 ** 32 - 1) fail('priority');
  if (!validAddress(address)) fail('connection-address');
  // A name is only an mDNS name that hides a browser's address (draft-ietf-mmusic-mdns-ice-candidates):
  // any other (localhost, a name that resolves inside our network) would have the SFU probe it.
  if (isIP(address ?? '') === 0 && !/\.local$/i.test(address ?? '')) fail('connection-address must be an IP address or an mDNS .local name');
  if (rules.publicOnly && isSpecialUseAddress(address ?? '')) fail('connection-address is a special-use address (loopback, private, link-local), which this server does not connect to');
  if (!validPort(port)) fail('port');
  // Port 0 is no port for UDP; TCP active candidates carry 9 (RFC 6544 §4.5).
  if (Number(port) === 0) fail('port 0');
  if (typ !== 'typ' || !type || !/^(host|srflx|prflx|relay)$/.test(type)) fail('cand-type must be host, srflx, prflx or relay');
  if (rest.length % 2 !== 0) fail('extension attributes come in name value pairs');
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i];
    const value = rest[i + 1];
    if (name === 'raddr' && !validAddress(value)) fail('raddr');
    else if (name === 'rport' && !validPort(value)) fail('rport');
    else if (!name || !/^[A-Za-z0-9+/-]{1,64}$/.test(name) || !value || value.length > 256) fail('extension attribute');
  }
}
