/** Spaces in SQL: what a restart must not lose. */
import type { Store } from './database.js';
import type { StoredSpaceState } from './store-types.js';

export interface StoredSpace {
  id: string;
  title: string;
  state: StoredSpaceState;
  createdAtMs: number;
  endedAtMs: number | null;
}

export class SpaceStore {
  constructor(private readonly store: Store) {}

  async insert(space: { id: string; title: string; createdAtMs: number }): Promise<void> {
    await this.store.db
      .insertInto('spaces')
      .values({ id: space.id, title: space.title, state: 'live', created_at_ms: space.createdAtMs, ended_at_ms: null })
      .execute();
  }

  /** Records how a live Space finished: ended by its host, or interrupted by a stop. */
  async finish(id: string, how: 'ended' | 'interrupted', endedAtMs: number): Promise<void> {
    await this.store.db
      .updateTable('spaces')
      .set((eb) => ({ state: how, ended_at_ms: endedAtMs, revision: eb('revision', '+', 1) }))
      .where('id', '=', id)
      .where('state', '=', 'live')
      .execute();
  }

  /**
   * At start of a single-node deployment: every Space still marked live was
   * cut off by the last stop (a crash or a kill); it is marked interrupted.
   * Returns how many.
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
    return row && { id: row.id, title: row.title, state: row.state, createdAtMs: Number(row.created_at_ms), endedAtMs: row.ended_at_ms === null ? null : Number(row.ended_at_ms) };
  }
}
