/** Accounts, their sign-in sessions and their API tokens, in SQL. */
import type { Store } from './database.js';
import { hashSecret, newId, newSecret } from './ids.js';

export interface StoredAccount {
  id: string;
  username: string;
  displayName: string;
  createdAtMs: number;
}

export interface StoredApiToken {
  id: string;
  name: string;
  createdAtMs: number;
  lastUsedAtMs: number | null;
}

const SESSION_PREFIX = 'trs_';
const API_TOKEN_PREFIX = 'trb_';

export class AccountStore {
  constructor(private readonly store: Store) {}

  /** Inserts an account; resolves to undefined when the username is taken. */
  async create(input: { username: string; displayName: string; passwordHash: string; nowMs: number }): Promise<StoredAccount | undefined> {
    const account = { id: newId(12), username: input.username, displayName: input.displayName, createdAtMs: input.nowMs };
    // The unique index decides a race between two sign-ups for one name;
    // the insert does nothing rather than throw, the same on both databases.
    const result = await this.store.db
      .insertInto('accounts')
      .values({ id: account.id, username: account.username, display_name: account.displayName, password_hash: input.passwordHash, created_at_ms: account.createdAtMs })
      .onConflict((oc) => oc.column('username').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1 ? account : undefined;
  }

  async byUsername(username: string): Promise<(StoredAccount & { passwordHash: string }) | undefined> {
    const row = await this.store.db.selectFrom('accounts').selectAll().where('username', '=', username).executeTakeFirst();
    return row && { ...toAccount(row), passwordHash: row.password_hash };
  }

  async byId(id: string): Promise<StoredAccount | undefined> {
    const row = await this.store.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toAccount(row);
  }

  async byIds(ids: string[]): Promise<StoredAccount[]> {
    if (ids.length === 0) return [];
    const rows = await this.store.db.selectFrom('accounts').selectAll().where('id', 'in', ids).execute();
    return rows.map(toAccount);
  }

  /** Opens a session; the returned secret goes into the cookie and nowhere else. */
  async openSession(accountId: string, nowMs: number, ttlMs: number): Promise<string> {
    const { secret, hash } = newSecret(SESSION_PREFIX);
    await this.store.db.insertInto('sessions').values({ token_hash: hash, account_id: accountId, created_at_ms: nowMs, expires_at_ms: nowMs + ttlMs }).execute();
    return secret;
  }

  async sessionAccount(secret: string, nowMs: number): Promise<StoredAccount | undefined> {
    if (!secret.startsWith(SESSION_PREFIX)) return undefined;
    const row = await this.store.db
      .selectFrom('sessions')
      .innerJoin('accounts', 'accounts.id', 'sessions.account_id')
      .selectAll('accounts')
      .where('sessions.token_hash', '=', hashSecret(secret))
      .where('sessions.expires_at_ms', '>', nowMs)
      .executeTakeFirst();
    return row && toAccount(row);
  }

  async closeSession(secret: string): Promise<void> {
    await this.store.db.deleteFrom('sessions').where('token_hash', '=', hashSecret(secret)).execute();
  }

  async deleteExpiredSessions(nowMs: number): Promise<void> {
    await this.store.db.deleteFrom('sessions').where('expires_at_ms', '<=', nowMs).execute();
  }

  /** Creates an API token; its secret is returned once and only its hash is kept. */
  async createApiToken(accountId: string, name: string, nowMs: number): Promise<StoredApiToken & { secret: string }> {
    const { secret, hash } = newSecret(API_TOKEN_PREFIX);
    const id = newId(12);
    await this.store.db.insertInto('api_tokens').values({ id, account_id: accountId, name, token_hash: hash, created_at_ms: nowMs, last_used_at_ms: null }).execute();
    return { id, name, createdAtMs: nowMs, lastUsedAtMs: null, secret };
  }

  async listApiTokens(accountId: string): Promise<StoredApiToken[]> {
    const rows = await this.store.db.selectFrom('api_tokens').selectAll().where('account_id', '=', accountId).orderBy('created_at_ms').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, createdAtMs: Number(r.created_at_ms), lastUsedAtMs: r.last_used_at_ms === null ? null : Number(r.last_used_at_ms) }));
  }

  /** Resolves to false when the account has no such token. */
  async revokeApiToken(accountId: string, id: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom('api_tokens').where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async apiTokenAccount(secret: string, nowMs: number): Promise<StoredAccount | undefined> {
    if (!secret.startsWith(API_TOKEN_PREFIX)) return undefined;
    const hash = hashSecret(secret);
    const row = await this.store.db
      .selectFrom('api_tokens')
      .innerJoin('accounts', 'accounts.id', 'api_tokens.account_id')
      .selectAll('accounts')
      .select('api_tokens.last_used_at_ms')
      .where('api_tokens.token_hash', '=', hash)
      .executeTakeFirst();
    if (!row) return undefined;
    // Last use is for the owner's token list; a minute's precision spares a write per request.
    if (row.last_used_at_ms === null || nowMs - Number(row.last_used_at_ms) > 60_000) {
      await this.store.db.updateTable('api_tokens').set({ last_used_at_ms: nowMs }).where('token_hash', '=', hash).execute();
    }
    return toAccount(row);
  }
}

export function isApiTokenShape(value: string): boolean {
  return value.startsWith(API_TOKEN_PREFIX);
}

function toAccount(row: { id: string; username: string; display_name: string; created_at_ms: number }): StoredAccount {
  return { id: row.id, username: row.username, displayName: row.display_name, createdAtMs: Number(row.created_at_ms) };
}
