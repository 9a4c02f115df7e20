/**
 * The Space page for people with a stage link: a join step (name and
 * microphone permission), then the stage: who is on it, who is talking now,
 * mute, share link (host), leave and end.
 */
import { StageSession, type SocketLike } from '../../client/stage-session.js';
import { ApiError, api } from '../api-client.js';
import { h, mount } from '../ui/dom.js';
import { memberTile } from '../ui/member-tile.js';
import { listenerPage } from './listener-page.js';

const NAME_KEY = 'tribune.displayName';

/** The Space page: the stage (with a stage link's token) or the listener view (without). */
export async function stagePage(root: HTMLElement, spaceId: string, token: string): Promise<void> {
  let space;
  try {
    ({ space } = await api.getSpace(spaceId));
  } catch (error) {
    const notFound = error instanceof ApiError && (error.code === 'SPACE_NOT_FOUND' || error.code === 'VALIDATION_FAILED');
    mount(root, h('h1', {}, notFound ? 'This Space does not exist' : 'Tribune cannot be reached'), h('p', { class: 'muted' }, notFound ? 'Check the link you were sent.' : String(error)), h('a', { href: '/' }, 'Open a Space of your own'));
    return;
  }
  document.title = `${space.title} · Tribune`;
  if (space.state !== 'live') return endedView(root, space.title, space.state === 'interrupted' ? 'This Space was interrupted when the server stopped.' : undefined);
  if (!token) return listenerPage(root, space);

  const nameInput = h('input', { type: 'text', id: 'name', maxlength: 40, autocomplete: 'nickname', value: localStorage.getItem(NAME_KEY) ?? '', required: true });
  const status = h('p', { class: 'error', role: 'alert' });
  const joinButton = h('button', { type: 'submit', id: 'join' }, 'Join the stage');
  const onStage = space.members.length === 0 ? 'Nobody is on stage yet.' : `On stage: ${space.members.map((m) => m.name).join(', ')}`;
  const form = h(
    'form',
    { class: 'panel', 'aria-labelledby': 'join-title' },
    h('h2', { id: 'join-title' }, 'Join the stage'),
    h('p', { class: 'muted' }, 'You will speak with everyone on stage. Your browser will ask for your microphone.'),
    h('label', { for: 'name' }, 'Your name'),
    nameInput,
    h('div', { class: 'row' }, joinButton),
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const name = nameInput.value.trim();
    if (!name) {
      status.textContent = 'Enter the name others will see.';
      nameInput.focus();
      return;
    }
    localStorage.setItem(NAME_KEY, name);
    joinButton.disabled = true;
    status.textContent = '';
    void join(root, spaceId, token, name).catch((error: unknown) => {
      joinButton.disabled = false;
      status.textContent = describeJoinError(error);
    });
  });
  mount(root, h('h1', {}, space.title), h('p', {}, h('span', { class: 'badge live' }, 'LIVE'), ' ', h('span', { class: 'muted' }, onStage)), form);
  nameInput.focus();
}

function describeJoinError(error: unknown): string {
  if (error instanceof DOMException && (error.name === 'NotAllowedError' || error.name === 'SecurityError')) {
    return 'Microphone access is blocked. Allow it for this site in your browser settings, then try again.';
  }
  if (error instanceof DOMException && error.name === 'NotFoundError') return 'No microphone was found on this device.';
  const text = error instanceof Error ? error.message : String(error);
  if (text.startsWith('STAGE_FULL')) return 'The stage is full right now.';
  if (text.startsWith('SPACE_ENDED')) return 'This Space has ended.';
  if (text.startsWith('TOKEN_')) return 'This stage link is not valid any more. Ask the host for a new one.';
  return `Could not join: ${text}`;
}

async function join(root: HTMLElement, spaceId: string, token: string, name: string): Promise<void> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const [track] = stream.getAudioTracks();
  if (!track) throw new DOMException('no audio track', 'NotFoundError');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const session = new StageSession({
    socketUrl: `${scheme}//${location.host}/api/spaces/${spaceId}/stage?token=${encodeURIComponent(token)}`,
    name,
    track,
    createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
    createPeerConnection: (config) => new RTCPeerConnection(config),
  });
  // Diagnostics for the browser tests and for people debugging a call.
  (window as unknown as { tribune: unknown }).tribune = { session };
  try {
    await session.join();
  } catch (error) {
    track.stop();
    throw error;
  }
  stageView(root, session, spaceId, token, stream);
}

function stageView(root: HTMLElement, session: StageSession, spaceId: string, token: string, stream: MediaStream): void {
  const title = h('h1', {}, document.title.replace(/ · Tribune$/, ''));
  const stage = h('ul', { class: 'stage', 'aria-label': 'People on stage', 'aria-live': 'polite' });
  const audios = h('div', { hidden: true });
  const meterBar = h('div');
  const muteButton = h('button', { type: 'button', class: 'secondary', id: 'mute', 'aria-pressed': 'false' }, 'Mute');
  const leaveButton = h('button', { type: 'button', class: 'secondary', id: 'leave' }, 'Leave');
  const endButton = h('button', { type: 'button', class: 'danger', id: 'end' }, 'End Space');
  const connection = h('span', { class: 'muted', id: 'connection' }, 'Connecting audio…');
  const share = h('section', { class: 'panel', 'aria-label': 'Invite' });
  const isHost = session.me?.role === 'host';
  let muted = false;

  const render = (): void => {
    const talking = new Set(session.speaking);
    stage.replaceChildren(...[...session.members.values()].map((m) => memberTile(m, talking.has(m.id), m.id === session.me?.id)));
  };
  session.on('members', render);
  session.on('speaking', render);
  session.on('remoteTrack', (memberId, track) => {
    const audio = h('audio', { autoplay: true, 'data-member': memberId });
    audio.srcObject = new MediaStream([track]);
    audios.querySelector(`[data-member="${memberId}"]`)?.remove();
    audios.append(audio);
    void audio.play().catch(() => undefined);
  });
  session.on('connectionState', (state) => {
    connection.textContent = state === 'connected' ? 'Audio connected' : state === 'failed' ? 'Audio connection failed' : 'Connecting audio…';
  });
  session.on('ended', () => {
    stopAll();
    endedView(root, title.textContent ?? '');
  });
  session.on('closed', (code, reason) => {
    if (reason === 'SPACE_ENDED' || reason === 'LEFT') return;
    stopAll();
    leftView(root, spaceId, token, `You were disconnected (${reason || code}).`);
  });

  muteButton.addEventListener('click', () => {
    muted = !muted;
    session.setMuted(muted);
    muteButton.textContent = muted ? 'Unmute' : 'Mute';
    muteButton.setAttribute('aria-pressed', String(muted));
  });
  leaveButton.addEventListener('click', () => {
    session.leave();
    stopAll();
    leftView(root, spaceId, token, 'You left the stage.');
  });
  endButton.addEventListener('click', () => {
    if (confirm('End this Space for everyone?')) session.end();
  });

  const stopMeter = levelMeter(stream, meterBar);
  function stopAll(): void {
    stopMeter();
    for (const track of stream.getTracks()) track.stop();
  }

  if (isHost) {
    void api.invite(spaceId, token).then(
      (invite) => {
        share.replaceChildren(
          h('h2', {}, 'Invite'),
          h('p', { class: 'muted' }, 'Speakers: anyone with this link can join the stage.'),
          copyableLink(invite.stageUrl, 'share-link', 'Stage link'),
          h('p', { class: 'muted' }, 'Listeners: share this link with your audience.'),
          copyableLink(`${location.origin}/s/${spaceId}`, 'listen-link', 'Listener link'),
        );
      },
      () => share.remove(),
    );
  }

  render();
  mount(
    root,
    title,
    h('p', {}, h('span', { class: 'badge live' }, 'LIVE'), ' ', connection),
    h('section', { class: 'panel', 'aria-label': 'Stage' }, stage, h('div', { class: 'meter', 'aria-hidden': 'true', title: 'Your microphone level' }, meterBar)),
    isHost ? share : null,
    h('nav', { class: 'controls', 'aria-label': 'Stage controls' }, muteButton, leaveButton, isHost ? endButton : null),
    audios,
  );
}

/** A read-only link with a Copy button. */
function copyableLink(url: string, id: string, label: string): HTMLElement {
  const input = h('input', { type: 'text', readonly: true, value: url, 'aria-label': label, id });
  const copy = h('button', { type: 'button', class: 'secondary', 'aria-label': `Copy the ${label.toLowerCase()}` }, 'Copy');
  copy.addEventListener('click', () => {
    input.select();
    void navigator.clipboard?.writeText(url).then(() => (copy.textContent = 'Copied'));
  });
  return h('div', { class: 'share' }, input, copy);
}

/** A level meter of the local microphone, so people see that they are heard. */
function levelMeter(stream: MediaStream, bar: HTMLElement): () => void {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const data = new Float32Array(analyser.fftSize);
  let frame = 0;
  const tick = (): void => {
    analyser.getFloatTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v));
    bar.style.width = `${Math.min(100, Math.round(peak * 140))}%`;
    frame = requestAnimationFrame(tick);
  };
  tick();
  return () => {
    cancelAnimationFrame(frame);
    void context.close();
  };
}

function endedView(root: HTMLElement, title: string, message = 'This Space has ended.'): void {
  mount(root, h('h1', {}, title), h('p', {}, h('span', { class: 'badge' }, 'ENDED')), h('p', { class: 'muted', id: 'ended' }, message), h('a', { href: '/' }, 'Open a new Space'));
}

function leftView(root: HTMLElement, spaceId: string, token: string, message: string): void {
  const rejoin = h('button', { type: 'button', id: 'rejoin' }, 'Join again');
  rejoin.addEventListener('click', () => void stagePage(root, spaceId, token));
  mount(root, h('h1', {}, document.title.replace(/ · Tribune$/, '')), h('p', { class: 'muted' }, message), h('div', { class: 'row' }, rejoin, h('a', { href: '/' }, 'Home')));
}
