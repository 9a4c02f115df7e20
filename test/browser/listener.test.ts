/**
 * The listener's page over LL-HLS, with no account: a speaker tool (a real
 * WebRTC peer in Node) plays a tone as the host, and the page plays the mix,
 * shows who talks in step with it, comes back by itself after a network
 * blip, and shows the end.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { SpeakerBot } from '../../src/tools/speaker-bot.js';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { tonesFromMediaElement } from '../helpers/media-element-tones.js';
import { stageUrl } from '../helpers/raw-stage-client.js';
import { startTribune, type RunningTribune, type TestSpace } from '../helpers/tribune.js';
import { assertButtonsNamed, assertFitsViewport, openPage, waitForMode } from '../helpers/web-flows.js';

const HOST_HZ = 523;
let server: RunningTribune;
let listenerBrowser: Browser;
let bot: SpeakerBot | undefined;
let space: TestSpace;

before(async () => {
  server = await startTribune({ secureCookies: true });
  space = await server.createSpace('Listener test', await server.account(undefined, 'Hosta'));
  bot = new SpeakerBot({ spaceUrl: stageUrl(server.url, space.space.id, space.hostToken), name: 'Hosta', program: { kind: 'tone', hz: HOST_HZ } });
  await bot.start();
  await bot.connected(15_000);
  listenerBrowser = await launchChromium();
});
after(async () => {
  bot?.stop();
  await listenerBrowser?.close();
  await server?.close();
});

/** Whether the listener's <audio> plays `hz` in most analysis blocks over `listenMs`. */
async function elementHasTone(page: Page, hz: number, listenMs = 1500): Promise<{ found: boolean; power: number }> {
  const report = await tonesFromMediaElement(page, '#listener-audio', [hz], listenMs);
  const hits = report.hits[hz] ?? 0;
  return { found: report.blocks > 0 && hits >= report.blocks / 2, power: hits / Math.max(1, report.blocks) };
}

test('a listener page plays the host over LL-HLS, sees who talks, survives a network blip and sees the end', async () => {
  const { page, errors, close } = await openPage(listenerBrowser, { width: 360, height: 740 });
  try {
    const apiCalls: string[] = [];
    page.on('request', (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith('/api/')) apiCalls.push(`${request.method()} ${path.replace(space.space.id, ':id')}`);
    });
    const loadedAt = Date.now();
    await page.goto(`${server.url}/s/${space.space.id}`);
    await waitForMode(page, 'listener');
    await page.waitForSelector('#listen-status >> text=Listening live', { timeout: 20_000 });
    // An anonymous listener asks only what an edge answers (the feed), and beacons.
    assert.ok(apiCalls.includes('GET /api/spaces/:id/feed'), apiCalls.join(', '));
    assert.deepEqual(apiCalls.filter((call) => call !== 'GET /api/spaces/:id/feed' && call !== 'POST /api/spaces/:id/presence'), [], 'no /api/session, nothing per person');
    const firstAudioMs = Date.now() - loadedAt;
    let result = { found: false, power: 0 };
    for (let attempt = 0; attempt < 8 && !result.found; attempt++) result = await elementHasTone(page, HOST_HZ);
    assert.ok(result.found, `the listener hears the host's ${HOST_HZ} Hz tone (best power ${result.power})`);
    const silent = await elementHasTone(page, 800);
    assert.ok(!silent.found, 'and not a tone nobody plays');
    await page.waitForSelector(`#stage .member.talking[data-account="${space.host.id}"] >> text=Hosta`, { timeout: 10_000 });
    await page.waitForSelector('#signin-to-take-part');
    const latency = await page.evaluate(() => (window as unknown as { tribune: { player: { latencyS: number } } }).tribune.player.latencyS);
    assert.ok(latency > 0 && latency < 6, `the player is near the live edge (${latency.toFixed(2)} s behind)`);
    console.log(`# listener: first audio ${firstAudioMs} ms after navigation, ${latency.toFixed(2)} s behind the live edge`);
    await page.waitForSelector('#listener-count >> text=/^1 listening/', { timeout: 20_000 });
    await assertFitsViewport(page, 'anonymous listener at 360×740');
    await assertButtonsNamed(page, 'anonymous listener');
    await screenshot(page, '30-listener-anonymous-phone');

    // A network blip: every stream request fails for 4 s, then the network is back.
    await page.route('**/hls/**', (route) => route.abort('connectionreset'));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    await page.unroute('**/hls/**');
    let recovered = { found: false, power: 0 };
    for (let attempt = 0; attempt < 15 && !recovered.found; attempt++) recovered = await elementHasTone(page, HOST_HZ);
    assert.ok(recovered.found, 'after the blip the listener hears the host again without a reload');
    await page.waitForSelector('#listen-status >> text=Listening live', { timeout: 20_000 });

    const ended = await space.host.bot('POST', `/api/spaces/${space.space.id}/end`, {});
    assert.equal(ended.status, 200);
    await page.waitForSelector('#ended >> text=This Space has ended.', { timeout: 25_000 });
    assert.equal(await page.$('#listener-audio'), null, 'the player is gone once the Space ended');
    await screenshot(page, '31-listener-ended');
    assert.deepEqual(errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_RESET/.test(e)), [], 'no page errors');
  } finally {
    await close();
  }
});
