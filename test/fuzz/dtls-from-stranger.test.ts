/**
 * Regression: found by the SFU datagram fuzzer (sfu-datagrams.test.ts).
 * The minimal datagrams, each sent from a loopback port that never did ICE
 * to the SFU's port for member A of a fresh stage (a Tribune server in a
 * child process, test/helpers/fuzz-stage-server.ts, with werift members A
 * and B sending to each other all along).
 *
 * werift hands its DTLS layer every non-STUN datagram that reaches the ICE
 * socket, whatever its source address. A connected DtlsServer answers a
 * plaintext (epoch 0) ClientHello by renegotiating: keys, SRTP context and
 * handshake state are thrown away. A handshake fragment that claims a
 * 16 MiB message makes werift allocate the claimed length
 * (FragmentedHandshake.assemble) and keep it in the handshake cache; a
 * second message of the same type makes it format the cached 16 MiB as hex
 * for a debug line (DtlsContext.bufferHandshakeCache -> summary ->
 * dumpBuffer, evaluated even with logging off), which V8 cannot and aborts
 * the whole process.
 *
 * What must hold (issue 6, after OWASP ASVS 5.0 V17: "a ClientHello from an
 * address that has not completed ICE cannot block the real peer's DTLS
 * handshake"): the server lives, media keeps flowing both ways, and the
 * memory does not grow.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { emptyFragment, strangerClientHello } from '../helpers/fuzz-datagrams.js';
import { startStageServer, type StageServer } from '../helpers/fuzz-stage-server.js';
import { sleep } from '../helpers/tribune.js';

const LIMIT = { timeout: 60_000 };

/** Sends `datagram` from a socket that never did ICE to the SFU's first port (member A's). */
async function fromStranger(server: StageServer, datagram: Buffer): Promise<void> {
  const [target] = await server.ports();
  assert.ok(target, 'the SFU gathered a host candidate');
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.send(datagram, target.port, '127.0.0.1', () => resolve()));
  socket.close();
}

/** Fails unless the server lives and both members keep receiving over the next second. */
async function stillServing(server: StageServer, what: string): Promise<void> {
  await sleep(700);
  const ended = server.ended();
  assert.equal(ended, undefined, `${what}: the server died (code ${ended?.code}, signal ${ended?.signal}): ${ended?.stderr.split('\n').filter(Boolean).slice(0, 4).join(' | ')}`);
  const before = server.received();
  await sleep(1000);
  const now = server.received();
  assert.ok(now.a > before.a, `${what}: A stopped receiving B (${before.a} -> ${now.a} packets)`);
  assert.ok(now.b > before.b, `${what}: B stopped receiving A (${before.b} -> ${now.b} packets)`);
}

/** Runs `attack` on a fresh stage, once it served for a moment unless `atOnce`. */
async function withStage(attack: (server: StageServer) => Promise<void>, atOnce = false): Promise<void> {
  const server = await startStageServer({ passes: 0, weriftMembers: true });
  try {
    if (!atOnce) await stillServing(server, 'before the attack');
    await attack(server);
  } finally {
    server.stop();
  }
}

test('a DTLS ClientHello from a source port that never did ICE leaves the server up and the audio flowing both ways', LIMIT, () =>
  withStage(async (server) => {
    // 16fefd 0000 000000000000 0067 01 00005b 0000 000000 00005b fefd ...: a browser's first flight.
    await fromStranger(server, strangerClientHello());
    await stillServing(server, 'after a stranger’s ClientHello');
  }));

test('40 empty client_key_exchange fragments claiming 16 MiB each leave the server within 8 MiB of memory, up and serving', LIMIT, () =>
  withStage(async (server) => {
    const before = await server.memory();
    // 16fefd 0000 0000000000NN 000c 10 ffffff 0000 ffffff 000000: 25 bytes each.
    for (let i = 0; i < 40; i++) await fromStranger(server, emptyFragment(16, 0xffffff, i));
    await stillServing(server, 'after the fragments');
    const after = await server.memory();
    assert.ok(after.externalMb - before.externalMb <= 8, `external memory grew from ${before.externalMb} to ${after.externalMb} MB`);
  }));

test('one datagram of a stranger’s ClientHello and four empty fragments claiming 16 MiB leaves the server up and serving', LIMIT, () =>
  withStage(async (server) => {
    // The ClientHello resets the session; each pair of fragments then assembles one
    // 16 MiB client_key_exchange, and the second one is formatted as hex for the log.
    // Sent within a second or so of the handshake it aborts the process every time;
    // later it has so far only stopped the audio.
    await fromStranger(server, Buffer.concat([strangerClientHello(), ...[1, 2, 3, 4].map((i) => emptyFragment(16, 0xffffff, i))]));
    await stillServing(server, 'after one datagram');
  }, true));
