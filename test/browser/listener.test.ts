import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot, writeToneWav } from '../helpers/browser.js';
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

/** Whether the page's <audio id=listener-audio> plays `hz`, from a WebAudio analyser on the element. */
async function elementHasTone(page: Page, hz: number, listenMs = 1500): Promise<{ found: boolean; power: number }> {
  return page.evaluate(
    async ({ hz, listenMs }) => {
      const element = document.getElementById('listener-audio') as HTMLAudioElement;
      const w = window as unknown as { __ctx?: AudioContext; __analyser?: AnalyserNode };
      if (!w.__ctx) {
        w.__ctx = new AudioContext();
        const source = w.__ctx.createMediaElementSource(element);
        w.__analyser = w.__ctx.createAnalyser();
        w.__analyser.fftSize = 8192;
        source.connect(w.__analyser);
        w.__analyser.connect(w.__ctx.destination);
      }
      await w.__ctx.resume();
      const analyser = w.__analyser as AnalyserNode;
      const data = new Float32Array(analyser.fftSize);
      let best = 0;
      let found = false;
      const deadline = performance.now() + listenMs;
      while (performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        analyser.getFloatTimeDomainData(data);
        let total = 0;
        for (const v of data) total += v * v;
        total /= data.length;
        const coeff = 2 * Math.cos((2 * Math.PI * hz) / w.__ctx.sampleRate);
        let s1 = 0;
        let s2 = 0;
        for (const v of data) {
          const s0 = v + coeff * s1 - s2;
          s2 = s1;
          s1 = s0;
        }
        const power = (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (data.length * data.length);
        best = Math.max(best, power);
        if (power > 2.5e-5 && power > total * 0.1) found = true;
      }
      return { found, power: best };
    },
    { hz, listenMs },
  );
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
