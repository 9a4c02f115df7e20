/**
 * The stage in two Chromiums with fake microphones: the host starts a Space
 * now, invites a listener up, and the two hear each other over WebRTC; mute
 * (by oneself and by the host) silences; a co-host steps down and comes
 * back through a request; the host moves them to the audience; End reaches
 * everyone.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot, tonesInPage, writeToneWav } from '../helpers/browser.js';
import { startTribune, type RunningTribune } from '../helpers/tribune.js';
import { accountIdOf, openPage, signUpThroughPage, uniqueUsername, waitForMode, type WebPage } from '../helpers/web-flows.js';

const HOST_HZ = 440;
const GUEST_HZ = 660;
const TONES = [HOST_HZ, GUEST_HZ];
let server: RunningTribune;
let hostBrowser: Browser;
let guestBrowser: Browser;
const pages: WebPage[] = [];

before(async () => {
  server = await startTribune({ secureCookies: true });
  [hostBrowser, guestBrowser] = await Promise.all([launchChromium(writeToneWav(HOST_HZ)), launchChromium(writeToneWav(GUEST_HZ))]);
});
after(async () => {
  for (const page of pages) await page.close().catch(() => undefined);
  await Promise.all([hostBrowser, guestBrowser].map((b) => b?.close().catch(() => undefined)));
  await server?.close();
});

/** Polls the page until the tones it hears equal `expected`, or fails with what it heard. */
async function expectTones(page: Page, expected: number[], what: string): Promise<void> {
  let heard: number[] = [];
  for (let attempt = 0; attempt < 15; attempt++) {
    heard = await tonesInPage(page, TONES);
    if (heard.join() === expected.join()) return;
  }
  assert.deepEqual(heard, expected, what);
}

test('a host invites a listener up; they hear each other, mute holds, roles change, End reaches everyone', async () => {
  const host = await openPage(hostBrowser);
  const guest = await openPage(guestBrowser);
  pages.push(host, guest);

  // The host starts a Space now from the dashboard and lands on stage.
  await signUpThroughPage(host.page, server.url, uniqueUsername('hosta'), 'Hosta', '/host');
  await host.page.fill('#space-title', 'Browser stage test');
  await host.page.click('#start-now');
  await host.page.waitForURL(/\/s\/[a-z2-9]{14}$/);
  const spacePath = new URL(host.page.url()).pathname;
  await waitForMode(host.page, 'stage');
  await host.page.waitForSelector('#connection >> text=Audio connected');

  // A listener signs up and listens; the host invites them up by username.
  const guestUsername = uniqueUsername('guesto');
  await signUpThroughPage(guest.page, server.url, guestUsername, 'Guesto', spacePath);
  await waitForMode(guest.page, 'listener');
  const guestId = await accountIdOf(guest.page);
  await host.page.click('details.invite summary');
  await host.page.fill('#invite-username', `@${guestUsername}`);
  await host.page.click('#invite-submit');
  await guest.page.waitForSelector('#accept-invite');
  await screenshot(guest.page, '20-guest-invited');
  await guest.page.click('#accept-invite');
  await waitForMode(guest.page, 'stage');
  await guest.page.waitForSelector('#connection >> text=Audio connected');
  await host.page.waitForSelector(`#stage .member[data-account="${guestId}"]:not(.away)`);

  await expectTones(host.page, [GUEST_HZ], 'the host hears the guest and only the guest');
  await expectTones(guest.page, [HOST_HZ], 'the guest hears the host and only the host');
  await guest.page.waitForSelector('#stage .member.talking >> text=Hosta', { timeout: 10_000 });
  await screenshot(host.page, '21-host-stage');
  await screenshot(guest.page, '22-guest-stage');

  // The host pins a link; everyone sees it; the host unpins it.
  await host.page.fill('#pin-label', 'Show notes');
  await host.page.fill('#pin-url', 'https://example.org/notes');
  await host.page.click('#pin-submit');
  await guest.page.waitForSelector('#pins a[href="https://example.org/notes"] >> text=Show notes');
  await host.page.click('#pins [aria-label="Unpin Show notes"]');
  await guest.page.waitForSelector('#pins a', { state: 'detached' });

  // The host mutes themself: the guest hears nothing and sees it.
  await host.page.click('#mute');
  await host.page.waitForSelector('#mute >> text=Unmute');
  await guest.page.waitForSelector('#stage .member.muted >> text=Hosta');
  await expectTones(guest.page, [], 'the guest hears nothing once the host is muted');
  await expectTones(host.page, [GUEST_HZ], 'the host still hears the guest while muted');
  await screenshot(guest.page, '23-guest-sees-host-muted');
  await host.page.click('#mute');
  await expectTones(guest.page, [HOST_HZ], 'the guest hears the host again after unmute');

  // The host mutes the guest; only the guest can unmute.
  await host.page.click(`#manage-members [aria-label="Mute Guesto"]`);
  await guest.page.waitForSelector('#notice >> text=Hosta muted you');
  await guest.page.waitForSelector('#mute >> text=Unmute');
  await expectTones(host.page, [], 'the host hears nothing once they muted the guest');
  await screenshot(guest.page, '24-guest-muted-by-host');
  await guest.page.click('#mute');
  await expectTones(host.page, [GUEST_HZ], 'the host hears the guest after the guest unmuted');

  // Co-host: the guest gets the moderator tools, then steps down to listen.
  await host.page.click(`#manage-members [aria-label="Make co-host: Guesto"]`);
  await guest.page.waitForSelector('#notice >> text=You are now a co-host.');
  await guest.page.waitForSelector('#request-queue');
  await guest.page.click('#step-down');
  await waitForMode(guest.page, 'listener');
  await guest.page.waitForSelector('#notice >> text=You’re back in the audience.');
  await guest.page.waitForSelector('#listen-status >> text=Listening live', { timeout: 30_000 });

  // Back up through a request: the page goes on stage by itself when accepted.
  await guest.page.click('#request-to-speak');
  await host.page.waitForSelector(`#request-queue [data-account="${guestId}"] button.accept`);
  await host.page.click(`#request-queue [data-account="${guestId}"] button.accept`);
  await waitForMode(guest.page, 'stage');
  await expectTones(host.page, [GUEST_HZ], 'the host hears the guest again after they came back');

  // Moved to the audience by the host: back to listening, told why.
  await host.page.click(`#manage-members [aria-label="Move to audience: Guesto"]`);
  await waitForMode(guest.page, 'listener');
  await guest.page.waitForSelector('#notice >> text=A host moved you to the audience.');
  await guest.page.waitForSelector('#request-to-speak');
  await screenshot(guest.page, '25-guest-moved-to-audience');

  await host.page.click('#end');
  await guest.page.waitForSelector('#ended >> text=This Space has ended.');
  await host.page.waitForSelector('#ended');
  await screenshot(guest.page, '26-guest-space-ended');
  for (const page of pages) assert.deepEqual(page.errors.filter((e) => !/Failed to load resource/.test(e)), [], 'no page errors');
});
