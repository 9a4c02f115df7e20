/**
 * Cutting a clip (POST /api/spaces/:id/clips): up to 30 s ending where the
 * person is listening. In the replay they choose the length (and may give
 * a title); in a live Space one button clips the last 30 s they heard
 * (signed-out listeners are asked to sign in by the page around it).
 * Times are replay seconds: in the replay, the player's position; live, the
 * program date-time of the audio playing now minus the recording's start.
 * Each clip cut adds a line with its link and a copy button.
 */
import type { ClipView } from '../../../wire/api.js';
import { API_LIMITS } from '../../../wire/limits.js';
import { signInUrl } from '../../account-session.js';
import { ApiError, api, describeError } from '../../api-client.js';
import { copyLinkButton } from '../../ui/copy-link.js';
import { button, h } from '../../ui/dom.js';

/** The longest clip the server cuts. */
export const MAX_CLIP_S = API_LIMITS.maxClipSeconds;
const LENGTHS_S = [10, 15, 20, 30] as const;
/** A clip shorter than this is a mis-click, not a moment. */
const MIN_CLIP_S = 1;

export interface ClipControlOptions {
  spaceId: string;
  signedIn: boolean;
  /** 'replay': a length to choose and a title; 'live': one button, the last 30 s. */
  mode: 'replay' | 'live';
  /** The replay second the clip ends at: where the person is listening now; null when not known. */
  endS(): Promise<number | null>;
  announce(text: string, clearAfterMs?: number): void;
  onCut?(clip: ClipView): void;
}

export function clipErrorMessage(error: unknown): string {
  if (!(error instanceof ApiError)) return describeError(error);
  switch (error.code) {
    case 'SIGN_IN_REQUIRED':
      return 'Sign in to cut a clip.';
    case 'CLIP_RATE_LIMITED':
      return 'You cut several clips just now: wait a few seconds and try again.';
    case 'REPLAY_GONE':
      return 'The replay was deleted, so it cannot be clipped any more.';
    case 'REPLAY_NOT_READY':
      return 'Nothing is recorded yet: try again in a few seconds.';
    default:
      return error.message;
  }
}

export function clipControl(options: ClipControlOptions): HTMLElement {
  const live = options.mode === 'live';
  const heading = h('h2', { id: 'clip-heading' }, 'Cut a clip');
  if (!options.signedIn) {
    return h(
      'section',
      { class: 'panel clip-control', 'aria-labelledby': 'clip-heading' },
      heading,
      h('p', { class: 'muted' }, h('a', { href: signInUrl('signin'), id: 'signin-to-clip' }, 'Sign in'), ` to cut a clip of up to ${MAX_CLIP_S} seconds and share it.`),
    );
  }
  const error = h('p', { class: 'error', role: 'alert', id: 'clip-error' });
  const results = h('ul', { class: 'clip-results', id: 'clip-results', 'aria-label': 'Clips you cut' });
  const length = h('select', { id: 'clip-length', class: 'clip-length' }, ...LENGTHS_S.map((s) => h('option', { value: s, selected: s === MAX_CLIP_S }, `${s} s`)));
  const title = h('input', { type: 'text', id: 'clip-title', maxlength: API_LIMITS.maxTitleChars, placeholder: 'What happens in it?', autocomplete: 'off' });
  const lengthS = (): number => (live ? MAX_CLIP_S : Number(length.value));
  const cut = button(`✂ Clip the last ${MAX_CLIP_S} s`, () => void run(), { id: 'cut-clip' });
  const renderLabel = (): void => {
    cut.textContent = `✂ Clip the last ${lengthS()} s`;
  };
  length.addEventListener('change', renderLabel);

  const run = async (): Promise<void> => {
    cut.disabled = true;
    error.textContent = '';
    try {
      const endS = await options.endS();
      if (endS === null || endS < MIN_CLIP_S) {
        error.textContent = live ? 'Nothing is recorded yet: try again in a few seconds.' : 'Play or move to the end of the moment you want, then clip.';
        return;
      }
      const startS = Math.max(0, endS - lengthS());
      const { clip } = await api.cutClip(options.spaceId, { startS: round3(startS), endS: round3(endS), ...(title.value.trim() ? { title: title.value.trim() } : {}) });
      title.value = '';
      results.prepend(clipLine(clip));
      results.hidden = false;
      options.announce(`Clip ready: ${clip.title}, ${Math.round(clip.durationS)} seconds. Its link is below.`, 8000);
      options.onCut?.(clip);
    } catch (failure) {
      error.textContent = clipErrorMessage(failure);
    } finally {
      cut.disabled = false;
    }
  };
  results.hidden = true;
  if (live) {
    // Live, it sits in the player's panel: one button, under the audio it clips.
    return h('div', { class: 'live-clip', role: 'group', 'aria-label': 'Clip' }, h('div', { class: 'row' }, cut, h('span', { class: 'hint' }, 'Saves what you just heard as a clip with its own link.')), error, results);
  }
  return h(
    'section',
    { class: 'panel clip-control', 'aria-labelledby': 'clip-heading' },
    heading,
    h(
      'div',
      { class: 'clip-form' },
      h('div', {}, h('label', { for: 'clip-length' }, 'Length'), length),
      h('div', { class: 'clip-title-field' }, h('label', { for: 'clip-title' }, 'Title ', h('span', { class: 'muted' }, '(optional)')), title),
    ),
    h('div', { class: 'row' }, cut),
    h('p', { class: 'hint' }, 'The clip ends where you are in the replay.'),
    error,
    results,
  );
}

/** A clip just cut: its link, and a copy button. */
function clipLine(clip: ClipView): HTMLLIElement {
  return h(
    'li',
    { class: 'clip-result', 'data-clip': clip.id },
    h('span', { class: 'success' }, 'Clip ready: '),
    h('a', { href: `/c/${clip.id}`, class: 'clip-link' }, clip.title),
    h('span', { class: 'muted' }, ` · ${Math.round(clip.durationS)} s`),
    copyLinkButton(clip.links.page, `the clip ${clip.title}`),
  );
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
