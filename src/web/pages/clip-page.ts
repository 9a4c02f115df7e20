/**
 * A clip's own page, /c/:clipId (GET /api/clips/:clipId): its title, the
 * Space it comes from, who cut it, the player, the link to copy, the .mp4
 * to download, and where it sits in the replay. The player is the replay's
 * (hls.js on the clip's VOD playlist, else the browser's own HLS), so a clip
 * plays wherever the replay plays. A deleted or expired clip says so.
 */
import type { ClipView } from '../../wire/api.js';
import { signedInAccount } from '../account-session.js';
import { ApiError, api, describeError } from '../api-client.js';
import { formatClock } from '../replay/replay-timeline.js';
import { VodPlayer, type VodStatus } from '../replay/vod-player.js';
import { Announcer } from '../ui/announcer.js';
import { copyLinkButton } from '../ui/copy-link.js';
import { button, h, mount, runAction } from '../ui/dom.js';
import { formatStart } from '../ui/format.js';
import { MediaTransport } from '../ui/media-transport.js';

const PLAYER_TROUBLE: Partial<Record<VodStatus, string>> = {
  failed: 'The clip cannot be loaded right now. Check your connection, or download it below.',
  gone: 'This clip was just deleted.',
  unsupported: 'This browser cannot play the clip here. Download it below and play it in any audio player.',
};

export async function clipPage(root: HTMLElement, clipId: string): Promise<void> {
  document.title = 'Clip · Tribune';
  mount(root, h('p', { class: 'muted', role: 'status' }, 'Loading the clip…'));
  let clip: ClipView;
  try {
    clip = (await api.clip(clipId)).clip;
  } catch (error) {
    showMissing(root, error);
    return;
  }
  showClip(root, clip);
}

function showMissing(root: HTMLElement, error: unknown): void {
  const code = error instanceof ApiError ? error.code : undefined;
  const gone = code === 'CLIP_GONE';
  const missing = gone || code === 'CLIP_NOT_FOUND' || code === 'VALIDATION_FAILED';
  document.title = `${gone ? 'Clip removed' : missing ? 'Clip not found' : 'Clip'} · Tribune`;
  mount(
    root,
    h(
      'section',
      { class: 'panel', id: 'clip-missing' },
      h('h1', { id: 'clip-missing-heading', tabindex: -1 }, gone ? 'This clip is no longer available' : missing ? 'This clip does not exist' : 'The clip cannot be loaded'),
      h('p', {}, gone ? 'Whoever cut it, or the host of its Space, deleted it, or it expired.' : missing ? 'Check the link you were sent.' : describeError(error)),
      h('div', { class: 'row' }, h('a', { href: '/', class: 'button-link' }, 'Find a Space')),
    ),
  );
}

function showClip(root: HTMLElement, clip: ClipView): void {
  document.title = `${clip.title} · Tribune`;
  const announcer = new Announcer();
  announcer.say('');
  const audio = h('audio', { id: 'clip-audio', preload: 'auto' });
  const player = new VodPlayer(audio, clip.links.playlist);
  const transport = new MediaTransport(audio, { idPrefix: 'clip', what: 'clip', durationS: clip.durationS, skipButtons: false });
  const trouble = h('p', { class: 'error', role: 'alert', id: 'clip-trouble' });
  player.on('status', (status) => {
    trouble.textContent = PLAYER_TROUBLE[status] ?? '';
  });
  const me = signedInAccount();
  const actionStatus = h('p', { class: 'error', role: 'alert' });
  const remove =
    me && clip.by?.id === me.id
      ? button('Delete clip', () => {
          if (!confirm(`Delete the clip “${clip.title}”? Its link stops working.`)) return;
          void runAction(remove, actionStatus, async () => {
            await api.deleteClip(clip.id);
            transport.destroy();
            player.destroy();
            mount(root, h('section', { class: 'panel', id: 'clip-missing' }, h('h1', { tabindex: -1 }, 'You deleted this clip'), h('p', {}, 'Its link no longer works.'), h('div', { class: 'row' }, h('a', { href: `/s/${clip.spaceId}`, class: 'button-link' }, `Back to ${clip.spaceTitle}`))));
          }, describeError);
        }, { class: 'danger small', id: 'delete-clip' })
      : null;
  const inReplay = Math.floor(clip.startS);
  mount(
    root,
    h(
      'article',
      { class: 'clip-page', id: 'clip-page', 'aria-labelledby': 'clip-page-title' },
      h('p', { class: 'meta-line' }, h('span', { class: 'badge replay' }, 'CLIP'), h('span', { class: 'muted' }, `${formatClock(clip.durationS)} · cut ${formatStart(clip.createdAt)}`)),
      h('h1', { id: 'clip-page-title', tabindex: -1 }, clip.title),
      h('p', { class: 'clip-source' }, 'From ', h('a', { href: `/s/${clip.spaceId}`, id: 'clip-space-link' }, clip.spaceTitle), clip.by ? ` · cut by ${clip.by.displayName}` : ''),
      announcer.element,
      h(
        'section',
        { class: 'panel replay-player', 'aria-label': 'Clip player' },
        audio,
        transport.element,
        trouble,
        h(
          'div',
          { class: 'row replay-actions' },
          copyLinkButton(clip.links.page, 'this clip'),
          h('a', { href: clip.links.file, download: '', class: 'button-link secondary small', id: 'clip-download', 'aria-label': 'Download the clip (.mp4 audio)' }, '⬇ Download (.mp4)'),
          h('a', { href: `/s/${clip.spaceId}?t=${inReplay}`, class: 'button-link secondary small', id: 'clip-in-replay' }, `Hear it in the replay (${formatClock(inReplay)})`),
          remove,
        ),
        actionStatus,
        clip.expiresAt ? h('p', { class: 'hint' }, `Available until ${formatStart(clip.expiresAt)}.`) : null,
      ),
    ),
  );
  player.start();
}
