/**
 * Fuzz: the stage WebSocket's client messages (src/wire/signalling.ts),
 * through the real border of src/control/stage-signalling.ts.
 *
 * Each case opens a connection on a stand-in socket (no network: the
 * border is all this target is about), as a host, co-host or speaker,
 * and sends one to five frames: valid messages, near-valid mutations,
 * arbitrary JSON, mangled text, raw bytes, binary and oversized frames.
 * A model of the border (size, JSON, SDP size, the TypeBox schema read by
 * TypeBox's interpreter, not the compiled checker the server uses, then
 * the join state) says what each frame must get, and the test checks the
 * connection got exactly that:
 *   - a refused frame gets one `error` whose code is in the catalogue and
 *     is the one the model names, closes the connection only when the
 *     catalogue gives it a close code, and reaches nothing behind the border;
 *   - an accepted frame is handed to the Space as the typed message it is;
 *   - nothing ever ends in INTERNAL or the error log (a throw that is not a
 *     TribuneError), and no message pollutes Object.prototype.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import fc, { type Arbitrary } from 'fast-check';
import type { WebSocket } from 'ws';
import { handleStageSocket } from '../../src/control/stage-signalling.js';
import type { Space, StageConnection } from '../../src/control/space.js';
import { ERRORS, isErrorCode, type ErrorCode } from '../../src/wire/errors.js';
import { ClientMessage, SIGNAL_LIMITS, type ServerMessage, type StageRole } from '../../src/wire/signalling.js';
import { hostileJsonText, hostileString } from '../helpers/fuzz-json.js';
import { fuzzParameters, fuzzRuns, fuzzTimeout } from '../helpers/fuzz-runs.js';

const RUNS = fuzzRuns();

/** A ws socket as far as the handler uses it: events in, messages and a close out. */
class StandInSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  readonly sent: ServerMessage[] = [];
  closedWith: { code: number; reason: string } | undefined;

  send(data: string): void {
    this.sent.push(JSON.parse(data) as ServerMessage);
  }

  close(code: number, reason: string): void {
    if (this.readyState !== 1) return;
    this.readyState = 2;
    this.closedWith = { code, reason };
  }

  terminate(): void {
    this.readyState = 3;
  }
}

type Call = { what: 'join' | 'leave' | 'mute' | 'end' | 'answer' | 'candidate'; args: unknown };

/** What the handler hands past the border, recorded; the real Space and peer are not this target. */
class StandInStage extends EventEmitter {
  readonly id = 'fuzzfuzzfzfuzz';
  readonly title = 'Fuzz';
  readonly calls: Call[] = [];
  private readonly peer = Object.assign(new EventEmitter(), {
    start: async () => undefined,
    applyAnswer: async (sdp: string) => void this.calls.push({ what: 'answer', args: sdp }),
    addCandidate: async (candidate: unknown) => void this.calls.push({ what: 'candidate', args: candidate }),
  });

  async join(_who: unknown, role: StageRole, connection: StageConnection) {
    this.calls.push({ what: 'join', args: role });
    return { view: { id: 'member01', accountId: 'account00001', username: 'fuzz', name: 'Fuzz', role, muted: false }, connection, peer: this.peer };
  }

  async leave(memberId: string): Promise<void> {
    this.calls.push({ what: 'leave', args: memberId });
  }

  setMuted(_memberId: string, muted: boolean): void {
    this.calls.push({ what: 'mute', args: muted });
  }

  memberViews() {
    return [];
  }
}

interface Frame {
  data: Buffer;
  binary: boolean;
}

/** What the model says a frame must get. */
type Outcome =
  | { kind: 'error'; code: ErrorCode; close: number | undefined }
  | { kind: 'pong' }
  | { kind: 'welcome' }
  | { kind: 'call'; call: Call }
  | { kind: 'left' };

function refused(code: ErrorCode): Outcome {
  return { kind: 'error', code, close: (ERRORS[code] as { close?: number }).close };
}

/** The border as documented (docs/ARCHITECTURE.md, "Signalling border"), then the join state. */
function model(frame: Frame, joined: boolean, role: StageRole): Outcome {
  if (frame.data.byteLength > SIGNAL_LIMITS.maxMessageBytes) return refused('SIGNAL_TOO_LARGE');
  if (frame.binary) return refused('SIGNAL_NOT_JSON');
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.data.toString('utf8'));
  } catch {
    return refused('SIGNAL_NOT_JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return refused('SIGNAL_NOT_JSON');
  const sdp = (parsed as { sdp?: unknown }).sdp;
  if (typeof sdp === 'string' && Buffer.byteLength(sdp, 'utf8') > SIGNAL_LIMITS.maxSdpBytes) return refused('SDP_TOO_LARGE');
  if (!Value.Check(ClientMessage, parsed)) return refused('SIGNAL_INVALID');
  const message = parsed as ClientMessage;
  if (message.type === 'ping') return { kind: 'pong' };
  if (message.type === 'join') return joined ? refused('SIGNAL_ALREADY_JOINED') : { kind: 'welcome' };
  if (!joined) return refused('SIGNAL_NOT_JOINED');
  switch (message.type) {
    case 'answer':
      return { kind: 'call', call: { what: 'answer', args: message.sdp } };
    case 'candidate':
      return { kind: 'call', call: { what: 'candidate', args: message.candidate } };
    case 'mute':
      return { kind: 'call', call: { what: 'mute', args: message.muted } };
    case 'leave':
      return { kind: 'left' };
    case 'end':
      return role === 'host' ? { kind: 'call', call: { what: 'end', args: undefined } } : refused('NOT_HOST');
  }
}

// --- what clients send -------------------------------------------------------

const displayName = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
/** SDP text around the size limits: the content is the SDP target's business, not this one's. */
const sdpText = fc.oneof(
  { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 300 }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(SIGNAL_LIMITS.maxSdpBytes - 1, SIGNAL_LIMITS.maxSdpBytes, SIGNAL_LIMITS.maxSdpBytes + 1)
      .chain((bytes) => fc.constantFrom('a'.repeat(bytes), 'é'.repeat(Math.ceil(bytes / 2)), `v=0\r\n${'a'.repeat(bytes - 5)}`)),
  },
);
const candidateText = fc.oneof(
  fc.constant('candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host'),
  fc.string({ maxLength: 80 }),
  fc.constantFrom('', 'x'.repeat(SIGNAL_LIMITS.maxCandidateBytes), 'x'.repeat(SIGNAL_LIMITS.maxCandidateBytes + 1)),
);

const validMessage: Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ type: fc.constant('join'), name: displayName }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('answer'), sdp: sdpText }),
  fc.record({
    type: fc.constant('candidate'),
    candidate: fc.record(
      {
        candidate: candidateText,
        sdpMid: fc.option(fc.string({ maxLength: 33 }), { nil: null }),
        sdpMLineIndex: fc.option(fc.integer({ min: -1, max: 65 }), { nil: null }),
      },
      { requiredKeys: ['candidate'] },
    ),
  }),
  fc.record({ type: fc.constant('mute'), muted: fc.boolean() }),
  fc.constantFrom({ type: 'leave' }, { type: 'end' }, { type: 'ping' }, { type: 'join' }),
);

const frame: Arbitrary<Frame> = fc.oneof(
  { weight: 12, arbitrary: hostileJsonText(validMessage).map((text) => ({ data: Buffer.from(text, 'utf8'), binary: false })) },
  { weight: 1, arbitrary: validMessage.map((m) => ({ data: Buffer.from(JSON.stringify(m)), binary: true })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ data: Buffer.from(bytes), binary: false })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('ping', 'join', 'answer'), hostileString)
      .map(([type, filler]) => ({ data: Buffer.from(JSON.stringify({ type, sdp: filler, pad: 'p'.repeat(SIGNAL_LIMITS.maxMessageBytes) })), binary: false })),
  },
);

const JOIN: Frame = { data: Buffer.from('{"type":"join"}'), binary: false };

// --- the property ---------------------------------------------------------------

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test(`${RUNS} stage signalling sequences get exactly the answer the border model names, never INTERNAL`, { timeout: fuzzTimeout(RUNS, 0.25) }, async () => {
  const logged: unknown[] = [];
  const counts: Record<string, number> = {};
  const startedAt = performance.now();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<StageRole>('host', 'cohost', 'speaker'), fc.boolean(), fc.array(frame, { minLength: 1, maxLength: 4 }), async (role, joinFirst, frames) => {
      const socket = new StandInSocket();
      const stage = new StandInStage();
      handleStageSocket(socket as unknown as WebSocket, {
        space: stage as unknown as Space,
        role,
        who: { accountId: 'account00001', username: 'fuzz', name: 'Fuzz' },
        requests: () => [],
        end: async () => void stage.calls.push({ what: 'end', args: undefined }),
        iceServers: [],
        log: { error: (error: unknown) => void logged.push(error) },
      });
      let joined = false;
      try {
        for (const sent of joinFirst ? [JOIN, ...frames] : frames) {
          if (socket.readyState !== socket.OPEN) break;
          const expected = model(sent, joined, role);
          const before = { sent: socket.sent.length, calls: stage.calls.length };
          socket.emit('message', sent.data, sent.binary);
          await flush();
          const answers = socket.sent.slice(before.sent);
          const calls = stage.calls.slice(before.calls);
          const what = `${sent.binary ? 'binary ' : ''}${sent.data.toString('utf8').slice(0, 200)}`;
          for (const answer of answers) {
            if (answer.type === 'error') assert.ok(isErrorCode(answer.code) && answer.code !== 'INTERNAL', `${answer.code} for ${what}`);
          }
          counts[expected.kind === 'error' ? expected.code : expected.kind] = (counts[expected.kind === 'error' ? expected.code : expected.kind] ?? 0) + 1;
          switch (expected.kind) {
            case 'error':
              assert.deepEqual(answers.map((a) => (a.type === 'error' ? a.code : a.type)), [expected.code], what);
              assert.deepEqual(calls, [], `a refused frame reached the Space: ${what}`);
              assert.deepEqual(socket.closedWith?.code, expected.close, `close after ${expected.code}`);
              break;
            case 'pong':
              assert.deepEqual(answers, [{ type: 'pong' }], what);
              break;
            case 'welcome':
              assert.deepEqual(answers.map((a) => a.type), role === 'speaker' ? ['welcome'] : ['welcome', 'requests'], what);
              assert.deepEqual(calls, [{ what: 'join', args: role }]);
              joined = true;
              break;
            case 'call':
              assert.deepEqual(answers, [], what);
              assert.deepEqual(calls, [expected.call], what);
              break;
            case 'left':
              assert.deepEqual(socket.closedWith, { code: 1000, reason: 'LEFT' });
              break;
          }
        }
      } finally {
        socket.readyState = 3;
        socket.emit('close');
        await flush();
      }
      assert.deepEqual(logged, [], 'a frame made the handler log an internal error');
      assert.equal(Object.getOwnPropertyNames(Object.prototype).includes('polluted'), false, 'Object.prototype was polluted');
    }),
    fuzzParameters(RUNS),
  );
  console.log(JSON.stringify({ target: 'signalling', cases: RUNS, frames: counts, seconds: Math.round((performance.now() - startedAt) / 100) / 10 }));
});
