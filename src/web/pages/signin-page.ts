/**
 * Sign in or sign up, then back to where the person came from (?next=,
 * a path on this site only). Errors are the catalogue's messages.
 */
import { API_LIMITS } from '../../wire/limits.js';
import { signIn, signUp, signedInAccount } from '../account-session.js';
import { ApiError, describeError } from '../api-client.js';
import { h, mount } from '../ui/dom.js';

/** Only a path on this site: never `//elsewhere` or `https://elsewhere`. */
export function safeNext(value: string | null): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  return value;
}

export function signinPage(root: HTMLElement): void {
  const query = new URLSearchParams(location.search);
  const next = safeNext(query.get('next'));
  const wantsSignUp = query.get('mode') === 'signup';
  document.title = `${wantsSignUp ? 'Sign up' : 'Sign in'} · Tribune`;
  const account = signedInAccount();
  if (account) {
    mount(root, h('h1', {}, 'You are signed in'), h('p', {}, `Signed in as ${account.displayName} (@${account.username}).`), h('a', { href: next, class: 'button-link' }, 'Continue'));
    return;
  }

  const signInForm = credentialsForm('signin', next);
  const signUpForm = credentialsForm('signup', next);
  mount(
    root,
    h('h1', {}, wantsSignUp ? 'Create your account' : 'Welcome back'),
    h('p', { class: 'muted' }, 'An account lets you react, ask to speak and host Spaces. Listening needs none.'),
    h('div', { class: 'auth-grid' }, ...(wantsSignUp ? [signUpForm.form, signInForm.form] : [signInForm.form, signUpForm.form])),
  );
  (wantsSignUp ? signUpForm : signInForm).first.focus();
}

function credentialsForm(kind: 'signin' | 'signup', next: string): { form: HTMLFormElement; first: HTMLInputElement } {
  const id = (name: string): string => `${kind}-${name}`;
  const username = h('input', {
    type: 'text',
    id: id('username'),
    name: 'username',
    autocomplete: 'username',
    required: true,
    autocapitalize: 'none',
    spellcheck: 'false',
    ...(kind === 'signup' ? { pattern: '[A-Za-z0-9_]{3,24}', maxlength: 24, 'aria-describedby': id('username-hint') } : { maxlength: 64 }),
  });
  const displayName = kind === 'signup' ? h('input', { type: 'text', id: id('display-name'), name: 'displayName', autocomplete: 'nickname', maxlength: 40 }) : null;
  const password = h('input', {
    type: 'password',
    id: id('password'),
    name: 'password',
    required: true,
    maxlength: API_LIMITS.maxPasswordChars,
    autocomplete: kind === 'signup' ? 'new-password' : 'current-password',
    ...(kind === 'signup' ? { minlength: API_LIMITS.minPasswordChars, 'aria-describedby': id('password-hint') } : {}),
  });
  const status = h('p', { class: 'error', role: 'alert', id: id('error') });
  const submit = h('button', { type: 'submit', id: id('submit') }, kind === 'signup' ? 'Sign up' : 'Sign in');
  const form = h(
    'form',
    { class: 'panel auth-form', id: `${kind}-form`, 'aria-labelledby': id('title'), novalidate: true },
    h('h2', { id: id('title') }, kind === 'signup' ? 'Sign up' : 'Sign in'),
    h('label', { for: id('username') }, 'Username'),
    username,
    kind === 'signup' ? h('p', { class: 'hint', id: id('username-hint') }, '3 to 24 letters, digits or _') : null,
    displayName ? h('label', { for: id('display-name') }, 'Display name ', h('span', { class: 'muted' }, '(optional)')) : null,
    displayName,
    h('label', { for: id('password') }, 'Password'),
    password,
    kind === 'signup' ? h('p', { class: 'hint', id: id('password-hint') }, `At least ${API_LIMITS.minPasswordChars} characters`) : null,
    h('div', { class: 'row' }, submit),
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    // The browser's own checks first, with our words for the two that matter.
    if (!username.checkValidity()) {
      status.textContent = kind === 'signup' ? 'Pick a username of 3 to 24 letters, digits or _.' : 'Enter your username.';
      username.focus();
      return;
    }
    if (!password.checkValidity()) {
      status.textContent = kind === 'signup' ? `Choose a password of at least ${API_LIMITS.minPasswordChars} characters.` : 'Enter your password.';
      password.focus();
      return;
    }
    submit.disabled = true;
    status.textContent = '';
    const done = kind === 'signup' ? signUp(username.value.trim(), password.value, displayName?.value.trim() || undefined) : signIn(username.value.trim(), password.value);
    done.then(
      () => location.assign(next),
      (error: unknown) => {
        submit.disabled = false;
        status.textContent = error instanceof ApiError && error.code === 'VALIDATION_FAILED' ? 'Check the username, display name and password.' : describeError(error);
        password.select();
      },
    );
  });
  return { form, first: username };
}
