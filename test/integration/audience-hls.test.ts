/**
 * The audience stream read back by clients we did not write: ffmpeg over
 * HTTP and Shaka Player in Chromium hear both speakers' tones, and the
 * playlist, read with a strict parser, carries the LL-HLS tags of RFC
 * 8216bis and ends with EXT-X-ENDLIST when the host ends the Space.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { captureHls, probeDurationS, scanGaps, tonesPerSecond } from '../helpers/ffmpeg-capture.js';
import { llHlsViolations } from '../helpers/ll-hls-rules.js';
import { completeSegments, dateTimeMismatches, hintedPart, listedParts, parsePlaylist, segmentsOf, type MediaPlaylist } from '../helpers/m3u8.js';
import { tonesFromMediaElement } from '../helpers/media-element-tones.js';
import { startShakaPageServer, type ShakaPageServer, type ShakaReport } from '../helpers/shaka-page.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { sleep, startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';

const TONES = [440, 660];
let server: RunningTribune;
let created: TestSpace;
const bots: SpeakerBot[] = [];
let browser: Browser | undefined;
let pageServer: ShakaPageServer | undefined;
/** When both bots' audio started to flow, in ms since the epoch. */
let bothOnStageAt = 0;

const hls = (path: string): string => `${server.url}/hls/${created.space.id}/${path}`;

async function fetchPlaylist(query = '', timeoutMs = 5000): Promise<{ status: number; text: string; elapsedMs: number; headers: Headers }> {
  const startedAt = performance.now();
  const response = await fetch(hls(`live.m3u8${query}`), { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  return { status: response.status, text, elapsedMs: performance.now() - startedAt, headers: response.headers };
}

/** Polls the playlist until `predicate` holds for its parsed form. */
async function playlistWhere(predicate: (playlist: MediaPlaylist) => boolean, timeoutMs: number, what: string): Promise<MediaPlaylist> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status, text } = await fetchPlaylist();
    if (status === 200) {
      const playlist = parsePlaylist(text);
      if (predicate(playlist)) return playlist;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

before(async () => {
  server = await startTribune();
  created = await server.createSpace('Audience HLS');
  for (const hz of TONES) {
    const spaceUrl = stageUrl(server.url, created.space.id, await created.speakerPass(`tone ${hz}`));
    bots.push(new SpeakerBot({ spaceUrl, name: `tone ${hz}`, program: { kind: 'tone', hz } }));
  }
  await Promise.all(bots.map((bot) => bot.start()));
  await Promise.all(bots.map((bot) => bot.connected(15_000)));
  bothOnStageAt = Date.now();
});

after(async () => {
  for (const bot of bots) bot.stop();
  await browser?.close().catch(() => undefined);
  await pageServer?.close();
  await server?.close();
});

test('ffmpeg, reading the live playlist over HTTP, decodes both tones with no gap over 100 ms', { timeout: 45_000 }, async () => {
  // With -live_start_index -1 ffmpeg starts at the newest complete segment:
  // wait for one that begins after both bots were on stage, so every second it decodes has both tones.
  const startsAfterJoin = (p: MediaPlaylist): boolean => {
    const newestComplete = segmentsOf(p).filter((segment) => segment.durationS !== undefined).at(-1);
    return newestComplete?.startMs !== undefined && newestComplete.startMs >= bothOnStageAt + 200;
  };
  await playlistWhere(startsAfterJoin, 20_000, 'a complete segment that starts after both bots joined');
  const capture = await captureHls(hls('live.m3u8'), 8, 30_000, ['-live_start_index', '-1']);
  assert.equal(capture.exitCode, 0, `ffmpeg failed: ${capture.stderr}`);
  const seconds = capture.samples.length / 48_000;
  assert.ok(seconds >= 7.9, `ffmpeg decoded ${seconds.toFixed(3)} s of the 8 s asked for`);

  const windows = tonesPerSecond(capture.samples, TONES, 1);
  assert.ok(windows.length >= 6, `only ${windows.length} whole seconds after the first`);
  for (const window of windows) assert.deepEqual(window.tones, TONES, `second ${window.startS}: heard ${window.tones.join(', ') || 'nothing'}`);

  const gaps = scanGaps(capture.samples, TONES, 1);
  assert.ok(
    gaps.longestRunBlocks <= 10,
    `a gap of ${gaps.longestRunBlocks * 10} ms (silent or a tone missing) at ${gaps.longestRunAtS.toFixed(2)} s of the capture`,
  );
});

test('Shaka Player in Chromium, on another origin, plays master.m3u8 in low-latency mode with both tones', { timeout: 60_000 }, async (t) => {
  pageServer = await startShakaPageServer();
  browser = await launchChromium();
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(pageServer.pageUrl(hls('master.m3u8')), { timeout: 15_000 });
  await page
    .waitForFunction(() => {
      const state = (window as unknown as { shakaReport: ShakaReport }).shakaReport.state;
      return state !== 'loading' && state !== 'loaded';
    }, undefined, { timeout: 20_000 })
    .catch(() => undefined);
  const report = () => page.evaluate(() => (window as unknown as { shakaReport: ShakaReport }).shakaReport);
  const started = await report();
  assert.equal(started.state, 'playing', `Shaka did not play: ${JSON.stringify({ ...started, requests: started.requests.slice(-10) })}; page errors: ${pageErrors.join(' | ')}`);
  assert.ok(started.lowLatencyMode, 'Shaka took lowLatencyMode');

  // Let the buffer settle, then listen for 3 s.
  await page.waitForFunction(() => (document.querySelector('#player') as HTMLMediaElement).currentTime > 1, undefined, { timeout: 15_000 });
  const heard = await tonesFromMediaElement(page, '#player', TONES, 3000);
  const line = `heard over ${heard.blocks} blocks (${heard.via}): ${TONES.map((hz) => `${hz} Hz in ${heard.hits[hz]}`).join(', ')}; silent ${heard.silentBlocks}`;
  t.diagnostic(line);
  await page.evaluate((text) => ((window as unknown as { toneLine: string }).toneLine = text), line);
  await sleep(300);
  await screenshot(page, 'shaka-listener');

  const finished = await report();
  assert.deepEqual(finished.errors, [], `Shaka reported errors; page errors: ${pageErrors.join(' | ')}`);
  assert.ok(heard.currentTimeTo - heard.currentTimeFrom > 2, `playback advanced only ${(heard.currentTimeTo - heard.currentTimeFrom).toFixed(2)} s in 3 s`);
  for (const hz of TONES) assert.ok((heard.hits[hz] ?? 0) >= heard.blocks * 0.8, `${hz} Hz: ${line}`);
  assert.ok(heard.silentBlocks <= 1, line);
  // Shaka in low-latency mode follows the stream part by part, with blocking reloads (RFC 8216bis §6.2.5.2).
  assert.ok(finished.requests.some((url) => url.includes('/part/')), 'Shaka fetched parts');
  assert.ok(
    finished.requests.some((url) => url.includes('_HLS_msn=')),
    `Shaka made no blocking playlist reload; last requests: ${finished.requests.slice(-10).join(' ')}`,
  );
});

test('the playlist carries PART-INF, SERVER-CONTROL, independent parts, PROGRAM-DATE-TIME and a preload hint; ending the Space adds EXT-X-ENDLIST and releases a blocked request', { timeout: 30_000 }, async () => {
  const live = await fetchPlaylist();
  assert.equal(live.status, 200);
  assert.equal(live.headers.get('content-type'), 'application/vnd.apple.mpegurl');
  assert.equal(live.headers.get('access-control-allow-origin'), '*');
  const playlist = parsePlaylist(live.text);

  const partInf = playlist.one('EXT-X-PART-INF');
  assert.equal(Number(partInf.attributes.get('PART-TARGET')), 1);
  const control = playlist.one('EXT-X-SERVER-CONTROL');
  assert.equal(control.attributes.get('CAN-BLOCK-RELOAD'), 'YES');
  assert.ok(Number(control.attributes.get('PART-HOLD-BACK')) >= 2 * Number(partInf.attributes.get('PART-TARGET')), 'PART-HOLD-BACK ≥ 2 part targets (§4.4.3.8)');
  const targetDuration = Number(playlist.one('EXT-X-TARGETDURATION').value);
  assert.equal(targetDuration, 4);
  assert.ok(Number(playlist.one('EXT-X-VERSION').value) >= 9);

  const parts = playlist.all('EXT-X-PART');
  assert.ok(parts.length >= 4, `only ${parts.length} parts listed`);
  for (const part of parts) {
    assert.equal(part.attributes.get('INDEPENDENT'), 'YES', `line ${part.line}`);
    const duration = Number(part.attributes.get('DURATION'));
    assert.ok(duration > 0 && duration <= 1, `line ${part.line}: DURATION ${duration}`);
  }
  // Parts are listed in order without holes.
  const refs = listedParts(playlist);
  for (let i = 1; i < refs.length; i++) {
    const [a, b] = [refs[i - 1]!, refs[i]!];
    const next = a.part === 3 ? { msn: a.msn + 1, part: 0 } : { msn: a.msn, part: a.part + 1 };
    assert.deepEqual(b, next, `part after ${a.msn}.${a.part}`);
  }
  const dates = playlist.all('EXT-X-PROGRAM-DATE-TIME');
  assert.ok(dates.length >= 2);
  for (const date of dates) {
    const ms = Date.parse(date.value);
    assert.ok(Number.isFinite(ms) && Math.abs(ms - Date.now()) < 120_000, `line ${date.line}: ${date.value}`);
  }
  // Each segment's PROGRAM-DATE-TIME is the previous one's plus its EXTINF: the media timeline and the wall clock agree (§4.4.4.6).
  assert.ok(segmentsOf(playlist).every((segment) => segment.startMs !== undefined), 'every segment has a PROGRAM-DATE-TIME');
  assert.deepEqual(dateTimeMismatches(playlist), []);
  assert.deepEqual(llHlsViolations(live.text), []);
  for (const uri of playlist.uris) assert.match(uri, /^seg\/\d+\.m4s$/);
  for (const extinf of playlist.all('EXTINF')) assert.ok(Number(extinf.value.split(',')[0]) <= targetDuration);
  const hint = hintedPart(playlist);
  assert.ok(hint, 'an EXT-X-PRELOAD-HINT of TYPE=PART');
  const last = refs[refs.length - 1]!;
  assert.deepEqual(hint, last.part === 3 ? { msn: last.msn + 1, part: 0 } : { msn: last.msn, part: last.part + 1 }, 'the hint is the next part');
  assert.equal(playlist.has('EXT-X-ENDLIST'), false);

  // A request for the first part two segments past the live edge (5 to 8 s away) is held ...
  const blocked = fetchPlaylist(`?_HLS_msn=${last.msn + 2}&_HLS_part=0`, 15_000);
  await sleep(300);
  const endedAt = performance.now();
  // The host's account ends it (its API token, as an integration would).
  const end = await fetch(`${server.url}/api/spaces/${created.space.id}/end`, {
    method: 'POST',
    headers: { authorization: `Bearer ${created.host.apiToken}`, 'content-type': 'application/json' },
    body: '{}',
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(end.status, 200, await end.text());

  // ... and released by the end, well before that part would have come.
  const released = await blocked;
  const releasedAfterEndMs = performance.now() - endedAt;
  assert.equal(released.status, 200, released.text);
  assert.ok(releasedAfterEndMs < 3000, `the blocked request was released ${releasedAfterEndMs.toFixed(0)} ms after the end`);
  const final = parsePlaylist(released.text);
  assert.equal(final.tags[final.tags.length - 1]?.name, 'EXT-X-ENDLIST', 'the released playlist ends with EXT-X-ENDLIST');
  assert.equal(final.has('EXT-X-PRELOAD-HINT'), false, 'no hint of a part that will never come');

  const plain = await fetchPlaylist();
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get('cache-control'), 'public, max-age=60');
  const ended = parsePlaylist(plain.text);
  assert.equal(ended.tags[ended.tags.length - 1]?.name, 'EXT-X-ENDLIST');
  assert.deepEqual(llHlsViolations(plain.text), []);
  // Every segment of an ended playlist is complete and downloadable.
  const lastSegment = completeSegments(ended).at(-1);
  assert.ok(lastSegment !== undefined);
  const segment = await fetch(hls(`seg/${lastSegment}.m4s`), { signal: AbortSignal.timeout(5000) });
  assert.equal(segment.status, 200);
  assert.ok((await segment.arrayBuffer()).byteLength > 0);
});

test('once the playlist has EXT-X-ENDLIST, _HLS_msn and _HLS_part are ignored (RFC 8216bis §6.2.5.2)', { timeout: 10_000 }, async () => {
  // Runs after the Space was ended above. A player that computed its next
  // request from a playlist older than the end (or any client) gets the
  // final playlist: the directives no longer mean anything.
  const ended = parsePlaylist((await fetchPlaylist()).text);
  assert.ok(ended.has('EXT-X-ENDLIST'), 'the Space has ended');
  const lastMsn = completeSegments(ended).at(-1) ?? 0;
  for (const query of [`?_HLS_msn=${lastMsn + 3}&_HLS_part=0`, `?_HLS_msn=${lastMsn + 1}&_HLS_part=0`, `?_HLS_msn=${lastMsn}&_HLS_part=3&_HLS_skip=YES`]) {
    const answer = await fetchPlaylist(query);
    assert.equal(answer.status, 200, `${query}: ${answer.status} ${answer.text.slice(0, 200)}`);
    assert.ok(answer.elapsedMs < 200, `${query}: answered after ${answer.elapsedMs.toFixed(0)} ms`);
    assert.ok(parsePlaylist(answer.text).has('EXT-X-ENDLIST'), query);
  }
});

test('after a 1.5 s stall of the server\'s event loop, every part\'s DURATION and every PROGRAM-DATE-TIME still match the media', { timeout: 40_000 }, async () => {
  // A GC pause or a starved CPU stalls the process; the mixer then renders
  // at most 1 s of catch-up and skips the rest of its timeline. Whatever it
  // does with the skipped frames, the playlist must keep describing the
  // media it serves: each part's DURATION is what the part holds, and each
  // segment's PROGRAM-DATE-TIME is the previous one's plus its EXTINF.
  const space = await server.createSpace('Stall');
  const stalled = (path: string): string => `${server.url}/hls/${space.space.id}/${path}`;
  const stallUrl = stageUrl(server.url, space.space.id, await space.speakerPass('tone 440'));
  const stallBot = new SpeakerBot({ spaceUrl: stallUrl, name: 'tone 440', program: { kind: 'tone', hz: 440 } });
  bots.push(stallBot);
  await stallBot.start();
  await stallBot.connected(15_000);
  const before = await fetch(stalled('live.m3u8?_HLS_msn=0&_HLS_part=2'), { signal: AbortSignal.timeout(10_000) });
  assert.equal(before.status, 200);
  await before.text();

  const stallStartedAt = Date.now();
  while (Date.now() - stallStartedAt < 1500) {
    // Busy: the server shares this event loop.
  }

  // Six more parts after the stall (blocking reloads, as a player would).
  let text = '';
  for (let i = 0; i < 2; i++) {
    const playlist = parsePlaylist(text || (await (await fetch(stalled('live.m3u8'), { signal: AbortSignal.timeout(10_000) })).text()));
    const head = listedParts(playlist).at(-1)!;
    const want = head.part + 3 >= 4 ? { msn: head.msn + 1, part: (head.part + 3) % 4 } : { msn: head.msn, part: head.part + 3 };
    const answer = await fetch(stalled(`live.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`), { signal: AbortSignal.timeout(10_000) });
    assert.equal(answer.status, 200);
    text = await answer.text();
  }
  const playlist = parsePlaylist(text);
  const init = new Uint8Array(await (await fetch(stalled('init.mp4'), { signal: AbortSignal.timeout(5000) })).arrayBuffer());
  const mismatches: string[] = [];
  for (const tag of playlist.all('EXT-X-PART')) {
    const uri = tag.attributes.get('URI') ?? '';
    const bytes = new Uint8Array(await (await fetch(stalled(uri), { signal: AbortSignal.timeout(5000) })).arrayBuffer());
    const mediaS = await probeDurationS(init, bytes);
    const listedS = Number(tag.attributes.get('DURATION'));
    if (Math.abs(mediaS - listedS) > 0.021) mismatches.push(`${uri}: DURATION=${listedS.toFixed(3)} but the part holds ${mediaS.toFixed(3)} s`);
  }
  mismatches.push(...dateTimeMismatches(playlist));
  assert.deepEqual(mismatches, []);
});
