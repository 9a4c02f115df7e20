/**
 * The host dashboard: schedule a Space (or start one now), recorded or
 * not, and the Spaces I host that are live or coming up, with start, edit
 * and cancel.
 */
import type { SpaceView } from '../../wire/api.js';
import { API_LIMITS } from '../../wire/limits.js';
import { signInUrl, signedInAccount } from '../account-session.js';
import { api, describeError } from '../api-client.js';
import { button, h, mount, runAction } from '../ui/dom.js';
import { toLocalInputValue } from '../ui/format.js';
import { spaceCard } from '../ui/space-card.js';

export function hostPage(root: HTMLElement): void {
  document.title = 'Host a Space · Tribune';
  if (!signedInAccount()) {
    location.replace(signInUrl('signin', '/host'));
    return;
  }
  const list = h('div', { id: 'my-spaces', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading your Spaces…'));
  const refresh = (): Promise<void> => renderMySpaces(list, refresh);
  mount(root, h('h1', {}, 'Host a Space'), scheduleForm(refresh), h('section', { 'aria-labelledby': 'mine-heading' }, h('h2', { id: 'mine-heading' }, 'Your Spaces'), list));
  void refresh();
}

function scheduleForm(onScheduled: () => Promise<void>): HTMLFormElement {
  const now = new Date();
  const title = h('input', { type: 'text', id: 'space-title', name: 'title', maxlength: API_LIMITS.maxTitleChars, required: true, placeholder: 'What will you talk about?' });
  const description = h('textarea', { id: 'space-description', name: 'description', maxlength: API_LIMITS.maxDescriptionChars, rows: 3 });
  const startsAt = h('input', {
    type: 'datetime-local',
    id: 'space-starts-at',
    name: 'startsAt',
    min: toLocalInputValue(now),
    max: toLocalInputValue(new Date(now.getTime() + API_LIMITS.maxScheduleAheadMs - 60_000)),
    'aria-describedby': 'starts-at-hint',
  });
  const record = h('input', { type: 'checkbox', id: 'space-record', name: 'record', 'aria-describedby': 'record-hint' });
  const status = h('p', { class: 'error', role: 'alert', id: 'schedule-error' });
  const done = h('p', { class: 'success', role: 'status', id: 'schedule-status' });
  const schedule = h('button', { type: 'submit', id: 'schedule' }, 'Schedule');
  const startNow = h('button', { type: 'button', class: 'secondary', id: 'start-now' }, 'Start now');
  const form = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'schedule-heading', id: 'schedule-form', novalidate: true },
    h('h2', { id: 'schedule-heading' }, 'Schedule a Space'),
    h('label', { for: 'space-title' }, 'Title'),
    title,
    h('label', { for: 'space-description' }, 'Description ', h('span', { class: 'muted' }, '(optional)')),
    description,
    h('label', { for: 'space-starts-at' }, 'Starts at'),
    startsAt,
    h('p', { class: 'hint', id: 'starts-at-hint' }, `Your local time, up to 30 days ahead.`),
    h('label', { for: 'space-record', class: 'check' }, record, 'Record this Space'),
    h('p', { class: 'hint', id: 'record-hint' }, 'After it ends, anyone can replay it and download it, and signed-in listeners can cut clips. Everyone in the Space sees that it is recorded.'),
    h('div', { class: 'row' }, schedule, startNow),
    status,
    done,
  );
  const readTitle = (): string | undefined => {
    const text = title.value.trim();
    if (text) return text;
    status.textContent = 'Give your Space a title.';
    title.focus();
    return undefined;
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    done.textContent = '';
    const text = readTitle();
    if (!text) return;
    const when = startsAt.value ? new Date(startsAt.value) : undefined;
    if (!when || Number.isNaN(when.getTime())) {
      status.textContent = 'Pick a start time, or choose Start now.';
      startsAt.focus();
      return;
    }
    void runAction(schedule, status, async () => {
      const created = await api.createSpace({ title: text, description: description.value.trim(), startsAt: when.toISOString(), record: record.checked });
      form.reset();
      done.textContent = `Scheduled “${created.space.title}”.`;
      await onScheduled();
    }, describeError);
  });
  startNow.addEventListener('click', () => {
    done.textContent = '';
    const text = readTitle();
    if (!text) return;
    void runAction(startNow, status, async () => {
      const created = await api.createSpace({ title: text, description: description.value.trim(), record: record.checked });
      location.assign(`/s/${created.space.id}`);
    }, describeError);
  });
  return form;
}

async function renderMySpaces(list: HTMLElement, refresh: () => Promise<void>): Promise<void> {
  try {
    const mine = await api.mySpaces();
    const spaces = [...mine.live, ...mine.upcoming];
    if (spaces.length === 0) {
      mount(list, h('p', { class: 'muted' }, 'Nothing yet: schedule your first Space above.'));
      return;
    }
    mount(list, h('ul', { class: 'space-list' }, ...spaces.map((space) => myCard(space, refresh))));
  } catch (error) {
    mount(list, h('p', { class: 'error', role: 'alert' }, describeError(error)));
  }
}

function myCard(space: SpaceView, refresh: () => Promise<void>): HTMLLIElement {
  const status = h('p', { class: 'error', role: 'alert' });
  if (space.state === 'live') {
    const card = spaceCard(space, h('a', { href: `/s/${space.id}`, class: 'button-link small' }, 'Open'));
    card.append(status);
    return card;
  }
  const start = button('Start', () => {
    void runAction(start, status, async () => {
      await api.startSpace(space.id);
      location.assign(`/s/${space.id}`);
    }, describeError);
  }, { class: 'small', 'aria-label': `Start ${space.title} now` });
  const editor = editForm(space, status, refresh);
  const edit = button('Edit', () => {
    editor.hidden = !editor.hidden;
    edit.setAttribute('aria-expanded', String(!editor.hidden));
    if (!editor.hidden) editor.querySelector('input')?.focus();
  }, { class: 'secondary small', 'aria-expanded': 'false', 'aria-label': `Edit ${space.title}` });
  const cancel = button('Cancel', () => {
    if (!confirm(`Cancel “${space.title}”? People who asked for a reminder will not be told it started.`)) return;
    void runAction(cancel, status, async () => {
      await api.cancelSpace(space.id);
      await refresh();
    }, describeError);
  }, { class: 'danger small', 'aria-label': `Cancel ${space.title}` });
  const card = spaceCard(space, start, edit, cancel);
  card.append(editor, status);
  return card;
}

function editForm(space: SpaceView, status: HTMLElement, refresh: () => Promise<void>): HTMLFormElement {
  const key = `edit-${space.id}`;
  const title = h('input', { type: 'text', id: `${key}-title`, maxlength: API_LIMITS.maxTitleChars, required: true, value: space.title });
  const description = h('textarea', { id: `${key}-description`, maxlength: API_LIMITS.maxDescriptionChars, rows: 2 });
  description.value = space.description;
  const initialStart = space.startsAt ? toLocalInputValue(new Date(space.startsAt)) : '';
  const startsAt = h('input', { type: 'datetime-local', id: `${key}-starts-at`, value: initialStart });
  const save = h('button', { type: 'submit', class: 'small' }, 'Save');
  const form = h(
    'form',
    { class: 'edit-form', hidden: true, 'aria-label': `Edit ${space.title}`, novalidate: true },
    h('label', { for: `${key}-title` }, 'Title'),
    title,
    h('label', { for: `${key}-description` }, 'Description'),
    description,
    h('label', { for: `${key}-starts-at` }, 'Starts at'),
    startsAt,
    h('div', { class: 'row' }, save),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const changes: { title?: string; description?: string; startsAt?: string } = {};
    if (title.value.trim() && title.value.trim() !== space.title) changes.title = title.value.trim();
    if (description.value.trim() !== space.description) changes.description = description.value.trim();
    const when = startsAt.value ? new Date(startsAt.value) : undefined;
    // Compared as typed: the input shows minutes, the stored start may have seconds.
    if (startsAt.value !== initialStart && when && !Number.isNaN(when.getTime())) changes.startsAt = when.toISOString();
    if (Object.keys(changes).length === 0) {
      form.hidden = true;
      return;
    }
    void runAction(save, status, async () => {
      await api.editSpace(space.id, changes);
      await refresh();
    }, describeError);
  });
  return form;
}
