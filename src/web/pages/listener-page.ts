/**
 * The listener view of a Space: the mixed conversation over LL-HLS, who is
 * on stage and who is talking (in step with the audio), a volume control.
 * No account, no WebSocket: everything here is a cacheable GET.
 */
import type { SpaceView } from '../../wire/api.js';
import type { StageState } from '../../wire/stage-state.js';
import { LivePlayer } from '../listener/live-player.js';
import { h, mount } from '../ui/dom.js';
import { memberTile } from '../ui/member-tile.js';

const VOLUME_KEY = 'tribune.volume';

export function listenerPage(root: HTMLElement, space: SpaceView): void {
  const audio = h('audio', { id: 'listener-audio', preload: 'auto' });
  const status = h('span', { class: 'muted', id: 'listen-status', role: 'status' }, 'Connecting…');
  const stage = h('ul', { class: 'stage', 'aria-label': 'People on stage', 'aria-live': 'polite' });
  const playButton = h('button', { type: 'button', id: 'listen', hidden: true }, 'Tap to listen');
  const savedVolume = Number(localStorage.getItem(VOLUME_KEY) ?? '1');
  const volume = h('input', { type: 'range', id: 'volume', min: 0, max: 1, step: 0.05, value: Number.isFinite(savedVolume) ? savedVolume : 1, 'aria-label': 'Volume' });
  audio.volume = Number(volume.value);
  volume.addEventListener('input', () => {
    audio.volume = Number(volume.value);
    localStorage.setItem(VOLUME_KEY, volume.value);
  });

  const player = new LivePlayer(audio, `/hls/${space.id}/master.m3u8`);
  // Diagnostics for the browser tests and for people debugging a stream.
  (window as unknown as { tribune: unknown }).tribune = { player };

  const renderStage = (state: StageState): void => {
    const talking = new Set(state.speaking);
    stage.replaceChildren(...state.members.map((member) => memberTile(member, talking.has(member.id))));
    if (state.members.length === 0) stage.replaceChildren(h('li', { class: 'muted' }, 'Nobody is on stage right now.'));
  };
  renderStage({ members: space.members, speaking: [] });
  player.on('state', renderStage);
  player.on('status', (value) => {
    status.textContent = { connecting: 'Connecting…', playing: 'Listening live', reconnecting: 'Reconnecting…', ended: 'This Space has ended.', failed: 'The stream is not reachable. Check your connection.' }[value];
    if (value === 'ended') audio.pause();
  });

  const play = (): void => {
    void player.play().then((playing) => {
      playButton.hidden = playing;
      // Autoplay with sound needs a gesture in most browsers.
      if (!playing) playButton.focus();
    });
  };
  playButton.addEventListener('click', play);

  mount(
    root,
    h('h1', {}, space.title),
    h('p', {}, h('span', { class: 'badge live' }, 'LIVE'), ' ', status),
    h('section', { class: 'panel', 'aria-label': 'Stage' }, stage),
    h('section', { class: 'panel', 'aria-label': 'Listening' }, h('div', { class: 'row' }, playButton, h('label', { for: 'volume', class: 'inline' }, 'Volume'), volume)),
    audio,
  );
  player.start();
  play();
}
