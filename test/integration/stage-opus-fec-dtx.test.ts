import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { sleep, startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';

let server: RunningTribune;
let bot: SpeakerBot | undefined;

before(async () => {
  server = await startTribune();
});
after(async () => {
  bot?.stop();
  await server.close();
});

/** Audio packets the router accepted from anyone in `ms`. */
async function packetsIn(spaceId: string, ms: number): Promise<number> {
  const router = server.tribune.spaces.get(spaceId).router;
  let count = 0;
  const count1 = (): void => void count++;
  router.on('audio', count1);
  await sleep(ms);
  router.off('audio', count1);
  return count;
}

test('Opus in-band FEC and DTX are negotiated both ways and DTX stops packets in silence', async () => {
  const created = await server.createSpace('FEC and DTX');
  bot = new SpeakerBot({ spaceUrl: created.stageUrl, name: 'dtx', program: { kind: 'tone', hz: 440 } });
  await bot.start();
  await bot.connected();
  const space = server.tribune.spaces.get(created.space.id);
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
