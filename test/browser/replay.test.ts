/**
 * Replays and clips in Chromium (issue 7): a recorded Space where the
 * speaker tool plays a known tone sequence (440 Hz 2 s, 660 Hz 2 s, looped).
 * While it is live, a signed-in listener clips the last 30 s from the
 * listener view; when it ends, the same page becomes the replay: it plays,
 * a seek lands where asked and plays the tone the download has there
 * (ffmpeg decodes the download for the reference), 2× plays twice as fast,
 * the speaker shows as talking; a clip cut in the page has its own page,
 * which plays and links back to its moment in the replay. The host deletes
 * the replay from its page; deleted clips and replays say so.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import type { ClipView } from '../../src/wire/api.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { tonesFromMediaElement } from '../helpers/media-element-tones.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { decodeFile, toneRuns, type ToneRun } from '../helpers/recording-fixture.js';
import { sleep, startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';
import { assertButtonsNamed, assertFitsViewport, openPage, signUpThroughPage, uniqueUsername, waitForMode, type WebPage } from '../helpers/web-flows.js';

const STEPS = [
  { hz: 440, seconds: 2 },
  { hz: 660, seconds: 2 },
];
const TONES = STEPS.map((s) => s.hz);
/** How long the Space is live before its host ends it. */
const LIVE_MS = 12_000;
const SPEAKER = 'Toni Tones';

let server: RunningTribune;
let browser: Browser;
let bot: SpeakerBot | undefined;
let space: TestSpace;
let web: WebPage;
let hostWeb: WebPage | undefined;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tribune-replay-browser-'));
  server = await startTribune({ secureCookies: true });
  [space, browser] = await Promise.all([server.createSpace('Replay test: two tones', await server.account(undefined, SPEAKER), { record: true }), launchChromium()]);
  bot = new SpeakerBot({ spaceUrl: stageUrl(server.url, space.space.id, space.hostToken), name: SPEAKER, program: { kind: 'sequence', steps: STEPS } });
  await bot.start();
  await bot.connected(15_000);
});

after(async () => {
  bot?.stop();
  await web?.close().catch(() => undefined);
  await hostWeb?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const media = (page: Page, selector: string) =>
  page.evaluate((s) => {
    const element = document.querySelector(s) as HTMLMediaElement;
    return { currentTime: element.currentTime, playbackRate: element.playbackRate, paused: element.paused, duration: element.duration };
  }, selector);

/** Waits until the element's currentTime is past `minS`. */
async function waitForTime(page: Page, selector: string, minS: number, what: string): Promise<void> {
  await page
    .waitForFunction(([s, min]) => (document.querySelector(s) as HTMLMediaElement).currentTime > min, [selector, minS] as const, { timeout: 10_000 })
    .catch((error: unknown) => {
      throw new Error(`${what}: currentTime never passed ${minS} s`, { cause: error });
    });
}

/** Which of TONES the element plays in most analysis blocks over `listenMs`. */
async function dominantTone(page: Page, selector: string, listenMs: number): Promise<{ hz: number | undefined; report: unknown }> {
  const report = await tonesFromMediaElement(page, selector, TONES, listenMs);
  const hz = TONES.find((f) => (report.hits[f] ?? 0) >= report.blocks / 2 && TONES.every((g) => g === f || (report.hits[g] ?? 0) < (report.hits[f] ?? 0)));
  return { hz, report };
}

/** The tone runs of the replay's download, decoded by ffmpeg: where each tone is in replay time. */
async function referenceRuns(): Promise<ToneRun[]> {
  const response = await fetch(`${server.url}/replay/${space.space.id}/download.ogg`);
  assert.equal(response.status, 200);
  const path = join(dir, 'replay.ogg');
  writeFileSync(path, new Uint8Array(await response.arrayBuffer()));
  return toneRuns(await decodeFile(path), TONES);
}

test('a recorded Space: clip it live, then its page is the replay: play, seek, 2×, who talks, clips with their own page', async () => {
  const startedAt = Date.now();
  web = await openPage(browser);
  const { page, errors } = web;
  const id = space.space.id;

  // --- Live: a signed-in listener finds it marked as recorded, opens it and clips the last 30 s. ---
  await signUpThroughPage(page, server.url, uniqueUsername('clipper'), 'Clara Clipper', '/');
  assert.equal(await page.textContent(`[data-space="${id}"] .badge.rec`), 'Recorded', 'the home page marks the Space as recorded');
  await page.click(`[data-space="${id}"] .space-link`);
  await waitForMode(page, 'listener');
  await page.waitForSelector('#recorded-badge >> text=Recording');
  await page.waitForSelector('#listen-status >> text=Listening live', { timeout: 20_000 });
  await page.click('#cut-clip');
  const liveClipLink = await page.waitForSelector('#clip-results .clip-link');
  const liveClips = (await (await fetch(`${server.url}/api/spaces/${id}/clips`)).json()) as { clips: ClipView[] };
  assert.equal(liveClips.clips.length, 1, 'the live clip is stored');
  const liveClip = liveClips.clips[0]!;
  assert.equal(await liveClipLink.getAttribute('href'), `/c/${liveClip.id}`);
  assert.ok(liveClip.durationS > 1 && liveClip.durationS <= 30 && liveClip.startS === 0, `the live clip is what was heard so far: ${JSON.stringify(liveClip)}`);
  await screenshot(page, '49-live-recorded-clipped');

  await sleep(Math.max(0, LIVE_MS - (Date.now() - startedAt)));
  assert.equal((await space.host.bot('POST', `/api/spaces/${id}/end`, {})).status, 200);

  // --- The end: the same page becomes the replay. ------------------------------------
  await page.waitForSelector('#replay-view #replay-play', { timeout: 20_000 });
  const runs = await referenceRuns();
  const full = runs.filter((r) => r.hz !== 0 && r.endS - r.startS >= 1.8);
  const at440 = full.find((r) => r.hz === 440);
  const at660 = full.find((r) => r.hz === 660);
  assert.ok(at440 && at660, `the download holds full runs of both tones: ${JSON.stringify(runs)}`);

  await page.click('#replay-play');
  await waitForTime(page, '#replay-audio', 0.5, 'the replay plays');
  await page.waitForSelector('#replay-play[aria-label="Pause the replay"]');
  // The host joined the stage a moment after the Space opened: from then on the replay shows them.
  await page.waitForSelector(`#replay-stage .member >> text=${SPEAKER}`, { timeout: 5000 });

  // Seek (through the seek bar, as a person would) into each tone; it lands there and plays that tone.
  for (const run of [at660, at440]) {
    const target = Math.round((run.startS + 0.3) * 10) / 10;
    await page.fill('#replay-seek', String(target));
    const landed = (await media(page, '#replay-audio')).currentTime;
    assert.ok(Math.abs(landed - target) < 0.25, `the seek to ${target} s lands at ${landed.toFixed(2)} s`);
    const heard = await dominantTone(page, '#replay-audio', 1000);
    assert.equal(heard.hz, run.hz, `at ${target} s the replay plays ${run.hz} Hz: ${JSON.stringify(heard.report)}`);
    const after = (await media(page, '#replay-audio')).currentTime;
    assert.ok(after > target + 0.5 && after < run.endS + 0.6, `and plays on from there (${after.toFixed(2)} s)`);
  }
  await page.waitForSelector(`#replay-stage .member.talking >> text=${SPEAKER}`, { timeout: 5000 });

  // 2×: the rate is 2 and the position moves about twice as fast as the clock.
  await page.fill('#replay-seek', '0.5');
  await page.click('#replay-speed-2');
  assert.equal(await page.getAttribute('#replay-speed-2', 'aria-pressed'), 'true');
  await waitForTime(page, '#replay-audio', 0.7, 'playing after the seek');
  const before2x = { media: (await media(page, '#replay-audio')).currentTime, wall: Date.now() };
  await sleep(2000);
  const after2x = { media: (await media(page, '#replay-audio')).currentTime, wall: Date.now() };
  const { playbackRate } = await media(page, '#replay-audio');
  const speed = (after2x.media - before2x.media) / ((after2x.wall - before2x.wall) / 1000);
  assert.equal(playbackRate, 2);
  assert.ok(speed > 1.7 && speed < 2.3, `at 2× the replay advances ${speed.toFixed(2)} s per second`);
  await page.click('#replay-speed-1');
  await page.click('#replay-play');
  await screenshot(page, '50-replay');

  await page.setViewportSize({ width: 360, height: 740 });
  await assertFitsViewport(page, 'replay at 360×740');
  await assertButtonsNamed(page, 'replay');
  await screenshot(page, '51-replay-phone');

  // --- A clip cut in the replay: the 10 s ending at the position. ---------------------
  const { duration } = await media(page, '#replay-audio');
  assert.ok(duration > 11, `the replay lasts ${duration} s`);
  const endS = Math.round((duration - 0.5) * 10) / 10;
  await page.fill('#replay-seek', String(endS));
  await page.selectOption('#clip-length', '10');
  await page.fill('#clip-title', 'The two tones');
  await page.click('#cut-clip');
  const clipLink = await page.waitForSelector('#clip-results .clip-link >> text=The two tones');
  const href = await clipLink.getAttribute('href');
  assert.match(href ?? '', /^\/c\/[a-z2-9]{14}$/);
  await page.waitForFunction(() => document.querySelectorAll('#clip-list .clip-item').length === 2);
  const cut = ((await (await fetch(`${server.url}/api${href?.replace('/c/', '/clips/')}`)).json()) as { clip: ClipView }).clip;
  assert.ok(Math.abs(cut.startS - (endS - 10)) < 0.05 && Math.abs(cut.durationS - 10) < 0.05, `the clip is the 10 s ending at ${endS} s: ${cut.startS} + ${cut.durationS}`);

  // --- The clip's page plays it. ----------------------------------------------------
  await page.goto(`${server.url}${href}`);
  await page.waitForSelector('#clip-page-title >> text=The two tones');
  assert.equal(await page.getAttribute('#clip-space-link', 'href'), `/s/${id}`);
  await page.waitForSelector('#clip-page >> text=cut by Clara Clipper');
  await page.click('#clip-play');
  await waitForTime(page, '#clip-audio', 0.3, 'the clip plays');
  const clipTones = await tonesFromMediaElement(page, '#clip-audio', TONES, 1500);
  assert.ok(TONES.some((hz) => (clipTones.hits[hz] ?? 0) >= clipTones.blocks / 2), `the clip plays the speaker's tones: ${JSON.stringify(clipTones)}`);
  assert.ok(clipTones.currentTimeTo > clipTones.currentTimeFrom + 1, 'and advances');
  await assertFitsViewport(page, 'clip page at 360×740');
  await assertButtonsNamed(page, 'clip page');
  await screenshot(page, '52-clip-phone');

  // A clip's page links to its moment in the replay, which opens there.
  await page.click('#clip-in-replay');
  await page.waitForSelector('#replay-play');
  await page.waitForFunction((at) => Math.abs((document.querySelector('#replay-audio') as HTMLMediaElement).currentTime - at) < 0.5, Math.floor(cut.startS));
  assert.equal(await page.$('#delete-replay'), null, 'only the host may delete the replay');

  // --- Gone: the host deletes the clip, then the replay from its page; the pages say so. ---
  assert.equal((await space.host.bot('DELETE', `/api/clips/${cut.id}`)).status, 200);
  await page.goto(`${server.url}${href}`);
  await page.waitForSelector('#clip-missing >> text=This clip is no longer available');
  hostWeb = await openPage(browser);
  await hostWeb.page.goto(`${server.url}/signin?next=${encodeURIComponent(`/s/${id}`)}`);
  await hostWeb.page.fill('#signin-username', space.host.account.username);
  await hostWeb.page.fill('#signin-password', 'correct horse battery');
  await hostWeb.page.click('#signin-submit');
  await hostWeb.page.click('#delete-replay');
  await hostWeb.page.waitForSelector('#replay-gone >> text=You deleted the replay of this Space.');
  await page.goto(`${server.url}/s/${id}`);
  await page.waitForSelector('#replay-gone >> text=The host deleted the replay of this Space.');
  assert.equal(await page.$('#replay-audio'), null, 'no player for a deleted replay');
  assert.equal((await fetch(`${server.url}/replay/${id}/playlist.m3u8`)).status, 410);

  assert.deepEqual([...errors, ...hostWeb.errors].filter((e) => !/Failed to load resource/.test(e)), [], 'no page errors');
  console.log(`# replay: ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
});
