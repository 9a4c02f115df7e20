/**
 * Crash safety of recordings (issue 7): Tribune runs as its own process, a
 * recorded Space is live with a speaker, and a listener follows the LL-HLS
 * stream keeping a ledger of every part the origin served it. The process
 * is killed with SIGKILL the instant a part arrives. After a restart on the
 * same data directory the Space is interrupted and its replay holds every
 * part in the ledger, byte for byte, in a valid VOD playlist that ends
 * where the recording ends.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import type { CreatedSpace, ReplayView, SpaceView } from '../../src/wire/api.js';
import { TestAccount } from '../helpers/accounts.js';
import { LlHlsListener } from '../helpers/ll-hls-listener.js';
import { parsePlaylist, segmentsOf, type PartRef } from '../helpers/m3u8.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { decodeFile, toneRuns } from '../helpers/recording-fixture.js';
import { spawnTribune, type TribuneProcess } from '../helpers/tribune-process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'tribune-crash-'));
const secret = randomBytes(32).toString('hex');
const running: TribuneProcess[] = [];
let bot: SpeakerBot | undefined;

after(async () => {
  bot?.stop();
  for (const server of running) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

test('SIGKILL during a live recorded Space: after a restart the replay holds every part the origin served, and the Space is interrupted', async () => {
  const first = await spawnTribune(dataDir, secret);
  running.push(first);
  const host = await TestAccount.signUp(first.url, 'crash_host');
  const created = await host.bot<CreatedSpace>('POST', '/api/spaces', { title: 'Killed mid-sentence', record: true });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const spaceId = created.body.space.id;
  bot = new SpeakerBot({
    spaceUrl: stageUrl(first.url, spaceId, created.body.stagePass?.token),
    name: 'tones',
    program: { kind: 'sequence', steps: [{ hz: 440, seconds: 1 }, { hz: 660, seconds: 1 }] },
  });
  await bot.start();
  await bot.connected(15_000);

  // The ledger: every part the origin served this listener, in order.
  const ledger: { part: PartRef; bytes: Uint8Array }[] = [];
  let killedAfter = 0;
  const listener = new LlHlsListener(`${first.url}/hls/${spaceId}/live.m3u8`, 5_000, (part, bytes) => {
    ledger.push({ part, bytes });
    // Kill the instant a part lands, mid-segment, after a few segments: the
    // part was served, so it must be kept; the next one is likely in flight.
    if (killedAfter === 0 && ledger.length >= 10 && part.part !== 3) {
      killedAfter = ledger.length;
      first.child.kill('SIGKILL');
    }
  });
  await listener.start();
  await Promise.race([first.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('the listener never got 10 parts')), 40_000))]);
  await listener.stop();
  bot.stop();
  bot = undefined;
  assert.equal(killedAfter, ledger.length, 'nothing was served after the kill');

  // The same address, so the host's API token and links carry over.
  const second = await spawnTribune(dataDir, secret, Number(new URL(first.url).port));
  running.push(second);
  const space = await host.bot<{ space: SpaceView }>('GET', `/api/spaces/${spaceId}`);
  assert.equal(space.body.space.state, 'interrupted');
  const replay = await host.bot<{ replay: ReplayView }>('GET', `/api/spaces/${spaceId}/replay`);
  assert.equal(replay.status, 200, JSON.stringify(replay.body));
  assert.equal(replay.body.replay.state, 'ready');

  const playlistText = await fetch(`${second.url}/replay/${spaceId}/playlist.m3u8`).then((r) => r.text());
  assert.match(playlistText, /^#EXT-X-PLAYLIST-TYPE:VOD$/m);
  assert.match(playlistText, /#EXT-X-ENDLIST\s*$/);
  const segments = segmentsOf(parsePlaylist(playlistText));
  const msns = segments.map((s) => Number(/seg-(\d+)\.m4s$/.exec(s.uri ?? '')?.[1]));
  const total = segments.reduce((n, s) => n + (s.durationS ?? NaN), 0);
  assert.ok(Math.abs(total - replay.body.replay.durationS) < 0.01, `EXTINFs ${total} s, replay ${replay.body.replay.durationS} s`);

  // Every served part is in its segment, at its place, byte for byte.
  const served = new Map<number, Uint8Array[]>();
  for (const { part, bytes } of ledger) served.set(part.msn, [...(served.get(part.msn) ?? []), bytes]);
  const firstServed = ledger[0]!.part;
  for (const [msn, parts] of served) {
    assert.ok(msns.includes(msn), `segment ${msn}, served in part, is in the replay (replay has ${msns.join(',')})`);
    const kept = new Uint8Array(await (await fetch(`${second.url}/replay/${spaceId}/seg-${msn}.m4s`)).arrayBuffer());
    const servedBytes = concat(parts);
    // A segment the listener joined in the middle of holds its served parts at the end; any other, from its start.
    const at = indexOf(kept, servedBytes);
    assert.ok(at >= 0, `segment ${msn}: the ${parts.length} served parts are kept byte for byte`);
    if (msn !== firstServed.msn) assert.equal(at, 0, `segment ${msn}: the served parts start it`);
  }
  const lastServed = ledger.at(-1)!.part;
  assert.ok(msns.at(-1)! >= lastServed.msn, 'the replay reaches the last part served');

  // The replay decodes, and it is the speaker's tones.
  const ogg = new Uint8Array(await (await fetch(`${second.url}/replay/${spaceId}/download.ogg`)).arrayBuffer());
  const path = join(dataDir, 'crash.ogg');
  writeFileSync(path, ogg);
  const runs = toneRuns(await decodeFile(path), [440, 660]);
  assert.ok(runs.filter((r) => r.hz === 440).length >= 2 && runs.filter((r) => r.hz === 660).length >= 2, JSON.stringify(runs));
});

/** Where `needle` starts inside `haystack`, or -1. */
function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(Buffer.from(needle.buffer, needle.byteOffset, needle.byteLength));
}
