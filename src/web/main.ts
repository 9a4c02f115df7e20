/** The browser client's entry: who is signed in, the top bar, then the page the URL names. */
import { loadSession } from './account-session.js';
import { clipPage } from './pages/clip-page.js';
import { homePage } from './pages/home-page.js';
import { hostPage } from './pages/host-page.js';
import { signinPage } from './pages/signin-page.js';
import { spacePage } from './pages/space-page.js';
import { h, mount } from './ui/dom.js';
import { renderSiteHeader } from './ui/site-header.js';
import { PUBLIC_ID_SOURCE } from '../wire/public-id.js';

const root = document.getElementById('app') as HTMLElement;
const header = document.getElementById('topbar') as HTMLElement;
const notices = document.getElementById('notices') as HTMLElement;

async function start(): Promise<void> {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  try {
    await loadSession({ always: path === '/signin' });
  } catch {
    // Listening works without a session; signed-in features say so when used.
  }
  renderSiteHeader(header, notices);
  const space = new RegExp(`^/s/(${PUBLIC_ID_SOURCE})$`).exec(path);
  const clip = new RegExp(`^/c/(${PUBLIC_ID_SOURCE})$`).exec(path);
  if (space?.[1]) spacePage(root, space[1]);
  else if (clip?.[1]) await clipPage(root, clip[1]);
  else if (path === '/signin') signinPage(root);
  else if (path === '/host' || path === '/new') hostPage(root);
  else if (path === '/') await homePage(root);
  else mount(root, h('h1', {}, 'Page not found'), h('p', {}, h('a', { href: '/' }, 'Go to the Spaces live now')));
}

void start();
