/**
 * Steps the browser tests share: a page in its own browser context (its own
 * cookies, its own connection pool), signing up through the sign-in page,
 * reading the page's diagnostics, and checks that a view fits a phone.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';

export interface WebPage {
  page: Page;
  /** Errors the page threw or logged, for the failure message. */
  errors: string[];
  close(): Promise<void>;
}

export async function openPage(browser: Browser, viewport = { width: 1000, height: 900 }): Promise<WebPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  // Every confirm() is a yes: the tests click End, Cancel, Block on purpose.
  page.on('dialog', (dialog) => void dialog.accept());
  return { page, errors, close: () => context.close() };
}

export function uniqueUsername(prefix: string): string {
  return `${prefix}_${randomBytes(3).toString('hex')}`;
}

/** Signs up through /signin (the sign-up form) and waits to be back on `next`. */
export async function signUpThroughPage(page: Page, base: string, username: string, displayName: string, next = '/'): Promise<void> {
  await page.goto(`${base}/signin?mode=signup&next=${encodeURIComponent(next)}`);
  await page.fill('#signup-username', username);
  await page.fill('#signup-display-name', displayName);
  await page.fill('#signup-password', 'correct horse battery staple');
  await page.click('#signup-submit');
  await page.waitForURL((url) => url.pathname === next.split('?')[0]);
  await page.waitForSelector('#signed-in-as');
}

/** The signed-in account's id, as the page's own session sees it. */
export async function accountIdOf(page: Page): Promise<string> {
  const id = await page.evaluate(async () => ((await (await fetch('/api/session')).json()) as { account: { id: string } | null }).account?.id);
  assert.ok(id, 'the page is signed in');
  return id;
}

/** The Space page's mode (lobby, listener, stage, ...) from its diagnostics. */
export function modeOf(page: Page): Promise<string | undefined> {
  return page.evaluate(() => (window as unknown as { tribune?: { mode?: string } }).tribune?.mode);
}

export async function waitForMode(page: Page, mode: string, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction((want) => (window as unknown as { tribune?: { mode?: string } }).tribune?.mode === want, mode, { timeout: timeoutMs });
}

/** Nothing scrolls sideways, and every button and link is inside the viewport's width. */
export async function assertFitsViewport(page: Page, what: string): Promise<void> {
  const report = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const overflowing = [...document.querySelectorAll<HTMLElement>('button, a, input, textarea, select, summary')]
      .filter((el) => el.offsetParent !== null || getComputedStyle(el).position === 'fixed')
      .filter((el) => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && (box.left < -1 || box.right > width + 1);
      })
      .map((el) => `${el.tagName.toLowerCase()}#${el.id || ''}.${el.className || ''} "${(el.textContent ?? '').trim().slice(0, 30)}"`);
    return { scrollWidth: document.documentElement.scrollWidth, width, overflowing };
  });
  assert.ok(report.scrollWidth <= report.width, `${what}: no horizontal scroll (scrollWidth ${report.scrollWidth} > ${report.width})`);
  assert.deepEqual(report.overflowing, [], `${what}: every control is within the viewport's width`);
}

/** Every visible button has a name (text or aria-label) a screen reader can read. */
export async function assertButtonsNamed(page: Page, what: string): Promise<void> {
  const unnamed = await page.evaluate(() =>
    [...document.querySelectorAll<HTMLButtonElement>('button')]
      .filter((b) => b.offsetParent !== null)
      .filter((b) => !(b.getAttribute('aria-label') ?? '').trim() && !(b.textContent ?? '').trim())
      .map((b) => b.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unnamed, [], `${what}: every button has a name`);
}
