/**
 * The SQL schema as Kysely sees it. Times are integers in ms since the
 * epoch, the same in SQLite and PostgreSQL (one code path, no date types
 * that differ between the two).
 */
import type { Generated } from 'kysely';

export type StoredSpaceState = 'live' | 'ended' | 'interrupted';

export interface SpacesTable {
  id: string;
  title: string;
  state: StoredSpaceState;
  created_at_ms: number;
  ended_at_ms: number | null;
  /** Row version, bumped on every update (for optimistic checks later). */
  revision: Generated<number>;
}

export interface Schema {
  spaces: SpacesTable;
}
