/** Spaces, their schedules, stage roles and blocks in SQL: what a restart must not lose. */
import type { Selectable } from 'kysely';
import type { Store } from './database.js';
import type { SpacesTable, StoredRole, StoredSpaceState } from './store-types.js';

export interface StoredSpace {
  id: string;
  title: string;
  description: string;
  state: StoredSpaceState;
  hostAccountId: string | null;
  createdAtMs: number;
  startsAtMs: number | null;
  startedAtMs: number | null;
  endedAtMs: number | null;
  /** Its host chose at creation to keep a replay. */
  recorded: boolean;
}

export interface StoredRoleGrant {
  accountId: string;
  role: StoredRole;
  grantedAtMs: number;
}

export class SpaceStore {
  constructor(private readonly store: Store) {}

  /** Inserts a Space together with its host's role, in one transaction. */
  async insert(space: StoredSpace): Promise<void> {
    await this.store.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('spaces')
        .values({
          id: space.id,
          title: space.title,
          description: space.description,
          state: space.state,
          host_account_id: space.hostAccountId,
          created_at_ms: space.createdAtMs,
          starts_at_ms: space.startsAtMs,
          started_at_ms: space.startedAtMs,
          ended_at_ms: space.endedAtMs,
          recorded: space.recorded ? 1 : 0,
        })
        .execute();
      if (space.hostAccountId) {
        await tx.insertInto('space_roles').values({ space_id: space.id, account_id: space.hostAccountId, role: 'host', granted_at_ms: space.createdAtMs }).execute();
      }
    });
  }

  /** Changes title, description or start of a Space still in `onlyIn`; false when it was not. */
  async edit(id: string, onlyIn: StoredSpaceState[], changes: { title?: string; description?: string; startsAtMs?: number }): Promise<boolean> {
    const set: Partial<Pick<SpacesTable, 'title' | 'description' | 'starts_at_ms'>> = {};
    if (changes.title !== undefined) set.title = changes.title;
    if (changes.description !== undefined) set.description = changes.description;
    if (changes.startsAtMs !== undefined) set.starts_at_ms = changes.startsAtMs;
    const result = await this.store.db
      .updateTable('spaces')
      .set((eb) => ({ ...set, revision: eb('revision', '+', 1) }))
      .where('id', '=', id)
      .where('state', 'in', onlyIn)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Moves a Space from one state to the next; false when it was no longer in `from` (a lost race). */
  async transition(id: string, from: StoredSpaceState[], to: StoredSpaceState, atMs: number): Promise<boolean> {
    const stamp = to === 'live' ? { started_at_ms: atMs } : { ended_at_ms: atMs };
    const result = await this.store.db
      .updateTable('spaces')
      .set((eb) => ({ state: to, ...stamp, revision: eb('revision', '+', 1) }))
      .where('id', '=', id)
      .where('state', 'in', from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records how a live Space finished: ended by its host, or interrupted by a stop. */
  async finish(id: string, how: 'ended' | 'interrupted', endedAtMs: number): Promise<void> {
    await this.transition(id, ['live'], how, endedAtMs);
  }

  /**
   * At start of a single-node deployment: every Space still marked live was
   * cut off by the last stop (a crash or a kill); it is marked interrupted.
   * Scheduled Spaces stay scheduled. Returns how many were interrupted.
   */
  async markInterrupted(nowMs: number): Promise<number> {
    const result = await this.store.db
      .updateTable('spaces')
      .set((eb) => ({ state: 'interrupted', ended_at_ms: nowMs, revision: eb('revision', '+', 1) }))
      .where('state', '=', 'live')
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async get(id: string): Promise<StoredSpace | undefined> {
    const row = await this.store.db.selectFrom('spaces').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toSpace(row);
  }

  /** Live Spaces and those scheduled from `sinceMs` on, soonest first. */
  async listCurrent(sinceMs: number, limit: number): Promise<StoredSpace[]> {
    const rows = await this.store.db
      .selectFrom('spaces')
      .selectAll()
      .where((eb) => eb.or([eb('state', '=', 'live'), eb.and([eb('state', '=', 'scheduled'), eb('starts_at_ms', '>=', sinceMs)])]))
      .orderBy('state')
      .orderBy('starts_at_ms')
      .orderBy('created_at_ms', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toSpace);
  }

  /** Ended Spaces whose replay is ready, newest first (of one host, when given): what people play again. */
  async listReplays(limit: number, hostAccountId?: string): Promise<StoredSpace[]> {
    let query = this.store.db
      .selectFrom('spaces')
      .innerJoin('recordings', 'recordings.space_id', 'spaces.id')
      .selectAll('spaces')
      .where('recordings.state', '=', 'ready');
    if (hostAccountId !== undefined) query = query.where('spaces.host_account_id', '=', hostAccountId);
    const rows = await query
      .orderBy('spaces.ended_at_ms', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toSpace);
  }

  /** Spaces an account hosts that are scheduled or live. */
  async hostedBy(accountId: string, limit: number): Promise<StoredSpace[]> {
    const rows = await this.store.db
      .selectFrom('spaces')
      .selectAll()
      .where('host_account_id', '=', accountId)
      .where('state', 'in', ['scheduled', 'live'])
      .orderBy('starts_at_ms')
      .limit(limit)
      .execute();
    return rows.map(toSpace);
  }

  async roles(spaceId: string): Promise<StoredRoleGrant[]> {
    const rows = await this.store.db.selectFrom('space_roles').selectAll().where('space_id', '=', spaceId).orderBy('granted_at_ms').execute();
    return rows.map((r) => ({ accountId: r.account_id, role: r.role, grantedAtMs: Number(r.granted_at_ms) }));
  }

  /** Sets an account's role, or removes it with `undefined`. */
  async setRole(spaceId: string, accountId: string, role: StoredRole | undefined, nowMs: number): Promise<void> {
    await this.store.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('space_roles').where('space_id', '=', spaceId).where('account_id', '=', accountId).execute();
      if (role) await tx.insertInto('space_roles').values({ space_id: spaceId, account_id: accountId, role, granted_at_ms: nowMs }).execute();
    });
  }

  /** Hands the Space to a new host: the old host loses the role, in one transaction. */
  async transferHost(spaceId: string, fromAccountId: string, toAccountId: string, nowMs: number): Promise<void> {
    await this.store.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('space_roles').where('space_id', '=', spaceId).where('account_id', 'in', [fromAccountId, toAccountId]).execute();
      await tx.insertInto('space_roles').values({ space_id: spaceId, account_id: toAccountId, role: 'host', granted_at_ms: nowMs }).execute();
      await tx.updateTable('spaces').set((eb) => ({ host_account_id: toAccountId, revision: eb('revision', '+', 1) })).where('id', '=', spaceId).execute();
    });
  }

  async blocks(spaceId: string): Promise<string[]> {
    const rows = await this.store.db.selectFrom('space_blocks').select('account_id').where('space_id', '=', spaceId).execute();
    return rows.map((r) => r.account_id);
  }

  /** Blocks an account and takes away any role it had, in one transaction. */
  async block(spaceId: string, accountId: string, byAccountId: string, nowMs: number): Promise<void> {
    await this.store.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('space_roles').where('space_id', '=', spaceId).where('account_id', '=', accountId).execute();
      await tx
        .insertInto('space_blocks')
        .values({ space_id: spaceId, account_id: accountId, blocked_by: byAccountId, blocked_at_ms: nowMs })
        .onConflict((oc) => oc.columns(['space_id', 'account_id']).doNothing())
        .execute();
    });
  }

  async unblock(spaceId: string, accountId: string): Promise<void> {
    await this.store.db.deleteFrom('space_blocks').where('space_id', '=', spaceId).where('account_id', '=', accountId).execute();
  }
}

function toSpace(row: Selectable<SpacesTable>): StoredSpace {
  const ms = (v: number | null): number | null => (v === null ? null : Number(v));
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    state: row.state,
    hostAccountId: row.host_account_id,
    createdAtMs: Number(row.created_at_ms),
    startsAtMs: ms(row.starts_at_ms),
    startedAtMs: ms(row.started_at_ms),
    endedAtMs: ms(row.ended_at_ms),
    recorded: Number(row.recorded) === 1,
  };
}
