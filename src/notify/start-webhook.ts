/**
 * Tells a deployment's own system that a Space started, so it can remind
 * subscribers by mail, push or chat: one POST per start, with the Space and
 * its subscribers, signed like GitHub's and Stripe's webhooks
 * (`x-tribune-signature: sha256=<HMAC-SHA256 of the body>`), retried with
 * backoff when the receiver fails, never blocking the start itself.
 */
import { createHmac } from 'node:crypto';

export interface WebhookOptions {
  /** Where to POST; no URL, no webhook. */
  url: string | undefined;
  /** HMAC key for the signature header. */
  secret: string | undefined;
  attempts?: number;
  timeoutMs?: number;
}

export interface SpaceStartedEvent {
  type: 'space.started';
  space: { id: string; title: string; url: string; startedAt: string };
  subscribers: { accountId: string; username: string }[];
}

export class StartWebhook {
  /** Deliveries in flight, so a shutdown can wait for them. */
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly options: WebhookOptions,
    private readonly log: { warn(object: unknown, message?: string): void } = console,
  ) {}

  send(event: SpaceStartedEvent): void {
    if (!this.options.url) return;
    const delivery = this.deliver(this.options.url, JSON.stringify(event)).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async deliver(url: string, body: string): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-tribune-event': 'space.started' };
    if (this.options.secret) headers['x-tribune-signature'] = 'sha256=' + createHmac('sha256', this.options.secret).update(body).digest('hex');
    const attempts = this.options.attempts ?? 3;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000) });
        await response.body?.cancel();
        if (response.ok) return;
        if (response.status < 500 && response.status !== 429) break;
      } catch {
        // network error or timeout: retry
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 1)));
    }
    this.log.warn({ url }, 'the start webhook was not delivered');
  }
}
