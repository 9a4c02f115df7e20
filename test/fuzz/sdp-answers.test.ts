/**
 * Fuzz: what a stage member hands the SFU as SDP, the answer (RFC 8829
 * §5.3.1 border checks of src/sfu/sdp-checks.ts, then werift) and ICE
 * candidate lines (RFC 8839 §5.1).
 *
 * The seeds are real: an offer from a real StagePeer (one microphone
 * m-line, one m-line for another member) and the answer a werift peer
 * makes to it. Every case is a mutation of those or text that only looks
 * like SDP. Properties:
 *   - the border check either accepts or throws SDP_INVALID /
 *     ICE_CANDIDATE_INVALID, in bounded time (no regex backtracking);
 *   - an accepted answer has as many m-lines as the offer, counted
 *     independently of the checker's own splitting;
 *   - answers and candidates the border accepts, applied through a real
 *     StagePeer (werift underneath), resolve or are refused with the same
 *     codes, and nothing throws later out of werift's timers and sockets
 *     (node:test fails the file on any uncaught exception).
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { before, test } from 'node:test';
import fc from 'fast-check';
import { RTCPeerConnection } from 'werift';
import { peerConfig } from '../../src/sfu/peer-config.js';
import { checkAnswer, checkCandidate } from '../../src/sfu/sdp-checks.js';
import { DEFAULT_SFU_OPTIONS } from '../../src/sfu/sfu-types.js';
import { StagePeer } from '../../src/sfu/stage-peer.js';
import { TribuneError, type ErrorCode } from '../../src/wire/errors.js';
import { fuzzParameters, fuzzRuns, fuzzTimeout } from '../helpers/fuzz-runs.js';
import { CANDIDATE_SEEDS, hostileSdp, mutatedCandidate } from '../helpers/fuzz-sdp.js';
import { sleep } from '../helpers/tribune.js';

const RUNS = fuzzRuns();
/** Accepted answers applied through a real peer connection (each costs a peer and an offer, ~60 ms). */
const PEER_ANSWERS = Math.max(100, Math.floor(RUNS / 1000));
/** Accepted candidates added to real peer connections, in batches of CANDIDATES_PER_PEER. */
const PEER_CANDIDATES = Math.max(500, Math.floor(RUNS / 200));
const CANDIDATES_PER_PEER = 50;
/**
 * One border check may take at most this long; a typical one takes ~10 µs,
 * and backtracking would take seconds. A check over the bound is timed
 * again, so a garbage-collection pause is not taken for backtracking.
 */
const CHECK_BOUND_MS = 50;

/** Runs `check` and returns how long it took: the fastest of three tries if the first is over the bound. */
function timed(check: () => void): number {
  const time = (): number => {
    const startedAt = performance.now();
    try {
      check();
    } catch {
      // the caller looks at the outcome itself
    }
    return performance.now() - startedAt;
  };
  const first = time();
  return first < CHECK_BOUND_MS ? first : Math.min(first, time(), time());
}

let offer = '';
let answer = '';
const seedCandidates: string[] = [...CANDIDATE_SEEDS];
const acceptedAnswers = new Set<string>();
const acceptedCandidates = new Set<string>();

let peerCount = 0;
/** A StagePeer with the layout the seeds were made for, and its first offer. */
async function offeringPeer(): Promise<{ peer: StagePeer; offer: string }> {
  const peer = new StagePeer(`fuzz${peerCount++}`, DEFAULT_SFU_OPTIONS);
  await peer.addSource('other member');
  const offered = new Promise<string>((resolve) => peer.once('offer', (o) => resolve(o.sdp)));
  await peer.start();
  return { peer, offer: await offered };
}

/** A werift answer to `sdp`, and the answering peer's candidates. */
async function answerTo(sdp: string): Promise<{ answer: string; candidates: string[] }> {
  const pc = new RTCPeerConnection(peerConfig(DEFAULT_SFU_OPTIONS));
  const candidates: string[] = [];
  pc.onIceCandidate.subscribe((c) => void (c?.candidate && candidates.push(c.candidate)));
  await pc.setRemoteDescription({ type: 'offer', sdp });
  await pc.setLocalDescription(await pc.createAnswer());
  const made = pc.localDescription?.sdp ?? '';
  await pc.close();
  return { answer: made, candidates };
}

function expectRefusal(error: unknown, codes: ErrorCode[], input: string): void {
  if (error instanceof TribuneError && codes.includes(error.code)) return;
  assert.fail(`${JSON.stringify(input.slice(0, 300))} threw ${error instanceof Error ? error.stack : String(error)}`);
}

/** Whether a real peer may act on a candidate: only addresses that keep every packet on this host or nowhere. */
function staysLocal(candidate: string): boolean {
  const tokens = candidate.replace(/^a=/, '').split(' ');
  const addresses = [tokens[4] ?? '', ...tokens.flatMap((t, i) => (t === 'raddr' ? [tokens[i + 1] ?? ''] : []))];
  return addresses.every((a) => a.endsWith('.invalid') || (isIP(a) !== 0 && /^(127\.|192\.0\.2\.|0\.0\.0\.0$|255\.255\.255\.255$|::1$)/.test(a)));
}

before(async () => {
  const first = await offeringPeer();
  offer = first.offer;
  const made = await answerTo(offer);
  answer = made.answer;
  seedCandidates.push(...made.candidates.map((c) => c.replace(/^a=/, '')));
  checkAnswer(answer, offer);
  await first.peer.applyAnswer(answer);
  await first.peer.close();
});

test(`${RUNS} mutated SDP answers are accepted or refused with SDP_INVALID within ${CHECK_BOUND_MS} ms, never with more m-lines than offered`, { timeout: fuzzTimeout(RUNS, 0.1) }, () => {
  let slowestMs = 0;
  const mLines = (sdp: string) => sdp.split(/\r?\n/).filter((line) => line.startsWith('m=')).length;
  const offeredMLines = mLines(offer);
  fc.assert(
    fc.property(hostileSdp(() => answer), (sdp) => {
      let accepted = true;
      try {
        checkAnswer(sdp, offer);
      } catch (error) {
        accepted = false;
        expectRefusal(error, ['SDP_INVALID'], sdp);
      }
      const ms = timed(() => checkAnswer(sdp, offer));
      slowestMs = Math.max(slowestMs, ms);
      assert.ok(ms < CHECK_BOUND_MS, `checkAnswer took ${ms.toFixed(1)} ms on ${sdp.length} characters`);
      if (accepted) {
        assert.equal(mLines(sdp), offeredMLines, `an answer with other m-lines passed: ${JSON.stringify(sdp)}`);
        if (acceptedAnswers.size < PEER_ANSWERS * 20) acceptedAnswers.add(sdp);
      }
    }),
    fuzzParameters(RUNS),
  );
  console.log(JSON.stringify({ target: 'sdp answers', cases: RUNS, accepted: acceptedAnswers.size, slowestMs: Math.round(slowestMs * 100) / 100 }));
});

test(`${RUNS} mutated ICE candidate lines are accepted or refused with ICE_CANDIDATE_INVALID within ${CHECK_BOUND_MS} ms`, { timeout: fuzzTimeout(RUNS, 0.1) }, () => {
  let slowestMs = 0;
  let accepted = 0;
  fc.assert(
    fc.property(mutatedCandidate(() => seedCandidates), (candidate) => {
      try {
        checkCandidate(candidate);
        accepted++;
        assert.equal(candidate.split(' ')[6], 'typ', `a candidate without "typ" in its place passed: ${candidate}`);
        if (staysLocal(candidate) && acceptedCandidates.size < PEER_CANDIDATES * 4) acceptedCandidates.add(candidate);
      } catch (error) {
        expectRefusal(error, ['ICE_CANDIDATE_INVALID'], candidate);
      }
      const ms = timed(() => checkCandidate(candidate));
      slowestMs = Math.max(slowestMs, ms);
      assert.ok(ms < CHECK_BOUND_MS, `checkCandidate took ${ms.toFixed(1)} ms on ${JSON.stringify(candidate.slice(0, 300))}`);
    }),
    fuzzParameters(RUNS),
  );
  console.log(JSON.stringify({ target: 'ice candidates', cases: RUNS, accepted, slowestMs: Math.round(slowestMs * 100) / 100 }));
});

test(`up to ${PEER_ANSWERS} accepted mutated answers applied to real peer connections resolve or get SDP_INVALID, and nothing throws later`, { timeout: 120_000 }, async () => {
  const outcomes: Record<string, number> = {};
  for (const sdp of [...acceptedAnswers].slice(0, PEER_ANSWERS)) {
    const { peer } = await offeringPeer();
    try {
      await peer.applyAnswer(sdp);
      outcomes.applied = (outcomes.applied ?? 0) + 1;
    } catch (error) {
      expectRefusal(error, ['SDP_INVALID'], sdp);
      outcomes.refused = (outcomes.refused ?? 0) + 1;
    }
    // werift starts ICE and DTLS after an answer: give their timers a moment to throw, if they would.
    await sleep(30);
    await peer.close();
  }
  console.log(JSON.stringify({ target: 'sdp answers on real peers', ...outcomes }));
  assert.ok((outcomes.applied ?? 0) + (outcomes.refused ?? 0) > 0, 'no mutated answer passed the border check');
});

test(`up to ${PEER_CANDIDATES} accepted mutated candidates added to real peer connections resolve or get ICE_CANDIDATE_INVALID`, { timeout: 120_000 }, async () => {
  const outcomes: Record<string, number> = {};
  const all = [...acceptedCandidates].slice(0, PEER_CANDIDATES);
  const mids = ['0', '1', null, undefined, 'nope'] as const;
  for (let start = 0; start < all.length; start += CANDIDATES_PER_PEER) {
    const { peer, offer: offered } = await offeringPeer();
    await peer.applyAnswer((await answerTo(offered)).answer);
    for (const [i, candidate] of all.slice(start, start + CANDIDATES_PER_PEER).entries()) {
      const sdpMid = mids[i % mids.length];
      try {
        await peer.addCandidate({ candidate, sdpMid, sdpMLineIndex: i % 3 === 0 ? null : i % 3 });
        outcomes.added = (outcomes.added ?? 0) + 1;
      } catch (error) {
        expectRefusal(error, ['ICE_CANDIDATE_INVALID'], candidate);
        outcomes.refused = (outcomes.refused ?? 0) + 1;
      }
    }
    // Connectivity checks to the new pairs go out over the next few hundred ms.
    await sleep(300);
    await peer.close();
  }
  console.log(JSON.stringify({ target: 'ice candidates on real peers', ...outcomes }));
  assert.ok((outcomes.added ?? 0) > 0, 'no mutated candidate was added');
});
