/**
 * The SFU's candidate rules for a public server (TRIBUNE_PUBLIC_CANDIDATES_ONLY):
 * candidates at special-use addresses (RFC 6890) are refused, trickled or in
 * the answer; public addresses and mDNS names pass; by default (tests, LANs)
 * loopback and private addresses pass.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkAnswer, checkCandidate, isSpecialUseAddress } from '../../src/sfu/sdp-checks.js';
import { TribuneError } from '../../src/wire/errors.js';

const candidate = (address: string, port = 50000): string => `candidate:1 1 udp 2122260223 ${address} ${port} typ host generation 0 network-id 1`;
const PUBLIC_ONLY = { publicOnly: true };

const refusedWith = (run: () => void): string | undefined => {
  try {
    run();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof TribuneError);
    return error.code;
  }
};

test('special-use addresses are told apart from public ones', () => {
  for (const address of ['127.0.0.1', '127.3.1.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.20', '169.254.10.1', '100.64.0.1', '0.0.0.0', '224.0.0.251', '255.255.255.255', '::1', '::', 'fe80::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
    assert.equal(isSpecialUseAddress(address), true, address);
  }
  for (const address of ['8.8.8.8', '203.0.113.5', '172.32.0.1', '100.128.0.1', '2001:4860:4860::8888', 'abcd1234-5678.local']) {
    assert.equal(isSpecialUseAddress(address), false, address);
  }
});

test('with publicOnly, trickled candidates at special-use addresses get ICE_CANDIDATE_INVALID; public ones and mDNS names pass', () => {
  for (const address of ['127.0.0.1', '10.0.0.5', '192.168.0.2', '169.254.1.1', '::1', 'fe80::abcd', 'fd00::5']) {
    assert.equal(refusedWith(() => checkCandidate(candidate(address), PUBLIC_ONLY)), 'ICE_CANDIDATE_INVALID', address);
    assert.equal(refusedWith(() => checkCandidate(candidate(address))), undefined, `${address} passes by default`);
  }
  for (const address of ['8.8.4.4', '2001:4860::1', '0f1e2d3c-aaaa-bbbb-cccc-0123456789ab.local']) {
    assert.equal(refusedWith(() => checkCandidate(candidate(address), PUBLIC_ONLY)), undefined, address);
  }
  // The relay's base (raddr) is not contacted; only the connection address counts.
  assert.equal(refusedWith(() => checkCandidate('candidate:2 1 udp 41885439 198.51.100.7 3478 typ relay raddr 10.0.0.5 rport 50000', PUBLIC_ONLY)), undefined);
});

test('candidates in an answer meet the same rules as trickled ones', () => {
  const offer = ['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', ''].join('\r\n');
  const answer = (extra: string): string =>
    ['v=0', 'o=- 2 2 IN IP4 0.0.0.0', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=setup:active', `a=fingerprint:sha-256 ${Array.from({ length: 32 }, () => 'AB').join(':')}`, extra, ''].join('\r\n');
  assert.equal(refusedWith(() => checkAnswer(answer(`a=${candidate('8.8.8.8')}`), offer, PUBLIC_ONLY)), undefined);
  assert.equal(refusedWith(() => checkAnswer(answer(`a=${candidate('127.0.0.1')}`), offer, PUBLIC_ONLY)), 'SDP_INVALID');
  assert.equal(refusedWith(() => checkAnswer(answer(`a=${candidate('127.0.0.1')}`), offer)), undefined, 'loopback passes by default');
  assert.equal(refusedWith(() => checkAnswer(answer('a=candidate:garbage'), offer)), 'SDP_INVALID', 'a malformed candidate in an answer is refused too');
});
