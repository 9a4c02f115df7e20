/**
 * A stage member's side of the Space: the WebSocket signalling and one
 * RTCPeerConnection that publishes the microphone and receives every other
 * member. It runs in the browser and in Node (with @roamhq/wrtc and ws), so
 * the web client and the speaker tool behave the same.
 *
 * The server always offers (see src/wire/signalling.ts); this side answers,
 * publishing its track on `publishMid` and receiving on every slot.
 */
import type { ErrorCode } from '../wire/errors.js';
import type { ClientMessage, MemberView, RequestToSpeak, ServerMessage, StageRole } from '../wire/signalling.js';
import { Emitter } from './emitter.js';

/** The parts of the WebSocket API this client uses (browser WebSocket and `ws` both fit). */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface StageSessionOptions {
  /** ws:// or wss:// URL of /api/spaces/:id/stage?token=… */
  socketUrl: string;
  name: string;
  /** The microphone track to publish. */
  track: MediaStreamTrack;
  createSocket(url: string): SocketLike;
  createPeerConnection(config: RTCConfiguration): RTCPeerConnection;
}

export interface StageSessionEvents extends Record<string, unknown[]> {
  welcome: [MemberView, { id: string; title: string }];
  members: [MemberView[]];
  speaking: [string[]];
  /** A receiver now carries `memberId`'s audio. */
  remoteTrack: [string, MediaStreamTrack];
  connectionState: [RTCPeerConnectionState];
  serverError: [ErrorCode, string];
  /** To hosts and co-hosts: the queue of requests to speak, whenever it changes. */
  requests: [RequestToSpeak[]];
  /** A host or co-host muted this member (account id of who did). */
  /** A host or co-host muted me: their account id and name. */
  mutedBy: [string, string];
  /** This member's role changed while on stage (`me` is updated first). */
  roleChanged: [StageRole];
  ended: [];
  /** The socket closed: its close code and reason (a catalogue code such as MOVED_TO_AUDIENCE, or LEFT, SPACE_ENDED). */
  closed: [number, string];
}

export class StageSession extends Emitter<StageSessionEvents> {
  me: MemberView | undefined;
  members = new Map<string, MemberView>();
  speaking: string[] = [];
  /** The moderators' queue, as last sent by the server. */
  requests: RequestToSpeak[] = [];
  /** Why the socket closed, once it has: the close code and reason. */
  closeReason: { code: number; reason: string } | undefined;
  private socket: SocketLike | undefined;
  private pc: RTCPeerConnection | undefined;
  private iceServers: RTCIceServer[] = [];
  private readonly trackOfMember = new Map<string, MediaStreamTrack>();
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: StageSessionOptions) {
    super();
  }

  /** Opens the signalling socket and joins; resolves on `welcome`. */
  join(): Promise<MemberView> {
    return new Promise((resolve, reject) => {
      const socket = this.options.createSocket(this.options.socketUrl);
      this.socket = socket;
      socket.onopen = () => this.send({ type: 'join', name: this.options.name });
      socket.onerror = () => undefined;
      socket.onclose = (event) => {
        reject(new Error(`signalling closed: ${event.code} ${event.reason}`));
        this.closeReason = { code: event.code, reason: event.reason };
        this.pc?.close();
        this.emit('closed', event.code, event.reason);
      };
      socket.onmessage = (event) => {
        const message = JSON.parse(String(event.data)) as ServerMessage;
        if (message.type === 'error' && !this.me) reject(new Error(`${message.code}: ${message.message}`));
        // Messages are applied in order, one at a time; join() resolves once
        // the welcome has been applied, so `me` is set for the caller.
        this.queue = this.queue
          .then(() => this.onMessage(message))
          .then(() => {
            if (message.type === 'welcome') resolve(message.you);
          })
          .catch((error: unknown) => {
            this.emit('serverError', 'SDP_INVALID', error instanceof Error ? error.message : String(error));
          });
      };
    });
  }

  setMuted(muted: boolean): void {
    this.options.track.enabled = !muted;
    this.send({ type: 'mute', muted });
  }

  /** Ends the Space for everyone (host only). */
  end(): void {
    this.send({ type: 'end' });
  }

  leave(): void {
    this.send({ type: 'leave' });
    this.close();
  }

  close(): void {
    this.socket?.close(1000, 'LEFT');
    this.pc?.close();
  }

  trackOf(memberId: string): MediaStreamTrack | undefined {
    return this.trackOfMember.get(memberId);
  }

  get peerConnection(): RTCPeerConnection | undefined {
    return this.pc;
  }

  private send(message: ClientMessage): void {
    if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(message));
  }

  private async onMessage(message: ServerMessage): Promise<void> {
    switch (message.type) {
      case 'welcome':
        this.me = message.you;
        this.iceServers = message.iceServers;
        this.members = new Map(message.members.map((m) => [m.id, m]));
        this.emit('welcome', message.you, message.space);
        this.emit('members', [...this.members.values()]);
        return;
      case 'offer':
        await this.onOffer(message.sdp, message.publishMid, message.slots);
        return;
      case 'candidate':
        if (this.pc?.remoteDescription) await this.pc.addIceCandidate(message.candidate);
        else this.pendingCandidates.push(message.candidate);
        return;
      case 'member-joined':
      case 'member-updated':
        this.members.set(message.member.id, message.member);
        if (message.member.id === this.me?.id) this.me = message.member;
        this.emit('members', [...this.members.values()]);
        return;
      case 'member-left':
        this.members.delete(message.memberId);
        this.trackOfMember.delete(message.memberId);
        this.emit('members', [...this.members.values()]);
        return;
      case 'speaking':
        this.speaking = message.memberIds;
        this.emit('speaking', message.memberIds);
        return;
      case 'requests':
        this.requests = message.requests;
        this.emit('requests', message.requests);
        return;
      case 'muted-by':
        this.emit('mutedBy', message.by, message.name);
        return;
      case 'role-changed':
        if (this.me) this.me = { ...this.me, role: message.role };
        this.emit('roleChanged', message.role);
        return;
      case 'space-ended':
        this.emit('ended');
        return;
      case 'error':
        this.emit('serverError', message.code, message.message);
        return;
      case 'pong':
        return;
    }
  }

  private async onOffer(sdp: string, publishMid: string, slots: Record<string, string>): Promise<void> {
    const pc = (this.pc ??= this.createPeerConnection());
    await pc.setRemoteDescription({ type: 'offer', sdp });
    for (const transceiver of pc.getTransceivers()) {
      const mid = transceiver.mid;
      if (mid === publishMid) {
        transceiver.direction = 'sendonly';
        await transceiver.sender.replaceTrack(this.options.track);
      } else if (mid !== null && slots[mid] !== undefined) {
        transceiver.direction = 'recvonly';
      } else {
        transceiver.direction = 'inactive';
      }
    }
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    this.send({ type: 'answer', sdp: pc.localDescription?.sdp ?? answer.sdp ?? '' });
    for (const candidate of this.pendingCandidates.splice(0)) await pc.addIceCandidate(candidate);
    for (const transceiver of pc.getTransceivers()) {
      const memberId = transceiver.mid === null ? undefined : slots[transceiver.mid];
      if (memberId === undefined) continue;
      const track = transceiver.receiver.track;
      if (this.trackOfMember.get(memberId) === track) continue;
      this.trackOfMember.set(memberId, track);
      this.emit('remoteTrack', memberId, track);
    }
  }

  private createPeerConnection(): RTCPeerConnection {
    const pc = this.options.createPeerConnection({ iceServers: this.iceServers, bundlePolicy: 'max-bundle' });
    pc.onicecandidate = (event) => {
      if (!event.candidate) return;
      const { candidate, sdpMid, sdpMLineIndex } = event.candidate;
      if (candidate) this.send({ type: 'candidate', candidate: { candidate, sdpMid, sdpMLineIndex } });
    };
    pc.onconnectionstatechange = () => this.emit('connectionState', pc.connectionState);
    return pc;
  }
}
