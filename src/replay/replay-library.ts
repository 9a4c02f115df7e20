/**
 * Every replay and clip this node keeps: starts a Space's recorder, seals
 * it at the end (or, after a crash, from the journal at the next start),
 * serves the sealed replay's playlist, segments, timeline and download,
 * cuts clips, deletes, and applies retention.
 */
import { join } from 'node:path';
import type { ClipView } from '../wire/api.js';
import type { ReplayTimeline } from '../wire/replay.js';
import { TribuneError } from '../wire/errors.js';
import { API_LIMITS } from '../wire/limits.js';
import type { RecordingStore, StoredRecording } from '../store/recording-store.js';
import type { PublicIds } from '../store/public-ids.js';
import { initTimescale, scanSegment } from './fmp4-fragments.js';
import { PartJournal, type KeptSegment } from './part-journal.js';
import { Recorder, keepSegment, type SealResult } from './recorder.js';
import { cutClip, readRecording, toOgg } from './remux.js';
import { buildManifest, buildTimeline, PACKET_S, type ReplayManifest } from './replay-manifest.js';
import { replayKeys } from './replay-keys.js';
import type { ReplayStorage } from './replay-storage.js';
import { renderVodPlaylist } from './vod-playlist.js';

export const MAX_CLIP_S = API_LIMITS.maxClipSeconds;
/** Sealed manifests kept in memory (a replay's playlist and clips need it on every request). */
const MANIFEST_CACHE = 200;

export interface ReplayOptions {
  journalDir: string;
  /** Replays are deleted this long after their Space ends; 0 keeps them. */
  retentionMs: number;
  /** Clips are deleted this long after they are cut; 0 keeps them. */
  clipRetentionMs: number;
  /** Mints and checks clip ids (a made-up id is answered without reading the store). */
  ids: PublicIds;
}

export interface ReplayLog {
  error(object: unknown, message?: string): void;
  warn(object: unknown, message?: string): void;
}

export interface CutRequest {
  spaceId: string;
  accountId: string;
  title: string;
  startS: number;
  endS: number;
}

/** A clip as the library knows it; the routes add its Space's title, its author and links. */
export type StoredClipView = Omit<ClipView, 'by' | 'links' | 'spaceTitle'> & { accountId: string };

export class ReplayLibrary {
  private readonly recorders = new Map<string, Recorder>();
  private readonly manifests = new Map<string, ReplayManifest>();
  /** One download remux at a time per replay, however many ask. */
  private readonly downloads = new Map<string, Promise<Uint8Array>>();

  constructor(
    readonly storage: ReplayStorage,
    private readonly recordings: RecordingStore,
    private readonly options: ReplayOptions,
    private readonly log: ReplayLog,
  ) {}

  // --- recording ----------------------------------------------------------------

  /** A recorded Space goes live: its recording row, journal and recorder. */
  async begin(spaceId: string, nowMs: number): Promise<Recorder> {
    await this.recordings.begin(spaceId, nowMs);
    const journal = new PartJournal(join(this.options.journalDir, spaceId));
    await journal.create();
    const recorder = new Recorder(spaceId, journal, this.storage, {
      mediaStart: (ms) => void this.recordings.setMediaStart(spaceId, ms).catch((error: unknown) => this.log.error(error, 'recording start time')),
      sealed: (result) => this.seal(spaceId, result, Date.now()),
      error: (error, what) => this.log.error({ err: error, spaceId }, what),
    });
    this.recorders.set(spaceId, recorder);
    return recorder;
  }

  /** The live recorder of a Space, if it is being recorded now. */
  recorder(spaceId: string): Recorder | undefined {
    return this.recorders.get(spaceId);
  }

  private async seal(spaceId: string, result: SealResult, endedAtMs: number): Promise<void> {
    this.recorders.delete(spaceId);
    const mediaStartMs = result.mediaStartMs ?? endedAtMs;
    const manifest = buildManifest(spaceId, replayKeys.init(spaceId), mediaStartMs, result.timescale, result.kept);
    const timeline = buildTimeline(result.timeline, mediaStartMs, manifest.durationS);
    await this.storage.put(replayKeys.timeline(spaceId), encode(timeline), 'application/json');
    await this.storage.put(replayKeys.manifest(spaceId), encode(manifest), 'application/json');
    await this.recordings.seal(spaceId, {
      endedAtMs,
      durationMs: manifest.durationS * 1000,
      segments: manifest.segments.length,
      bytes: manifest.bytes,
      lostParts: result.lostParts,
      expiresAtMs: this.options.retentionMs > 0 ? endedAtMs + this.options.retentionMs : null,
    });
    this.remember(manifest);
  }

  /**
   * At start: every recording a stop cut off is sealed from its journal.
   * Segments the journal holds but storage does not (the open one, or one
   * whose upload the kill interrupted) are kept now, trimmed to their last
   * complete part: the one a kill can tear was never served.
   */
  async recoverAll(nowMs: number): Promise<number> {
    let recovered = 0;
    for (const recording of await this.recordings.unsealed()) {
      try {
        await this.recover(recording, nowMs);
        recovered++;
      } catch (error) {
        this.log.error({ err: error, spaceId: recording.spaceId }, 'could not seal an interrupted recording; its journal is kept');
      }
    }
    return recovered;
  }

  private async recover(recording: StoredRecording, nowMs: number): Promise<void> {
    const spaceId = recording.spaceId;
    const journal = new PartJournal(join(this.options.journalDir, spaceId));
    const contents = await journal.read();
    const kept = new Map<number, KeptSegment>(contents.kept.map((k) => [k.msn, k]));
    if (contents.init) await this.storage.put(replayKeys.init(spaceId), contents.init, 'video/mp4');
    for (const open of contents.open) {
      if (kept.has(open.msn)) continue;
      const segment = await keepSegment(this.storage, journal, spaceId, open.msn, open.bytes);
      if (segment) kept.set(segment.msn, segment);
    }
    await journal.close();
    const timescale = (contents.init && initTimescale(contents.init)) ?? 48_000;
    const mediaStartMs = recording.mediaStartMs ?? recording.startedAtMs;
    await this.seal(spaceId, { kept: [...kept.values()], timeline: contents.timeline, timescale, mediaStartMs, lostParts: 0 }, nowMs);
    await journal.remove();
  }

  // --- reading a replay -----------------------------------------------------------

  async status(spaceId: string): Promise<StoredRecording | undefined> {
    return this.recordings.get(spaceId);
  }

  /** The sealed manifest; throws unless the replay is ready. */
  async manifest(spaceId: string): Promise<ReplayManifest> {
    const cached = this.manifests.get(spaceId);
    if (cached) return cached;
    const recording = await this.recordings.get(spaceId);
    requireReady(recording);
    const bytes = await this.storage.get(replayKeys.manifest(spaceId));
    if (!bytes) throw new TribuneError('REPLAY_NOT_FOUND');
    const manifest = JSON.parse(new TextDecoder().decode(bytes)) as ReplayManifest;
    this.remember(manifest);
    return manifest;
  }

  async playlist(spaceId: string): Promise<string> {
    const manifest = await this.manifest(spaceId);
    const segments = manifest.segments.map((s) => ({ uri: `seg-${s.msn}.m4s`, startS: s.startS, durationS: s.durationS }));
    return renderVodPlaylist('init.mp4', segments, manifest.mediaStartMs);
  }

  async init(spaceId: string): Promise<Uint8Array> {
    await this.manifest(spaceId);
    return this.object(replayKeys.init(spaceId));
  }

  async segment(spaceId: string, msn: number): Promise<Uint8Array> {
    const manifest = await this.manifest(spaceId);
    if (!manifest.segments.some((s) => s.msn === msn)) throw new TribuneError('REPLAY_NOT_FOUND');
    return this.object(replayKeys.segment(spaceId, msn));
  }

  async timeline(spaceId: string): Promise<Uint8Array> {
    await this.manifest(spaceId);
    return this.object(replayKeys.timeline(spaceId));
  }

  /** The whole conversation as Ogg Opus, remuxed once and kept beside the segments. */
  async download(spaceId: string): Promise<Uint8Array> {
    const manifest = await this.manifest(spaceId);
    const kept = await this.storage.get(replayKeys.download(spaceId));
    if (kept) return kept;
    let building = this.downloads.get(spaceId);
    if (!building) {
      building = (async () => {
        const init = await this.object(manifest.initKey);
        const media = await Promise.all(manifest.segments.map((s) => this.object(s.key)));
        const ogg = await toOgg(await readRecording(init, media));
        await this.storage.put(replayKeys.download(spaceId), ogg, 'audio/ogg');
        return ogg;
      })().finally(() => this.downloads.delete(spaceId));
      this.downloads.set(spaceId, building);
    }
    return building;
  }

  /** The host deletes the replay: its media, and the clips cut from it. */
  async deleteReplay(spaceId: string): Promise<void> {
    const recording = await this.recordings.get(spaceId);
    if (!recording || recording.state === 'recording') throw new TribuneError(recording ? 'REPLAY_NOT_READY' : 'NOT_RECORDED');
    if (recording.state !== 'ready') throw new TribuneError('REPLAY_GONE');
    await this.removeReplay(spaceId, 'deleted');
  }

  private async removeReplay(spaceId: string, why: 'deleted' | 'expired'): Promise<void> {
    // The row first: from then on nothing serves it, whatever the storage does.
    if (!(await this.recordings.markGone(spaceId, why))) return;
    this.manifests.delete(spaceId);
    await this.storage.deletePrefix(replayKeys.space(spaceId));
    // A host who deletes the conversation takes its clips with it; clips
    // already shared outlive an expired replay until their own retention.
    if (why === 'deleted') for (const clip of await this.recordings.clipsOf(spaceId, 10_000)) await this.removeClip(clip.id, why);
  }

  // --- clips ------------------------------------------------------------------------

  /**
   * Cuts a clip of up to 30 s from a live recording or a sealed replay:
   * the packets covering [startS, endS) remuxed into a CMAF file of its own
   * (exact to one 20 ms packet), no re-encode.
   */
  async cut(request: CutRequest, nowMs: number, admit: () => void = () => undefined): Promise<StoredClipView> {
    const { startS, endS } = request;
    if (!(startS >= 0)) throw new TribuneError('CLIP_RANGE', 'the start must be 0 or later');
    if (!(endS > startS)) throw new TribuneError('CLIP_RANGE', 'the end must be after the start');
    if (endS - startS > MAX_CLIP_S + 1e-9) throw new TribuneError('CLIP_TOO_LONG');
    const source = await this.clipSource(request.spaceId);
    if (endS > source.durationS + 1e-9) throw new TribuneError('CLIP_RANGE', `the recording is ${source.durationS.toFixed(2)} s long`);
    const covering = source.segments.filter((s) => s.startS < endS && s.startS + s.durationS > startS);
    const first = covering[0];
    if (!first) throw new TribuneError('CLIP_RANGE');
    admit();
    const media = await Promise.all(covering.map((s) => s.bytes()));
    const recording = await readRecording(await this.object(replayKeys.init(request.spaceId)), media);
    const offset = first.startS;
    const clip = await cutClip(recording, { startS: Math.max(0, startS - offset), endS: Math.min(recording.durationS, endS - offset) });
    const id = this.options.ids.mint();
    await this.storage.put(replayKeys.clipInit(id), clip.init, 'video/mp4');
    await this.storage.put(replayKeys.clipMedia(id), clip.media, 'video/iso.segment');
    const stored = {
      id,
      spaceId: request.spaceId,
      accountId: request.accountId,
      title: request.title,
      state: 'ready' as const,
      startMs: Math.round((offset + clip.startS) * 1000),
      durationMs: Math.round(clip.durationS * 1000),
      bytes: clip.init.byteLength + clip.media.byteLength,
      createdAtMs: nowMs,
      expiresAtMs: this.options.clipRetentionMs > 0 ? nowMs + this.options.clipRetentionMs : null,
    };
    await this.recordings.insertClip(stored);
    return clipView(stored);
  }

  /** Seconds recorded so far by a live recorder (the open segment's complete parts included), or undefined. */
  async recordedSoFarS(spaceId: string): Promise<number | undefined> {
    if (!this.recorders.has(spaceId)) return undefined;
    return (await this.clipSource(spaceId)).durationS;
  }

  /** What a clip can be cut from: the sealed replay, or what a live recorder has kept so far. */
  private async clipSource(spaceId: string): Promise<{ durationS: number; segments: { startS: number; durationS: number; bytes: () => Promise<Uint8Array> }[] }> {
    const recorder = this.recorders.get(spaceId);
    if (recorder) {
      const live = recorder.liveSegments();
      const segments: { startS: number; durationS: number; bytes: () => Promise<Uint8Array> }[] = [];
      const first = live.kept[0]?.decodeTime ?? (live.open && scanSegment(live.open.bytes).fragments[0]?.decodeTime) ?? 0;
      for (const kept of live.kept) {
        segments.push({ startS: (kept.decodeTime - first) / live.timescale, durationS: kept.samples * PACKET_S, bytes: () => this.object(kept.key) });
      }
      if (live.open) {
        const scan = scanSegment(live.open.bytes);
        const head = scan.fragments[0];
        const open = live.open.bytes.subarray(0, scan.completeBytes);
        if (head) segments.push({ startS: (head.decodeTime - first) / live.timescale, durationS: scan.fragments.reduce((n, f) => n + f.samples, 0) * PACKET_S, bytes: async () => open });
      }
      const last = segments.at(-1);
      return { durationS: last ? last.startS + last.durationS : 0, segments };
    }
    const recording = await this.recordings.get(spaceId);
    if (!recording) throw new TribuneError('NOT_RECORDED');
    const manifest = await this.manifest(spaceId);
    return { durationS: manifest.durationS, segments: manifest.segments.map((s) => ({ startS: s.startS, durationS: s.durationS, bytes: () => this.object(s.key) })) };
  }

  async clip(id: string): Promise<StoredClipView> {
    if (!this.options.ids.isGenuine(id)) throw new TribuneError('CLIP_NOT_FOUND');
    const clip = await this.recordings.clip(id);
    if (!clip) throw new TribuneError('CLIP_NOT_FOUND');
    if (clip.state !== 'ready') throw new TribuneError('CLIP_GONE');
    return clipView(clip);
  }

  async clipsOf(spaceId: string, limit: number): Promise<StoredClipView[]> {
    return (await this.recordings.clipsOf(spaceId, limit)).map(clipView);
  }

  async clipPlaylist(id: string): Promise<string> {
    const clip = await this.clip(id);
    return renderVodPlaylist('init.mp4', [{ uri: 'clip.m4s', startS: 0, durationS: clip.durationS }], undefined);
  }

  async clipMedia(id: string, part: 'init' | 'media' | 'file'): Promise<Uint8Array> {
    await this.clip(id);
    if (part === 'init') return this.object(replayKeys.clipInit(id));
    if (part === 'media') return this.object(replayKeys.clipMedia(id));
    const [init, media] = await Promise.all([this.object(replayKeys.clipInit(id)), this.object(replayKeys.clipMedia(id))]);
    const file = new Uint8Array(init.byteLength + media.byteLength);
    file.set(init, 0);
    file.set(media, init.byteLength);
    return file;
  }

  async deleteClip(id: string): Promise<void> {
    await this.clip(id);
    await this.removeClip(id, 'deleted');
  }

  private async removeClip(id: string, why: 'deleted' | 'expired'): Promise<void> {
    if (!(await this.recordings.markClipGone(id, why))) return;
    await this.storage.deletePrefix(replayKeys.clip(id));
  }

  // --- retention ----------------------------------------------------------------------

  /** Deletes replays and clips past their retention; returns how many. */
  async sweep(nowMs: number): Promise<{ replays: number; clips: number }> {
    const replays = await this.recordings.expiredReplays(nowMs, 100);
    for (const spaceId of replays) await this.removeReplay(spaceId, 'expired');
    const clips = await this.recordings.expiredClips(nowMs, 500);
    for (const id of clips) await this.removeClip(id, 'expired');
    return { replays: replays.length, clips: clips.length };
  }

  /** Seals every live recording (the process is stopping). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.recorders.values()].map((r) => r.close().catch((error: unknown) => this.log.error(error, 'sealing a recording at stop'))));
  }

  private async object(key: string): Promise<Uint8Array> {
    const bytes = await this.storage.get(key);
    if (!bytes) throw new TribuneError('REPLAY_NOT_FOUND');
    return bytes;
  }

  private remember(manifest: ReplayManifest): void {
    this.manifests.delete(manifest.spaceId);
    this.manifests.set(manifest.spaceId, manifest);
    if (this.manifests.size > MANIFEST_CACHE) this.manifests.delete(this.manifests.keys().next().value as string);
  }
}

function requireReady(recording: StoredRecording | undefined): void {
  if (!recording) throw new TribuneError('NOT_RECORDED');
  if (recording.state === 'recording') throw new TribuneError('REPLAY_NOT_READY');
  if (recording.state !== 'ready') throw new TribuneError('REPLAY_GONE');
}

function clipView(clip: { id: string; spaceId: string; accountId: string; title: string; startMs: number; durationMs: number; createdAtMs: number; expiresAtMs: number | null }): StoredClipView {
  return {
    id: clip.id,
    spaceId: clip.spaceId,
    accountId: clip.accountId,
    title: clip.title,
    startS: clip.startMs / 1000,
    durationS: clip.durationMs / 1000,
    createdAt: new Date(clip.createdAtMs).toISOString(),
    expiresAt: clip.expiresAtMs === null ? null : new Date(clip.expiresAtMs).toISOString(),
  };
}

function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export { type ReplayTimeline };
