/**
 * Keeps the last few seconds of audio a bot received from each member, as
 * mono 16-bit samples, for tone detection.
 */
import { hasTone } from '../../src/tools/tone.js';

export class AudioRecorder {
  readonly byMember = new Map<string, { samples: number[]; sampleRate: number }>();

  constructor(private readonly keepSeconds = 3) {}

  readonly onAudio = (memberId: string, samples: Int16Array, sampleRate: number, channels: number): void => {
    let entry = this.byMember.get(memberId);
    // libwebrtc delivers 16 kHz until the decoder settles, then 48 kHz.
    if (!entry || entry.sampleRate !== sampleRate) {
      entry = { samples: [], sampleRate };
      this.byMember.set(memberId, entry);
    }
    for (let i = 0; i < samples.length; i += channels) entry.samples.push(samples[i] ?? 0);
    const keep = this.keepSeconds * sampleRate;
    if (entry.samples.length > keep * 2) entry.samples.splice(0, entry.samples.length - keep);
  };

  /** The last `seconds` of a member's audio. */
  recent(memberId: string, seconds = 1): { samples: number[]; sampleRate: number } {
    const entry = this.byMember.get(memberId);
    if (!entry) return { samples: [], sampleRate: 48_000 };
    return { samples: entry.samples.slice(-Math.round(seconds * entry.sampleRate)), sampleRate: entry.sampleRate };
  }

  /** Every frequency of `candidates` present in the recent audio of every member. */
  tonesHeard(candidates: number[], seconds = 1): number[] {
    const heard = new Set<number>();
    for (const memberId of this.byMember.keys()) {
      const { samples, sampleRate } = this.recent(memberId, seconds);
      for (const hz of candidates) if (hasTone(samples, hz, sampleRate)) heard.add(hz);
    }
    return [...heard].sort((a, b) => a - b);
  }

  clear(): void {
    this.byMember.clear();
  }
}
