/**
 * One stage member's signalling connection: the WebSocket border between a
 * browser (or the speaker tool) and the Space. Every message is checked for
 * size, rate, JSON and schema before it is read; a bad message gets an
 * `error` with a catalogue code, and only size, rate and non-JSON abuse
 * close the connection. Nothing a connection sends reaches another member.
 */
import type { WebSocket, RawData } from 'ws';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { TokenBucket } from '../guard/token-bucket.js';
import { TribuneError } from '../wire/errors.js';
import { ClientMessage, SIGNAL_LIMITS, type RequestToSpeak, type ServerMessage, type StageRole } from '../wire/signalling.js';
import type { Space, StageConnection, StageIdentity, StageMember } from './space.js';

const checkClientMessage = TypeCompiler.Compile(ClientMessage);

export interface SignallingContext {
  space: Space;
  role: StageRole;
  who: StageIdentity;
  /** The request queue, for a member who moderates (sent on join). */
  requests?: () => RequestToSpeak[];
  /** Ends the Space for everyone; the owner checks that the member is its host. */
  end?: () => Promise<void>;
  iceServers: { urls: string | string[]; username?: string; credential?: string }[];
  /** Called once the connection is gone and its member has left. */
  onClosed?: () => void;
  log?: { error(object: unknown, message?: string): void };
}

export function handleStageSocket(socket: WebSocket, context: SignallingContext): void {
  const { space, role } = context;
  const bucket = new TokenBucket(SIGNAL_LIMITS.messagesPerSecond, SIGNAL_LIMITS.messageBurst, Date.now());
  let member: StageMember | undefined;
  let closing = false;
  let leftOnPurpose = false;

  const connection: StageConnection = {
    send(message: ServerMessage) {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
    },
    close(code: number, reason: string) {
      closing = true;
      socket.close(code, reason);
    },
  };

  const fail = (error: TribuneError): void => {
    connection.send({ type: 'error', code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });
    if (error.closeCode !== undefined) connection.close(error.closeCode, error.code);
  };

  const joinTimer = setTimeout(() => {
    if (!member) fail(new TribuneError('JOIN_TIMEOUT'));
  }, SIGNAL_LIMITS.joinTimeoutMs);

  const onError = (error: unknown): void => {
    if (error instanceof TribuneError) return fail(error);
    context.log?.error(error, 'signalling message failed');
    fail(new TribuneError('INTERNAL'));
  };

  // The border checks run synchronously: ws hands over every frame of one
  // read in a row, so a refusal must take effect (closing = true) before
  // the next frame is looked at. Admitted messages are then applied one at
  // a time, in order; the rate limit bounds the queue.
  let applying: Promise<void> = Promise.resolve();
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (closing) return;
    let message: ClientMessage;
    try {
      message = admit(data, isBinary);
    } catch (error) {
      onError(error);
      return;
    }
    applying = applying.then(() => (closing ? undefined : dispatch(message))).catch(onError);
  });

  socket.on('close', () => {
    closing = true;
    clearTimeout(joinTimer);
    const leaving = member;
    member = undefined;
    const done = leaving ? space.leave(leaving.view.id, leftOnPurpose ? 'left' : 'disconnected') : Promise.resolve();
    void done.finally(() => context.onClosed?.());
  });
  socket.on('error', () => socket.terminate());

  function admit(data: RawData, isBinary: boolean): ClientMessage {
    if (!bucket.take(Date.now())) throw new TribuneError('SIGNAL_RATE_LIMITED');
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    if (size > SIGNAL_LIMITS.maxMessageBytes) throw new TribuneError('SIGNAL_TOO_LARGE', `${size} bytes`);
    if (isBinary) throw new TribuneError('SIGNAL_NOT_JSON', 'binary frame');
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    } catch {
      throw new TribuneError('SIGNAL_NOT_JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TribuneError('SIGNAL_NOT_JSON');
    const sdp = (parsed as { sdp?: unknown }).sdp;
    if (typeof sdp === 'string') {
      const sdpBytes = Buffer.byteLength(sdp, 'utf8');
      if (sdpBytes > SIGNAL_LIMITS.maxSdpBytes) throw new TribuneError('SDP_TOO_LARGE', `${sdpBytes} bytes`);
    }
    if (!checkClientMessage.Check(parsed)) {
      const first = checkClientMessage.Errors(parsed).First();
      throw new TribuneError('SIGNAL_INVALID', first ? `${first.path || '/'}: ${first.message}` : undefined);
    }
    return parsed;
  }

  async function dispatch(message: ClientMessage): Promise<void> {
    if (message.type === 'ping') {
      connection.send({ type: 'pong' });
      return;
    }
    if (message.type === 'join') {
      if (member) throw new TribuneError('SIGNAL_ALREADY_JOINED');
      clearTimeout(joinTimer);
      const joined = await space.join(context.who, role, connection);
      member = joined;
      if (closing) {
        await space.leave(joined.view.id);
        return;
      }
      connection.send({
        type: 'welcome',
        you: { ...joined.view },
        space: { id: space.id, title: space.title },
        members: space.memberViews(),
        iceServers: context.iceServers,
      });
      const queue = context.requests?.() ?? [];
      if (role === 'host' || role === 'cohost') connection.send({ type: 'requests', requests: queue });
      joined.peer.on('offer', (offer) => connection.send({ type: 'offer', ...offer }));
      joined.peer.on('candidate', (candidate) => connection.send({ type: 'candidate', candidate }));
      joined.peer.on('connectionState', (state) => {
        if (state === 'failed' || state === 'closed') connection.close(1011, 'PEER_CONNECTION_' + state.toUpperCase());
      });
      await joined.peer.start();
      return;
    }
    if (!member) throw new TribuneError('SIGNAL_NOT_JOINED');
    switch (message.type) {
      case 'answer':
        await member.peer.applyAnswer(message.sdp);
        return;
      case 'candidate':
        await member.peer.addCandidate(message.candidate);
        return;
      case 'mute':
        space.setMuted(member.view.id, message.muted);
        return;
      case 'leave':
        leftOnPurpose = true;
        connection.close(1000, 'LEFT');
        return;
      case 'end':
        if (member.view.role !== 'host') throw new TribuneError('NOT_HOST');
        if (context.end) await context.end();
        else await space.end();
        return;
    }
  }
}
