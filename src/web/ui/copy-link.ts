/** A share link people can copy: the address as a link and a Copy button. */
import { h } from './dom.js';

/** `what` completes the button's name: "Copy link to <what>". */
export function copyLinkButton(url: string, what: string): HTMLButtonElement {
  const copy = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Copy link to ${what}`, 'data-copy': url }, 'Copy link');
  copy.addEventListener('click', () => {
    const done = (text: string): void => {
      copy.textContent = text;
      setTimeout(() => (copy.textContent = 'Copy link'), 2000);
    };
    if (!navigator.clipboard) return done('Copy failed');
    navigator.clipboard.writeText(url).then(
      () => done('Copied'),
      () => done('Copy failed'),
    );
  });
  return copy;
}
