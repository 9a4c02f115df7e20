/** One person on stage: avatar, name, role, muted and talking, named for screen readers. */
import type { StageRole } from '../../wire/signalling.js';
import { h } from './dom.js';
import { initialOf } from './format.js';

export interface SeatView {
  accountId: string;
  name: string;
  role: StageRole;
  muted: boolean;
  /** False while a speaker has a seat but is not connected. */
  connected?: boolean;
  /** The stage connection, when known (stage members see it; listeners do not). */
  memberId?: string;
}

export const ROLE_NAMES: Record<StageRole, string> = { host: 'Host', cohost: 'Co-host', speaker: 'Speaker' };

export function memberTile(seat: SeatView, talking: boolean, isMe = false): HTMLLIElement {
  const away = seat.connected === false;
  const states = [ROLE_NAMES[seat.role], seat.muted ? 'muted' : null, talking ? 'talking' : null, away ? 'not connected' : null].filter(Boolean).join(', ');
  const classes = ['member', talking ? 'talking' : '', seat.muted ? 'muted' : '', away ? 'away' : ''].filter(Boolean).join(' ');
  return h(
    'li',
    { class: classes, 'data-account': seat.accountId, 'data-member': seat.memberId, 'aria-label': `${seat.name}${isMe ? ' (you)' : ''}: ${states}` },
    h('div', { class: 'avatar', 'aria-hidden': 'true' }, initialOf(seat.name), seat.muted ? h('span', { class: 'mic-off' }, '🔇') : null),
    h('div', { class: 'name', 'aria-hidden': 'true' }, seat.name, isMe ? ' (you)' : ''),
    h('div', { class: 'meta', 'aria-hidden': 'true' }, ROLE_NAMES[seat.role], seat.muted ? ' · muted' : '', talking ? ' · talking' : '', away ? ' · away' : ''),
  );
}

/** The stage as a list; `empty` is what it says when nobody is on it. */
export function renderStage(list: HTMLElement, seats: SeatView[], talking: ReadonlySet<string>, myAccountId: string | undefined, empty = 'Nobody is on stage right now.'): void {
  if (seats.length === 0) {
    list.replaceChildren(h('li', { class: 'muted empty' }, empty));
    return;
  }
  list.replaceChildren(...seats.map((seat) => memberTile(seat, talking.has(seat.accountId), seat.accountId === myAccountId)));
}
