/** Home: the Spaces live now and those coming up, each with its share link and calendar file. */
import { signInUrl, signedInAccount } from '../account-session.js';
import { api, describeError } from '../api-client.js';
import { h, mount } from '../ui/dom.js';
import { spaceCard } from '../ui/space-card.js';

export async function homePage(root: HTMLElement): Promise<void> {
  document.title = 'Tribune · Live audio Spaces';
  const account = signedInAccount();
  const intro = h(
    'section',
    { class: 'hero' },
    h('h1', {}, 'Live audio, for any crowd'),
    h('p', { class: 'muted' }, 'Talk on stage with a few, be heard by everyone. Listening needs no account.'),
    account
      ? h('div', { class: 'row' }, h('a', { href: '/host', class: 'button-link' }, 'Host a Space'))
      : h('div', { class: 'row' }, h('a', { href: signInUrl('signup', '/host'), class: 'button-link' }, 'Sign up to host'), h('a', { href: signInUrl('signin'), class: 'button-link secondary' }, 'Sign in')),
  );
  mount(root, intro, h('p', { class: 'muted' }, 'Loading Spaces…'));
  let list;
  try {
    list = await api.listSpaces();
  } catch (error) {
    mount(root, intro, h('p', { class: 'error', role: 'alert' }, describeError(error)));
    return;
  }
  mount(
    root,
    intro,
    h(
      'section',
      { 'aria-labelledby': 'live-heading' },
      h('h2', { id: 'live-heading' }, 'Live now'),
      list.live.length === 0 ? h('p', { class: 'muted' }, 'No Space is live right now.') : h('ul', { class: 'space-list', id: 'live-list' }, ...list.live.map((space) => spaceCard(space))),
    ),
    h(
      'section',
      { 'aria-labelledby': 'upcoming-heading' },
      h('h2', { id: 'upcoming-heading' }, 'Coming up'),
      list.upcoming.length === 0 ? h('p', { class: 'muted' }, 'Nothing is scheduled yet.') : h('ul', { class: 'space-list', id: 'upcoming-list' }, ...list.upcoming.map((space) => spaceCard(space))),
    ),
  );
}
