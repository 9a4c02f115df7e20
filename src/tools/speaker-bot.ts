/**
 * A stage member in Node: a real libwebrtc peer (@roamhq/wrtc) that joins a
 * Space through its share link and plays audio in real time, a tone or a
 * WAV file, 10 ms at a time. Tests, benchmarks, load and bots use it; the
 * `speaker` CLI wraps it.
 */
import wrtc from '@roamhq/wrtc';
import { WebSocket } from 'ws';
import { StageSession, type SocketLike } from '../client/stage-session.js';
import { fillSine } from './tone.js';
import { PUBLIC_ID_SOURCE } from '../wire/public-id.js';

const { RTCPeerConnection, nonstandard } = wrtc;

// @roamhq/wrtc 0.10 crashes (SIGSEGV) in its native teardown when the process
// ends by running out of work, even for a program that only creates and
// closes one peer connection; an explicit exit skips that path. The exit
// code is kept, so a failing test run still fails.
process.once('beforeExit', () => process.exit(process.exitCode ?? 0));

export const FRAME_MS = 10;
export const SAMPLE_RATE = 48_000;
const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;

/** What a bot plays: a steady tone, PCM samples (mono, 48 kHz, looped) or a function of time. */
export type AudioProgram =
  | { kind: 'tone'; hz: number; amplitude?: number }
  | { kind: 'pcm'; samples: Int16Array; loop?: boolean }
  | { kind: 'silence' }
  /** Tones one after another (hz 0 is silence), looped: a known pattern to find again in a recording. */
  | { kind: 'sequence'; steps: { hz: number; seconds: number }[]; amplitude?: number }
  | { kind: 'custom'; fill(out: Int16Array, frameIndex: number): void };

export interface SpeakerBotOptions {
  /** The Space's share link (http(s)://host/s/ID?t=TOKEN) or its stage WebSocket URL. */
  spaceUrl: string;
  name: string;
  program: AudioProgram;
  /** Called with every 10 ms of audio received from another member (mono or interleaved, 16-bit). */
  onAudio?: (memberId: string, samples: Int16Array, sampleRate: number, channels: number) => void;
}

/** Turns a share link into the stage WebSocket URL. */
export function stageSocketUrl(spaceUrl: string): string {
  const url = new URL(spaceUrl);
  if (url.pathname.startsWith('/api/spaces/')) return url.toString();
  const match = new RegExp(`^/s/(${PUBLIC_ID_SOURCE})$`).exec(url.pathname);
  const token = url.searchParams.get('t');
  if (!match || !token) throw new Error(`not a Space link: ${spaceUrl} (expected /s/<id>?t=<token>)`);
  const scheme = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${url.host}/api/spaces/${match[1]}/stage?token=${encodeURIComponent(token)}`;
}

export class SpeakerBot {
  readonly session: StageSession;
  private readonly source = new nonstandard.RTCAudioSource();
  private readonly track: MediaStreamTrack;
  private readonly sinks: { stop(): void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The server's answer when it refused the WebSocket upgrade (status and catalogue code). */
  private refusal: Promise<string> | undefined;
  private program: AudioProgram;
  private phase = 0;
  private frameIndex = 0;
  private pcmOffset = 0;

  constructor(private readonly options: SpeakerBotOptions) {
    this.program = options.program;
    this.track = this.source.createTrack() as unknown as MediaStreamTrack;
    this.session = new StageSession({
      socketUrl: stageSocketUrl(options.spaceUrl),
      name: options.name,
      track: this.track,
      createSocket: (url) => this.openSocket(url),
      createPeerConnection: (config) => new RTCPeerConnection(config) as unknown as globalThis.RTCPeerConnection,
    });
    this.session.on('remoteTrack', (memberId, track) => this.listen(memberId, track));
  }

  /** Joins the stage and starts playing; resolves once the server welcomed us. */
  async start(): Promise<void> {
    try {
      await this.session.join();
    } catch (error) {
      if (this.refusal) throw new Error(await this.refusal, { cause: error });
      throw error;
    }
    this.startClock();
  }

  private openSocket(url: string): SocketLike {
    const socket = new WebSocket(url);
    socket.on('unexpected-response', (_request, response) => {
      this.refusal = new Promise((resolve) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk.slice(0, 4096)));
        response.on('end', () => {
          let code = '';
          try {
            code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? '';
          } catch {
            // Not one of our JSON errors (a proxy in between, say).
          }
          resolve(`${code || 'REFUSED'}: the server answered ${response.statusCode} to the stage connection`);
          // With an 'unexpected-response' listener, ending the attempt is ours to do.
          socket.terminate();
        });
      });
    });
    return socket as unknown as SocketLike;
  }

  /** Resolves when the peer connection is connected (media flows). */
  connected(timeoutMs = 15_000): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.session.peerConnection?.connectionState === 'connected') return resolve();
      const timer = setTimeout(() => reject(new Error('peer connection did not connect in time')), timeoutMs);
      const off = this.session.on('connectionState', (state) => {
        if (state === 'connected') {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
  }

  setProgram(program: AudioProgram): void {
    this.program = program;
    this.pcmOffset = 0;
  }

  setMuted(muted: boolean): void {
    this.session.setMuted(muted);
  }

  /** Safe to call twice. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const sink of this.sinks.splice(0)) sink.stop();
    this.session.close();
    this.track.stop();
  }

  private listen(memberId: string, track: MediaStreamTrack): void {
    const onAudio = this.options.onAudio;
    if (!onAudio) return;
    const sink = new nonstandard.RTCAudioSink(track as never);
    sink.ondata = (data: { samples: Int16Array; sampleRate: number; channelCount?: number; numberOfFrames?: number }) => {
      onAudio(memberId, data.samples, data.sampleRate, data.channelCount ?? 1);
    };
    this.sinks.push(sink);
  }

  /**
   * A drift-free 10 ms clock: frames due since the start are sent on each
   * tick, so a late timer catches up instead of slowing the audio down.
   */
  private startClock(): void {
    const startedAt = performance.now();
    this.timer = setInterval(() => {
      const due = Math.floor((performance.now() - startedAt) / FRAME_MS);
      // After a long stall, skip ahead rather than flood the peer.
      if (due - this.frameIndex > 20) this.frameIndex = due - 20;
      while (this.frameIndex < due) {
        const samples = new Int16Array(FRAME_SAMPLES);
        this.fill(samples);
        this.source.onData({ samples, sampleRate: SAMPLE_RATE, bitsPerSample: 16, channelCount: 1, numberOfFrames: FRAME_SAMPLES });
        this.frameIndex++;
      }
    }, FRAME_MS / 2);
  }

  private fill(out: Int16Array): void {
    const program = this.program;
    switch (program.kind) {
      case 'tone':
        this.phase = fillSine(out, program.hz, SAMPLE_RATE, program.amplitude ?? 0.3, this.phase);
        return;
      case 'pcm':
        for (let i = 0; i < out.length; i++) {
          if (this.pcmOffset >= program.samples.length) {
            if (program.loop === false) return;
            this.pcmOffset = 0;
          }
          out[i] = program.samples[this.pcmOffset++] ?? 0;
        }
        return;
      case 'silence':
        return;
      case 'sequence': {
        const hz = sequenceHzAt(program.steps, (this.frameIndex * FRAME_MS) / 1000);
        if (hz > 0) this.phase = fillSine(out, hz, SAMPLE_RATE, program.amplitude ?? 0.3, this.phase);
        return;
      }
      case 'custom':
        program.fill(out, this.frameIndex);
        return;
    }
  }
}

/** The tone a looped sequence plays `atS` seconds in (0: silence). */
export function sequenceHzAt(steps: readonly { hz: number; seconds: number }[], atS: number): number {
  const total = steps.reduce((sum, step) => sum + step.seconds, 0);
  if (!(total > 0)) return 0;
  let t = atS % total;
  for (const step of steps) {
    if (t < step.seconds) return step.hz;
    t -= step.seconds;
  }
  return 0;
}
