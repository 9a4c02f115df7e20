/**
 * TRIBUNE_PUBLIC_CANDIDATES_ONLY on a real stage: a member's candidates at
 * loopback, private and link-local addresses are refused with
 * ICE_CANDIDATE_INVALID and the member stays connected; a public one is taken.
 */
import { after, before, test } from 'node:test';
import { configFromEnv } from '../../src/config.js';
import { RawStageClient, stageUrl } from '../helpers/raw-stage-client.js';
import { startTribune, type RunningTribune } from '../helpers/tribune.js';

let server: RunningTribune;

before(async () => {
  server = await startTribune({ sfu: { ...configFromEnv({ TRIBUNE_PUBLIC_CANDIDATES_ONLY: '1' }).sfu } });
});
after(() => server?.close());

test('with public candidates only, special-use addresses are refused and a public one is taken', async (t) => {
  const space = await server.createSpace('Public candidates');
  const client = await RawStageClient.open(stageUrl(server.url, space.space.id, space.hostToken));
  try {
    client.send({ type: 'join' });
    await client.next('welcome', 10_000);
    for (const address of ['127.0.0.1', '10.0.0.7', '192.168.1.4', '169.254.3.3', '::1', 'fd00::9']) {
      await t.test(`${address} gets ICE_CANDIDATE_INVALID`, async () => {
        client.send({ type: 'candidate', candidate: { candidate: `candidate:1 1 udp 2122260223 ${address} 50000 typ host`, sdpMid: '0' } });
        await client.expectError('ICE_CANDIDATE_INVALID', 2000);
        await client.roundTrip();
      });
    }
    await t.test('a public address is taken', async () => {
      client.send({ type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 2122260223 8.8.8.8 50000 typ host', sdpMid: '0' } });
      await client.roundTrip();
      await client.expectNoError();
    });
  } finally {
    client.close();
  }
});
