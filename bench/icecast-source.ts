/**
 * The live source of the Icecast fan-out benchmark (bench/fanout-icecast.ts)
 * and the tap that times it:
 * - ToneSource writes a 440 Hz tone as 16-bit mono PCM at 48 kHz into
 *   ffmpeg's stdin, one 20 ms chunk at a time, each when its last sample is
 *   due on a real-time schedule starting at `t0` (as a sound card hands over
 *   a period), catching up when a timer fires late. Sample k is captured at
 *   t0 + k / 48 kHz.
 * - SourceTap is a transparent TCP relay between ffmpeg and Icecast (ffmpeg's
 *   icecast:// URL points at it). It forwards every byte at once and walks
 *   the Ogg pages of the PUT body, noting when each page left the source:
 *   the "source writes a byte" time that listener latency is measured from.
 * Times are CLOCK_MONOTONIC in ms (see `now`).
 */
import net from 'node:net';
import { FRAME_MS, SAMPLE_RATE } from './icecast-config.js';
import { MsHistogram, OggHttpReader } from './icecast-ogg.js';

/** CLOCK_MONOTONIC in ms: the same clock in every process on the machine. */
export const now = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

export class ToneSource {
  readonly t0: number;
  /** How late each chunk was written after it was due. */
  readonly lag = new MsHistogram(10_000);
  private written = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly chunks: Buffer[];

  constructor(private readonly stdin: NodeJS.WritableStream) {
    const samplesPerChunk = (SAMPLE_RATE * FRAME_MS) / 1000;
    // 440 Hz repeats exactly every second: 50 chunks loop seamlessly.
    this.chunks = Array.from({ length: 1000 / FRAME_MS }, (_, c) => {
      const chunk = Buffer.alloc(samplesPerChunk * 2);
      for (let i = 0; i < samplesPerChunk; i++) {
        const n = c * samplesPerChunk + i;
        chunk.writeInt16LE(Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * 440 * n) / SAMPLE_RATE)), i * 2);
      }
      return chunk;
    });
    this.t0 = now();
    this.tick();
  }

  private tick(): void {
    const t = now();
    while (this.t0 + (this.written + 1) * FRAME_MS <= t) {
      this.lag.add(t - (this.t0 + (this.written + 1) * FRAME_MS));
      this.stdin.write(this.chunks[this.written % this.chunks.length]!);
      this.written++;
    }
    this.timer = setTimeout(() => this.tick(), Math.max(1, this.t0 + (this.written + 1) * FRAME_MS - now()));
  }

  stop(): void {
    clearTimeout(this.timer);
    this.stdin.end();
  }
}

export class SourceTap {
  /** capture → leaving the source (ffmpeg's read, encode and Ogg muxing), per audio page inside `window`. */
  readonly sourceDelay = new MsHistogram(10_000);
  window: { startMs: number; endMs: number } | undefined;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    readonly port: number,
    private readonly onPage: (granule: number, atMs: number) => void,
  ) {}

  /** Listens on a free loopback port and relays each connection to `upstreamPort`. */
  static start(upstreamPort: number, t0: () => number, onPage: (granule: number, atMs: number) => void): Promise<SourceTap> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (typeof address !== 'object' || !address) return reject(new Error('no tap port'));
        const tap = new SourceTap(address.port, onPage);
        tap.server = server;
        server.on('connection', (client) => tap.relay(client, upstreamPort, t0));
        resolve(tap);
      });
    });
  }

  private relay(client: net.Socket, upstreamPort: number, t0: () => number): void {
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    let arrival = 0;
    const msPerSample = 1000 / SAMPLE_RATE;
    const reader = new OggHttpReader({
      onHead: () => undefined, // the PUT request's head
      onPage: (granule) => {
        if (granule <= 0) return;
        if (this.window && arrival >= this.window.startMs && arrival < this.window.endMs) this.sourceDelay.add(arrival - (t0() + granule * msPerSample));
        this.onPage(granule, arrival);
      },
      onError: () => undefined, // not Ogg: relay it anyway, time nothing
    });
    client.on('data', (chunk: Buffer) => {
      arrival = now();
      upstream.write(chunk);
      reader.push(chunk);
    });
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server?.close();
  }
}
