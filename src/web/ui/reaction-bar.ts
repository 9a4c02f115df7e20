/** The reaction buttons: one real button per emoji, named for screen readers. */
import { REACTION_EMOJI } from '../../wire/limits.js';
import { ApiError, api, describeError } from '../api-client.js';
import { h } from './dom.js';

const EMOJI_NAMES: Record<string, string> = {
  '👏': 'Applause',
  '❤️': 'Love',
  '😂': 'Laughing',
  '🔥': 'Fire',
  '💯': 'Hundred',
  '🙌': 'Raised hands',
  '😮': 'Wow',
  '👍': 'Thumbs up',
};

export function reactionBar(spaceId: string): HTMLElement {
  const status = h('p', { class: 'reaction-status muted', role: 'status' });
  let clear: ReturnType<typeof setTimeout> | undefined;
  const say = (text: string): void => {
    clearTimeout(clear);
    status.textContent = text;
    clear = setTimeout(() => (status.textContent = ''), 2500);
  };
  const buttons = REACTION_EMOJI.map((emoji) =>
    h(
      'button',
      {
        type: 'button',
        class: 'reaction-button',
        'aria-label': `React: ${EMOJI_NAMES[emoji] ?? emoji}`,
        title: EMOJI_NAMES[emoji] ?? emoji,
        'data-emoji': emoji,
        onclick: () => {
          api.react(spaceId, emoji).then(
            () => say(`Sent ${EMOJI_NAMES[emoji] ?? emoji}`),
            (error: unknown) => say(error instanceof ApiError && error.code === 'REACTION_RATE_LIMITED' ? 'Easy there: one reaction a second.' : describeError(error)),
          );
        },
      },
      emoji,
    ),
  );
  return h('section', { class: 'reactions', 'aria-label': 'Reactions' }, h('div', { class: 'reaction-row' }, ...buttons), status);
}
