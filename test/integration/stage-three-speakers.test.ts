import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { AudioRecorder } from '../helpers/audio-recorder.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, startTribune, waitFor, type RunningTribune } from '../helpers/tribune.js';

const TONES = [440, 660, 880];
let server: RunningTribune;
const bots: SpeakerBot[] = [];

before(async () => {
  server = await startTribune();
});
after(async () => {
  for (const bot of bots) bot.stop();
  await server.close();
});

test('three stage members each hear exactly the other two tones and not their own', async () => {
  const created = await server.createSpace('Three tones');
  const recorders = TONES.map(() => new AudioRecorder());
  // Three accepted speakers, each its own account with its own stage pass.
  for (const [i, hz] of TONES.entries()) {
    const spaceUrl = stageUrl(server.url, created.space.id, await created.speakerPass(`tone ${hz}`));
    bots.push(new SpeakerBot({ spaceUrl, name: `tone ${hz}`, program: { kind: 'tone', hz }, onAudio: recorders[i]!.onAudio }));
  }
  for (const bot of bots) await bot.start();
  await Promise.all(bots.map((bot) => bot.connected()));
  await waitFor(() => recorders.every((r) => r.tonesHeard(TONES).length >= 2), 15_000, 'every member to hear two tones');
  await sleep(1500);
  TONES.forEach((own, i) => {
    const heard = recorders[i]!.tonesHeard(TONES);
    assert.deepEqual(heard, TONES.filter((hz) => hz !== own), `member with ${own} Hz heard ${heard.join(', ')}`);
  });
});
