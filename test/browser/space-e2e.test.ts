/**
 * The scenario end to end, through the UI only: a host signs up and
 * schedules a Space, two listeners wait in its lobby, the host starts, a
 * listener asks to speak and the host accepts; the two talk (each hears the
 * other's fake microphone over WebRTC) while a third page, listening over
 * LL-HLS, hears both and sees the listener count and a reaction arrive.
 *
 * Everyone uses Tribune the way it runs at scale (`npm run start:edge`):
 * through the nginx edge, with the origin in scaled mode behind it, so the
 * edge's id checks, route list, gate and stage-pass check are in the path.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot, tonesInPage, writeToneWav } from '../helpers/browser.js';
import { tonesFromMediaElement } from '../helpers/media-element-tones.js';
import { startTribune, type RunningTribune } from '../helpers/tribune.js';
import { startNginxEdge, type RunningEdge } from '../../src/edge/nginx-process.js';
import { freePort } from '../../src/tools/free-port.js';
import { accountIdOf, assertButtonsNamed, assertFitsViewport, openPage, signUpThroughPage, uniqueUsername, waitForMode, type WebPage } from '../helpers/web-flows.js';

const HOST_HZ = 440;
const SPEAKER_HZ = 660;
const TONES = [HOST_HZ, SPEAKER_HZ];
const TITLE = 'Open mic: the e2e hour';

let server: RunningTribune;
let edge: RunningEdge;
/** Where people go: the edge. */
let base: string;
let hostBrowser: Browser;
let speakerBrowser: Browser;
let audienceBrowser: Browser;
const pages: WebPage[] = [];

before(async () => {
  // Chromium keeps Secure cookies on http://127.0.0.1 (a potentially trustworthy origin), so the production setting holds.
  server = await startTribune({ secureCookies: true, edgeSecret: 'e2e-edge-secret', trustProxy: ['127.0.0.1'] });
  edge = await startNginxEdge({
    port: await freePort(),
    origin: `127.0.0.1:${new URL(server.url).port}`,
    edgeSecret: 'e2e-edge-secret',
    idKey: server.tribune.idKey,
    stagePassKey: server.tribune.stagePassKey,
    unlimited: ['127.0.0.0/8'],
  });
  base = edge.url;
  [hostBrowser, speakerBrowser, audienceBrowser] = await Promise.all([launchChromium(writeToneWav(HOST_HZ)), launchChromium(writeToneWav(SPEAKER_HZ)), launchChromium()]);
});

after(async () => {
  for (const page of pages) await page.close().catch(() => undefined);
  await Promise.all([hostBrowser, speakerBrowser, audienceBrowser].map((b) => b?.close().catch(() => undefined)));
  await edge?.stop();
  await server?.close();
});

async function open(browser: Browser, viewport?: { width: number; height: number }): Promise<WebPage> {
  const page = await openPage(browser, viewport);
  pages.push(page);
  return page;
}

/** An <input type="datetime-local"> value (Node and Chromium share the machine's time zone). */
function localInputValue(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Polls the page's WebRTC audio until it hears exactly `expected`. */
async function expectStageTones(page: Page, expected: number[], what: string): Promise<void> {
  let heard: number[] = [];
  for (let attempt = 0; attempt < 15; attempt++) {
    heard = await tonesInPage(page, TONES);
    if (heard.join() === expected.join()) return;
  }
  assert.deepEqual(heard, expected, what);
}

/** Polls the HLS listener's <audio> until every tone of `expected` plays in most blocks. */
async function expectHlsTones(page: Page, expected: number[], what: string): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const report = await tonesFromMediaElement(page, '#listener-audio', TONES, 1500);
    last = { ...report, paused: await page.evaluate(() => (document.querySelector('#listener-audio') as HTMLMediaElement | null)?.paused), status: await page.textContent('#listen-status') };
    if (report.blocks > 0 && expected.every((hz) => (report.hits[hz] ?? 0) >= report.blocks / 2)) return;
  }
  assert.fail(`${what}: heard ${JSON.stringify(last)}`);
}

test('a scheduled Space from lobby to a two-person stage, heard over HLS with count and reactions', async () => {
  // --- The host signs up, schedules a Space from the dashboard. ---------------
  const host = await open(hostBrowser);
  await host.page.goto(base);
  await host.page.waitForSelector('text=No Space is live right now.');
  await screenshot(host.page, '01-home-signed-out');
  await host.page.click('#nav-signup');
  await host.page.waitForSelector('#signup-form');
  await screenshot(host.page, '02-sign-in');
  await host.page.fill('#signup-username', uniqueUsername('hosta'));
  await host.page.fill('#signup-display-name', 'Hosta');
  await host.page.fill('#signup-password', 'correct horse battery staple');
  await host.page.click('#signup-submit');
  await host.page.waitForSelector('#signed-in-as >> text=Hosta');
  await host.page.click('#nav-host');
  await host.page.waitForURL(/\/host$/);
  await host.page.fill('#space-title', TITLE);
  await host.page.fill('#space-description', 'Bring a question. Two speakers, one stage, everyone listening.');
  const inTenMinutes = new Date(Date.now() + 10 * 60_000);
  await host.page.fill('#space-starts-at', localInputValue(inTenMinutes));
  await host.page.click('#schedule');
  await host.page.waitForSelector(`#my-spaces .space-card >> text=${TITLE}`);
  await screenshot(host.page, '03-host-dashboard');
  const spaceHref = await host.page.getAttribute(`#my-spaces .space-card a.space-link`, 'href');
  assert.match(spaceHref ?? '', /^\/s\/[a-z2-9]{14}$/);
  const spaceUrl = base + spaceHref;

  // --- Two listeners wait in the lobby: one signed in (who will speak), one anonymous. ---
  const speaker = await open(speakerBrowser);
  await signUpThroughPage(speaker.page, base, uniqueUsername('speako'), 'Speako', spaceHref ?? '/');
  const speakerId = await accountIdOf(speaker.page);
  const audience = await open(audienceBrowser);
  await audience.page.goto(base);
  await audience.page.click(`#upcoming-list a.space-link >> text=${TITLE}`);
  await audience.page.waitForURL(spaceUrl);
  for (const page of [speaker.page, audience.page]) {
    await waitForMode(page, 'lobby');
    await page.waitForFunction(() => /Starts in \d/.test(document.querySelector('#countdown')?.textContent ?? ''));
  }
  const before = await audience.page.textContent('#countdown');
  await audience.page.waitForFunction((text) => document.querySelector('#countdown')?.textContent !== text, before, { timeout: 5000 });
  await speaker.page.click('#remind-me');
  await speaker.page.waitForSelector('#remind-me[aria-pressed="true"]');
  await audience.page.waitForSelector('#listener-count >> text=/[12] waiting/');
  await screenshot(audience.page, '04-lobby');

  // --- The host starts from the Space page and goes on stage. ---
  await host.page.goto(spaceUrl);
  await waitForMode(host.page, 'lobby');
  await host.page.click('#start-space');
  await waitForMode(host.page, 'stage');
  await host.page.waitForSelector('#connection >> text=Audio connected');

  // Both listeners tune in by themselves (after a random share of joinSpreadMs).
  for (const page of [speaker.page, audience.page]) {
    await waitForMode(page, 'listener', 40_000);
    await page.waitForSelector('#listen-status >> text=Listening live', { timeout: 30_000 });
  }
  await audience.page.waitForSelector('#stage .member[data-account] >> text=Hosta');
  await expectHlsTones(audience.page, [HOST_HZ], 'the HLS listener hears the host');
  await audience.page.waitForSelector('#listener-count >> text=/^2 listening/', { timeout: 20_000 });
  await screenshot(audience.page, '05-listener');

  // A reaction from one listener floats on the other's page.
  const floatedBefore = await audience.page.evaluate(() => (window as unknown as { tribune: { reactions: { floated: number } } }).tribune.reactions.floated);
  await speaker.page.click('.reaction-button[data-emoji="👏"]');
  await audience.page.waitForSelector('.reaction-layer .floating-reaction[data-emoji="👏"]', { state: 'attached', timeout: 15_000 });
  const floatedAfter = await audience.page.evaluate(() => (window as unknown as { tribune: { reactions: { floated: number } } }).tribune.reactions.floated);
  assert.ok(floatedAfter > floatedBefore, 'a floating emoji appeared on the listener page');

  // --- The listener asks to speak; the host accepts in the queue. ---
  await speaker.page.click('#request-to-speak');
  await speaker.page.waitForSelector('#cancel-request');
  await screenshot(speaker.page, '05b-listener-requested');
  const queueItem = `#request-queue .queue-item[data-account="${speakerId}"]`;
  await host.page.waitForSelector(queueItem);
  await screenshot(host.page, '06-host-with-queue');
  await assertButtonsNamed(host.page, 'host stage view');
  await host.page.click(`${queueItem} button.accept`);

  // The accepted listener goes on stage in place: the HLS player stops first.
  await waitForMode(speaker.page, 'stage', 30_000);
  await speaker.page.waitForSelector('#connection >> text=Audio connected', { timeout: 30_000 });
  const hls = await speaker.page.evaluate(() => ({
    player: (window as unknown as { tribune: { player: unknown } }).tribune.player === undefined,
    listenerAudio: document.querySelector('#listener-audio') !== null,
    mediaElements: [...document.querySelectorAll('audio, video')].map((el) => ({
      webrtc: (el as HTMLMediaElement).srcObject instanceof MediaStream,
      src: (el as HTMLMediaElement).currentSrc,
    })),
  }));
  assert.ok(hls.player, 'the page dropped its HLS player');
  assert.equal(hls.listenerAudio, false, 'the HLS <audio> element is gone');
  assert.ok(hls.mediaElements.every((el) => el.webrtc && el.src === ''), `only WebRTC audio plays: ${JSON.stringify(hls.mediaElements)}`);
  assert.equal(speaker.page.url(), spaceUrl, 'no reload, no navigation');
  await speaker.page.waitForSelector('#notice >> text=You’re on stage');

  // --- The two talk: each hears the other over WebRTC, and only the other. ---
  await expectStageTones(host.page, [SPEAKER_HZ], 'the host hears the speaker');
  await expectStageTones(speaker.page, [HOST_HZ], 'the speaker hears the host');
  await screenshot(speaker.page, '07-speaker');
  await screenshot(host.page, '08-host-on-stage');

  // --- The HLS listener hears both, and sees both on stage. ---
  await audience.page.waitForSelector(`#stage .member[data-account="${speakerId}"]`);
  await expectHlsTones(audience.page, [HOST_HZ, SPEAKER_HZ], 'the HLS listener hears host and speaker mixed');
  const count = (await audience.page.textContent('#listener-count')) ?? '';
  const [, listening, peak] = /^(\d+) listening · peak (\d+)$/.exec(count) ?? [];
  assert.ok(Number(listening) >= 1 && Number(peak) >= 2, `the listener count and its peak show (${count})`);
  await screenshot(audience.page, '09-listener-two-speakers');

  // --- Phone-sized screen, keyboard and names. ---
  await audience.page.setViewportSize({ width: 360, height: 740 });
  await assertFitsViewport(audience.page, 'listener view at 360×740');
  await assertButtonsNamed(audience.page, 'listener view');
  await screenshot(audience.page, '10-listener-phone');
  await host.page.setViewportSize({ width: 360, height: 740 });
  await assertFitsViewport(host.page, 'host stage view at 360×740');
  await screenshot(host.page, '11-host-phone');
  await host.page.setViewportSize({ width: 1000, height: 900 });
  // The reaction buttons and Request to speak are reachable with Tab.
  await audience.page.focus('#volume');
  await audience.page.keyboard.press('Tab');
  assert.ok(await audience.page.evaluate(() => document.activeElement?.tagName === 'A' || document.activeElement?.tagName === 'BUTTON'), 'Tab moves on to the next control');

  // --- The host ends it for everyone. ---
  await host.page.click('#end');
  for (const page of [host.page, speaker.page, audience.page]) await page.waitForSelector('#ended >> text=This Space has ended.', { timeout: 20_000 });
  await screenshot(audience.page, '12-ended-phone');

  // The reminder the speaker asked for is in their notifications.
  await speaker.page.goto(base);
  await speaker.page.waitForSelector(`.notification >> text=${TITLE}`);
  await screenshot(speaker.page, '13-home-notification');
  await speaker.page.click('.notification button');
  await speaker.page.waitForSelector('.notification', { state: 'detached' });

  for (const page of pages) assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), [], 'no page errors');
});
