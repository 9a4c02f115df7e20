import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Space } from '../../src/control/space.js';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';

let server: RunningTribune;
let bot: SpeakerBot | undefined;
const others: SpeakerBot[] = [];

before(async () => {
  server = await startTribune();
});
after(async () => {
  bot?.stop();
  for (const other of others) other.stop();
  await server.close();
});

/** The live stage of a Space (router, members). */
async function stageOf(spaceId: string): Promise<Space> {
  const stage = (await server.tribune.spaces.get(spaceId)).stage;
  assert.ok(stage, `Space ${spaceId} has no live stage`);
  return stage;
}

/** Audio packets the router accepted from anyone in `ms`. */
async function packetsIn(spaceId: string, ms: number): Promise<number> {
  const router = (await stageOf(spaceId)).router;
  let count = 0;
  const count1 = (): void => void count++;
  router.on('audio', count1);
  await sleep(ms);
  router.off('audio', count1);
  return count;
}

test('Opus in-band FEC and DTX are negotiated both ways and DTX stops packets in silence', async () => {
  const created = await server.createSpace('FEC and DTX');
  bot = new SpeakerBot({ spaceUrl: stageUrl(server.url, created.space.id, await created.speakerPass('dtx')), name: 'dtx', program: { kind: 'tone', hz: 440 } });
  await bot.start();
  await bot.connected();
  const space = await stageOf(created.space.id);
  const member = space.memberViews()[0];
  assert.ok(member);
  const { local, remote } = space.router.peer(member.id)?.descriptions() ?? {};
  const opusPt = /^a=rtpmap:(\d+) opus\/48000\/2/m.exec(local ?? '')?.[1];
  assert.ok(opusPt, 'the offer carries Opus');
  assert.match(local ?? '', new RegExp(`^a=fmtp:${opusPt} .*useinbandfec=1`, 'm'));
  assert.match(local ?? '', new RegExp(`^a=fmtp:${opusPt} .*usedtx=1`, 'm'));
  const answeredPt = /^a=rtpmap:(\d+) opus\/48000\/2/m.exec(remote ?? '')?.[1];
  assert.ok(answeredPt, 'the answer accepts Opus');
  assert.match(remote ?? '', new RegExp(`^a=fmtp:${answeredPt} .*useinbandfec=1`, 'm'), 'the answerer asks for FEC too');

  await waitFor(() => space.memberViews().length === 1, 1000, 'member');
  const talking = await packetsIn(created.space.id, 2000);
  bot.setProgram({ kind: 'silence' });
  await sleep(1000);
  const silent = await packetsIn(created.space.id, 2000);
  // 20 ms frames: about 100 packets in 2 s of tone; DTX sends one every 400 ms in silence.
  assert.ok(talking >= 80, `a tone sends a packet every 20 ms (got ${talking} in 2 s)`);
  assert.ok(silent <= 20, `DTX keeps silence to a trickle (got ${silent} in 2 s)`);
});

/** Packets per member the router accepted in `ms`. */
async function packetsByMember(spaceId: string, ms: number): Promise<Map<string, number>> {
  const router = (await stageOf(spaceId)).router;
  const counts = new Map<string, number>();
  const count = (memberId: string): void => void counts.set(memberId, (counts.get(memberId) ?? 0) + 1);
  router.on('audio', count);
  await sleep(ms);
  router.off('audio', count);
  return counts;
}

test('regression: DTX stays on for members already on stage when someone joins (werift rebuilt offers without usedtx)', async () => {
  const created = await server.createSpace('DTX after renegotiation');
  for (const name of ['first', 'second', 'third']) {
    // Each member its own account: an account is on a stage once.
    const spaceUrl = stageUrl(server.url, created.space.id, await created.speakerPass(name));
    const member = new SpeakerBot({ spaceUrl, name, program: { kind: 'silence' } });
    others.push(member);
    await member.start();
    await member.connected();
  }
  const space = await stageOf(created.space.id);
  // Each join renegotiated the members before it; every offer they got must keep DTX.
  for (const member of space.memberViews()) {
    assert.match(space.router.peer(member.id)?.descriptions().local ?? '', /usedtx=1/, `${member.name}'s latest offer keeps usedtx=1`);
  }
  await sleep(1000);
  const counts = await packetsByMember(created.space.id, 2000);
  assert.equal(space.memberViews().length, 3);
  for (const member of space.memberViews()) {
    const packets = counts.get(member.id) ?? 0;
    assert.ok(packets <= 20, `${member.name} is silent and sent ${packets} packets in 2 s (DTX: about 5)`);
  }
});
