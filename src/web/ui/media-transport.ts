/**
 * The controls of a recording (a replay or a clip) around an <audio>
 * element: play/pause, back and forward 15 s, a seek bar with the position
 * and length, and the speed (1×, 1.5×, 2×). Every control is a real button
 * or range input with a name; the seek bar takes ←/→ (5 s), PgUp/PgDn
 * (30 s), Home and End, and reads its value out as words.
 */
import { formatClock, spokenClock } from '../replay/replay-timeline.js';
import { button, h } from './dom.js';

export const SPEEDS = [1, 1.5, 2] as const;
/** Seconds the skip buttons move. */
const SKIP_S = 15;
/** Seconds the seek bar's arrow keys move; page keys move PAGE_S. */
const ARROW_S = 5;
const PAGE_S = 30;

export interface MediaTransportOptions {
  /** Prefix of the controls' ids ("replay" gives #replay-play, #replay-seek, #replay-speed-2, ...). */
  idPrefix: string;
  /** What plays, for the controls' names: "replay", "clip". */
  what: string;
  /** The length before the media knows it, in seconds. */
  durationS: number;
  /** Whether to show the back/forward 15 s buttons (default true; a short clip needs none). */
  skipButtons?: boolean;
}

export class MediaTransport {
  readonly element: HTMLElement;
  private readonly playButton: HTMLButtonElement;
  private readonly seekBar: HTMLInputElement;
  private readonly clock = h('span', { class: 'clock', 'aria-hidden': 'true' });
  private readonly status: HTMLElement;
  private readonly speedButtons: HTMLButtonElement[];
  private durationS: number;
  private dragging = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly media: HTMLMediaElement,
    private readonly options: MediaTransportOptions,
  ) {
    const id = options.idPrefix;
    const skip = options.skipButtons !== false;
    this.durationS = options.durationS;
    this.playButton = button('▶ Play', () => this.toggle(), { id: `${id}-play`, class: 'play-button', 'aria-label': `Play the ${options.what}` });
    this.seekBar = h('input', { type: 'range', id: `${id}-seek`, class: 'seek', min: 0, max: Math.max(0.001, this.durationS), step: 'any', value: 0, 'aria-label': `Position in the ${options.what}` });
    this.status = h('span', { class: 'muted transport-status', role: 'status', id: `${id}-status` });
    this.speedButtons = SPEEDS.map((rate) =>
      button(`${rate}×`, () => this.setSpeed(rate), { class: 'secondary small speed', id: `${id}-speed-${String(rate).replace('.', '-')}`, 'aria-pressed': String(rate === 1), 'aria-label': `Speed ${rate}×` }),
    );
    this.element = h(
      'div',
      { class: 'transport' },
      h('div', { class: 'seek-row' }, this.seekBar, this.clock),
      h(
        'div',
        { class: 'row transport-row' },
        skip ? button('↺ 15', () => this.seek(this.media.currentTime - SKIP_S), { class: 'secondary small', id: `${id}-back`, 'aria-label': `Back ${SKIP_S} seconds` }) : null,
        this.playButton,
        skip ? button('15 ↻', () => this.seek(this.media.currentTime + SKIP_S), { class: 'secondary small', id: `${id}-forward`, 'aria-label': `Forward ${SKIP_S} seconds` }) : null,
        h('div', { class: 'speed-group', role: 'group', 'aria-label': 'Playback speed' }, ...this.speedButtons),
        this.status,
      ),
    );

    this.seekBar.addEventListener('pointerdown', () => (this.dragging = true));
    this.seekBar.addEventListener('input', () => this.renderClock(Number(this.seekBar.value)));
    this.seekBar.addEventListener('change', () => {
      this.dragging = false;
      this.seek(Number(this.seekBar.value));
    });
    this.seekBar.addEventListener('keydown', (event) => this.onSeekKey(event));
    this.listen('timeupdate', () => this.renderPosition());
    this.listen('seeked', () => this.renderPosition());
    this.listen('durationchange', () => this.renderPosition());
    this.listen('play', () => this.renderPlaying());
    this.listen('pause', () => this.renderPlaying());
    this.listen('ended', () => this.renderPlaying());
    this.listen('waiting', () => (this.status.textContent = 'Loading…'));
    this.listen('playing', () => (this.status.textContent = ''));
    // The rate can also change from elsewhere (the browser's media keys, a test): the buttons follow it.
    this.listen('ratechange', () => this.renderSpeed());
    this.renderPosition();
    this.renderPlaying();
  }

  /** Seconds from the start, clamped to the recording. */
  seek(toS: number): void {
    const target = Math.min(Math.max(0, toS), Math.max(0, this.length() - 0.05));
    this.media.currentTime = target;
    this.renderClock(target);
  }

  async play(): Promise<boolean> {
    try {
      await this.media.play();
      return true;
    } catch {
      return false;
    }
  }

  destroy(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  private length(): number {
    return Number.isFinite(this.media.duration) && this.media.duration > 0 ? this.media.duration : this.durationS;
  }

  private toggle(): void {
    if (this.media.paused || this.media.ended) {
      if (this.media.ended) this.media.currentTime = 0;
      void this.play().then((ok) => {
        if (!ok) this.status.textContent = 'The browser did not start playback. Press Play again.';
      });
    } else {
      this.media.pause();
    }
  }

  private setSpeed(rate: number): void {
    this.media.defaultPlaybackRate = rate;
    this.media.playbackRate = rate;
    this.renderSpeed();
  }

  private onSeekKey(event: KeyboardEvent): void {
    const now = this.media.currentTime;
    const to = { ArrowLeft: now - ARROW_S, ArrowDown: now - ARROW_S, ArrowRight: now + ARROW_S, ArrowUp: now + ARROW_S, PageDown: now - PAGE_S, PageUp: now + PAGE_S, Home: 0, End: this.length() }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    this.seek(to);
  }

  private listen(type: string, handler: () => void): void {
    this.media.addEventListener(type, handler);
    this.cleanups.push(() => this.media.removeEventListener(type, handler));
  }

  private renderPosition(): void {
    const length = this.length();
    this.seekBar.max = String(Math.max(0.001, length));
    if (!this.dragging) {
      this.seekBar.value = String(this.media.currentTime);
      this.renderClock(this.media.currentTime);
    }
  }

  private renderClock(atS: number): void {
    const length = this.length();
    this.clock.textContent = `${formatClock(atS)} / ${formatClock(length)}`;
    this.seekBar.setAttribute('aria-valuetext', `${spokenClock(atS)} of ${spokenClock(length)}`);
  }

  private renderPlaying(): void {
    const playing = !this.media.paused && !this.media.ended;
    this.playButton.textContent = playing ? '❚❚ Pause' : '▶ Play';
    this.playButton.setAttribute('aria-label', `${playing ? 'Pause' : 'Play'} the ${this.options.what}`);
    this.playButton.classList.toggle('is-playing', playing);
  }

  private renderSpeed(): void {
    for (const [index, speedButton] of this.speedButtons.entries()) speedButton.setAttribute('aria-pressed', String(SPEEDS[index] === this.media.playbackRate));
  }
}
