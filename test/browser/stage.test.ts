import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot, tonesInPage, writeToneWav } from '../helpers/browser.js';
import { startTribune, type RunningTribune } from '../helpers/tribune.js';

const HOST_HZ = 440;
const GUEST_HZ = 660;
const TONES = [HOST_HZ, GUEST_HZ];
let server: RunningTribune;
let hostBrowser: Browser;
let guestBrowser: Browser;

before(async () => {
  server = await startTribune();
  hostBrowser = await launchChromium(writeToneWav(HOST_HZ));
  guestBrowser = await launchChromium(writeToneWav(GUEST_HZ));
});
after(async () => {
  await hostBrowser?.close();
  await guestBrowser?.close();
  await server?.close();
});

/** Polls the page until the tones it hears equal `expected`, or fails with what it heard. */
async function expectTones(page: Page, expected: number[], what: string): Promise<void> {
  let heard: number[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    heard = await tonesInPage(page, TONES);
    if (heard.join() === expected.join()) return;
  }
  assert.deepEqual(heard, expected, what);
}

test('a host opens a Space, a guest joins by link, each hears the other and mute silences the host', async () => {
  const host = await hostBrowser.newPage();
  await host.goto(server.url);
  await screenshot(host, '01-start-page');
  await host.fill('#title', 'Browser stage test');
  await host.click('#open-space');
  await host.waitForURL(/\/s\/[a-z2-9]{10}\?t=/);
  await host.fill('#name', 'Hosta');
  await host.click('#join');
  await host.waitForSelector('#share-link');
  const shareLink = await host.inputValue('#share-link');
  assert.match(shareLink, /\/s\/[a-z2-9]{10}\?t=/);

  const guest = await guestBrowser.newPage();
  await guest.goto(shareLink);
  await guest.fill('#name', 'Guesto');
  await guest.click('#join');
  await host.waitForSelector('text=Audio connected');
  await guest.waitForSelector('text=Audio connected');
  await host.waitForSelector('.member >> text=Guesto');

  await expectTones(host, [GUEST_HZ], 'the host hears the guest and only the guest');
  await expectTones(guest, [HOST_HZ], 'the guest hears the host and only the host');
  await guest.waitForSelector('.member.talking >> text=Hosta', { timeout: 5000 });
  await screenshot(host, '02-host-stage');
  await screenshot(guest, '03-guest-stage');

  await host.click('#mute');
  assert.equal(await host.getAttribute('#mute', 'aria-pressed'), 'true');
  await guest.waitForSelector('.member >> text=muted');
  await expectTones(guest, [], 'the guest hears nothing once the host is muted');
  await expectTones(host, [GUEST_HZ], 'the host still hears the guest while muted');
  await screenshot(guest, '04-guest-sees-host-muted');

  await host.click('#mute');
  await expectTones(guest, [HOST_HZ], 'the guest hears the host again after unmute');

  host.once('dialog', (dialog) => void dialog.accept());
  await host.click('#end');
  await guest.waitForSelector('#ended');
  await screenshot(guest, '05-guest-space-ended');
});
