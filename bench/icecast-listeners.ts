/**
 * A worker process of the Icecast fan-out benchmark (bench/fanout-icecast.ts):
 * it holds a share of the simulated listeners, each one raw TCP socket with
 * one `GET /live.opus` whose bytes it reads and walks page by page (no
 * decoding), and measures per listener:
 * - latency: for every Ogg page received, its arrival time minus the time
 *   the page left the source (the parent's tap between ffmpeg and Icecast
 *   sends every page's granule position and time as it passes), and minus
 *   the time the source captured the page's newest sample (source start +
 *   granule position / 48 kHz; see bench/icecast-source.ts);
 * - late slots: the source timeline is cut into 1 s slots; a slot is late
 *   for a listener when the listener had not received all of its audio
 *   (a page whose granule reaches the slot's end) by the slot's end + 1.5 s;
 * - time to first byte, and the age of the first audio page (the burst).
 * Times are CLOCK_MONOTONIC (process.hrtime), the same clock in every
 * process on the machine, in ms.
 *
 * Protocol over IPC:
 *   worker -> parent  { type: 'ready' }
 *   parent -> worker  WorkerStart       the ramp, all times absolute
 *   parent -> worker  WorkerWindow      the measurement window, once every listener receives (or the wait is over)
 *   worker -> parent  { type: 'status', open, unconnected }   every second
 *   parent -> worker  { type: 'emit', granule, ms }   each page as it leaves the source
 *   worker -> parent  WorkerResult      at `stopAtMs`; then the worker closes its sockets
 *   parent -> worker  { type: 'exit' }  (or a closed IPC channel) ends the worker
 */
import net from 'node:net';
import { MsHistogram, OggHttpReader } from './icecast-ogg.js';

export interface WorkerStart {
  type: 'start';
  port: number;
  path: string;
  /** This worker's listeners are global indexes offset, offset + stride, ... below `total`. */
  offset: number;
  stride: number;
  total: number;
  /** Listener g connects at rampStartMs + g / total * (rampEndMs - rampStartMs). */
  rampStartMs: number;
  rampEndMs: number;
  /** The source's sample 0 was captured at t0Ms. */
  t0Ms: number;
  sampleRate: number;
  slotMs: number;
  reconnectDelayMs: number;
  /** A listener with no byte this long after it started connecting gives up and reconnects, as players do. */
  firstByteTimeoutMs: number;
  maxConnectsPerListener: number;
}

export interface WorkerWindow {
  type: 'window';
  windowStartMs: number;
  windowEndMs: number;
  /** Slots firstSlot..lastSlot (inclusive) lie inside the window. */
  firstSlot: number;
  lastSlot: number;
  lateAfterMs: number;
  /** When to report (after the last slot's deadline). */
  stopAtMs: number;
}

export interface WorkerResult {
  type: 'result';
  listeners: number;
  /** Connections opened (all, and those started inside the window). */
  connects: number;
  connectsInWindow: number;
  /** Connections that ended (closed, reset, refused) before the stop, in all and inside the window. */
  drops: number;
  dropsInWindow: number;
  /** Answers other than 200, and streams that were not Ogg. */
  rejected: number;
  /** Listeners with a 200 and audio at the window's start and at its end. */
  openAtWindowStart: number;
  openAtWindowEnd: number;
  bytesInWindow: number;
  pagesInWindow: number;
  slotsChecked: number;
  slotsLate: number;
  /** Slots never received at all by the stop (a subset of slotsLate). */
  slotsMissing: number;
  /** Sparse [ms, count] histograms: source write → arrival, capture → arrival, connect → first byte, first audio page's age. */
  latency: [number, number][];
  captureLatency: [number, number][];
  ttfb: [number, number][];
  firstAudioAge: [number, number][];
  /** Pages whose arrival preceded their capture time: must be 0, or the clocks are wrong. */
  negativeLatencies: number;
  /** Pages in the window whose source write time never came (must be 0). */
  unmatchedPages: number;
  errors: Record<string, number>;
}

const now = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

class Listener {
  socket: net.Socket | undefined;
  reader: OggHttpReader | undefined;
  connects = 0;
  connectStartMs = 0;
  firstByte = false;
  audio = false;
  everAudio = false;
  /** Slots below this one have been fully received. */
  reached = 0;

  constructor(readonly index: number) {}
}

function main(): void {
  let start: WorkerStart | undefined;
  let window: WorkerWindow | undefined;
  const listeners: Listener[] = [];
  const latency = new MsHistogram();
  const captureLatency = new MsHistogram();
  /** When each recent page left the source, by granule; and arrivals that came before that news. */
  const emitted = new Map<number, number>();
  const pending = new Map<number, number[]>();
  const ttfb = new MsHistogram();
  const firstAudioAge = new MsHistogram();
  const errors: Record<string, number> = {};
  const counts = { connects: 0, connectsInWindow: 0, drops: 0, dropsInWindow: 0, rejected: 0, bytesInWindow: 0, pagesInWindow: 0, slotsChecked: 0, slotsLate: 0, slotsMissing: 0, negative: 0, openAtWindowStart: 0 };
  let stopped = false;
  /** Arrival time of the read being walked (one clock read per read, not per page). */
  let arrival = 0;
  const readBuffer = Buffer.alloc(64 * 1024);

  const countError = (reason: string): void => {
    errors[reason] = (errors[reason] ?? 0) + 1;
  };
  const inWindow = (t: number): boolean => window !== undefined && t >= window.windowStartMs && t < window.windowEndMs;

  function addLatency(ms: number): void {
    if (ms < 0) counts.negative++;
    latency.add(ms);
  }

  function onEmit(granule: number, ms: number): void {
    emitted.set(granule, ms);
    if (emitted.size > 1000) emitted.delete(emitted.keys().next().value!);
    const list = pending.get(granule);
    if (!list) return;
    pending.delete(granule);
    for (const arrivalMs of list) addLatency(arrivalMs - ms);
  }

  function settleSlots(l: Listener, reachedNow: number, at: number): void {
    const s = start!;
    const w = window;
    if (w) {
      const from = Math.max(l.reached, w.firstSlot);
      const to = Math.min(reachedNow, w.lastSlot + 1);
      for (let k = from; k < to; k++) {
        counts.slotsChecked++;
        if (at > s.t0Ms + (k + 1) * s.slotMs + w.lateAfterMs) counts.slotsLate++;
      }
    }
    if (reachedNow > l.reached) l.reached = reachedNow;
  }

  function connect(l: Listener): void {
    const s = start!;
    if (stopped) return;
    l.connects++;
    counts.connects++;
    l.connectStartMs = now();
    if (inWindow(l.connectStartMs)) counts.connectsInWindow++;
    l.firstByte = false;
    l.audio = false;
    const samplesPerSlot = (s.sampleRate * s.slotMs) / 1000;
    const msPerSample = 1000 / s.sampleRate;
    const reader = new OggHttpReader({
      onHead(status) {
        if (status !== 200) {
          counts.rejected++;
          countError(`http ${status}`);
          socket.destroy();
        }
      },
      onPage(granule) {
        if (granule <= 0) return; // the Opus header pages
        const age = arrival - (s.t0Ms + granule * msPerSample);
        if (!l.audio) {
          l.audio = true;
          if (!l.everAudio) firstAudioAge.add(age);
          l.everAudio = true;
        }
        if (inWindow(arrival)) {
          captureLatency.add(age);
          counts.pagesInWindow++;
          const left = emitted.get(granule);
          if (left === undefined) {
            const list = pending.get(granule);
            if (list) list.push(arrival);
            else pending.set(granule, [arrival]);
          } else addLatency(arrival - left);
        }
        settleSlots(l, Math.floor(granule / samplesPerSlot), arrival);
      },
      onError(reason) {
        counts.rejected++;
        countError(reason);
        socket.destroy();
      },
    });
    l.reader = reader;
    const socket = net.connect({
      host: '127.0.0.1',
      port: s.port,
      onread: {
        buffer: readBuffer,
        callback(bytes) {
          arrival = now();
          if (!l.firstByte) {
            l.firstByte = true;
            clearTimeout(firstByteTimer);
            ttfb.add(arrival - l.connectStartMs);
          }
          if (inWindow(arrival)) counts.bytesInWindow += bytes;
          reader.push(readBuffer.subarray(0, bytes));
          return true;
        },
      },
    });
    l.socket = socket;
    const firstByteTimer = setTimeout(() => {
      if (l.socket !== socket || l.firstByte) return;
      countError('no first byte in time');
      socket.destroy();
    }, s.firstByteTimeoutMs);
    socket.on('connect', () => socket.write(`GET ${s.path} HTTP/1.0\r\nHost: 127.0.0.1:${s.port}\r\nUser-Agent: tribune-bench-listener\r\n\r\n`));
    socket.on('error', (error: NodeJS.ErrnoException) => countError(error.code ?? error.message));
    socket.on('close', () => {
      clearTimeout(firstByteTimer);
      if (l.socket !== socket) return;
      l.socket = undefined;
      l.audio = false;
      if (stopped) return;
      counts.drops++;
      const t = now();
      if (inWindow(t)) counts.dropsInWindow++;
      // A player reconnects; Icecast's burst gives it the last second again.
      if (l.connects < s.maxConnectsPerListener) setTimeout(() => connect(l), s.reconnectDelayMs).unref();
    });
  }

  function openCount(): number {
    let open = 0;
    for (const l of listeners) if (l.audio) open++;
    return open;
  }

  function finish(w: WorkerWindow): void {
    const openAtWindowEnd = openCount();
    stopped = true;
    for (const l of listeners) {
      // Slots still not received by the stop (past every deadline) are late, and missing.
      const from = Math.max(l.reached, w.firstSlot);
      for (let k = from; k <= w.lastSlot; k++) {
        counts.slotsChecked++;
        counts.slotsLate++;
        counts.slotsMissing++;
      }
    }
    const result: WorkerResult = {
      type: 'result',
      listeners: listeners.length,
      connects: counts.connects,
      connectsInWindow: counts.connectsInWindow,
      drops: counts.drops,
      dropsInWindow: counts.dropsInWindow,
      rejected: counts.rejected,
      openAtWindowStart: counts.openAtWindowStart,
      openAtWindowEnd,
      bytesInWindow: counts.bytesInWindow,
      pagesInWindow: counts.pagesInWindow,
      slotsChecked: counts.slotsChecked,
      slotsLate: counts.slotsLate,
      slotsMissing: counts.slotsMissing,
      latency: latency.sparse(),
      captureLatency: captureLatency.sparse(),
      ttfb: ttfb.sparse(),
      firstAudioAge: firstAudioAge.sparse(),
      negativeLatencies: counts.negative,
      unmatchedPages: [...pending.values()].reduce((n, list) => n + list.length, 0),
      errors,
    };
    clearInterval(status);
    process.send?.(result, () => {
      for (const l of listeners) l.socket?.destroy();
    });
  }

  let status: NodeJS.Timeout | undefined;

  function run(s: WorkerStart): void {
    start = s;
    for (let g = s.offset; g < s.total; g += s.stride) listeners.push(new Listener(g));
    const rampMs = s.rampEndMs - s.rampStartMs;
    for (const l of listeners) {
      const at = s.rampStartMs + (l.index / s.total) * rampMs;
      setTimeout(() => connect(l), Math.max(0, at - now()));
    }
    status = setInterval(() => {
      let unconnected = 0;
      for (const l of listeners) if (!l.socket) unconnected++;
      process.send?.({ type: 'status', open: openCount(), unconnected });
    }, 1000);
    status.unref();
  }

  function measure(w: WorkerWindow): void {
    window = w;
    setTimeout(() => {
      counts.openAtWindowStart = openCount();
    }, Math.max(0, w.windowStartMs - now()));
    setTimeout(() => finish(w), Math.max(0, w.stopAtMs - now()));
  }

  process.on('message', (message: WorkerStart | WorkerWindow | { type: 'emit'; granule: number; ms: number } | { type: 'exit' }) => {
    if (message.type === 'emit') onEmit(message.granule, message.ms);
    else if (message.type === 'start') run(message);
    else if (message.type === 'window') measure(message);
    else if (message.type === 'exit') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' });
}

main();
