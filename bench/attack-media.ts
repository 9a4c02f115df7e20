/**
 * Attack 6: the media border. Three things at once:
 *
 *   junk datagrams   2,000/s from 16 addresses (127.6.0.x) at the SFU's UDP ports of
 *                    both speakers and of the hostile member (every kind of
 *                    bench/attack-udp.ts in turn: forged, oversized, truncated and
 *                    badly padded RTP, forged and truncated RTCP, STUN with unknown or
 *                    right-but-unkeyed ufrags, stray DTLS ClientHellos, empty and
 *                    random datagrams). The ports, SSRCs and ufrags are read from the
 *                    members' own descriptions, as an on-path attacker would see them.
 *   bad signalling   first half: the hostile member joins over signalling with its real
 *                    pass and answers the SFU's offer with malformed SDP and ICE
 *                    candidates (below), each followed by a ping: the errors that come
 *                    back before the pong are that message's answer, and no pong within
 *                    3 s means the connection stopped answering (then a new one). About
 *                    7 messages a second, under the 10/s limit, so the border's checks
 *                    answer them, not the rate limit.
 *   replays          second half: the hostile member joins for real (the speaker tool)
 *                    with its media through the attacker's relay (bench/attack-relay.ts),
 *                    which replays its SRTP packets on the same 5-tuple; its DTLS
 *                    handshake happens under the junk flood.
 *
 * Candidates only ever name loopback addresses, so nothing leaves the machine.
 */
import dgram from 'node:dgram';
import wrtc from '@roamhq/wrtc';
import { SpeakerBot } from '../src/tools/speaker-bot.js';
import type { Attack, AttackResult, AttackSetup, SfuTarget } from './attack-types.js';
import { sleep } from './bench-util.js';
import { Counts, attackAddress, targetOf } from './attack-net.js';
import { realPass, stagePath } from './attack-passes.js';
import { SignallingProxy, UdpRelay } from './attack-relay.js';
import { DATAGRAM_KINDS, DATAGRAM_KIND_NAMES } from './attack-udp.js';
import { openSocket, text } from './attack-ws-client.js';

const DATAGRAMS_PER_S = 2000;
const UDP_ADDRESSES = 16;
const SIGNAL_EVERY_MS = 280;
const PONG_WAIT_MS = 3000;

// ---------------------------------------------------------------- malformed signalling

type Message = Record<string, unknown>;
interface SignalCase {
  name: string;
  make(offer: string, answer: string, originPort: number): Message;
}

const answerOf = (sdp: string): Message => ({ type: 'answer', sdp });
const candidateOf = (candidate: string, sdpMid: string | null = '0', sdpMLineIndex: number | null = 0): Message => ({ type: 'candidate', candidate: { candidate, sdpMid, sdpMLineIndex } });
const replaceLine = (sdp: string, pattern: RegExp, by: string): string => sdp.replace(pattern, by);

export const SIGNAL_CASES: SignalCase[] = [
  { name: 'answer: not SDP', make: () => answerOf('hello') },
  { name: 'answer: random base64', make: () => answerOf(Buffer.from(Array.from({ length: 1500 }, () => Math.floor(Math.random() * 256))).toString('base64')) },
  { name: 'answer: the offer echoed back', make: (offer) => answerOf(offer) },
  { name: 'answer: no fingerprint', make: (_o, a) => answerOf(replaceLine(a, /^a=fingerprint:.*\r?\n/gm, '')) },
  { name: 'answer: no ICE credentials', make: (_o, a) => answerOf(replaceLine(replaceLine(a, /^a=ice-ufrag:.*\r?\n/gm, ''), /^a=ice-pwd:.*\r?\n/gm, '')) },
  { name: 'answer: setup actpass', make: (_o, a) => answerOf(replaceLine(a, /^a=setup:\w+/gm, 'a=setup:actpass')) },
  { name: 'answer: one m-section too many', make: (_o, a) => answerOf(a + (a.slice(a.lastIndexOf('m=')) || '')) },
  { name: 'answer: wrong mid', make: (_o, a) => answerOf(replaceLine(a, /^a=mid:\S+/m, 'a=mid:zz')) },
  { name: 'answer: payload type 300', make: (_o, a) => answerOf(replaceLine(a, /^(m=audio \d+ \S+) .*$/m, '$1 300')) },
  { name: 'answer: a 9 KB attribute line', make: (_o, a) => answerOf(`${a.trimEnd()}\r\na=x-junk:${'j'.repeat(9000)}\r\n`) },
  { name: 'answer: over 12 KiB', make: (_o, a) => answerOf(`${a.trimEnd()}\r\n${'a=x-junk:yyyyyyyyyyyyyyyyyyyy\r\n'.repeat(500)}`) },
  { name: 'answer: NUL bytes', make: (_o, a) => answerOf(a.replace('a=', 'a\u0000=\u0000')) },
  { name: 'answer: LF line endings', make: (_o, a) => answerOf(a.replace(/\r\n/g, '\n')) },
  { name: 'answer: md5 fingerprint', make: (_o, a) => answerOf(replaceLine(a, /^a=fingerprint:\S+/gm, 'a=fingerprint:md5')) },
  { name: 'answer: fingerprint of 3 bytes', make: (_o, a) => answerOf(replaceLine(a, /^a=fingerprint:(\S+) .*$/gm, 'a=fingerprint:$1 AB:CD:EF')) },
  { name: 'answer: truncated', make: (_o, a) => answerOf(a.slice(0, Math.floor(a.length / 2))) },
  { name: 'answer: rtpmap clock rate 0', make: (_o, a) => answerOf(replaceLine(a, /opus\/48000\/2/g, 'opus/0/2')) },
  { name: 'answer: extmap id 300', make: (_o, a) => answerOf(replaceLine(a, /^a=extmap:\d+/gm, 'a=extmap:300')) },
  { name: 'answer: ssrc 2^32', make: (_o, a) => answerOf(replaceLine(a, /^a=ssrc:\d+/gm, 'a=ssrc:4294967296')) },
  { name: 'answer: 60 candidates on loopback', make: (_o, a) => answerOf(`${a.trimEnd()}\r\n${Array.from({ length: 60 }, (_, i) => `a=candidate:${i} 1 udp ${2122260223 - i} 127.0.0.1 ${20000 + i} typ host`).join('\r\n')}\r\n`) },
  { name: 'candidate: garbage', make: () => candidateOf('%%% not a candidate %%%') },
  { name: 'candidate: port 0', make: () => candidateOf('candidate:1 1 udp 2122260223 127.0.0.1 0 typ host') },
  { name: 'candidate: port 70000', make: () => candidateOf('candidate:1 1 udp 2122260223 127.0.0.1 70000 typ host') },
  { name: 'candidate: TCP', make: () => candidateOf('candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active') },
  { name: 'candidate: bad IPv6', make: () => candidateOf('candidate:1 1 udp 2122260223 ::ffff:::1:: 5000 typ host') },
  { name: 'candidate: host name', make: () => candidateOf('candidate:1 1 udp 2122260223 localhost 5000 typ host') },
  { name: 'candidate: unknown sdpMid', make: () => candidateOf('candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host', 'nope') },
  { name: 'candidate: sdpMLineIndex 64', make: () => candidateOf('candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host', null, 64) },
  { name: 'candidate: priority 2^40', make: () => candidateOf('candidate:1 1 udp 1099511627776 127.0.0.1 5000 typ host') },
  { name: 'candidate: relay with raddr', make: () => candidateOf('candidate:1 1 udp 41885439 127.0.0.2 5000 typ relay raddr 127.0.0.3 rport 5001') },
  { name: "candidate: the origin's HTTP port", make: (_o, _a, originPort) => candidateOf(`candidate:1 1 udp 2122260223 127.0.0.1 ${originPort} typ host`) },
  { name: 'candidate: 511 bytes', make: () => candidateOf(`candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host ${'x'.repeat(450)}`) },
  { name: 'candidate: 40 extension attributes', make: () => candidateOf(`candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host ${Array.from({ length: 40 }, (_, i) => `k${i} v`).join(' ')}`.slice(0, 510)) },
  { name: 'candidate: component 2', make: () => candidateOf('candidate:1 2 udp 2122260223 127.0.0.1 5000 typ host') },
  { name: 'candidate: end of candidates', make: () => candidateOf('') },
];

/** A valid answer to `offer` from a real WebRTC stack, to mutate. */
async function validAnswer(offer: string): Promise<string> {
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  try {
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    const answer = await pc.createAnswer();
    return answer.sdp ?? '';
  } finally {
    pc.close();
  }
}

function portOf(sdp: string): number | undefined {
  const port = /^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ/im.exec(sdp)?.[1] ?? /^m=audio (\d+)/m.exec(sdp)?.[1];
  return port === undefined ? undefined : Number(port);
}

async function badSignalling(setup: AttackSetup, untilMs: number, addTarget: (target: SfuTarget) => void): Promise<Record<string, unknown>> {
  const byCase = new Map<string, Counts>();
  const sessions = new Counts();
  const originPort = Number(new URL(setup.originUrl).port);
  let sent = 0;
  let index = 0;
  for (let attempt = 0; Date.now() < untilMs; attempt++) {
    const pass = await realPass(setup, attackAddress(6, 300));
    const opened = await openSocket(targetOf(setup.edgeUrl, attackAddress(6, 301)), stagePath(setup.spaceId, pass));
    if (!opened.socket) {
      sessions.add(`upgrade refused ${opened.status || opened.error}`);
      await sleep(500);
      continue;
    }
    const socket = opened.socket;
    socket.send(text('{"type":"join"}'));
    const offerMessage = await socket.until((m) => m.includes('"type":"offer"'), 10_000);
    if (!offerMessage) {
      sessions.add(`no offer (closed ${socket.closeCode ?? 'no'})`);
      socket.destroy();
      continue;
    }
    const offer = (JSON.parse(offerMessage) as { sdp: string }).sdp;
    const port = portOf(offer);
    const answer = await validAnswer(offer);
    if (port !== undefined) {
      addTarget({ name: 'hostile member (signalling)', port, sfuUfrag: /^a=ice-ufrag:(\S+)/m.exec(offer)?.[1] ?? '', memberUfrag: /^a=ice-ufrag:(\S+)/m.exec(answer)?.[1] ?? '', ssrc: 1 });
    }
    sessions.add('joined, got an offer');
    while (!socket.closed && socket.closeCode === undefined && Date.now() < untilMs) {
      const started = Date.now();
      const signalCase = SIGNAL_CASES[index++ % SIGNAL_CASES.length] as SignalCase;
      const seen = socket.messages.length;
      socket.send(text(JSON.stringify(signalCase.make(offer, answer, originPort))));
      socket.send(text('{"type":"ping"}'));
      sent += 2;
      const pong = await socket.until((m, i) => i >= seen && m === '{"type":"pong"}', PONG_WAIT_MS);
      let counts = byCase.get(signalCase.name);
      if (!counts) byCase.set(signalCase.name, (counts = new Counts()));
      const codes = socket.messages.slice(seen).flatMap((m) => /"type":"error","code":"([A-Z_]+)"/.exec(m)?.[1] ?? []);
      const outcome = codes.length > 0 ? codes.join('+') : 'no error';
      if (pong !== undefined) {
        counts.add(outcome);
      } else {
        counts.add(socket.closeCode !== undefined || socket.closed ? `${outcome}, then closed ${socket.closeCode ?? 1006}` : `${outcome}, then no pong in ${PONG_WAIT_MS / 1000} s`);
        break;
      }
      const wait = SIGNAL_EVERY_MS - (Date.now() - started);
      if (wait > 0) await sleep(wait);
    }
    if (socket.closed || socket.closeCode !== undefined) sessions.add(`closed by the server ${socket.closeCode ?? 1006} ${socket.closeReason}`);
    else if (Date.now() < untilMs) sessions.add('stopped answering: left for a new connection');
    socket.destroy();
  }
  return { messages_sent: sent, sessions: sessions.sorted(), answers_by_case: Object.fromEntries([...byCase].map(([k, c]) => [k, c.sorted(3)])) };
}

// ---------------------------------------------------------------- a real member through the relay, replayed

async function replays(setup: AttackSetup, untilMs: number, addTarget: (target: SfuTarget) => void): Promise<Record<string, unknown>> {
  let relay: UdpRelay | undefined;
  const proxy = await SignallingProxy.open(setup.edgeUrl.replace(/^http/, 'ws'), attackAddress(6, 400), async (sfuPort) => {
    relay = await UdpRelay.open(sfuPort, attackAddress(6, 401));
    return relay.port;
  });
  const pass = await realPass(setup, attackAddress(6, 402));
  const bot = new SpeakerBot({ spaceUrl: `ws://127.0.0.1:${proxy.port}${stagePath(setup.spaceId, pass)}`, name: 'hostile member', program: { kind: 'tone', hz: 1000, amplitude: 0.2 } });
  const started = performance.now();
  let connectMs: number | undefined;
  let failure: string | undefined;
  try {
    await bot.start();
    const offered = Date.now() + 5000;
    while (proxy.observed.sfuPort === undefined && Date.now() < offered) await sleep(50);
    if (proxy.observed.sfuPort !== undefined) {
      // Junk at its port from now on: the DTLS handshake happens under the flood.
      addTarget({ name: 'hostile member (relayed)', port: proxy.observed.sfuPort, sfuUfrag: proxy.observed.sfuUfrag ?? '', memberUfrag: proxy.observed.memberUfrag ?? '', ssrc: proxy.observed.ssrc ?? 1 });
    }
    await bot.connected(20_000);
    connectMs = Math.round(performance.now() - started);
    while (Date.now() < untilMs && bot.session.peerConnection?.connectionState === 'connected') await sleep(200);
    if (Date.now() < untilMs) failure = `connection ${bot.session.peerConnection?.connectionState ?? 'gone'} before the end`;
  } catch (error) {
    failure = error instanceof Error ? error.message : String(error);
  } finally {
    relay?.stopReplaying();
    bot.stop();
    proxy.close();
    relay?.close();
  }
  return {
    member_connected_in_ms: connectMs ?? null,
    member_failure: failure ?? null,
    relay: relay ? { forwarded_to_sfu: relay.forwardedUp, forwarded_to_member: relay.forwardedDown, srtp_replays_sent: relay.replayed } : null,
    observed: proxy.observed,
  };
}

// ---------------------------------------------------------------- junk datagrams

async function junk(targets: SfuTarget[], untilMs: number): Promise<{ sent: number; byKind: Record<string, number>; byTarget: Record<string, number>; replies: Counts }> {
  const sockets = await Promise.all(
    Array.from({ length: UDP_ADDRESSES }, (_, i) => {
      const socket = dgram.createSocket('udp4');
      return new Promise<dgram.Socket>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, attackAddress(6, i + 1), () => resolve(socket));
      });
    }),
  );
  const replies = new Counts();
  for (const socket of sockets) {
    socket.on('message', (packet) => {
      const first = packet[0] ?? 0;
      replies.add(first < 4 ? 'STUN' : first >= 20 && first <= 63 ? 'DTLS' : first >= 128 && first <= 191 ? 'RTP/RTCP' : 'other');
    });
    socket.on('error', () => undefined);
  }
  const byKind = new Counts();
  const byTarget = new Counts();
  let sent = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() >= untilMs) {
        clearInterval(timer);
        return resolve();
      }
      const due = Math.floor(((performance.now() - started) / 1000) * DATAGRAMS_PER_S);
      for (; sent < due; sent++) {
        const kind = DATAGRAM_KIND_NAMES[sent % DATAGRAM_KIND_NAMES.length] as keyof typeof DATAGRAM_KINDS;
        const target = targets[Math.floor(sent / DATAGRAM_KIND_NAMES.length) % targets.length];
        if (!target) continue;
        const socket = sockets[sent % sockets.length] as dgram.Socket;
        socket.send(DATAGRAM_KINDS[kind](target), target.port, '127.0.0.1');
        byKind.add(kind);
        byTarget.add(target.name);
      }
    }, 5);
  });
  await sleep(500);
  for (const socket of sockets) socket.close();
  return { sent, byKind: byKind.sorted(), byTarget: byTarget.sorted(), replies };
}

export const mediaAttack: Attack = {
  name: 'media',
  number: 6,
  async run(setup, untilMs): Promise<AttackResult> {
    const targets: SfuTarget[] = [...setup.sfuTargets];
    const addTarget = (target: SfuTarget): void => {
      const same = targets.findIndex((t) => t.name === target.name);
      if (same >= 0) targets[same] = target;
      else targets.push(target);
    };
    const half = Date.now() + (untilMs - Date.now()) / 2;
    const flooding = junk(targets, untilMs);
    const signalling = await badSignalling(setup, half, addTarget);
    const replayed = await replays(setup, untilMs, addTarget);
    const datagrams = await flooding;
    const answers = new Counts();
    for (const [kind, n] of Object.entries(datagrams.replies.record)) answers.add(`UDP reply ${kind}`, n);
    return {
      sent: datagrams.sent + (signalling.messages_sent as number),
      answers: answers.sorted(),
      details: {
        unit: 'datagrams and signalling messages',
        datagrams: { rate_per_s: DATAGRAMS_PER_S, sent: datagrams.sent, by_kind: datagrams.byKind, by_target: datagrams.byTarget, replies_from_the_sfu: datagrams.replies.sorted() },
        targets: targets.map((t) => ({ name: t.name, port: t.port })),
        bad_signalling: signalling,
        replays: replayed,
      },
    };
  },
};
