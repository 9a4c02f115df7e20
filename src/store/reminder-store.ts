/** Reminder subscriptions and the in-app notifications they turn into at start. */
import type { Store } from './database.js';
import { newId } from './ids.js';

export interface StoredNotification {
  id: string;
  spaceId: string;
  spaceTitle: string;
  kind: 'space-started';
  createdAtMs: number;
  readAtMs: number | null;
}

export class ReminderStore {
  constructor(private readonly store: Store) {}

  async subscribe(spaceId: string, accountId: string, nowMs: number): Promise<void> {
    await this.store.db
      .insertInto('subscriptions')
      .values({ space_id: spaceId, account_id: accountId, created_at_ms: nowMs })
      .onConflict((oc) => oc.columns(['space_id', 'account_id']).doNothing())
      .execute();
  }

  async unsubscribe(spaceId: string, accountId: string): Promise<void> {
    await this.store.db.deleteFrom('subscriptions').where('space_id', '=', spaceId).where('account_id', '=', accountId).execute();
  }

  async isSubscribed(spaceId: string, accountId: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('subscriptions').select('account_id').where('space_id', '=', spaceId).where('account_id', '=', accountId).executeTakeFirst();
    return row !== undefined;
  }

  async subscriberCount(spaceId: string): Promise<number> {
    const row = await this.store.db.selectFrom('subscriptions').select((eb) => eb.fn.countAll<number>().as('n')).where('space_id', '=', spaceId).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * At start: one notification per subscriber, written in one statement
   * whatever their number. Returns the subscribers' usernames for the webhook.
   */
  async notifyStarted(spaceId: string, nowMs: number): Promise<{ accountId: string; username: string }[]> {
    const subscribers = await this.store.db
      .selectFrom('subscriptions')
      .innerJoin('accounts', 'accounts.id', 'subscriptions.account_id')
      .select(['accounts.id as accountId', 'accounts.username as username'])
      .where('subscriptions.space_id', '=', spaceId)
      .execute();
    if (subscribers.length > 0) {
      const rows = subscribers.map((s) => ({ id: newId(12), account_id: s.accountId, space_id: spaceId, kind: 'space-started' as const, created_at_ms: nowMs, read_at_ms: null }));
      // Chunks keep each statement under SQLite's bound-parameter limit.
      for (let i = 0; i < rows.length; i += 500) await this.store.db.insertInto('notifications').values(rows.slice(i, i + 500)).execute();
    }
    return subscribers;
  }

  async notifications(accountId: string, limit: number): Promise<StoredNotification[]> {
    const rows = await this.store.db
      .selectFrom('notifications')
      .innerJoin('spaces', 'spaces.id', 'notifications.space_id')
      .select(['notifications.id', 'notifications.space_id', 'spaces.title', 'notifications.kind', 'notifications.created_at_ms', 'notifications.read_at_ms'])
      .where('notifications.account_id', '=', accountId)
      .orderBy('notifications.created_at_ms', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      spaceId: r.space_id,
      spaceTitle: r.title,
      kind: r.kind,
      createdAtMs: Number(r.created_at_ms),
      readAtMs: r.read_at_ms === null ? null : Number(r.read_at_ms),
    }));
  }

  async markRead(accountId: string, id: string, nowMs: number): Promise<boolean> {
    const result = await this.store.db
      .updateTable('notifications')
      .set({ read_at_ms: nowMs })
      .where('account_id', '=', accountId)
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}
