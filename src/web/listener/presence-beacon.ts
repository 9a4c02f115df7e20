/**
 * "This page is listening": an anonymous beacon to the write path every
 * ~30 s (POST /api/spaces/:id/presence with a random id drawn once per
 * visit), and a last one with `leaving: true` when the page goes away. The
 * count in the feed is the distinct ids seen over the last window.
 */

/** Between beacons, in ms; each interval is drawn from [0.85, 1) of this so pages drift apart. */
const BEACON_MS = 30_000;

export class PresenceBeacon {
  private readonly listener = randomListenerId();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private readonly onPageHide = (): void => this.send(true);

  constructor(private readonly spaceId: string) {}

  get url(): string {
    return `/api/spaces/${encodeURIComponent(this.spaceId)}/presence`;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    window.addEventListener('pagehide', this.onPageHide);
    const beat = (): void => {
      this.send(false);
      this.timer = setTimeout(beat, BEACON_MS * (0.85 + Math.random() * 0.15));
    };
    beat();
  }

  /** Stops beating; says so to the server unless the page is going away anyway. */
  stop(sayLeaving = true): void {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.timer);
    window.removeEventListener('pagehide', this.onPageHide);
    if (sayLeaving) this.send(true);
  }

  private send(leaving: boolean): void {
    const body = JSON.stringify(leaving ? { listener: this.listener, leaving: true } : { listener: this.listener });
    if (leaving && navigator.sendBeacon?.(this.url, new Blob([body], { type: 'application/json' }))) return;
    void fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, keepalive: true }).catch(() => undefined);
  }
}

function randomListenerId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
