/**
 * Who is signed in on this page. Loaded once at start (GET /api/session,
 * which also hands out the CSRF token) and changed only by signing in, up
 * or out; pages read it, they do not fetch it again.
 *
 * A browser without the `tribune_signed_in` hint cookie has no session, so
 * the page does not ask: an anonymous listener's page load makes no request
 * an edge cannot answer (a launch crowd is mostly anonymous listeners). The
 * CSRF token is then fetched when first needed (src/web/api-client.ts).
 */
import type { AccountView } from '../wire/api.js';
import { api, setCsrfToken } from './api-client.js';

let current: AccountView | null = null;

const SIGNED_IN_HINT = /(?:^|;\s*)tribune_signed_in=/;

/** `always`: ask even without the hint (the sign-in page wants its CSRF token up front). */
export async function loadSession(options: { always?: boolean } = {}): Promise<AccountView | null> {
  if (!options.always && !SIGNED_IN_HINT.test(document.cookie)) {
    current = null;
    return current;
  }
  const session = await api.session();
  setCsrfToken(session.csrfToken);
  current = session.account;
  return current;
}

export function signedInAccount(): AccountView | null {
  return current;
}

export async function signIn(username: string, password: string): Promise<AccountView> {
  const answer = await api.signIn(username, password);
  setCsrfToken(answer.csrfToken);
  current = answer.account;
  return current;
}

export async function signUp(username: string, password: string, displayName?: string): Promise<AccountView> {
  const answer = await api.signUp(username, password, displayName);
  setCsrfToken(answer.csrfToken);
  current = answer.account;
  return current;
}

export async function signOut(): Promise<void> {
  await api.signOut();
  current = null;
  // The old CSRF token stays valid for the secret cookie; fetch a fresh one anyway.
  await loadSession({ always: true }).catch(() => undefined);
}

/** The sign-in page's URL that brings the person back here afterwards. */
export function signInUrl(mode: 'signin' | 'signup' = 'signin', next = location.pathname + location.search): string {
  const query = new URLSearchParams({ next });
  if (mode === 'signup') query.set('mode', 'signup');
  return `/signin?${query.toString()}`;
}
