/**
 * Fuzz: the SFU's UDP input. A Tribune server in a child process
 * (test/helpers/fuzz-stage-server.ts) with a live Space and two real stage
 * members here (libwebrtc speaker bots playing 440 Hz and 660 Hz, each
 * hearing the other); then FUZZ_RUNS hostile datagrams
 * (test/helpers/fuzz-datagrams.ts: STUN, DTLS, RTP/RTCP and random bytes of
 * known crash classes) sent at a bounded rate to every port the SFU gathered
 * for them (the host candidates of its offers), from a few long-lived
 * loopback sockets and a fresh source port every 100 datagrams.
 *
 * Afterwards:
 *   - the server process is alive and answers /healthz; its heap grew by at
 *     most HEAP_BOUND_MB, its external (Buffer) memory by at most
 *     EXTERNAL_BOUND_MB and its resident memory by at most RSS_BOUND_MB,
 *     measured after a full GC in the server process alone;
 *   - the two members are still on stage and still hear each other's tone;
 *   - a third member joins and hears both, and both hear it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { AudioRecorder } from '../helpers/audio-recorder.js';
import { sendFromChild } from '../helpers/fuzz-datagrams.js';
import { fuzzRuns, fuzzSeed, fuzzTimeout } from '../helpers/fuzz-runs.js';
import { startStageServer, type Memory, type StageServer } from '../helpers/fuzz-stage-server.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, waitFor } from '../helpers/tribune.js';

const RUNS = fuzzRuns();
/** Datagrams per second, all sockets together. */
const RATE = 5000;
const HEAP_BOUND_MB = 48;
const EXTERNAL_BOUND_MB = 64;
const RSS_BOUND_MB = 128;
const TONES = [440, 660] as const;
const NEWCOMER_HZ = 880;

let server: StageServer;
const bots: SpeakerBot[] = [];
const recorders = TONES.map(() => new AudioRecorder());
const newcomerRecorder = new AudioRecorder();
let newcomer: SpeakerBot | undefined;
let flooded = false;

before(async () => {
  server = await startStageServer({ passes: TONES.length + 1, weriftMembers: false });
  for (const [i, hz] of TONES.entries()) {
    const spaceUrl = stageUrl(server.url, server.spaceId, server.passes[i]);
    bots.push(new SpeakerBot({ spaceUrl, name: `tone ${hz}`, program: { kind: 'tone', hz }, onAudio: recorders[i]!.onAudio }));
  }
  for (const bot of bots) await bot.start();
  await Promise.all(bots.map((bot) => bot.connected()));
  await waitFor(() => recorders.every((r, i) => r.tonesHeard([...TONES]).includes(TONES[1 - i]!)), 15_000, 'each bot to hear the other bot’s tone');
}, { timeout: 60_000 });

after(() => {
  for (const bot of bots) bot.stop();
  server?.stop();
});

/** Fails unless the server process is still running; says how it died otherwise. */
function assertAlive(): void {
  const ended = server.ended();
  assert.equal(ended, undefined, `the server died (code ${ended?.code}, signal ${ended?.signal}): ${ended?.stderr.split('\n').filter(Boolean).slice(0, 6).join(' | ')}`);
}

function within(before: Memory, after: Memory): void {
  assert.ok(after.heapMb - before.heapMb <= HEAP_BOUND_MB, `heap grew from ${before.heapMb} to ${after.heapMb} MB`);
  assert.ok(after.externalMb - before.externalMb <= EXTERNAL_BOUND_MB, `external memory grew from ${before.externalMb} to ${after.externalMb} MB`);
  assert.ok(after.rssMb - before.rssMb <= RSS_BOUND_MB, `resident memory grew from ${before.rssMb} to ${after.rssMb} MB`);
}

test(`${RUNS} hostile datagrams at the SFU's ports leave the server up, answering, with bounded memory`, { timeout: fuzzTimeout(RUNS, 1000 / RATE) }, async () => {
  const targets = await server.ports();
  assert.ok(targets.length >= 2, `found the SFU listening on ${JSON.stringify(targets)}`);
  const before = await server.memory();
  // FUZZ_DATAGRAM_KINDS=stun,dtls-client-hello narrows a failing run down to some kinds.
  const kinds = (process.env.FUZZ_DATAGRAM_KINDS ?? '').split(',').filter(Boolean);
  const report = await sendFromChild({ targets, total: RUNS, ratePerSecond: RATE, sockets: 4, rotateEvery: 100, seed: fuzzSeed, kinds }, (RUNS / RATE) * 2000 + 30_000);
  flooded = true;
  await sleep(500);
  assertAlive();
  const afterFlood = await server.memory();
  console.log(JSON.stringify({ target: 'sfu datagrams', cases: RUNS, seed: fuzzSeed, targets: targets.map((t) => t.port), ...report, memoryBefore: before, memoryAfter: afterFlood }));
  assert.equal(report.sent + report.sendErrors, RUNS);
  assert.ok(report.sent >= RUNS * 0.99, `only ${report.sent} of ${RUNS} datagrams went out (${report.sendErrors} send errors)`);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  within(before, afterFlood);
});

test('after the flood both members are still on stage and still hear each other', { timeout: 20_000 }, async () => {
  assert.ok(flooded, 'the flood ran');
  assertAlive();
  const view = (await (await fetch(`${server.url}/api/spaces/${server.spaceId}`)).json()) as { space: { state: string; members: { id: string }[] } };
  assert.equal(view.space.state, 'live');
  assert.deepEqual(view.space.members.map((m) => m.id).sort(), bots.map((b) => b.session.me?.id).sort(), 'the members on stage');
  for (const recorder of recorders) recorder.clear();
  await sleep(1500);
  TONES.forEach((own, i) => {
    const heard = recorders[i]!.tonesHeard([...TONES]);
    assert.deepEqual(heard, TONES.filter((hz) => hz !== own), `after the flood the ${own} Hz bot heard ${heard.join(', ') || 'nothing'}`);
  });
});

test('after the flood a new member joins and hears both members', { timeout: 40_000 }, async () => {
  assertAlive();
  const spaceUrl = stageUrl(server.url, server.spaceId, server.passes[TONES.length]);
  newcomer = new SpeakerBot({ spaceUrl, name: `tone ${NEWCOMER_HZ}`, program: { kind: 'tone', hz: NEWCOMER_HZ }, onAudio: newcomerRecorder.onAudio });
  bots.push(newcomer);
  await newcomer.start();
  await newcomer.connected();
  await waitFor(() => newcomerRecorder.tonesHeard([...TONES, NEWCOMER_HZ]).join() === TONES.join(), 15_000, 'the newcomer to hear both tones');
});

test('after the flood both members hear the new member', { timeout: 20_000 }, async () => {
  assert.ok(newcomer, 'the newcomer joined');
  await waitFor(() => recorders.every((r) => r.tonesHeard([...TONES, NEWCOMER_HZ]).includes(NEWCOMER_HZ)), 15_000, 'both members to hear the newcomer');
});
