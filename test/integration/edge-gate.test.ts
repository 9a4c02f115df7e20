/**
 * The edge's gate (src/edge/njs/tribune-gate.js) in front of a real origin:
 * requests whose answer the edge can know are answered there, and none of
 * them reaches the origin; what a real player asks for still passes and
 * plays. The origin counts every request it reads, split by whether it came
 * for a client (X-Forwarded-For set by the edge) or was the edge's own read
 * of the live state.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { IncomingMessage } from 'node:http';
import { after, before, test } from 'node:test';
import { parseMediaPlaylist } from '../../bench/ll-hls-crowd.js';
import { stagePassKeys } from '../../src/control/stage-tokens.js';
import { nginxInstalled, startNginxEdge, type RunningEdge } from '../../src/edge/nginx-process.js';
import { PARTS_PER_SEGMENT } from '../../src/hls/hls-types.js';
import { freePort } from '../../src/tools/free-port.js';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { RawStageClient, stageUrl } from '../helpers/raw-stage-client.js';
import { joinStage } from '../helpers/spaces-api.js';
import { sleep, startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

let server: RunningTribune;
let edge: RunningEdge;
let space: TestSpace;
let bot: SpeakerBot;
let edgeSecret: string;
/** What the origin read: for clients (through the edge, with their address) and the edge's own reads. */
const origin = { forClients: [] as string[], edgeOwn: [] as string[] };

before(async () => {
  assert.ok(nginxInstalled(), 'nginx and libnginx-mod-http-js are not installed: the test command installs them from Debian’s packages');
  edgeSecret = randomBytes(24).toString('hex');
  server = await startTribune({ edgeSecret });
  const count = (request: IncomingMessage): void => {
    (request.headers['x-forwarded-for'] === undefined ? origin.edgeOwn : origin.forClients).push(request.url ?? '');
  };
  server.tribune.app.server.on('request', count);
  server.tribune.app.server.on('upgrade', count);
  space = await server.createSpace('Behind the gate', undefined, { record: true });
  bot = new SpeakerBot({ spaceUrl: stageUrl(server.url, space.space.id, space.hostToken), name: 'tone', program: { kind: 'tone', hz: 440 } });
  await bot.start();
  await bot.connected(15_000);
  edge = await startNginxEdge({ port: await freePort(), origin: `127.0.0.1:${new URL(server.url).port}`, edgeSecret, idKey: server.tribune.idKey, stagePassKey: server.tribune.stagePassKey, unlimited: ['127.0.0.0/8'] });
  // Until the playlist lists two complete segments.
  const deadline = Date.now() + 30_000;
  while ((await livePlaylist()).lastSeq < 2 * PARTS_PER_SEGMENT + 1) {
    if (Date.now() > deadline) throw new Error('the stream did not get two segments in 30 s');
    await sleep(500);
  }
});

after(async () => {
  bot?.stop();
  await edge?.stop();
  await server?.close();
});

const hls = (path: string): string => `/hls/${space.space.id}/${path}`;

async function livePlaylist(): Promise<ReturnType<typeof parseMediaPlaylist>> {
  const answer = await fetch(`${edge.url}${hls('live.m3u8')}`);
  assert.equal(answer.status, 200);
  return parseMediaPlaylist(await answer.text());
}

async function get(path: string): Promise<{ status: number; code: string | undefined; text: string; cacheControl: string | null }> {
  const answer = await fetch(edge.url + path);
  const text = await answer.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: answer.status, code, text, cacheControl: answer.headers.get('cache-control') };
}

/** Runs `probe` and returns the client requests the origin read meanwhile. */
async function reachingOrigin(probe: () => Promise<void>): Promise<string[]> {
  const from = origin.forClients.length;
  await probe();
  // Let an in-flight request land in the count.
  await sleep(200);
  return origin.forClients.slice(from);
}

test('LL-HLS directives, part and segment names out of the live window are answered by the edge', async () => {
  const live = await livePlaylist();
  const head = { msn: Math.floor(live.lastSeq / PARTS_PER_SEGMENT), part: live.lastSeq % PARTS_PER_SEGMENT };
  const answers: Record<string, string> = {};
  const reached = await reachingOrigin(async () => {
    // Many values, each a new cache key: none of them may become an origin request.
    for (let i = 0; i < 20; i++) {
      const far = head.msn + 3 + i * 1000 + Math.floor(Math.random() * 900);
      const tooFar = await get(hls(`live.m3u8?_HLS_msn=${far}&_HLS_part=${i % 4}`));
      answers.tooFar = `${tooFar.status} ${tooFar.code}`;
      const partFar = await get(hls(`part/${head.msn + 2 + i}.${i % 4}.m4s`));
      answers.partFar = `${partFar.status} ${partFar.code}`;
      const segFar = await get(hls(`seg/${head.msn + 2 + i * 7}.m4s`));
      answers.segFar = `${segFar.status} ${segFar.code}`;
      const partIndex = await get(hls(`part/${head.msn}.${4 + (i % 90)}.m4s`));
      answers.partIndex = `${partIndex.status} ${partIndex.code}`;
    }
  });
  assert.deepEqual(answers, { tooFar: '400 HLS_MSN_TOO_FAR', partFar: '404 HLS_NOT_FOUND', segFar: '404 HLS_NOT_FOUND', partIndex: '404 HLS_NOT_FOUND' });
  assert.deepEqual(reached, [], 'no client request reached the origin');
});

test('a blocking reload for a part already published is answered by the edge with a playlist that has it', async () => {
  const live = await livePlaylist();
  const head = { msn: Math.floor(live.lastSeq / PARTS_PER_SEGMENT), part: live.lastSeq % PARTS_PER_SEGMENT };
  const playlists: ReturnType<typeof parseMediaPlaylist>[] = [];
  const reached = await reachingOrigin(async () => {
    for (let msn = 0; msn <= head.msn; msn++) {
      for (let part = 0; part < PARTS_PER_SEGMENT; part++) {
        if (msn === head.msn && part > head.part) break;
        const answer = await get(hls(`live.m3u8?_HLS_msn=${msn}&_HLS_part=${part}&_HLS_skip=YES`));
        assert.equal(answer.status, 200, `${msn}.${part}: ${answer.text}`);
        assert.match(answer.cacheControl ?? '', /max-age=1/);
        playlists.push(parseMediaPlaylist(answer.text));
      }
    }
  });
  assert.ok(playlists.length >= 2 * PARTS_PER_SEGMENT);
  for (const playlist of playlists) assert.ok(playlist.lastSeq >= live.lastSeq, 'each answer holds the part asked for');
  assert.deepEqual(reached, [], 'no client request reached the origin');
});

test('what a player asks next still goes to the origin and is held until it exists', async () => {
  const live = await livePlaylist();
  const next = live.lastSeq + 1;
  const [msn, part] = [Math.floor(next / PARTS_PER_SEGMENT), next % PARTS_PER_SEGMENT];
  const startedAt = Date.now();
  let playlist: Awaited<ReturnType<typeof get>> | undefined;
  let media: Response | undefined;
  const reached = await reachingOrigin(async () => {
    [playlist, media] = await Promise.all([get(hls(`live.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`)), fetch(`${edge.url}${hls(`part/${msn}.${part}.m4s`)}`)]);
  });
  assert.ok(playlist && media);
  // (The counting sees client requests: these two reached the origin, once each.)
  assert.deepEqual(reached.sort(), [hls(`live.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`), hls(`part/${msn}.${part}.m4s`)].sort());
  assert.equal(playlist.status, 200);
  assert.ok(parseMediaPlaylist(playlist.text).lastSeq >= next, 'the playlist holds the next part');
  assert.equal(media.status, 200);
  assert.ok((await media.arrayBuffer()).byteLength > 100, 'the next part has audio');
  assert.ok(Date.now() - startedAt < 5_000);
});

test('feed versions: an old one and one past any version are answered by the edge; the current one is held at the origin', async () => {
  const current = JSON.parse((await get(`/api/spaces/${space.space.id}/feed`)).text) as { version: number };
  const reached = await reachingOrigin(async () => {
    for (let i = 0; i < 20; i++) {
      const old = await get(`/api/spaces/${space.space.id}/feed?v=${current.version - 1 - i * 37}`);
      assert.equal(old.status, 200);
      assert.ok((JSON.parse(old.text) as { version: number }).version >= current.version, 'an old version is answered with the current one');
      const ahead = await get(`/api/spaces/${space.space.id}/feed?v=${current.version + 10_000_000 + i}`);
      assert.equal(ahead.status, 200);
      assert.ok((JSON.parse(ahead.text) as { version: number }).version >= current.version);
      assert.equal(ahead.cacheControl, 'no-store', 'an answer for a version that does not exist is not kept');
    }
  });
  assert.deepEqual(reached, [], 'no client request reached the origin');
  // The version the client has: held at the origin until the next one (reactions make one).
  const held = fetch(`${edge.url}/api/spaces/${space.space.id}/feed?v=${current.version}`);
  const listener = await server.account();
  await listener.bot('POST', `/api/spaces/${space.space.id}/reactions`, { emoji: '👏' });
  const answer = await held;
  assert.equal(answer.status, 200);
  assert.ok(((await answer.json()) as { version: number }).version > current.version);
});

test('a listener holding a version newer than the edge\'s copies of the feed is never answered with an older one', async () => {
  const listener = await server.account();
  const feedPath = `/api/spaces/${space.space.id}/feed`;
  /** The origin's current version, asked of the origin itself (as an edge would). */
  const originVersion = async (): Promise<number> =>
    ((await (await fetch(`${server.url}${feedPath}`, { headers: { 'x-tribune-edge': edgeSecret } })).json()) as { version: number }).version;
  /** A reaction, then until the feed has a version after `than` (reactions go out once a second). */
  const react = async (than: number): Promise<void> => {
    await listener.bot('POST', `/api/spaces/${space.space.id}/reactions`, { emoji: '👏' });
    const deadline = Date.now() + 5_000;
    while ((await originVersion()) <= than && Date.now() < deadline) await sleep(50);
  };
  for (let round = 0; round < 3; round++) {
    // The edge reads the feed (its copies now hold this version for up to a second) ...
    const before = await originVersion();
    await get(`${feedPath}?v=${before - 1}`);
    await get(`${feedPath}?v=${before + 1}`);
    // ... then the Space moves on, and a listener who has the newest version asks after it.
    await react(before);
    const newest = await originVersion();
    assert.ok(newest > before);
    const held = fetch(`${edge.url}${feedPath}?v=${newest}`);
    await sleep(200);
    await react(newest);
    const answer = (await (await held).json()) as { version: number };
    assert.ok(answer.version > newest, `round ${round}: asked after ${newest}, got ${answer.version}`);
  }
});

test('made-up ids stop at the edge on every route; the edge reads the live state at most about once a second per kind', async () => {
  const madeUp = `${space.space.id.slice(0, 10)}${space.space.id.slice(10) === 'aaaa' ? 'bbbb' : 'aaaa'}`;
  const statuses = new Set<string>();
  const ownBefore = origin.edgeOwn.length;
  const startedAt = Date.now();
  const reached = await reachingOrigin(async () => {
    for (const path of [
      `/hls/${madeUp}/live.m3u8?_HLS_msn=1&_HLS_part=0`,
      `/hls/${madeUp}/init.mp4`,
      `/api/spaces/${madeUp}/feed?v=1`,
      `/api/spaces/${madeUp}`,
      `/replay/${madeUp}/playlist.m3u8`,
      `/s/${madeUp}`,
      `/api/nothing/here`,
      `/nothing`,
    ]) {
      const answer = await get(path);
      statuses.add(`${path.split('/')[1]} ${answer.status} ${answer.code ?? ''}`.trim());
    }
  });
  assert.deepEqual(reached, []);
  assert.deepEqual([...statuses].sort(), ['api 404 ROUTE_NOT_FOUND', 'api 404 SPACE_NOT_FOUND', 'hls 404 SPACE_NOT_FOUND', 'nothing 404 ROUTE_NOT_FOUND', 'replay 404 SPACE_NOT_FOUND', 's 404'].sort());
  const own = origin.edgeOwn.slice(ownBefore);
  assert.ok(own.length <= 3 * (Math.ceil((Date.now() - startedAt) / 1000) + 1), `the edge's own reads: ${own.join(', ')}`);
});

test('stage passes are checked at the edge: forged, tampered, another Space\'s and garbage stop there; a real one opens the stage through it', async () => {
  const other = await server.createSpace('Another stage');
  const [head, payload] = other.hostToken.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: space.space.id })).toString('base64url')}.${other.hostToken.split('.')[2]}`;
  const forged = await new SignJWT({ acc: space.host.id }).setProtectedHeader({ alg: 'ES256' }).setIssuer('tribune').setAudience('stage').setSubject(space.space.id).setIssuedAt().setExpirationTime('10m').sign(stagePassKeys(randomBytes(32)).privateKey);
  const outcomes: Record<string, string> = {};
  const reached = await reachingOrigin(async () => {
    for (const [name, token] of [['forged', forged], ['tampered', tampered], ['another Space\'s', other.hostToken], ['garbage', 'x'.repeat(300)], ['none', undefined]] as const) {
      const refused = await RawStageClient.refused(stageUrl(edge.url, space.space.id, token));
      outcomes[name] = `${refused.status} ${refused.body.error?.code}`;
    }
  });
  assert.deepEqual(outcomes, { forged: '401 TOKEN_INVALID', tampered: '401 TOKEN_INVALID', "another Space's": '403 TOKEN_WRONG_SPACE', garbage: '401 TOKEN_INVALID', none: '401 TOKEN_MISSING' });
  assert.deepEqual(reached, [], 'no upgrade reached the origin');
  const { client, welcome } = await joinStage(edge.url, other.space.id, other.hostToken);
  try {
    assert.equal(welcome.type, 'welcome', 'the host of the other Space is on its stage, through the edge');
  } finally {
    client.close();
  }
});

test('after the end: a replay segment past the replay is answered by the edge; the replay plays through it', async () => {
  bot.stop();
  await space.host.bot('POST', `/api/spaces/${space.space.id}/end`, {});
  const deadline = Date.now() + 20_000;
  let playlist = await get(`/replay/${space.space.id}/playlist.m3u8`);
  while (playlist.status !== 200 && Date.now() < deadline) {
    await sleep(500);
    playlist = await get(`/replay/${space.space.id}/playlist.m3u8`);
  }
  assert.equal(playlist.status, 200, playlist.text);
  const segments = playlist.text.split('\n').filter((line) => line.startsWith('seg-'));
  assert.ok(segments.length >= 2);
  const reached = await reachingOrigin(async () => {
    for (let i = 0; i < 20; i++) {
      const past = await get(`/replay/${space.space.id}/seg-${segments.length + i * 13}.m4s`);
      assert.equal(`${past.status} ${past.code}`, '404 REPLAY_NOT_FOUND');
    }
  });
  assert.deepEqual(reached, []);
  const first = await fetch(`${edge.url}/replay/${space.space.id}/${segments[0]}`);
  assert.equal(first.status, 200);
  assert.ok((await first.arrayBuffer()).byteLength > 1000);
});
