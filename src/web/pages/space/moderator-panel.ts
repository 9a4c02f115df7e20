/**
 * The host's and co-hosts' tools on stage: the queue of requests to speak
 * (pushed over the stage WebSocket), per-member controls (mute, move to the
 * audience, make co-host or speaker, block), pinned links, and for the
 * host: invite a listener up and edit the title.
 */
import type { StageSession } from '../../../client/stage-session.js';
import type { FeedState } from '../../../wire/feed.js';
import { API_LIMITS } from '../../../wire/limits.js';
import type { MemberView, RequestToSpeak, StageRole } from '../../../wire/signalling.js';
import { api, describeError } from '../../api-client.js';
import { button, h, mount, runAction } from '../../ui/dom.js';
import { ROLE_NAMES } from '../../ui/member-tile.js';
import type { SpaceContext } from './space-context.js';

export class ModeratorPanel {
  readonly element = h('div', { class: 'moderation', id: 'moderation' });
  private readonly queue = h('ul', { class: 'queue', id: 'request-queue', 'aria-label': 'Requests to speak' });
  private readonly queueHeading = h('h2', { id: 'queue-heading' }, 'Requests to speak');
  private readonly members = h('ul', { class: 'manage-list', id: 'manage-members', 'aria-label': 'Manage people on stage' });
  private readonly status = h('p', { class: 'error', role: 'alert', id: 'moderation-error' });
  private readonly news = h('p', { class: 'visually-hidden', role: 'status' });
  private readonly offs: (() => void)[] = [];
  private membersKey = '';
  private requests: RequestToSpeak[];

  constructor(
    private readonly ctx: SpaceContext,
    private readonly session: StageSession,
  ) {
    this.requests = session.requests;
    this.offs.push(
      session.on('requests', (requests) => {
        const known = new Set(this.requests.map((r) => r.accountId));
        const newcomers = requests.filter((r) => !known.has(r.accountId));
        if (newcomers.length > 0) this.news.textContent = `${newcomers.map((r) => r.name).join(', ')} asked to speak.`;
        this.requests = requests;
        this.renderQueue();
      }),
    );
    this.build();
  }

  private get role(): StageRole {
    return this.session.me?.role ?? 'speaker';
  }

  private get isModerator(): boolean {
    return this.role === 'host' || this.role === 'cohost';
  }

  /** My role changed on stage: a new co-host gets the queue too. */
  roleChanged(role: StageRole): void {
    this.membersKey = '';
    this.build();
    if (role === 'host' || role === 'cohost') {
      void api.requests(this.ctx.spaceId).then(
        ({ requests }) => {
          this.requests = requests.map((r) => ({ accountId: r.account.id, username: r.account.username, name: r.account.displayName, requestedAt: r.requestedAt }));
          this.renderQueue();
        },
        () => undefined,
      );
    }
  }

  update(_feed: FeedState): void {
    // The queue comes over the socket; the feed only matters to the summary's pins.
  }

  destroy(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private build(): void {
    if (!this.isModerator) {
      this.element.hidden = true;
      this.element.replaceChildren();
      return;
    }
    this.element.hidden = false;
    mount(
      this.element,
      h('section', { class: 'panel', 'aria-labelledby': 'queue-heading' }, this.queueHeading, this.queue, this.news),
      h('section', { class: 'panel', 'aria-labelledby': 'manage-heading' }, h('h2', { id: 'manage-heading' }, 'Manage the stage'), this.members, this.status),
      h('section', { class: 'panel tools', 'aria-label': 'Host tools' }, this.pinForm(), this.role === 'host' ? this.inviteForm() : null, this.role === 'host' ? this.titleForm() : null),
    );
    this.renderQueue();
    this.renderMembers([...this.session.members.values()]);
  }

  private renderQueue(): void {
    if (!this.isModerator) return;
    this.queueHeading.textContent = this.requests.length === 0 ? 'Requests to speak' : `Requests to speak (${this.requests.length})`;
    if (this.requests.length === 0) {
      this.queue.replaceChildren(h('li', { class: 'muted empty' }, 'No requests right now.'));
      return;
    }
    this.queue.replaceChildren(
      ...this.requests.map((request) => {
        const answer = (accept: boolean) => (event: Event) =>
          void runAction(event.currentTarget as HTMLButtonElement, this.status, () => api.answerRequest(this.ctx.spaceId, request.accountId, accept), describeError);
        return h(
          'li',
          { class: 'queue-item', 'data-account': request.accountId },
          h('span', { class: 'who' }, h('strong', {}, request.name), ' ', h('span', { class: 'muted' }, `@${request.username}`)),
          h(
            'span',
            { class: 'row tight' },
            button('Accept', answer(true), { class: 'small accept', 'aria-label': `Accept ${request.name}` }),
            button('Decline', answer(false), { class: 'secondary small decline', 'aria-label': `Decline ${request.name}` }),
          ),
        );
      }),
    );
  }

  /** The per-member controls; rebuilt only when someone's role or mute changes, so focus stays. */
  renderMembers(members: MemberView[]): void {
    if (!this.isModerator) return;
    const others = members.filter((m) => m.accountId !== this.ctx.account?.id);
    const key = JSON.stringify([this.role, others.map((m) => [m.id, m.role, m.muted])]);
    if (key === this.membersKey) return;
    this.membersKey = key;
    const focused = document.activeElement instanceof HTMLElement && this.members.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
    if (others.length === 0) {
      this.members.replaceChildren(h('li', { class: 'muted empty' }, 'Nobody else is on stage yet.'));
      return;
    }
    this.members.replaceChildren(...others.map((member) => this.memberRow(member)));
    if (focused) this.members.querySelector<HTMLElement>(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
  }

  private memberRow(member: MemberView): HTMLLIElement {
    const id = this.ctx.spaceId;
    const act = (run: () => Promise<unknown>, question?: string) => (event: Event) => {
      if (question && !confirm(question)) return;
      void runAction(event.currentTarget as HTMLButtonElement, this.status, run, describeError);
    };
    const iAmHost = this.role === 'host';
    const actions: HTMLButtonElement[] = [];
    if (member.role !== 'host') {
      actions.push(
        button(member.muted ? 'Muted' : 'Mute', act(() => api.mute(id, member.accountId)), { class: 'secondary small', disabled: member.muted, 'aria-label': `Mute ${member.name}` }),
      );
      if (iAmHost) {
        const to = member.role === 'cohost' ? 'speaker' : 'cohost';
        const text = to === 'cohost' ? 'Make co-host' : 'Make speaker';
        actions.push(button(text, act(() => api.setRole(id, member.accountId, to)), { class: 'secondary small', 'aria-label': `${text}: ${member.name}` }));
      }
      if (iAmHost || member.role === 'speaker') {
        actions.push(
          button('Move to audience', act(() => api.setRole(id, member.accountId, 'listener')), { class: 'secondary small', 'aria-label': `Move to audience: ${member.name}` }),
          button('Block', act(() => api.block(id, member.accountId), `Block ${member.name} from this Space? They leave the stage and cannot come back.`), { class: 'danger small', 'aria-label': `Block ${member.name}` }),
        );
      }
    }
    return h(
      'li',
      { class: 'manage-item', 'data-account': member.accountId },
      h('span', { class: 'who' }, h('strong', {}, member.name), ' ', h('span', { class: 'muted' }, ROLE_NAMES[member.role], member.muted ? ' · muted' : '')),
      actions.length > 0 ? h('span', { class: 'row tight' }, ...actions) : null,
    );
  }

  private pinForm(): HTMLFormElement {
    const label = h('input', { type: 'text', id: 'pin-label', maxlength: API_LIMITS.maxPinLabelChars, required: true, placeholder: 'Show notes' });
    const url = h('input', { type: 'url', id: 'pin-url', maxlength: API_LIMITS.maxPinUrlChars, required: true, placeholder: 'https://…' });
    const submit = h('button', { type: 'submit', class: 'small', id: 'pin-submit' }, 'Pin link');
    const status = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'inline-form', 'aria-labelledby': 'pin-heading', novalidate: true },
      h('h3', { id: 'pin-heading' }, 'Pin a link'),
      h('div', { class: 'field-pair' }, h('div', {}, h('label', { for: 'pin-label' }, 'Label'), label), h('div', {}, h('label', { for: 'pin-url' }, 'Address'), url)),
      h('div', { class: 'row' }, submit),
      status,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!label.value.trim() || !/^https?:\/\/\S+$/.test(url.value.trim())) {
        status.textContent = 'Give the link a label and an address starting with https://';
        return;
      }
      void runAction(submit, status, async () => {
        await api.pin(this.ctx.spaceId, url.value.trim(), label.value.trim());
        form.reset();
      }, describeError);
    });
    return form;
  }

  private inviteForm(): HTMLElement {
    const username = h('input', { type: 'text', id: 'invite-username', maxlength: 25, autocapitalize: 'none', spellcheck: 'false', placeholder: '@username', 'aria-describedby': 'invite-hint' });
    const submit = h('button', { type: 'submit', class: 'small secondary', id: 'invite-submit' }, 'Invite');
    const status = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'inline-form', novalidate: true },
      h('label', { for: 'invite-username' }, 'Username'),
      h('div', { class: 'row tight' }, username, submit),
      h('p', { class: 'hint', id: 'invite-hint' }, 'Listeners see their username on the Space page.'),
      status,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const name = username.value.trim().replace(/^@/, '');
      if (!/^[A-Za-z0-9_]{3,24}$/.test(name)) {
        status.textContent = 'A username has 3 to 24 letters, digits or _.';
        username.focus();
        return;
      }
      void runAction(submit, status, async () => {
        await api.invite(this.ctx.spaceId, { username: name });
        form.reset();
        this.ctx.announce(`Invitation sent to @${name}.`, 4000);
      }, describeError);
    });
    return h('details', { class: 'invite' }, h('summary', {}, 'Invite a listener up'), form);
  }

  private titleForm(): HTMLElement {
    const title = h('input', { type: 'text', id: 'edit-title', maxlength: API_LIMITS.maxTitleChars, required: true, value: this.ctx.feed()?.space.title ?? '' });
    const submit = h('button', { type: 'submit', class: 'small secondary' }, 'Save title');
    const status = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'inline-form', novalidate: true }, h('label', { for: 'edit-title' }, 'Title'), h('div', { class: 'row tight' }, title, submit), status);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!title.value.trim()) {
        status.textContent = 'The title cannot be empty.';
        return;
      }
      void runAction(submit, status, async () => {
        await api.editSpace(this.ctx.spaceId, { title: title.value.trim() });
        this.ctx.announce('Title saved.', 3000);
      }, describeError);
    });
    return h('details', { class: 'edit-title' }, h('summary', {}, 'Edit title'), form);
  }
}
