/** Recordings and clips in SQL: their state, size and expiry. The media is in the replay storage. */
import type { Selectable } from 'kysely';
import type { Store } from './database.js';
import type { ClipsTable, RecordingsTable, StoredClipState, StoredRecordingState } from './store-types.js';

export interface StoredRecording {
  spaceId: string;
  state: StoredRecordingState;
  startedAtMs: number;
  mediaStartMs: number | null;
  endedAtMs: number | null;
  durationMs: number;
  segments: number;
  bytes: number;
  lostParts: number;
  expiresAtMs: number | null;
}

export interface StoredClip {
  id: string;
  spaceId: string;
  accountId: string;
  title: string;
  state: StoredClipState;
  startMs: number;
  durationMs: number;
  bytes: number;
  createdAtMs: number;
  expiresAtMs: number | null;
}

export interface SealedRecording {
  endedAtMs: number;
  durationMs: number;
  segments: number;
  bytes: number;
  lostParts: number;
  expiresAtMs: number | null;
}

export class RecordingStore {
  constructor(private readonly store: Store) {}

  /** A recording starts (idempotent: a restart of the same Space keeps the first row). */
  async begin(spaceId: string, nowMs: number): Promise<void> {
    await this.store.db
      .insertInto('recordings')
      .values({ space_id: spaceId, state: 'recording', started_at_ms: nowMs, media_start_ms: null, ended_at_ms: null, expires_at_ms: null })
      .onConflict((oc) => oc.column('space_id').doNothing())
      .execute();
  }

  async setMediaStart(spaceId: string, mediaStartMs: number): Promise<void> {
    await this.store.db.updateTable('recordings').set({ media_start_ms: mediaStartMs }).where('space_id', '=', spaceId).where('media_start_ms', 'is', null).execute();
  }

  async seal(spaceId: string, sealed: SealedRecording): Promise<void> {
    await this.store.db
      .updateTable('recordings')
      .set({
        state: 'ready',
        ended_at_ms: sealed.endedAtMs,
        duration_ms: Math.round(sealed.durationMs),
        segments: sealed.segments,
        bytes: sealed.bytes,
        lost_parts: sealed.lostParts,
        expires_at_ms: sealed.expiresAtMs,
      })
      .where('space_id', '=', spaceId)
      .where('state', '=', 'recording')
      .execute();
  }

  async get(spaceId: string): Promise<StoredRecording | undefined> {
    const row = await this.store.db.selectFrom('recordings').selectAll().where('space_id', '=', spaceId).executeTakeFirst();
    return row && toRecording(row);
  }

  /** Recordings a stop cut off: still 'recording' at start. */
  async unsealed(): Promise<StoredRecording[]> {
    const rows = await this.store.db.selectFrom('recordings').selectAll().where('state', '=', 'recording').execute();
    return rows.map(toRecording);
  }

  /** Marks a replay gone; false when it was not ready. */
  async markGone(spaceId: string, state: 'deleted' | 'expired'): Promise<boolean> {
    const result = await this.store.db.updateTable('recordings').set({ state }).where('space_id', '=', spaceId).where('state', '=', 'ready').executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async expiredReplays(nowMs: number, limit: number): Promise<string[]> {
    const rows = await this.store.db
      .selectFrom('recordings')
      .select('space_id')
      .where('state', '=', 'ready')
      .where('expires_at_ms', '<=', nowMs)
      .limit(limit)
      .execute();
    return rows.map((r) => r.space_id);
  }

  // --- clips ------------------------------------------------------------------

  async insertClip(clip: StoredClip): Promise<void> {
    await this.store.db
      .insertInto('clips')
      .values({
        id: clip.id,
        space_id: clip.spaceId,
        account_id: clip.accountId,
        title: clip.title,
        state: clip.state,
        start_ms: clip.startMs,
        duration_ms: clip.durationMs,
        bytes: clip.bytes,
        created_at_ms: clip.createdAtMs,
        expires_at_ms: clip.expiresAtMs,
      })
      .execute();
  }

  async clip(id: string): Promise<StoredClip | undefined> {
    const row = await this.store.db.selectFrom('clips').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toClip(row);
  }

  /** A Space's ready clips, newest first. */
  async clipsOf(spaceId: string, limit: number): Promise<StoredClip[]> {
    const rows = await this.store.db
      .selectFrom('clips')
      .selectAll()
      .where('space_id', '=', spaceId)
      .where('state', '=', 'ready')
      .orderBy('created_at_ms', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toClip);
  }

  async markClipGone(id: string, state: 'deleted' | 'expired'): Promise<boolean> {
    const result = await this.store.db.updateTable('clips').set({ state }).where('id', '=', id).where('state', '=', 'ready').executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async expiredClips(nowMs: number, limit: number): Promise<string[]> {
    const rows = await this.store.db.selectFrom('clips').select('id').where('state', '=', 'ready').where('expires_at_ms', '<=', nowMs).limit(limit).execute();
    return rows.map((r) => r.id);
  }
}

function toRecording(row: Selectable<RecordingsTable>): StoredRecording {
  return {
    spaceId: row.space_id,
    state: row.state,
    startedAtMs: Number(row.started_at_ms),
    mediaStartMs: row.media_start_ms === null ? null : Number(row.media_start_ms),
    endedAtMs: row.ended_at_ms === null ? null : Number(row.ended_at_ms),
    durationMs: Number(row.duration_ms),
    segments: Number(row.segments),
    bytes: Number(row.bytes),
    lostParts: Number(row.lost_parts),
    expiresAtMs: row.expires_at_ms === null ? null : Number(row.expires_at_ms),
  };
}

function toClip(row: Selectable<ClipsTable>): StoredClip {
  return {
    id: row.id,
    spaceId: row.space_id,
    accountId: row.account_id,
    title: row.title,
    state: row.state,
    startMs: Number(row.start_ms),
    durationMs: Number(row.duration_ms),
    bytes: Number(row.bytes),
    createdAtMs: Number(row.created_at_ms),
    expiresAtMs: row.expires_at_ms === null ? null : Number(row.expires_at_ms),
  };
}
