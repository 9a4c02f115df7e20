/** The start page: open a Space with a title and go on stage as its host. */
import { API_LIMITS } from '../../wire/limits.js';
import { ApiError, api } from '../api-client.js';
import { h, mount } from '../ui/dom.js';

export function startPage(root: HTMLElement): void {
  const title = h('input', { type: 'text', id: 'title', maxlength: API_LIMITS.maxTitleChars, placeholder: 'What will you talk about?', required: true });
  const status = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'open-space' }, 'Open a Space');
  const form = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'open-title' },
    h('h2', { id: 'open-title' }, 'Open a Space'),
    h('label', { for: 'title' }, 'Title'),
    title,
    h('div', { class: 'row' }, submit),
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = title.value.trim();
    if (!text) {
      status.textContent = 'Give your Space a title.';
      title.focus();
      return;
    }
    submit.disabled = true;
    api.createSpace(text).then(
      (created) => location.assign(created.hostUrl),
      (error: unknown) => {
        submit.disabled = false;
        status.textContent = error instanceof ApiError ? error.message : String(error);
      },
    );
  });
  mount(
    root,
    h('h1', {}, 'Live audio, for any crowd'),
    h('p', { class: 'muted' }, 'Open a Space, bring speakers on stage with a link, and let anyone listen live.'),
    form,
  );
  title.focus();
}
