/**
 * Attack 5: the stage WebSocket, three ways at once, through the edge
 * unless said otherwise:
 *
 *   upgrade flood   300 upgrade requests/s from 64 addresses (127.5.0.x), each with no
 *                   pass or a bad one (forged, tampered, expired, another Space's,
 *                   garbage: bench/attack-passes.ts), cycled
 *   bad frames      the hostile member's real pass (127.5.1.1): a socket is opened,
 *                   then one abuse from the list below is sent, before or after `join`
 *                   (alternately); the server has 1 s to close it (a close frame or
 *                   the connection), then the next socket and the next abuse
 *   header bombs    upgrade requests with 2,000 headers, 10/s through the edge
 *                   (127.5.2.x) and 10/s straight to the origin's port (127.5.3.x)
 *
 * For each abuse the report says how the server ended the socket (close
 * code) or that it kept it open.
 */
import { randomBytes } from 'node:crypto';
import type { Attack, AttackResult, AttackSetup } from './attack-types.js';
import { AttackConnection, Counts, answerKey, attackAddress, paced, targetOf, type Target } from './attack-net.js';
import { PASS_KINDS, badPass, realPass, stagePath } from './attack-passes.js';
import { OPCODE, frame, openSocket, text, upgradeRequest, type RawSocket } from './attack-ws-client.js';

const UPGRADES_PER_S = 300;
const UPGRADE_ADDRESSES = 64;
const ABUSE_EVERY_MS = 500;
const HEADER_BOMBS_PER_S = 10;
const HEADER_BOMB_HEADERS = 2000;

/** One abuse of an accepted stage socket. */
interface Abuse {
  name: string;
  send(socket: RawSocket): void;
}

const KIB = 1024;
const json = (value: unknown): Buffer => text(JSON.stringify(value));

export const ABUSES: Abuse[] = [
  { name: 'text of 100 KiB (over the 64 KiB transport cap)', send: (s) => s.send(text('x'.repeat(100 * KIB))) },
  { name: 'text of 20 KiB (over the 16 KiB message limit)', send: (s) => s.send(json({ type: 'answer', sdp: 'v=0\r\n'.repeat(4 * KIB) })) },
  { name: 'binary frame', send: (s) => s.send(frame({ opcode: OPCODE.binary, payload: randomBytes(200) })) },
  { name: 'not JSON', send: (s) => s.send(text('{"type": "join", ')) },
  { name: 'invalid UTF-8', send: (s) => s.send(frame({ opcode: OPCODE.text, payload: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0xfe, 0x7d]) })) },
  { name: 'JSON array', send: (s) => s.send(text('[1,2,3]')) },
  { name: 'JSON nested 7,000 deep', send: (s) => s.send(text(`${'['.repeat(7000)}${']'.repeat(7000)}`)) },
  { name: 'wrong schema', send: (s) => s.send(json({ type: 'answer', sdp: 5, extra: true })) },
  { name: 'unknown type', send: (s) => s.send(json({ type: 'promote', role: 'host' })) },
  { name: '60 pings at once (burst 40)', send: (s) => s.send(Buffer.concat(Array.from({ length: 60 }, () => text('{"type":"ping"}')))) },
  {
    name: 'a message in 1,000 fragments',
    send: (s) => {
      const whole = Buffer.from(JSON.stringify({ type: 'ping' }).padEnd(10_000, ' '));
      const parts: Buffer[] = [];
      for (let i = 0; i < 1000; i++) parts.push(frame({ opcode: i === 0 ? OPCODE.text : OPCODE.continuation, fin: i === 999, payload: whole.subarray(i * 10, i * 10 + 10) }));
      s.send(Buffer.concat(parts));
    },
  },
  { name: 'ping control frame of 200 bytes', send: (s) => s.send(frame({ opcode: OPCODE.ping, payload: randomBytes(200) })) },
  { name: 'unmasked frame', send: (s) => s.send(frame({ opcode: OPCODE.text, payload: Buffer.from('{"type":"ping"}'), mask: false })) },
  { name: 'reserved opcode 3', send: (s) => s.send(frame({ opcode: 3, payload: randomBytes(10) })) },
  { name: 'RSV1 set (no extension agreed)', send: (s) => s.send(frame({ opcode: OPCODE.text, rsv: 4, payload: Buffer.from('{"type":"ping"}') })) },
  { name: 'header announcing 2^62 bytes', send: (s) => s.send(frame({ opcode: OPCODE.text, payload: randomBytes(16), announcedLength: 2 ** 62 })) },
  { name: 'half a frame, then silence', send: (s) => s.send(frame({ opcode: OPCODE.text, payload: randomBytes(20), announcedLength: 1000 })) },
  { name: 'continuation with no message', send: (s) => s.send(frame({ opcode: OPCODE.continuation, payload: Buffer.from('{}') })) },
  { name: 'join twice', send: (s) => s.send(Buffer.concat([text('{"type":"join"}'), text('{"type":"join"}')])) },
  { name: 'close frame with reason of 200 bytes', send: (s) => s.send(frame({ opcode: OPCODE.close, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), randomBytes(200)]) })) },
];

interface AbuseOutcome {
  tries: number;
  outcomes: Counts;
  errorCodes: Counts;
}

async function abuseOnce(setup: AttackSetup, pass: string, abuse: Abuse, afterJoin: boolean, outcome: AbuseOutcome, answers: Counts): Promise<void> {
  const target = targetOf(setup.edgeUrl, attackAddress(5, 257));
  const opened = await openSocket(target, stagePath(setup.spaceId, pass));
  outcome.tries++;
  if (!opened.socket) {
    const key = `upgrade refused ${opened.status || opened.error}`;
    outcome.outcomes.add(key);
    answers.add(key);
    return;
  }
  const socket = opened.socket;
  try {
    if (afterJoin) {
      socket.send(text('{"type":"join"}'));
      await socket.until((m) => m.includes('"welcome"'), 5000);
    }
    abuse.send(socket);
    const code = await socket.closedWithin(1000);
    const key = code === undefined ? 'kept open' : `closed ${code}${socket.closeReason ? ` ${socket.closeReason}` : ''}`;
    outcome.outcomes.add(key);
    answers.add(`socket ${key}`);
    for (const message of socket.messages) {
      const error = /"type":"error","code":"([A-Z_]+)"/.exec(message)?.[1];
      if (error) outcome.errorCodes.add(error);
    }
  } finally {
    socket.destroy();
  }
}

function headerBomb(): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < HEADER_BOMB_HEADERS; i++) headers[`X-H${i}`] = 'v';
  return headers;
}

export const websocketAttack: Attack = {
  name: 'websocket',
  number: 5,
  async run(setup, untilMs): Promise<AttackResult> {
    const answers = new Counts();
    const real = await realPass(setup, attackAddress(5, 256));
    const passes = await Promise.all(PASS_KINDS.map(async (kind) => [kind, await badPass(kind, setup, real)] as const));
    let sent = 0;

    // 1. Upgrade flood with bad passes.
    const upgradeTargets: Target[] = Array.from({ length: UPGRADE_ADDRESSES }, (_, i) => targetOf(setup.edgeUrl, attackAddress(5, i + 1)));
    const byPass = new Map(PASS_KINDS.map((kind) => [kind, new Counts()]));
    const flood = paced(UPGRADES_PER_S, untilMs, 3000, async (index) => {
      const [kind, token] = passes[index % passes.length] as (typeof passes)[number];
      sent++;
      const opened = await openSocket(upgradeTargets[index % UPGRADE_ADDRESSES] as Target, stagePath(setup.spaceId, token));
      opened.socket?.destroy();
      const key = opened.status > 0 ? String(opened.status) : `error:${opened.error}`;
      byPass.get(kind)?.add(key);
      answers.add(`upgrade ${key}`);
    });

    // 2. Abuse of an accepted socket, one at a time.
    const byAbuse = new Map<string, AbuseOutcome>();
    const abusing = (async () => {
      let pass = real;
      let passAt = Date.now();
      for (let i = 0; Date.now() < untilMs; i++) {
        const started = Date.now();
        if (started - passAt > 300_000) {
          pass = await realPass(setup, attackAddress(5, 256));
          passAt = started;
        }
        const abuse = ABUSES[i % ABUSES.length] as Abuse;
        // Before and after join in turn, and the other way round in the next round: both for every abuse.
        const afterJoin = (i + Math.floor(i / ABUSES.length)) % 2 === 1;
        const name = `${abuse.name} (${afterJoin ? 'after' : 'before'} join)`;
        let outcome = byAbuse.get(name);
        if (!outcome) byAbuse.set(name, (outcome = { tries: 0, outcomes: new Counts(), errorCodes: new Counts() }));
        sent++;
        await abuseOnce(setup, pass, abuse, afterJoin, outcome, answers).catch((error: unknown) => outcome.outcomes.add(`harness error ${String(error).slice(0, 80)}`));
        const wait = ABUSE_EVERY_MS - (Date.now() - started);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    })();

    // 3. Header bombs, through the edge and straight to the origin.
    const bombs = new Map([
      ['edge', new Counts()],
      ['origin', new Counts()],
    ]);
    const headers = headerBomb();
    const bombing = paced(2 * HEADER_BOMBS_PER_S, untilMs, 200, async (index) => {
      const where = index % 2 === 0 ? 'edge' : 'origin';
      const target = targetOf(where === 'edge' ? setup.edgeUrl : setup.originUrl, attackAddress(5, (where === 'edge' ? 512 : 768) + (index % 32)));
      const connection = new AttackConnection(target);
      sent++;
      const answer = await connection.request(upgradeRequest(stagePath(setup.spaceId, real), `${target.host}:${target.port}`, headers), 10_000);
      connection.close();
      const key = answerKey(answer);
      bombs.get(where)?.add(key);
      answers.add(`header bomb ${where} ${key}`);
    });

    const [floodDone] = await Promise.all([flood, abusing, bombing]);
    return {
      sent,
      answers: answers.sorted(),
      details: {
        unit: 'upgrade requests and abused sockets',
        upgrade_flood: { rate_per_s: UPGRADES_PER_S, addresses: UPGRADE_ADDRESSES, skipped_in_flight_cap: floodDone.skipped, answers_by_pass: Object.fromEntries([...byPass].map(([k, c]) => [k, c.sorted(6)])) },
        frames: Object.fromEntries([...byAbuse].map(([name, o]) => [name, { tries: o.tries, outcomes: o.outcomes.sorted(4), error_codes: o.errorCodes.sorted(4) }])),
        header_bombs: { headers: HEADER_BOMB_HEADERS, per_s_each: HEADER_BOMBS_PER_S, edge: bombs.get('edge')?.sorted(6), origin_direct: bombs.get('origin')?.sorted(6) },
      },
    };
  },
};
