/**
 * A live Space: its title, the people on its stage and its stage router.
 * The Space knows its members' connections only through `StageConnection`,
 * so it runs the same behind a WebSocket or in a test.
 */
import { randomBytes } from 'node:crypto';
import { AudiencePipeline } from '../hls/audience-pipeline.js';
import { opusCodec } from '../mixer/opus-codec.js';
import { StageRouter } from '../sfu/stage-router.js';
import type { SfuOptions } from '../sfu/sfu-types.js';
import type { StagePeer } from '../sfu/stage-peer.js';
import { TribuneError } from '../wire/errors.js';
import type { MemberView, ServerMessage, StageRole } from '../wire/signalling.js';

export interface StageConnection {
  send(message: ServerMessage): void;
  close(code: number, reason: string): void;
}

export interface StageMember {
  view: MemberView;
  connection: StageConnection;
  peer: StagePeer;
}

export type SpaceState = 'live' | 'ended' | 'interrupted';

export class Space {
  readonly id: string;
  readonly title: string;
  readonly createdAt: Date;
  state: SpaceState = 'live';
  endedAt: Date | undefined;
  readonly router: StageRouter;
  /** Mixer -> CMAF -> LL-HLS for everyone not on stage. */
  readonly audience: AudiencePipeline;
  private readonly members = new Map<string, StageMember>();
  private speaking: string[] = [];

  constructor(
    title: string,
    sfu: SfuOptions,
    private readonly maxStageMembers: number,
    /** Called once when the Space ends, with how it ended (for the store). */
    private readonly onEnded: (space: Space) => Promise<void> = async () => undefined,
  ) {
    this.id = newId(10);
    this.title = title;
    this.createdAt = new Date();
    this.router = new StageRouter(sfu);
    this.audience = new AudiencePipeline(this.router, opusCodec);
    this.router.on('speaking', (memberIds) => {
      this.speaking = memberIds;
      this.broadcast({ type: 'speaking', memberIds });
      this.markAudienceState();
    });
    this.markAudienceState();
  }

  /** Tells listeners, in step with the audio, who is on stage and who talks. */
  private markAudienceState(): void {
    this.audience.markState({ members: this.memberViews(), speaking: this.speaking });
  }

  /** Puts a person on stage; throws SPACE_ENDED or STAGE_FULL. */
  join(name: string, role: StageRole, connection: StageConnection): StageMember {
    if (this.state !== 'live') throw new TribuneError('SPACE_ENDED');
    if (this.members.size >= this.maxStageMembers) throw new TribuneError('STAGE_FULL');
    const view: MemberView = { id: newId(8), name, role, muted: false };
    const peer = this.router.addMember(view.id);
    const member: StageMember = { view, connection, peer };
    this.broadcast({ type: 'member-joined', member: view });
    this.members.set(view.id, member);
    this.markAudienceState();
    return member;
  }

  async leave(memberId: string): Promise<void> {
    if (!this.members.delete(memberId)) return;
    await this.router.removeMember(memberId);
    this.audience.removeSpeaker(memberId);
    this.speaking = this.speaking.filter((id) => id !== memberId);
    this.broadcast({ type: 'member-left', memberId });
    this.markAudienceState();
  }

  setMuted(memberId: string, muted: boolean): void {
    const member = this.members.get(memberId);
    if (!member || member.view.muted === muted) return;
    member.view.muted = muted;
    this.router.setMuted(memberId, muted);
    this.broadcast({ type: 'member-updated', member: { ...member.view } });
    this.markAudienceState();
  }

  memberViews(): MemberView[] {
    return [...this.members.values()].map((m) => ({ ...m.view }));
  }

  /**
   * Ends the Space for everyone on it: 'ended' by its host, 'interrupted'
   * when the server stops under it. Safe to call twice.
   */
  async end(how: 'ended' | 'interrupted' = 'ended'): Promise<void> {
    if (this.state !== 'live') return;
    this.state = how;
    this.endedAt = new Date();
    this.broadcast({ type: 'space-ended' });
    for (const member of this.members.values()) member.connection.close(1000, 'SPACE_ENDED');
    this.members.clear();
    await this.audience.stop();
    await this.router.close();
    await this.onEnded(this);
  }

  private broadcast(message: ServerMessage): void {
    for (const member of this.members.values()) member.connection.send(message);
  }
}

/** Random id from an alphabet without look-alikes, for URLs. */
function newId(length: number): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(length);
  let id = '';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return id;
}
