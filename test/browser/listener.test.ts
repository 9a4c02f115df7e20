import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot, writeToneWav } from '../helpers/browser.js';
import { tonesFromMediaElement } from '../helpers/media-element-tones.js';
import { startTribune, type RunningTribune } from '../helpers/tribune.js';

const HOST_HZ = 523;
let server: RunningTribune;
let hostBrowser: Browser;
let listenerBrowser: Browser;

before(async () => {
  server = await startTribune();
  hostBrowser = await launchChromium(writeToneWav(HOST_HZ));
  listenerBrowser = await launchChromium();
});
after(async () => {
  await hostBrowser?.close();
  await listenerBrowser?.close();
  await server?.close();
});

/** Whether the listener's <audio> plays `hz` in most analysis blocks over `listenMs`. */
async function elementHasTone(page: Page, hz: number, listenMs = 1500): Promise<{ found: boolean; power: number }> {
  const report = await tonesFromMediaElement(page, '#listener-audio', [hz], listenMs);
  const hits = report.hits[hz] ?? 0;
  return { found: report.blocks > 0 && hits >= report.blocks / 2, power: hits / Math.max(1, report.blocks) };
}

test('a listener page plays the host over LL-HLS, hears the tone and sees who is talking', async () => {
  const host = await hostBrowser.newPage();
  await host.goto(server.url);
  await host.fill('#title', 'Listener test');
  await host.click('#open-space');
  await host.waitForURL(/\/s\/[a-z2-9]{10}\?t=/);
  await host.fill('#name', 'Hosta');
  await host.click('#join');
  await host.waitForSelector('text=Audio connected');
  const listenLink = await host.inputValue('#listen-link');
  assert.match(listenLink, /\/s\/[a-z2-9]{10}$/);

  const listener = await listenerBrowser.newPage();
  const loadedAt = Date.now();
  await listener.goto(listenLink);
  await listener.waitForSelector('text=Listening live', { timeout: 20_000 });
  const firstAudioMs = Date.now() - loadedAt;
  let result = { found: false, power: 0 };
  for (let attempt = 0; attempt < 8 && !result.found; attempt++) result = await elementHasTone(listener, HOST_HZ);
  assert.ok(result.found, `the listener hears the host's ${HOST_HZ} Hz tone (best power ${result.power})`);
  const silent = await elementHasTone(listener, 800);
  assert.ok(!silent.found, 'and not a tone nobody plays');
  await listener.waitForSelector('.member.talking >> text=Hosta', { timeout: 10_000 });
  const latency = await listener.evaluate(() => (window as unknown as { tribune: { player: { latencyS: number } } }).tribune.player.latencyS);
  assert.ok(latency > 0 && latency < 6, `the player is near the live edge (${latency.toFixed(2)} s behind)`);
  console.log(`# listener: first audio ${firstAudioMs} ms after navigation, ${latency.toFixed(2)} s behind the live edge`);
  await screenshot(listener, '10-listener');

  // A network blip: every stream request fails for 4 s, then the network is back.
  await listener.route('**/hls/**', (route) => route.abort('connectionreset'));
  await new Promise((resolve) => setTimeout(resolve, 4000));
  await listener.unroute('**/hls/**');
  let recovered = { found: false, power: 0 };
  for (let attempt = 0; attempt < 15 && !recovered.found; attempt++) recovered = await elementHasTone(listener, HOST_HZ);
  assert.ok(recovered.found, 'after the blip the listener hears the host again without a reload');
  await listener.waitForSelector('text=Listening live', { timeout: 20_000 });

  host.once('dialog', (dialog) => void dialog.accept());
  await host.click('#end');
  await listener.waitForSelector('text=This Space has ended.', { timeout: 20_000 });
  await screenshot(listener, '11-listener-ended');
});
