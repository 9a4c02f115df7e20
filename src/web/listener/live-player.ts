/**
 * The listener's player: hls.js in low-latency mode on the Space's LL-HLS
 * stream, with our own recovery policy and the stage state read from the
 * playlist's EXT-X-DATERANGE tags in step with the audio that plays.
 *
 * Latency and requests: hls.js makes one blocking playlist reload and one
 * part request per 1 s part (2 requests/s). It plays `LIVE_SYNC_S` behind
 * the newest part, closer than the PART-HOLD-BACK the playlist advertises
 * (3 s, RFC 8216bis §4.4.3.8 SHOULD): a listener here trades a little
 * stall risk for half the delay, and stalls move it back by 50 ms each.
 */
import Hls, { ErrorTypes, Events } from 'hls.js';
import { backoffDelayMs } from '../../client/backoff.js';
import { Emitter } from '../../client/emitter.js';
import type { StageState } from '../../wire/stage-state.js';
import { LIVE_SYNC_S, MAX_LIVE_SYNC_RATE, STALL_BACKOFF_S } from './player-config.js';

export { LIVE_SYNC_S };
/** Fatal errors in a row before the player gives up and asks the person. */
const MAX_RECOVERIES = 6;


export interface LivePlayerEvents extends Record<string, unknown[]> {
  /** The stage as of the audio playing now. */
  state: [StageState];
  status: ['connecting' | 'playing' | 'reconnecting' | 'ended' | 'failed'];
}

interface StateRange {
  startMs: number;
  state: StageState;
}

export class LivePlayer extends Emitter<LivePlayerEvents> {
  private readonly hls: Hls;
  private ranges: StateRange[] = [];
  private shownStartMs = -1;
  private recoveries = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private ended = false;
  private wantsPlayback = false;

  constructor(
    private readonly media: HTMLMediaElement,
    private readonly src: string,
  ) {
    super();
    this.hls = new Hls({
      lowLatencyMode: true,
      liveSyncDuration: LIVE_SYNC_S,
      liveSyncOnStallIncrease: STALL_BACKOFF_S,
      maxLiveSyncPlaybackRate: MAX_LIVE_SYNC_RATE,
      backBufferLength: 30,
      // Retries inside hls.js stay few; recovery past them is ours, with jitter.
      manifestLoadPolicy: { default: { maxTimeToFirstByteMs: 15_000, maxLoadTimeMs: 20_000, timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 }, errorRetry: { maxNumRetry: 1, retryDelayMs: 1000, maxRetryDelayMs: 8000 } } },
    });
    this.hls.on(Events.LEVEL_UPDATED, (_event, data) => this.readRanges(data.details.dateRanges));
    this.hls.on(Events.LEVEL_LOADED, (_event, data) => this.readRanges(data.details.dateRanges));
    this.hls.on(Events.FRAG_BUFFERED, () => {
      this.recoveries = 0;
      // After a recovery the element may have paused; resume if the listener was listening.
      if (this.wantsPlayback && this.media.paused) void this.media.play().catch(() => undefined);
    });
    this.hls.on(Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      if (data.type === ErrorTypes.MEDIA_ERROR) {
        this.hls.recoverMediaError();
        return;
      }
      this.recover(data.details === 'manifestLoadError' || data.details === 'manifestLoadTimeOut');
    });
    media.addEventListener('playing', () => this.emit('status', 'playing'));
    media.addEventListener('waiting', () => {
      if (!this.ended) this.emit('status', 'reconnecting');
    });
    media.addEventListener('ended', () => this.markEnded());
  }

  start(): void {
    this.emit('status', 'connecting');
    this.hls.attachMedia(this.media);
    this.hls.loadSource(this.src);
    this.timer = setInterval(() => this.tick(), 200);
  }

  /** Starts playback; resolves false when the browser wants a gesture first. */
  async play(): Promise<boolean> {
    this.wantsPlayback = true;
    try {
      await this.media.play();
      return true;
    } catch {
      return false;
    }
  }

  /** The wall-clock time of the audio playing now, from EXT-X-PROGRAM-DATE-TIME. */
  get playingDate(): Date | null {
    return this.hls.playingDate;
  }

  /** Seconds behind the live edge, as hls.js measures it. */
  get latencyS(): number {
    return this.hls.latency;
  }

  destroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.hls.destroy();
  }

  /**
   * A network blip: wait a random share of a growing delay (full jitter),
   * so listeners who lost the stream together do not come back together.
   */
  private recover(reloadSource: boolean): void {
    if (this.ended) return;
    if (this.recoveries >= MAX_RECOVERIES) {
      this.emit('status', 'failed');
      return;
    }
    const delay = backoffDelayMs(this.recoveries++, 500, 10_000);
    this.emit('status', 'reconnecting');
    setTimeout(() => {
      // hls.js's advice for fatal network errors is startLoad(); only a
      // multivariant playlist that never loaded needs the source again.
      if (reloadSource) this.hls.loadSource(this.src);
      else this.hls.startLoad(-1);
    }, delay);
  }

  private readRanges(dateRanges: Record<string, { startDate: Date; class: string; attr: Record<string, unknown> } | undefined>): void {
    for (const range of Object.values(dateRanges)) {
      if (!range || range.class !== 'org.tribune.stage') continue;
      const startMs = range.startDate.getTime();
      if (this.ranges.some((r) => r.startMs === startMs)) continue;
      const encoded = range.attr['X-STATE'];
      if (typeof encoded !== 'string') continue;
      try {
        const state = JSON.parse(decodeBase64(encoded)) as StageState;
        this.ranges.push({ startMs, state });
      } catch {
        // A range we cannot read is skipped; the next one replaces it.
      }
    }
    this.ranges.sort((a, b) => a.startMs - b.startMs);
    if (this.ranges.length > 64) this.ranges = this.ranges.slice(-64);
  }

  /** Shows the state in force at the audio playing now (or the newest, before playback starts). */
  private tick(): void {
    const nowMs = this.hls.playingDate?.getTime() ?? Infinity;
    let current: StateRange | undefined;
    for (const range of this.ranges) if (range.startMs <= nowMs) current = range;
    if (!current || current.startMs === this.shownStartMs) return;
    this.shownStartMs = current.startMs;
    this.emit('state', current.state);
  }

  private markEnded(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('status', 'ended');
  }
}

function decodeBase64(text: string): string {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}
