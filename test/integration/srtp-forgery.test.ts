/**
 * Forged and replayed SRTP never reach another member (RFC 3711 §3.3: a
 * receiver authenticates every packet and keeps a replay list).
 *
 * Two werift members share a stage. Member A sends real SRTP through
 * werift's own sender; a tap on A's ICE connection records the encrypted
 * datagrams, so the test can replay them verbatim and send forged copies
 * over the same ICE connection, DTLS keys and 5-tuple as the genuine ones.
 * What counts is seen on both sides: the SFU's per-peer counters
 * (rtpReplayed on A's peer, rtpForwarded on B's peer) and the RTP member B
 * actually receives.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { StagePeer } from '../../src/sfu/stage-peer.js';
import type { PeerDropStats } from '../../src/sfu/sfu-types.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';
import { WeriftMember, flipAuthTagByte, type SrtpTap } from '../helpers/werift-member.js';

/** How long a dropped packet gets to show up anyway before a test says it did not. */
const SETTLE_MS = 500;
/** Every wait in a test has its own shorter timeout; this bounds the test as a whole. */
const LIMIT = { timeout: 15_000 };

let server: RunningTribune;
let spaceId: string;
let a: WeriftMember;
let b: WeriftMember;
let tap: SrtpTap;
let firstGenuine: Buffer | undefined;

before(async () => {
  server = await startTribune();
  const created = await server.createSpace('SRTP forgery');
  spaceId = created.space.id;
  // Two accepted speakers, each its own account and stage pass.
  a = new WeriftMember(stageUrl(server.url, spaceId, await created.speakerPass('sender A')), 'sender A');
  b = new WeriftMember(stageUrl(server.url, spaceId, await created.speakerPass('receiver B')), 'receiver B');
  await a.join();
  await b.join();
  await Promise.all([a.connected(), b.connected()]);
  // B's receiver for A exists once B has answered the offer carrying A's slot.
  await waitFor(() => b.session.trackOf(a.me?.id ?? '') !== undefined, 5000, 'B to have a receiver for A');
  tap = a.srtpTap();
}, { timeout: 30_000 });

after(async () => {
  a?.close();
  b?.close();
  await server?.close();
}, { timeout: 15_000 });

function peerOf(member: WeriftMember): StagePeer {
  // The hub is in memory while the Space is live; `loaded` keeps this synchronous for the counters.
  const peer = server.tribune.spaces.loaded(spaceId)?.stage?.router.peer(member.me?.id ?? '');
  assert.ok(peer, `the SFU has no peer for ${member.me?.name}`);
  return peer;
}

/** A's drop counters and what reached B, on the SFU and at B. */
function counters(): { aDrops: PeerDropStats; bForwarded: number; bReceived: number } {
  return { aDrops: { ...peerOf(a).stats }, bForwarded: peerOf(b).stats.rtpForwarded, bReceived: b.rtpReceived };
}

/** Sends `count` genuine packets and waits until B has them all, on the SFU and at B. */
async function sendGenuine(count: number, intervalMs = 20): Promise<void> {
  const start = counters();
  await a.sendAudio(count, intervalMs);
  await waitFor(() => peerOf(b).stats.rtpForwarded - start.bForwarded >= count, 5000, `${count} genuine packets forwarded to B`);
  await waitFor(() => b.rtpReceived - start.bReceived >= count, 5000, `${count} genuine packets received by B`);
  const end = counters();
  assert.equal(end.bForwarded - start.bForwarded, count, 'packets forwarded to B');
  assert.equal(end.bReceived - start.bReceived, count, 'packets received by B');
  assert.equal(end.aDrops.rtpReplayed, start.aDrops.rtpReplayed, 'genuine packets counted as replays');
}

test('genuine SRTP from one member reaches the other member packet for packet', LIMIT, async () => {
  const sentBefore = tap.sent.length;
  await sendGenuine(30);
  assert.equal(tap.sent.length - sentBefore, 30, 'SRTP datagrams the tap saw leave A');
  firstGenuine = tap.sent[sentBefore];
});

test('replayed SRTP datagrams are dropped by the replay window and never forwarded', LIMIT, async () => {
  const genuine = tap.sent.slice(-30);
  assert.equal(genuine.length, 30);
  const start = counters();
  // Verbatim, in order, then again newest first: each copy authenticates, none is new.
  for (const datagram of genuine) await tap.inject(datagram);
  for (const datagram of [...genuine].reverse()) await tap.inject(datagram);
  await waitFor(() => peerOf(a).stats.rtpReplayed - start.aDrops.rtpReplayed >= 60, 5000, 'the SFU to see 60 replays');
  await sleep(SETTLE_MS);
  const end = counters();
  assert.equal(end.aDrops.rtpReplayed - start.aDrops.rtpReplayed, 60, 'replays counted on A’s peer');
  assert.equal(end.bForwarded - start.bForwarded, 0, 'replayed packets forwarded to B');
  assert.equal(end.bReceived - start.bReceived, 0, 'replayed packets received by B');
});

test('SRTP packets with a flipped auth tag byte are dropped before the replay window and never forwarded', LIMIT, async () => {
  const start = counters();
  tap.forge = flipAuthTagByte;
  tap.mode = 'withhold-and-forge';
  tap.withheld.length = 0;
  try {
    await a.sendAudio(20);
  } finally {
    tap.mode = 'pass';
  }
  assert.equal(tap.withheld.length, 20, 'genuine datagrams held back');
  await sleep(SETTLE_MS);
  const forged = counters();
  assert.equal(forged.bForwarded - start.bForwarded, 0, 'forged packets forwarded to B');
  assert.equal(forged.bReceived - start.bReceived, 0, 'forged packets received by B');
  assert.equal(forged.aDrops.rtpReplayed, start.aDrops.rtpReplayed, 'forged packets reached the replay window');

  // The genuine packets behind the forgeries are still new to the SFU: a
  // forgery neither marked their sequence numbers as seen nor moved werift's
  // rollover counter.
  for (const datagram of tap.withheld) await tap.inject(datagram);
  await waitFor(() => peerOf(b).stats.rtpForwarded - start.bForwarded >= 20, 5000, 'the withheld genuine packets forwarded to B');
  await waitFor(() => b.rtpReceived - start.bReceived >= 20, 5000, 'the withheld genuine packets received by B');
  const end = counters();
  assert.equal(end.bForwarded - start.bForwarded, 20);
  assert.equal(end.aDrops.rtpReplayed, start.aDrops.rtpReplayed, 'genuine packets taken for replays');
});

test('SRTP packets forged in other ways are dropped and genuine audio keeps flowing', LIMIT, async () => {
  const template = tap.sent.at(-1);
  assert.ok(template);
  const forgeries: [string, (datagram: Buffer) => Buffer][] = [
    ['a flipped byte of encrypted payload', (d) => flip(d, d.length - 11)],
    ['a changed sequence number', (d) => flip(d, 3)],
    ['a changed SSRC', (d) => flip(d, 11)],
    ['the auth tag cut off', (d) => d.subarray(0, d.length - 10)],
    ['a header only', (d) => d.subarray(0, 12)],
    ['random bytes behind an RTP version byte', (d) => Buffer.concat([Buffer.from([0x80, 0x6f]), Buffer.alloc(d.length - 2, 0x5a)])],
  ];
  for (const [what, forge] of forgeries) {
    const start = counters();
    tap.forge = forge;
    tap.mode = 'withhold-and-forge';
    try {
      await a.sendAudio(5, 5);
    } finally {
      tap.mode = 'pass';
    }
    await sleep(200);
    const end = counters();
    assert.equal(end.bForwarded - start.bForwarded, 0, `packets with ${what} forwarded to B`);
    assert.equal(end.bReceived - start.bReceived, 0, `packets with ${what} received by B`);
    assert.equal(end.aDrops.rtpReplayed, start.aDrops.rtpReplayed, `packets with ${what} reached the replay window`);
  }
  // Skipping the withheld sequence numbers is ordinary loss; the stream goes on.
  await sendGenuine(10);
});

test('a replay of a packet older than the replay window is dropped', LIMIT, async () => {
  assert.ok(firstGenuine, 'the first test recorded a genuine datagram');
  // Push the window well past the first packet: 128 packets is its size.
  await sendGenuine(140, 5);
  const start = counters();
  await tap.inject(firstGenuine);
  await waitFor(() => peerOf(a).stats.rtpReplayed > start.aDrops.rtpReplayed, 3000, 'the SFU to see the old replay');
  await sleep(SETTLE_MS);
  const end = counters();
  assert.equal(end.aDrops.rtpReplayed - start.aDrops.rtpReplayed, 1);
  assert.equal(end.bForwarded - start.bForwarded, 0, 'the old replay forwarded to B');
  assert.equal(end.bReceived - start.bReceived, 0, 'the old replay received by B');
});

function flip(datagram: Buffer, index: number): Buffer {
  const forged = Buffer.from(datagram);
  forged[index] = (forged[index] ?? 0) ^ 0xff;
  return forged;
}
