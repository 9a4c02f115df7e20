/**
 * Replays and clips end to end (issue 7): a recorded Space where the
 * speaker tool plays a known, looped tone sequence; after the end, ffmpeg
 * decodes the replay download and the VOD playlist, and the tones and their
 * timing must match the source within 100 ms. Clips, from the live Space
 * and from the replay, hold exactly their tones. Bad clip requests change
 * nothing; the host deletes; retention expires.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import type { ClipView, ReplayView, SpaceList } from '../../src/wire/api.js';
import type { ReplayTimeline } from '../../src/wire/replay.js';
import type { TestAccount } from '../helpers/accounts.js';
import { parsePlaylist, segmentsOf } from '../helpers/m3u8.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { decodeFile, probeFile, toneRuns, type ToneRun } from '../helpers/recording-fixture.js';
import { assertError, Visitor } from '../helpers/spaces-api.js';
import { sleep, startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

/** The sequence the speaker plays, looped: 5 s. */
const STEPS = [
  { hz: 440, seconds: 1.5 },
  { hz: 0, seconds: 0.5 },
  { hz: 660, seconds: 1 },
  { hz: 880, seconds: 2 },
];
const FREQUENCIES = [440, 660, 880];
const TOLERANCE_S = 0.1;

let server: RunningTribune;
let space: TestSpace;
let bot: SpeakerBot;
let listener: TestAccount;
let dir: string;
let liveClip: ClipView;

const fetchBytes = async (url: string): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> => {
  const response = await fetch(url);
  return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()), headers: response.headers };
};

async function decodeUrl(url: string, name: string): Promise<Int16Array> {
  const { status, bytes } = await fetchBytes(url);
  assert.equal(status, 200, `${url}`);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return decodeFile(path);
}

/**
 * The runs strictly inside the decoded audio (the first tone and the last
 * run are cut by where the speaker joined and the recording ended) must follow the source
 * sequence, each as long as its step within 100 ms.
 */
function assertFollowsSequence(runs: ToneRun[], what: string): void {
  // Before the speaker: silence, then the step it joined in the middle of; the last run is cut by the end.
  const firstTone = runs.findIndex((r) => r.hz !== 0);
  const inner = runs.slice(firstTone + 1, -1);
  assert.ok(inner.length >= STEPS.length, `${what}: ${inner.length} inner runs: ${JSON.stringify(runs)}`);
  const startStep = STEPS.findIndex((s) => s.hz === inner[0]?.hz);
  assert.ok(startStep >= 0, `${what}: first inner run ${inner[0]?.hz} Hz is not in the sequence`);
  inner.forEach((run, i) => {
    const step = STEPS[(startStep + i) % STEPS.length]!;
    assert.equal(run.hz, step.hz, `${what}: run ${i} is ${run.hz} Hz, the sequence has ${step.hz} Hz: ${JSON.stringify(runs)}`);
    const length = run.endS - run.startS;
    assert.ok(Math.abs(length - step.seconds) <= TOLERANCE_S, `${what}: run ${i} (${run.hz} Hz) lasts ${length.toFixed(3)} s, the source ${step.seconds} s: ${JSON.stringify(inner)}`);
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tribune-replays-test-'));
  server = await startTribune();
  space = await server.createSpace('Recorded Space — ünïcode', undefined, { record: true });
  assert.equal(space.space.recorded, true);
  listener = await server.account('listener');
  bot = new SpeakerBot({ spaceUrl: stageUrl(server.url, space.space.id, space.hostToken), name: 'tones', program: { kind: 'sequence', steps: STEPS } });
  await bot.start();
  await bot.connected(15_000);
});

after(async () => {
  bot?.stop();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a recorded Space', () => {
  test('while live: the replay says recording, its playlist is not ready, and a listener can clip the last seconds', async () => {
    await sleep(9_000);
    const replay = await listener.bot<{ replay: ReplayView }>('GET', `/api/spaces/${space.space.id}/replay`);
    assert.equal(replay.status, 200);
    assert.equal(replay.body.replay.state, 'recording');
    assert.ok(replay.body.replay.durationS >= 4, `recorded ${replay.body.replay.durationS} s so far`);
    assertError(await listener.bot('GET', `/replay/${space.space.id}/playlist.m3u8`), 409, 'REPLAY_NOT_READY');

    const endS = replay.body.replay.durationS;
    const cut = await listener.bot<{ clip: ClipView }>('POST', `/api/spaces/${space.space.id}/clips`, { startS: endS - 3, endS, title: 'live moment' });
    assert.equal(cut.status, 201, JSON.stringify(cut.body));
    liveClip = cut.body.clip;
    assert.ok(Math.abs(liveClip.durationS - 3) <= 0.02, `clip lasts ${liveClip.durationS} s`);
    assert.equal(liveClip.by?.username, listener.account.username);
    await sleep(4_000);
  });

  test('at the end the replay is ready at once: a VOD playlist of every segment, ending with EXT-X-ENDLIST', async () => {
    const ended = await space.host.bot('POST', `/api/spaces/${space.space.id}/end`, {});
    assert.equal(ended.status, 200);
    const replay = await listener.bot<{ replay: ReplayView }>('GET', `/api/spaces/${space.space.id}/replay`);
    assert.equal(replay.body.replay.state, 'ready');
    assert.ok(replay.body.replay.durationS >= 12, `replay lasts ${replay.body.replay.durationS} s`);
    assert.equal(replay.body.replay.lostParts, 0);
    const listed = await listener.bot<SpaceList>('GET', '/api/spaces');
    assert.ok(listed.body.replays.some((s) => s.id === space.space.id && s.recorded), 'the home page lists the replay');
    const mine = await space.host.bot<SpaceList>('GET', '/api/me/spaces');
    assert.deepEqual(mine.body.replays.map((s) => s.id), [space.space.id], "the host's dashboard lists it");

    const response = await fetch(replay.body.replay.links.playlist);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /mpegurl/);
    const text = await response.text();
    assert.match(text, /^#EXT-X-PLAYLIST-TYPE:VOD$/m);
    assert.match(text, /^#EXT-X-ENDLIST$/m);
    assert.match(text, /^#EXT-X-MAP:URI="init\.mp4"$/m);
    const segments = segmentsOf(parsePlaylist(text));
    const total = segments.reduce((sum, s) => sum + (s.durationS ?? NaN), 0);
    assert.ok(Math.abs(total - replay.body.replay.durationS) < 0.01, `EXTINFs sum to ${total}, the replay says ${replay.body.replay.durationS}`);
    for (const segment of segments) assert.ok((segment.durationS ?? NaN) <= 4.0005, `segment of ${segment.durationS} s`);
  });

  test('the download is Ogg Opus made by remuxing, and its tones follow the source sequence within 100 ms', async () => {
    const url = `${server.url}/replay/${space.space.id}/download.ogg`;
    const { headers } = await fetchBytes(url);
    assert.match(headers.get('content-disposition') ?? '', /^attachment; filename="Recorded Space .*\.ogg"; filename\*=UTF-8''/);
    const pcm = await decodeUrl(url, 'replay.ogg');
    const probe = await probeFile(join(dir, 'replay.ogg'));
    assert.equal(probe.format.format_name, 'ogg');
    assert.equal(probe.streams[0]?.codec_name, 'opus');
    assertFollowsSequence(toneRuns(pcm, FREQUENCIES), 'download');

    // Byte ranges (Safari needs them to play a file; a broken download resumes).
    const whole = (await fetchBytes(url)).bytes;
    assert.equal(headers.get('accept-ranges'), 'bytes');
    const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${whole.byteLength}`);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), whole.subarray(100, 200));
    const tail = await fetch(url, { headers: { range: 'bytes=-50' } });
    assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), whole.subarray(whole.byteLength - 50));
    const past = await fetch(url, { headers: { range: `bytes=${whole.byteLength}-` } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${whole.byteLength}`);
    assert.equal(((await past.json()) as { error: { code: string } }).error.code, 'RANGE_NOT_SATISFIABLE');
  });

  test('ffmpeg plays the VOD playlist over HTTP with the same tones', async () => {
    const pcm = await decodeUrl(`${server.url}/replay/${space.space.id}/playlist.m3u8`, 'unused').catch(() => undefined);
    void pcm; // the playlist itself is text: ffmpeg must read it over HTTP, not from a file
    const path = join(dir, 'from-playlist.wav');
    const { spawn } = await import('node:child_process');
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ffmpeg', ['-nostdin', '-v', 'error', '-i', `${server.url}/replay/${space.space.id}/playlist.m3u8`, '-ac', '1', '-ar', '48000', '-y', path]);
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`ffmpeg exited with ${code}`));
      });
    });
    assertFollowsSequence(toneRuns(await decodeFile(path), FREQUENCIES), 'VOD playlist');
  });

  test('the timeline says who was on stage and who talked, by replay time', async () => {
    const { status, bytes } = await fetchBytes(`${server.url}/replay/${space.space.id}/timeline.json`);
    assert.equal(status, 200);
    const timeline = JSON.parse(new TextDecoder().decode(bytes)) as ReplayTimeline;
    assert.equal(timeline.stage[0]?.t, 0);
    assert.ok(timeline.stage.some((s) => s.members.some((m) => m.username === space.host.account.username)), 'the host is on stage');
    assert.ok(timeline.stage.some((s) => s.speaking.length > 0), 'someone talks at some point');
    for (const mark of timeline.stage) assert.ok(mark.t >= 0 && mark.t <= timeline.durationS);
  });

  test('the clip cut while live holds exactly its tones and plays as one .mp4 file', async () => {
    const pcm = await decodeUrl(liveClip.links.file, 'live-clip.mp4');
    assert.ok(Math.abs(pcm.length / 48_000 - liveClip.durationS) <= 0.03, `decoded ${pcm.length / 48_000} s`);
    const probe = await probeFile(join(dir, 'live-clip.mp4'));
    assert.equal(probe.streams[0]?.codec_name, 'opus');
    // Where the clip sits in the replay says which tones it must hold.
    const replayPcm = await decodeFile(join(dir, 'replay.ogg'));
    const from = Math.round(liveClip.startS * 48_000);
    const expected = toneRuns(replayPcm.subarray(from, from + pcm.length), FREQUENCIES);
    const got = toneRuns(pcm, FREQUENCIES);
    assert.deepEqual(got.map((r) => r.hz), expected.map((r) => r.hz), `clip ${JSON.stringify(got)} vs replay ${JSON.stringify(expected)}`);
    got.forEach((run, i) => assert.ok(Math.abs(run.startS - expected[i]!.startS) <= TOLERANCE_S, `run ${i} starts at ${run.startS}, in the replay at ${expected[i]!.startS}`));
  });

  test('a clip of the replay from a 440 Hz onset holds 440, silence, 660 at the source timing', async () => {
    const runs = toneRuns(await decodeFile(join(dir, 'replay.ogg')), FREQUENCIES);
    const onset = runs.find((r, i) => i > 0 && r.startS >= 0.5 && r.hz === 440 && runs[i + 1]?.hz === 0 && runs[i + 2]?.hz === 660);
    assert.ok(onset, 'a 440 Hz onset with silence and 660 Hz after it');
    const startS = Math.round((onset.startS - 0.5) * 1000) / 1000;
    const cut = await listener.bot<{ clip: ClipView }>('POST', `/api/spaces/${space.space.id}/clips`, { startS, endS: startS + 3.5 });
    assert.equal(cut.status, 201, JSON.stringify(cut.body));
    assert.ok(Math.abs(cut.body.clip.startS - startS) <= 0.02);
    const got = toneRuns(await decodeUrl(cut.body.clip.links.file, 'replay-clip.mp4'), FREQUENCIES);
    // 0.5 s of what came before (880 Hz), 440 for 1.5 s, silence 0.5 s, 660 for 1 s.
    assert.deepEqual(got.map((r) => r.hz), [880, 440, 0, 660], JSON.stringify(got));
    const want = [0, 0.5, 2.0, 2.5];
    got.forEach((run, i) => assert.ok(Math.abs(run.startS - want[i]!) <= TOLERANCE_S, `run ${i} (${run.hz} Hz) starts at ${run.startS} s, want ${want[i]} s`));

    const page = await listener.bot<{ clip: ClipView }>('GET', `/api/clips/${cut.body.clip.id}`);
    assert.equal(page.status, 200);
    const playlist = await fetch(cut.body.clip.links.playlist).then((r) => r.text());
    assert.match(playlist, /#EXT-X-PLAYLIST-TYPE:VOD[\s\S]*clip\.m4s[\s\S]*#EXT-X-ENDLIST/);
    const list = await listener.bot<{ clips: ClipView[] }>('GET', `/api/spaces/${space.space.id}/clips`);
    assert.deepEqual(list.body.clips.map((c) => c.id).sort(), [liveClip.id, cut.body.clip.id].sort());
  });

  test('bad clip requests get clear errors and write nothing', async () => {
    const path = `/api/spaces/${space.space.id}/clips`;
    const before = await server.tribune.replays.storage.list('clips/');
    assertError(await listener.bot('POST', path, { startS: 0, endS: 31 }), 400, 'CLIP_TOO_LONG');
    assertError(await listener.bot('POST', path, { startS: -1, endS: 2 }), 400, 'CLIP_RANGE');
    assertError(await listener.bot('POST', path, { startS: 5, endS: 5 }), 400, 'CLIP_RANGE');
    assertError(await listener.bot('POST', path, { startS: 6, endS: 4 }), 400, 'CLIP_RANGE');
    assertError(await listener.bot('POST', path, { startS: 3600, endS: 3610 }), 400, 'CLIP_RANGE');
    assertError(await listener.bot('POST', path, { startS: 1, endS: 2, extra: true }), 400, 'VALIDATION_FAILED');
    assertError(await listener.bot('POST', path, { startS: '1', endS: 2 }), 400, 'VALIDATION_FAILED');
    // A signed-out page has a CSRF token like any other (GET /api/session), but no account.
    const visitor = await Visitor.arrive(server.url);
    assertError(await visitor.call('POST', path, { startS: 1, endS: 2 }), 401, 'SIGN_IN_REQUIRED');
    const unrecorded = await server.createSpace('Not recorded');
    assertError(await listener.bot('POST', `/api/spaces/${unrecorded.space.id}/clips`, { startS: 0, endS: 1 }), 409, 'NOT_RECORDED');
    assertError(await listener.bot('GET', `/api/spaces/${unrecorded.space.id}/replay`), 409, 'NOT_RECORDED');
    assertError(await listener.bot('POST', '/api/spaces/zzzzzzzzzzzzzz/clips', { startS: 0, endS: 1 }), 404, 'SPACE_NOT_FOUND');
    assertError(await listener.bot('GET', `/replay/${space.space.id}/seg-99999999.m4s`), 404, 'REPLAY_NOT_FOUND');
    assertError(await listener.bot('GET', `/replay/${space.space.id}/..%2Fmanifest.json`), 404, 'REPLAY_NOT_FOUND');
    await unrecorded.host.bot('POST', `/api/spaces/${unrecorded.space.id}/end`, {});
    assert.deepEqual(await server.tribune.replays.storage.list('clips/'), before, 'no clip object was written');
    const list = await listener.bot<{ clips: ClipView[] }>('GET', `/api/spaces/${space.space.id}/clips`);
    assert.equal(list.body.clips.length, 2, 'no clip row was written');
  });

  test('only the host deletes the replay; its media and clips go with it', async () => {
    const path = `/api/spaces/${space.space.id}/replay`;
    assertError(await listener.bot('DELETE', path), 403, 'NOT_HOST');
    const clips = await listener.bot<{ clips: ClipView[] }>('GET', `/api/spaces/${space.space.id}/clips`);
    assertError(await (await server.account()).bot('DELETE', `/api/clips/${clips.body.clips[0]!.id}`), 403, 'NOT_CLIP_OWNER');
    assert.equal((await space.host.bot('DELETE', path)).status, 200);
    const replay = await listener.bot<{ replay: ReplayView }>('GET', path);
    assert.equal(replay.body.replay.state, 'deleted');
    assertError(await listener.bot('GET', `/replay/${space.space.id}/playlist.m3u8`), 410, 'REPLAY_GONE');
    assertError(await listener.bot('GET', `/api/clips/${liveClip.id}`), 410, 'CLIP_GONE');
    assertError(await space.host.bot('DELETE', path), 410, 'REPLAY_GONE');
    assert.deepEqual(await server.tribune.replays.storage.list(`spaces/${space.space.id}/`), []);
    assert.deepEqual(await server.tribune.replays.storage.list('clips/'), []);
    const listed = await listener.bot<SpaceList>('GET', '/api/spaces');
    assert.ok(!listed.body.replays.some((s) => s.id === space.space.id), 'a deleted replay is no longer listed');
  });
});

describe('retention', () => {
  test('a replay and its clips expire after the configured retention', async () => {
    const short = await server.createSpace('Short-lived', undefined, { record: true });
    const shortBot = new SpeakerBot({ spaceUrl: stageUrl(server.url, short.space.id, short.hostToken), name: 'tone', program: { kind: 'tone', hz: 440 } });
    try {
      await shortBot.start();
      await shortBot.connected(15_000);
      await sleep(3_000);
    } finally {
      shortBot.stop();
    }
    await short.host.bot('POST', `/api/spaces/${short.space.id}/end`, {});
    const clipper = await server.account();
    const cut = await clipper.bot<{ clip: ClipView }>('POST', `/api/spaces/${short.space.id}/clips`, { startS: 0, endS: 1 });
    assert.equal(cut.status, 201, JSON.stringify(cut.body));
    assert.deepEqual(await server.tribune.replays.sweep(Date.now()), { replays: 0, clips: 0 }, 'nothing expires before its time');
    // Replays are kept 30 days by default, clips 90: a shared clip outlives its replay.
    assert.deepEqual(await server.tribune.replays.sweep(Date.now() + 31 * 86_400_000), { replays: 1, clips: 0 });
    const replay = await listener.bot<{ replay: ReplayView }>('GET', `/api/spaces/${short.space.id}/replay`);
    assert.equal(replay.body.replay.state, 'expired');
    assertError(await listener.bot('GET', `/replay/${short.space.id}/playlist.m3u8`), 410, 'REPLAY_GONE');
    assert.deepEqual(await server.tribune.replays.storage.list(`spaces/${short.space.id}/`), []);
    assert.equal((await fetch(cut.body.clip.links.file)).status, 200, 'the clip still plays');
    assert.deepEqual(await server.tribune.replays.sweep(Date.now() + 91 * 86_400_000), { replays: 0, clips: 1 });
    assertError(await listener.bot('GET', `/api/clips/${cut.body.clip.id}`), 410, 'CLIP_GONE');
    assert.deepEqual(await server.tribune.replays.storage.list(`clips/${cut.body.clip.id}/`), []);
  });
});
