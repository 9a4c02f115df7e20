/** One person on stage: avatar, name, role, muted and talking, named for screen readers. */
import type { MemberView } from '../../wire/signalling.js';
import { h } from './dom.js';

export function memberTile(member: MemberView, talking: boolean, isMe = false): HTMLElement {
  const initials = member.name.trim().slice(0, 1).toUpperCase() || '?';
  const states = [member.role === 'host' ? 'Host' : 'Speaker', member.muted ? 'muted' : null, talking ? 'talking' : null].filter(Boolean).join(', ');
  return h(
    'li',
    { class: `member${talking ? ' talking' : ''}`, 'data-member': member.id, 'aria-label': `${member.name}${isMe ? ' (you)' : ''}: ${states}` },
    h('div', { class: 'avatar', 'aria-hidden': 'true' }, initials),
    h('div', { class: 'name' }, member.name, isMe ? ' (you)' : ''),
    h('div', { class: 'meta' }, member.role === 'host' ? 'Host' : 'Speaker', member.muted ? ' · muted' : '', talking ? ' · talking' : ''),
  );
}
