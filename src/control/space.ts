/**
 * A live Space: its title, the people on its stage and its stage router.
 * The Space knows its members' connections only through `StageConnection`,
 * so it runs the same behind a WebSocket or in a test.
 */
import { AudiencePipeline } from '../hls/audience-pipeline.js';
import type { PartKeeper } from '../hls/part-keeper.js';
import { opusCodec } from '../mixer/opus-codec.js';
import { StageRouter } from '../sfu/stage-router.js';
import type { SfuOptions } from '../sfu/sfu-types.js';
import type { StagePeer } from '../sfu/stage-peer.js';
import { newId } from '../store/ids.js';
import { TribuneError, type ErrorCode } from '../wire/errors.js';
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

/** Who a stage connection belongs to. */
export interface StageIdentity {
  accountId: string;
  username: string;
  name: string;
}

/** How a member left: by saying so, or by losing the connection. */
export type LeaveReason = 'left' | 'disconnected' | 'removed';

export interface SpaceHooks {
  /** Called once when the Space ends, with how it ended (for the store). */
  onEnded?: (space: Space) => Promise<void>;
  /** The stage changed (someone joined, left, muted, or talks): the feed rebuilds. */
  onStageChanged?: (urgent: boolean) => void;
  onMemberLeft?: (member: MemberView, reason: LeaveReason) => void;
  onMemberJoined?: (member: MemberView) => void;
}

export class Space {
  readonly id: string;
  title: string;
  readonly createdAt: Date;
  state: SpaceState = 'live';
  endedAt: Date | undefined;
  readonly router: StageRouter;
  /** Mixer -> CMAF -> LL-HLS for everyone not on stage. */
  readonly audience: AudiencePipeline;
  private readonly members = new Map<string, StageMember>();
  private speaking: string[] = [];

  constructor(
    id: string,
    title: string,
    sfu: SfuOptions,
    private readonly maxStageMembers: number,
    /** The recorder of a recorded Space: every part is kept before listeners get it. */
    keeper: PartKeeper | undefined,
    private readonly hooks: SpaceHooks = {},
  ) {
    this.id = id;
    this.title = title;
    this.createdAt = new Date();
    this.router = new StageRouter(sfu);
    this.audience = new AudiencePipeline(this.router, opusCodec, keeper);
    this.router.on('speaking', (memberIds) => {
      this.speaking = memberIds;
      this.broadcast({ type: 'speaking', memberIds });
      this.markAudienceState();
      this.hooks.onStageChanged?.(false);
    });
    this.markAudienceState();
  }

  /** Tells listeners, in step with the audio, who is on stage and who talks. */
  private markAudienceState(): void {
    this.audience.markState({ members: this.memberViews(), speaking: this.speaking });
  }

  /** The stage changed in a way people act on. */
  private stageChanged(): void {
    this.markAudienceState();
    this.hooks.onStageChanged?.(true);
  }

  /**
   * Puts a person on stage; throws SPACE_ENDED or STAGE_FULL. An account
   * joins once: a second connection (another tab, a reconnect that beat the
   * old socket's close) replaces the first.
   */
  async join(who: StageIdentity, role: StageRole, connection: StageConnection): Promise<StageMember> {
    if (this.state !== 'live') throw new TribuneError('SPACE_ENDED');
    const previous = this.memberOf(who.accountId);
    if (previous) {
      previous.connection.close(4001, 'REPLACED');
      await this.leave(previous.view.id, 'removed');
    }
    if (this.state !== 'live') throw new TribuneError('SPACE_ENDED');
    if (this.members.size >= this.maxStageMembers) throw new TribuneError('STAGE_FULL');
    const view: MemberView = { id: newId(8), accountId: who.accountId, username: who.username, name: who.name, role, muted: false };
    const peer = this.router.addMember(view.id);
    const member: StageMember = { view, connection, peer };
    this.broadcast({ type: 'member-joined', member: view });
    this.members.set(view.id, member);
    this.stageChanged();
    this.hooks.onMemberJoined?.(view);
    return member;
  }

  async leave(memberId: string, reason: LeaveReason = 'disconnected'): Promise<void> {
    const member = this.members.get(memberId);
    if (!member) return;
    this.members.delete(memberId);
    await this.router.removeMember(memberId);
    this.audience.removeSpeaker(memberId);
    this.speaking = this.speaking.filter((id) => id !== memberId);
    this.broadcast({ type: 'member-left', memberId });
    this.stageChanged();
    if (this.state === 'live') this.hooks.onMemberLeft?.(member.view, reason);
  }

  setMuted(memberId: string, muted: boolean): void {
    const member = this.members.get(memberId);
    if (!member || member.view.muted === muted) return;
    member.view.muted = muted;
    this.router.setMuted(memberId, muted);
    this.broadcast({ type: 'member-updated', member: { ...member.view } });
    this.stageChanged();
  }

  /** Member ids talking now. */
  speakingNow(): readonly string[] {
    return this.speaking;
  }

  memberOf(accountId: string): StageMember | undefined {
    for (const member of this.members.values()) if (member.view.accountId === accountId) return member;
    return undefined;
  }

  /** A role changed while its holder is on stage: everyone sees it, the holder is told. */
  setRole(accountId: string, role: StageRole): void {
    const member = this.memberOf(accountId);
    if (!member || member.view.role === role) return;
    member.view.role = role;
    member.connection.send({ type: 'role-changed', role });
    this.broadcast({ type: 'member-updated', member: { ...member.view } });
    this.stageChanged();
  }

  /** Takes an account off the stage (moved to the audience, blocked, stepped down). */
  async remove(accountId: string, code: ErrorCode | 'STEPPED_DOWN'): Promise<void> {
    const member = this.memberOf(accountId);
    if (!member) return;
    if (code !== 'STEPPED_DOWN') member.connection.send({ type: 'error', code, message: new TribuneError(code).message });
    member.connection.close(code === 'STEPPED_DOWN' ? 1000 : (new TribuneError(code).closeCode ?? 4000), code);
    await this.leave(member.view.id, 'removed');
  }

  /** Sends to the members whose role passes `to` (the request queue goes to moderators only). */
  sendTo(to: (member: MemberView) => boolean, message: ServerMessage): void {
    for (const member of this.members.values()) if (to(member.view)) member.connection.send(message);
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
    await this.hooks.onEnded?.(this);
  }

  private broadcast(message: ServerMessage): void {
    for (const member of this.members.values()) member.connection.send(message);
  }
}

