/**
 * The SQL schema as Kysely sees it. Times are integers in ms since the
 * epoch, the same in SQLite and PostgreSQL (one code path, no date types
 * that differ between the two).
 */
import type { Generated } from 'kysely';

export type StoredSpaceState = 'scheduled' | 'live' | 'ended' | 'interrupted' | 'cancelled';
/** Stage roles that outlive a connection; listeners have no row. */
export type StoredRole = 'host' | 'cohost' | 'speaker';

export interface SpacesTable {
  id: string;
  title: string;
  description: string;
  state: StoredSpaceState;
  /** The account that hosts it now (null for Spaces opened before accounts). */
  host_account_id: string | null;
  created_at_ms: number;
  /** When it is scheduled to start; null for a Space opened live. */
  starts_at_ms: number | null;
  started_at_ms: number | null;
  ended_at_ms: number | null;
  /** Row version, bumped on every update. */
  revision: Generated<number>;
  /** 1 when its host chose at creation to keep a replay. */
  recorded: Generated<number>;
}

export type StoredRecordingState = 'recording' | 'ready' | 'deleted' | 'expired';

export interface RecordingsTable {
  space_id: string;
  state: StoredRecordingState;
  started_at_ms: number;
  /** Wall-clock time of the first kept sample: replay time 0. */
  media_start_ms: number | null;
  ended_at_ms: number | null;
  duration_ms: Generated<number>;
  segments: Generated<number>;
  bytes: Generated<number>;
  /** Parts published to listeners that could not be kept (a storage failure). */
  lost_parts: Generated<number>;
  expires_at_ms: number | null;
}

export type StoredClipState = 'ready' | 'deleted' | 'expired';

export interface ClipsTable {
  id: string;
  space_id: string;
  account_id: string;
  title: string;
  state: StoredClipState;
  /** Where the clip starts in its replay, ms from replay time 0. */
  start_ms: number;
  duration_ms: number;
  bytes: number;
  created_at_ms: number;
  expires_at_ms: number | null;
}

export interface AccountsTable {
  id: string;
  /** Lower-case, unique. */
  username: string;
  display_name: string;
  /** PHC string (argon2id). */
  password_hash: string;
  created_at_ms: number;
}

export interface SessionsTable {
  /** SHA-256 of the cookie's token, hex: a leaked table opens no session. */
  token_hash: string;
  account_id: string;
  created_at_ms: number;
  expires_at_ms: number;
}

export interface ApiTokensTable {
  id: string;
  account_id: string;
  name: string;
  token_hash: string;
  created_at_ms: number;
  last_used_at_ms: number | null;
}

export interface SpaceRolesTable {
  space_id: string;
  account_id: string;
  role: StoredRole;
  granted_at_ms: number;
}

export interface SpaceBlocksTable {
  space_id: string;
  account_id: string;
  blocked_by: string;
  blocked_at_ms: number;
}

export interface SubscriptionsTable {
  space_id: string;
  account_id: string;
  created_at_ms: number;
}

export interface NotificationsTable {
  id: string;
  account_id: string;
  space_id: string;
  kind: 'space-started';
  created_at_ms: number;
  read_at_ms: number | null;
}

export interface Schema {
  spaces: SpacesTable;
  accounts: AccountsTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  space_roles: SpaceRolesTable;
  space_blocks: SpaceBlocksTable;
  subscriptions: SubscriptionsTable;
  notifications: NotificationsTable;
  recordings: RecordingsTable;
  clips: ClipsTable;
  server_keys: ServerKeysTable;
}

/** Keys every node sharing the store agrees on (src/store/server-keys.ts); values are hex. */
export interface ServerKeysTable {
  name: string;
  value: string;
}
