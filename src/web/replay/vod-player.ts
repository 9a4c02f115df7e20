/**
 * The player of a finished recording (a replay or a clip): a VOD media
 * playlist of CMAF Opus segments (EXT-X-PLAYLIST-TYPE:VOD, RFC 8216bis
 * §4.4.3.5), played by hls.js over Media Source Extensions where the browser
 * can decode Opus in MP4 there, else by the browser's own HLS (Safari), else
 * not at all: the page then offers the download instead.
 *
 * Errors are data, as in the live player: hls.js retries a little by itself;
 * a fatal network error is retried here with backoff, a fatal media error is
 * recovered once per buffered fragment, and a 404 or 410 for the playlist
 * (the replay was deleted under the page) ends it as 'gone'.
 */
import Hls, { ErrorTypes, Events } from 'hls.js';
import { backoffDelayMs } from '../../client/backoff.js';
import { Emitter } from '../../client/emitter.js';

/** Fatal network errors in a row before the player says it failed. */
const MAX_RECOVERIES = 4;
/** What MSE must accept for hls.js to play our segments (the init segment's sample entry is `Opus`). */
const OPUS_IN_MP4 = 'audio/mp4; codecs="opus"';

export type VodStatus = 'loading' | 'ready' | 'failed' | 'gone' | 'unsupported';

export interface VodPlayerEvents extends Record<string, unknown[]> {
  status: [VodStatus];
}

export type VodEngine = 'hls.js' | 'native' | 'none';

/** Which engine this browser plays our VOD playlists with. */
export function vodEngine(media: HTMLMediaElement): VodEngine {
  const mse = (window as { ManagedMediaSource?: typeof MediaSource }).ManagedMediaSource ?? window.MediaSource;
  if (Hls.isSupported() && mse?.isTypeSupported(OPUS_IN_MP4)) return 'hls.js';
  if (media.canPlayType('application/vnd.apple.mpegurl') !== '') return 'native';
  return 'none';
}

export class VodPlayer extends Emitter<VodPlayerEvents> {
  readonly engine: VodEngine;
  private hls: Hls | undefined;
  private recoveries = 0;
  private mediaRecovered = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private destroyed = false;
  private readonly onMetadata = (): void => {
    // The browser's own HLS has no start position; hls.js was given it.
    if (this.engine === 'native' && this.startS > 0) this.media.currentTime = this.startS;
    this.emit('status', 'ready');
  };
  private readonly onNativeError = (): void => this.emit('status', 'failed');

  constructor(
    private readonly media: HTMLMediaElement,
    private readonly src: string,
    /** Where playback starts, in seconds of the recording (a shared link's ?t=). Default 0. */
    private readonly startS = 0,
  ) {
    super();
    this.engine = vodEngine(media);
  }

  start(): void {
    this.emit('status', 'loading');
    this.media.addEventListener('loadedmetadata', this.onMetadata);
    if (this.engine === 'none') {
      this.emit('status', 'unsupported');
      return;
    }
    if (this.engine === 'native') {
      this.media.addEventListener('error', this.onNativeError);
      this.media.src = this.src;
      return;
    }
    const hls = (this.hls = new Hls({
      // A recording is all there: buffer ahead generously, keep a little behind for short seeks back.
      maxBufferLength: 60,
      backBufferLength: 30,
      startPosition: this.startS > 0 ? this.startS : -1,
      manifestLoadPolicy: { default: { maxTimeToFirstByteMs: 10_000, maxLoadTimeMs: 20_000, timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 }, errorRetry: { maxNumRetry: 1, retryDelayMs: 1000, maxRetryDelayMs: 4000 } } },
    }));
    hls.on(Events.FRAG_BUFFERED, () => {
      this.recoveries = 0;
      this.mediaRecovered = false;
    });
    hls.on(Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      const status = data.response?.code;
      if (data.type === ErrorTypes.NETWORK_ERROR && (status === 404 || status === 410)) {
        this.emit('status', 'gone');
        hls.stopLoad();
        return;
      }
      if (data.type === ErrorTypes.MEDIA_ERROR && !this.mediaRecovered) {
        this.mediaRecovered = true;
        hls.recoverMediaError();
        return;
      }
      this.recover(data.details === 'manifestLoadError' || data.details === 'manifestLoadTimeOut');
    });
    hls.attachMedia(this.media);
    hls.loadSource(this.src);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearTimeout(this.retryTimer);
    this.media.removeEventListener('loadedmetadata', this.onMetadata);
    this.media.removeEventListener('error', this.onNativeError);
    this.media.pause();
    this.hls?.destroy();
    this.hls = undefined;
    this.media.removeAttribute('src');
    this.media.load();
  }

  private recover(reloadSource: boolean): void {
    if (this.recoveries >= MAX_RECOVERIES) {
      this.emit('status', 'failed');
      return;
    }
    const delay = backoffDelayMs(this.recoveries++, 500, 8000);
    this.retryTimer = setTimeout(() => {
      if (this.destroyed || !this.hls) return;
      if (reloadSource) this.hls.loadSource(this.src);
      else this.hls.startLoad(this.media.currentTime);
    }, delay);
  }
}
