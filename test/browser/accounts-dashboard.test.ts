/**
 * Sign-in, sign-up and the host dashboard in Chromium, keyboard first:
 * catalogue errors shown to the person, ?next= kept on this site, a Space
 * scheduled, edited and cancelled, the home page's share and calendar
 * links, and every page fitting a phone-sized screen.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, screenshot } from '../helpers/browser.js';
import { startTribune, type RunningTribune } from '../helpers/tribune.js';
import { assertButtonsNamed, assertFitsViewport, openPage, uniqueUsername } from '../helpers/web-flows.js';

let server: RunningTribune;
let browser: Browser;

before(async () => {
  server = await startTribune({ secureCookies: true });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await server?.close();
});

function localInputValue(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

test('sign-up and sign-in show catalogue errors, keep ?next= on this site, and work from the keyboard', async () => {
  const taken = await server.account(uniqueUsername('taken'));
  const { page, errors, close } = await openPage(browser, { width: 360, height: 740 });
  try {
    // An address elsewhere is not followed after signing in.
    await page.goto(`${server.url}/signin?mode=signup&next=${encodeURIComponent('//example.org/x')}`);
    await assertFitsViewport(page, 'sign-in page at 360×740');
    await assertButtonsNamed(page, 'sign-in page');
    await page.fill('#signup-username', 'no');
    await page.fill('#signup-password', 'short');
    await page.click('#signup-submit');
    await page.waitForSelector('#signup-error >> text=3 to 24 letters');
    await page.fill('#signup-username', taken.account.username);
    await page.click('#signup-submit');
    await page.waitForSelector('#signup-error >> text=at least 10 characters');
    await page.fill('#signup-password', 'correct horse battery staple');
    await page.click('#signup-submit');
    await page.waitForSelector('#signup-error >> text=That username is taken');
    await screenshot(page, '40-sign-up-error-phone');

    // Sign in with the keyboard only: wrong password first, then the right one.
    await page.focus('#signin-username');
    await page.keyboard.type(taken.account.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#signin-error >> text=Wrong username or password');
    await page.fill('#signin-password', 'correct horse battery');
    await page.keyboard.press('Enter');
    await page.waitForURL(`${server.url}/`);
    await page.waitForSelector('#signed-in-as');
    await assertFitsViewport(page, 'home signed in at 360×740');
    await screenshot(page, '42-home-signed-in-phone');

    await page.click('#sign-out');
    await page.waitForSelector('#nav-signin');
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  } finally {
    await close();
  }
});

test('a host schedules, edits and cancels a Space from the dashboard; home lists it with share and calendar links', async () => {
  const { page, errors, close } = await openPage(browser);
  try {
    await page.goto(`${server.url}/host`);
    await page.waitForURL(/\/signin\?next=%2Fhost/);
    await page.click('#signup-title');
    await page.fill('#signup-username', uniqueUsername('planner'));
    await page.fill('#signup-display-name', 'Planner');
    await page.fill('#signup-password', 'correct horse battery staple');
    await page.click('#signup-submit');
    await page.waitForURL(/\/host$/);

    await page.click('#schedule');
    await page.waitForSelector('#schedule-error >> text=Give your Space a title.');
    await page.fill('#space-title', 'Draft title');
    await page.click('#schedule');
    await page.waitForSelector('#schedule-error >> text=Pick a start time');
    await page.fill('#space-starts-at', localInputValue(new Date(Date.now() + 40 * 24 * 3600_000)));
    await page.click('#schedule');
    await page.waitForSelector('#schedule-error >> text=between now and 30 days');
    await page.fill('#space-starts-at', localInputValue(new Date(Date.now() + 2 * 24 * 3600_000)));
    await page.click('#schedule');
    const card = '#my-spaces .space-card';
    await page.waitForSelector(`${card} >> text=Draft title`);

    await page.click(`${card} button[aria-label="Edit Draft title"]`);
    await page.fill(`${card} .edit-form input[type="text"]`, 'Friday show');
    await page.click(`${card} .edit-form button[type="submit"]`);
    await page.waitForSelector(`${card} >> text=Friday show`);
    const spaceId = await page.getAttribute(card, 'data-space');
    assert.ok(spaceId);
    await page.setViewportSize({ width: 360, height: 740 });
    await assertFitsViewport(page, 'dashboard at 360×740');
    await assertButtonsNamed(page, 'dashboard');
    await screenshot(page, '43-dashboard-phone');
    // The host's own lobby: the countdown and Start.
    await page.goto(`${server.url}/s/${spaceId}`);
    await page.waitForSelector('#start-space');
    await page.waitForSelector('#countdown >> text=/Starts in \\d+ d/');
    await assertFitsViewport(page, 'host lobby at 360×740');
    await screenshot(page, '44-host-lobby-phone');
    await page.setViewportSize({ width: 1000, height: 900 });

    // Home lists it with a share link and an .ics that downloads.
    await page.goto(server.url);
    await page.waitForSelector(`#upcoming-list [data-space="${spaceId}"] >> text=Friday show`);
    await screenshot(page, '41-home-upcoming');
    const ics = await page.getAttribute(`#upcoming-list [data-space="${spaceId}"] a[download]`, 'href');
    const calendar = await page.evaluate(async (href) => {
      const response = await fetch(href ?? '');
      return { type: response.headers.get('content-type'), text: await response.text() };
    }, ics);
    assert.match(calendar.type ?? '', /text\/calendar/);
    assert.match(calendar.text, /SUMMARY:Friday show/);
    assert.equal(await page.getAttribute(`#upcoming-list [data-space="${spaceId}"] [data-copy]`, 'data-copy'), `${server.url}/s/${spaceId}`);

    await page.goto(`${server.url}/host`);
    await page.click(`${card} button[aria-label="Cancel Friday show"]`);
    await page.waitForSelector('#my-spaces >> text=Nothing yet');
    await page.goto(`${server.url}/s/${spaceId}`);
    await page.waitForSelector('#ended >> text=The host cancelled this Space.');
    assert.deepEqual(errors.filter((e) => !/Failed to load resource/.test(e)), []);
  } finally {
    await close();
  }
});
