/**
 * The index of a sealed replay, kept beside its segments in the replay
 * storage: which segments, where each starts in replay time, and the
 * timeline. Built from the journal's list of kept segments (never by
 * listing the storage, which on S3 is slow and only eventually complete).
 */
import type { MemberView } from '../wire/signalling.js';
import type { ReplayTimeline, TimelineReactions, TimelineStage } from '../wire/replay.js';
import type { KeptSegment } from './part-journal.js';

/** Opus packets in the recording are 20 ms (src/hls/cmaf-packager.ts). */
export const PACKET_S = 0.02;

export interface ManifestSegment {
  msn: number;
  key: string;
  startS: number;
  durationS: number;
  bytes: number;
}

export interface ReplayManifest {
  spaceId: string;
  initKey: string;
  /** Wall-clock time of replay time 0 (the first kept sample), ms since the epoch. */
  mediaStartMs: number;
  durationS: number;
  bytes: number;
  segments: ManifestSegment[];
}

export function buildManifest(spaceId: string, initKey: string, mediaStartMs: number, timescale: number, kept: readonly KeptSegment[]): ReplayManifest {
  const sorted = [...kept].sort((a, b) => a.msn - b.msn);
  const unique = sorted.filter((segment, i) => segment.msn !== sorted[i - 1]?.msn);
  const first = unique[0]?.decodeTime ?? 0;
  const segments = unique.map((s) => ({
    msn: s.msn,
    key: s.key,
    startS: round3((s.decodeTime - first) / timescale),
    durationS: round3(s.samples * PACKET_S),
    bytes: s.bytes,
  }));
  const last = segments.at(-1);
  return {
    spaceId,
    initKey,
    mediaStartMs,
    durationS: last ? round3(last.startS + last.durationS) : 0,
    bytes: segments.reduce((sum, s) => sum + s.bytes, 0),
    segments,
  };
}

/** One line of the journal's timeline. */
export type TimelineLine = { k: 's'; t: number; members: MemberView[]; speaking: string[] } | { k: 'r'; t: number; counts: Record<string, number> };

/**
 * The timeline in replay seconds. Stage marks before the first sample (the
 * Space opened before anyone spoke) collapse into the state at 0.
 */
export function buildTimeline(lines: readonly string[], mediaStartMs: number, durationS: number): ReplayTimeline {
  const stage: TimelineStage[] = [];
  const reactions: TimelineReactions[] = [];
  const at = (wallMs: number): number => round3(Math.min(durationS, Math.max(0, (wallMs - mediaStartMs) / 1000)));
  for (const text of lines) {
    let line: TimelineLine;
    try {
      line = JSON.parse(text) as TimelineLine;
    } catch {
      continue; // torn by a crash
    }
    if (line.k === 's') {
      const t = at(line.t);
      if (stage.at(-1)?.t === t) stage.pop();
      stage.push({ t, members: line.members, speaking: line.speaking });
    } else if (line.k === 'r' && line.t < mediaStartMs + durationS * 1000) {
      reactions.push({ t: at(line.t), counts: line.counts });
    }
  }
  // The first mark is the stage as the Space opened: it holds from replay time 0.
  if (stage[0]) stage[0].t = 0;
  return { durationS, stage, reactions };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
