/**
 * The top bar on every page: home, and either sign in / sign up or the
 * signed-in name, "Host a Space" and sign out; below it, in-app
 * notifications (a Space you asked to be reminded of has started), polled
 * every minute while signed in.
 */
import { signOut, signInUrl, signedInAccount } from '../account-session.js';
import { api, type Notification } from '../api-client.js';
import { button, h, mount } from './dom.js';

const NOTIFICATION_POLL_MS = 60_000;

export function renderSiteHeader(header: HTMLElement, notices: HTMLElement): void {
  const account = signedInAccount();
  header.classList.toggle('signed-in', account !== null);
  const brand = h('a', { href: '/', class: 'brand', 'aria-label': 'Tribune home' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), h('span', { class: 'brand-word' }, 'Tribune'));
  if (!account) {
    const onSignIn = location.pathname === '/signin';
    mount(
      header,
      brand,
      h(
        'nav',
        { class: 'account-nav', 'aria-label': 'Account' },
        onSignIn ? null : h('a', { href: signInUrl('signin'), class: 'nav-link', id: 'nav-signin' }, 'Sign in'),
        onSignIn ? null : h('a', { href: signInUrl('signup'), class: 'nav-button', id: 'nav-signup' }, 'Sign up'),
      ),
    );
    notices.replaceChildren();
    return;
  }
  const out = button('Sign out', () => {
    out.disabled = true;
    void signOut().finally(() => location.assign('/'));
  }, { class: 'nav-link', id: 'sign-out' });
  mount(
    header,
    brand,
    h(
      'nav',
      { class: 'account-nav', 'aria-label': 'Account' },
      h('a', { href: '/host', class: 'nav-button', id: 'nav-host', 'aria-label': 'Host a Space' }, h('span', { class: 'long' }, 'Host a Space'), h('span', { class: 'short' }, 'Host')),
      h('span', { class: 'who', id: 'signed-in-as', title: `@${account.username}` }, account.displayName),
      out,
    ),
  );
  void pollNotifications(notices);
}

let pollTimer: ReturnType<typeof setTimeout> | undefined;

async function pollNotifications(notices: HTMLElement): Promise<void> {
  clearTimeout(pollTimer);
  try {
    const { notifications } = await api.notifications();
    showNotifications(notices, notifications.filter((n) => !n.read));
  } catch {
    // A missed poll is retried at the next one; notifications are not urgent.
  }
  if (signedInAccount()) pollTimer = setTimeout(() => void pollNotifications(notices), NOTIFICATION_POLL_MS);
}

function showNotifications(notices: HTMLElement, unread: Notification[]): void {
  notices.replaceChildren(
    ...unread.map((notification) => {
      const item = h('div', { class: 'notification', 'data-notification': notification.id });
      const markRead = (): Promise<unknown> => api.markRead(notification.id).catch(() => undefined);
      const listen = h('a', { href: `/s/${notification.space.id}`, class: 'notification-link' }, 'Listen');
      listen.addEventListener('click', (event) => {
        event.preventDefault();
        void markRead().finally(() => location.assign(listen.href));
      });
      const dismiss = button('✕', () => {
        item.remove();
        void markRead();
      }, { class: 'icon-button', 'aria-label': `Dismiss: ${notification.space.title} has started` });
      item.append(h('p', {}, h('strong', {}, notification.space.title), ' has started — ', listen), dismiss);
      return item;
    }),
  );
  notices.hidden = unread.length === 0;
}
