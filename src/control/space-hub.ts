/**
 * Everything the control plane holds about one Space, from its lobby to its
 * end: the stored record, roles and blocks (in SQL), the request queue and
 * invitations, pins, presence, reactions, and the state feed listeners
 * long-poll. While live it also owns the stage (`Space`: router, mixer,
 * audience stream).
 *
 * Every change runs through `exclusive`, one at a time per Space, and
 * writes the store before memory: a refused or failed change leaves both
 * as they were, and two moderators accepting the last seat at once cannot
 * both win it.
 */
import type { StoredAccount } from '../store/account-store.js';
import type { StoredSpace } from '../store/space-store.js';
import type { StoredRole } from '../store/store-types.js';
import { KeyedBuckets } from '../guard/keyed-buckets.js';
import { PresenceCounter } from '../feed/presence-counter.js';
import { ReactionTally } from '../feed/reaction-tally.js';
import { FEED_TICK_MS, StateFeed } from '../feed/state-feed.js';
import { newId } from '../store/ids.js';
import { API_LIMITS } from '../wire/limits.js';
import type { FeedPin, FeedSeat, FeedState } from '../wire/feed.js';
import { TribuneError } from '../wire/errors.js';
import type { MemberView, RequestToSpeak, StageRole } from '../wire/signalling.js';
import type { HubDeps } from './hub-deps.js';
import { Space, type LeaveReason } from './space.js';
import { spaceSummary } from './space-views.js';
import { checkBlock, checkMute, checkRoleChange, checkSeat, isModerator, type Place, type StageCounts } from './stage-rules.js';

/** What a host fills in to open or schedule a Space. */
export interface NewSpace {
  title: string;
  description: string;
  startsAtMs: number | null;
  recorded: boolean;
}

export class SpaceHub {
  /** The live stage, from start to end. */
  stage: Space | undefined;
  readonly feed: StateFeed;
  private readonly roles = new Map<string, { role: StoredRole; grantedAtMs: number }>();
  /** Accounts this Space shows by name: role holders, requesters, invitees. */
  private readonly people = new Map<string, StoredAccount>();
  private readonly blocks: Set<string>;
  private readonly requests = new Map<string, number>();
  private readonly invites = new Map<string, number>();
  private pins: FeedPin[] = [];
  private readonly presence: PresenceCounter;
  private readonly reactions = new ReactionTally();
  private readonly reactionBuckets: KeyedBuckets;
  private lastCount = 0;
  private ticker: NodeJS.Timeout | undefined;
  private hostGrace: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly record: StoredSpace,
    roles: { accountId: string; role: StoredRole; grantedAtMs: number }[],
    people: StoredAccount[],
    blocks: string[],
    private readonly deps: HubDeps,
  ) {
    for (const grant of roles) this.roles.set(grant.accountId, { role: grant.role, grantedAtMs: grant.grantedAtMs });
    for (const person of people) this.people.set(person.id, person);
    this.blocks = new Set(blocks);
    this.presence = new PresenceCounter(deps.config.presenceWindowMs);
    this.reactionBuckets = new KeyedBuckets(deps.config.reactionsPerSecond, deps.config.reactionBurst, 50_000);
    this.feed = new StateFeed(() => this.buildFeed());
    if (this.isOpen()) this.startTicker();
  }

  /** Reads a Space and its roles and blocks from the store. */
  static async load(id: string, deps: HubDeps): Promise<SpaceHub | undefined> {
    const record = await deps.spaces.get(id);
    if (!record) return undefined;
    const [roles, blocks] = await Promise.all([deps.spaces.roles(id), deps.spaces.blocks(id)]);
    const ids = new Set(roles.map((r) => r.accountId));
    if (record.hostAccountId) ids.add(record.hostAccountId);
    const people = await deps.accounts.byIds([...ids]);
    return new SpaceHub(record, roles, people, blocks, deps);
  }

  /** A new Space: stored first, then opened (live at once unless it has a start time). */
  static async create(host: StoredAccount, input: NewSpace, deps: HubDeps): Promise<SpaceHub> {
    const now = Date.now();
    const record: StoredSpace = {
      id: deps.ids.mint(),
      title: input.title,
      description: input.description,
      state: input.startsAtMs === null ? 'live' : 'scheduled',
      hostAccountId: host.id,
      createdAtMs: now,
      startsAtMs: input.startsAtMs,
      startedAtMs: input.startsAtMs === null ? now : null,
      endedAtMs: null,
      recorded: input.recorded,
    };
    await deps.spaces.insert(record);
    const hub = new SpaceHub(record, [{ accountId: host.id, role: 'host', grantedAtMs: now }], [host], [], deps);
    if (record.state === 'live') await hub.openStage(now);
    return hub;
  }

  get id(): string {
    return this.record.id;
  }

  /** Lobby or live: the Space still has an audience to keep up to date. */
  isOpen(): boolean {
    return this.record.state === 'scheduled' || this.record.state === 'live';
  }

  placeOf(accountId: string | undefined): Place {
    if (!accountId) return 'listener';
    return this.roles.get(accountId)?.role ?? 'listener';
  }

  isBlocked(accountId: string): boolean {
    return this.blocks.has(accountId);
  }

  myPlace(accountId: string): { role: Place; requested: boolean; invited: boolean; blocked: boolean } {
    return { role: this.placeOf(accountId), requested: this.requests.has(accountId), invited: this.invites.has(accountId), blocked: this.blocks.has(accountId) };
  }

  /** The host's account, when this hub has it in memory. */
  host(): StoredAccount | undefined {
    return this.record.hostAccountId ? this.people.get(this.record.hostAccountId) : undefined;
  }

  members(): MemberView[] {
    return this.stage?.memberViews() ?? [];
  }

  // --- lifecycle ---------------------------------------------------------------

  edit(by: StoredAccount, changes: { title?: string; description?: string; startsAtMs?: number }): Promise<void> {
    return this.exclusive(async () => {
      this.requireHost(by);
      if (changes.startsAtMs !== undefined && this.record.state !== 'scheduled') throw new TribuneError('SPACE_NOT_SCHEDULED');
      if (!this.isOpen()) throw new TribuneError('SPACE_ENDED');
      if (!(await this.deps.spaces.edit(this.id, ['scheduled', 'live'], changes))) throw new TribuneError('SPACE_ENDED');
      if (changes.title !== undefined) this.record.title = changes.title;
      if (changes.description !== undefined) this.record.description = changes.description;
      if (changes.startsAtMs !== undefined) this.record.startsAtMs = changes.startsAtMs;
      if (this.stage && changes.title !== undefined) this.stage.title = changes.title;
      this.feed.changed(true);
    });
  }

  /** The host opens a scheduled Space (early, on time or late). */
  start(by: StoredAccount): Promise<void> {
    return this.exclusive(async () => {
      this.requireHost(by);
      if (this.record.state === 'live') return;
      if (this.record.state !== 'scheduled') throw new TribuneError('SPACE_NOT_SCHEDULED');
      this.deps.reserveLiveSlot();
      const now = Date.now();
      if (!(await this.deps.spaces.transition(this.id, ['scheduled'], 'live', now))) throw new TribuneError('SPACE_NOT_SCHEDULED');
      this.record.state = 'live';
      this.record.startedAtMs = now;
      await this.openStage(now);
      this.feed.changed(true);
      void this.remindSubscribers(now);
    });
  }

  cancel(by: StoredAccount): Promise<void> {
    return this.exclusive(async () => {
      this.requireHost(by);
      if (this.record.state !== 'scheduled') throw new TribuneError('SPACE_NOT_SCHEDULED');
      const now = Date.now();
      if (!(await this.deps.spaces.transition(this.id, ['scheduled'], 'cancelled', now))) throw new TribuneError('SPACE_NOT_SCHEDULED');
      this.record.state = 'cancelled';
      this.record.endedAtMs = now;
      this.close();
    });
  }

  /** The host ends the Space for everyone. */
  end(by: StoredAccount | 'server'): Promise<void> {
    return this.exclusive(async () => {
      if (by !== 'server') this.requireHost(by);
      if (this.record.state !== 'live') throw new TribuneError(this.record.state === 'scheduled' ? 'SPACE_NOT_LIVE' : 'SPACE_ENDED');
      await this.finish('ended');
    });
  }

  /** At shutdown: a live Space is interrupted, not ended (a restart must say so). */
  async interrupt(): Promise<void> {
    await this.exclusive(async () => {
      if (this.record.state === 'live') await this.finish('interrupted');
      else this.close();
    });
  }

  private async finish(how: 'ended' | 'interrupted'): Promise<void> {
    const now = Date.now();
    await this.deps.spaces.finish(this.id, how, now);
    this.record.state = how;
    this.record.endedAtMs = now;
    clearTimeout(this.hostGrace);
    await this.stage?.end(how);
    this.close();
  }

  private close(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
    this.requests.clear();
    this.invites.clear();
    this.feed.changed(true);
    this.feed.close();
  }

  /** The stage and its audience stream; a recorded Space's recorder first, so the first part is kept. */
  private async openStage(nowMs: number): Promise<void> {
    const limits = this.deps.config;
    // The Space starts on time even when its recording cannot: the failure is logged, listeners are served.
    const recorder = this.record.recorded
      ? await this.deps.replays.begin(this.id, nowMs).catch((error: unknown) => {
          this.deps.log.error({ err: error, spaceId: this.id }, 'the recording could not start; the Space goes on unrecorded');
          return undefined;
        })
      : undefined;
    this.stage = new Space(this.id, this.record.title, limits.sfu, 1 + limits.maxCohosts + limits.maxSpeakers, recorder, {
      onStageChanged: (urgent) => this.feed.changed(urgent),
      onMemberLeft: (member, reason) => this.onMemberLeft(member, reason),
      // Only a host back on stage calls off the hand-over: a pass or an
      // opened socket that never joins does not.
      onMemberJoined: (member) => {
        if (member.role === 'host') clearTimeout(this.hostGrace);
      },
    });
  }

  private async remindSubscribers(nowMs: number): Promise<void> {
    try {
      const subscribers = await this.deps.reminders.notifyStarted(this.id, nowMs);
      this.deps.webhook.send({
        type: 'space.started',
        space: { id: this.id, title: this.record.title, url: `${this.deps.publicBase()}/s/${this.id}`, startedAt: new Date(nowMs).toISOString() },
        subscribers,
      });
    } catch (error) {
      this.deps.log.error(error, 'reminders at start failed');
    }
  }

  // --- the stage ---------------------------------------------------------------

  /** Checks an account may open the stage socket now and returns its role. */
  admit(accountId: string): { role: StageRole; who: StoredAccount } {
    if (this.record.state !== 'live' || !this.stage) throw new TribuneError(this.record.state === 'scheduled' ? 'SPACE_NOT_LIVE' : 'SPACE_ENDED');
    if (this.blocks.has(accountId)) throw new TribuneError('BLOCKED');
    const grant = this.roles.get(accountId);
    const who = this.people.get(accountId);
    if (!grant || !who) throw new TribuneError('NOT_ON_STAGE');
    return { role: grant.role, who };
  }

  private onMemberLeft(member: MemberView, reason: LeaveReason): void {
    if (member.role !== 'host' || reason === 'removed') return;
    if (this.roles.get(member.accountId)?.role !== 'host') return;
    clearTimeout(this.hostGrace);
    // A host who said "leave" hands over now; a dropped connection gets a
    // grace period to come back (a network blip must not cost the Space).
    const delay = reason === 'left' ? 0 : this.deps.config.hostGraceMs;
    this.hostGrace = setTimeout(() => void this.handOver(member.accountId).catch((error: unknown) => this.deps.log.error(error, 'host hand-over failed')), delay);
  }

  /** The host left: the longest-serving co-host (on stage first) becomes host, or the Space ends. */
  private handOver(from: string): Promise<void> {
    return this.exclusive(async () => {
      if (this.record.state !== 'live' || this.roles.get(from)?.role !== 'host') return;
      if (this.stage?.memberOf(from)) return;
      const cohosts = [...this.roles.entries()]
        .filter(([, grant]) => grant.role === 'cohost')
        .sort(([a, ga], [b, gb]) => Number(!!this.stage?.memberOf(b)) - Number(!!this.stage?.memberOf(a)) || ga.grantedAtMs - gb.grantedAtMs);
      const next = cohosts[0]?.[0];
      if (!next) {
        await this.finish('ended');
        return;
      }
      const now = Date.now();
      await this.deps.spaces.transferHost(this.id, from, next, now);
      this.roles.delete(from);
      this.roles.set(next, { role: 'host', grantedAtMs: now });
      this.record.hostAccountId = next;
      this.stage?.setRole(next, 'host');
      this.sendQueueTo(next);
      this.feed.changed(true);
    });
  }

  // --- requests, invitations, roles ----------------------------------------------

  requestToSpeak(account: StoredAccount): Promise<void> {
    return this.exclusive(async () => {
      this.requireLive();
      if (this.blocks.has(account.id)) throw new TribuneError('BLOCKED');
      if (this.roles.has(account.id)) throw new TribuneError('ALREADY_ON_STAGE');
      // Asked already, or invited (accepting the invitation is the way up).
      if (this.requests.has(account.id) || this.invites.has(account.id)) return;
      if (this.requests.size >= this.deps.config.maxQueuedRequests) throw new TribuneError('SPEAKER_LIMIT', 'the queue of requests is full');
      this.people.set(account.id, account);
      this.requests.set(account.id, Date.now());
      this.requestsChanged();
    });
  }

  withdrawRequest(account: StoredAccount): Promise<void> {
    return this.exclusive(async () => {
      if (!this.requests.delete(account.id)) throw new TribuneError('REQUEST_NOT_FOUND');
      this.requestsChanged();
    });
  }

  requestQueue(by: StoredAccount): RequestToSpeak[] {
    if (!isModerator(this.placeOf(by.id))) throw new TribuneError('NOT_MODERATOR');
    return this.queueView();
  }

  /** The queue for a stage member who moderates, else nothing. */
  requestQueueFor(accountId: string): RequestToSpeak[] {
    return isModerator(this.placeOf(accountId)) ? this.queueView() : [];
  }

  answerRequest(by: StoredAccount, accountId: string, accept: boolean): Promise<void> {
    return this.exclusive(async () => {
      if (!isModerator(this.placeOf(by.id))) throw new TribuneError('NOT_MODERATOR');
      this.requireLive();
      if (!this.requests.has(accountId)) throw new TribuneError('REQUEST_NOT_FOUND');
      if (accept) {
        // An open invitation already holds this person's seat.
        const refusal = checkSeat(this.counts(), this.deps.config, this.invites.has(accountId));
        if (refusal) throw new TribuneError(refusal);
        await this.grant(accountId, 'speaker');
        this.invites.delete(accountId);
      }
      this.requests.delete(accountId);
      this.requestsChanged();
    });
  }

  /** The host invites a listener up; the listener accepts or declines. */
  invite(by: StoredAccount, target: StoredAccount): Promise<void> {
    return this.exclusive(async () => {
      this.requireHost(by);
      this.requireLive();
      if (this.blocks.has(target.id)) throw new TribuneError('BLOCKED');
      if (this.roles.has(target.id)) throw new TribuneError('ALREADY_ON_STAGE');
      if (this.invites.has(target.id)) return;
      const refusal = checkSeat(this.counts(), this.deps.config, false);
      if (refusal) throw new TribuneError(refusal);
      this.people.set(target.id, target);
      this.invites.set(target.id, Date.now());
      this.feed.changed(true);
    });
  }

  answerInvite(account: StoredAccount, accept: boolean): Promise<void> {
    return this.exclusive(async () => {
      if (!this.invites.has(account.id)) throw new TribuneError('INVITE_NOT_FOUND');
      // Someone already on stage (accepted by another way meanwhile) keeps their role.
      if (accept && !this.roles.has(account.id)) {
        this.requireLive();
        if (this.blocks.has(account.id)) throw new TribuneError('BLOCKED');
        await this.grant(account.id, 'speaker');
      }
      this.invites.delete(account.id);
      if (this.requests.delete(account.id)) this.requestsChanged();
      this.feed.changed(true);
    });
  }

  /** Promote, demote, or move back to the audience ('listener'). */
  setRole(by: StoredAccount, accountId: string, to: Place): Promise<void> {
    return this.exclusive(async () => {
      this.requireLive();
      const target = this.placeOf(accountId);
      const refusal = checkRoleChange(this.placeOf(by.id), target, to, this.counts(), this.deps.config);
      if (refusal) throw new TribuneError(refusal);
      if (target === to) return;
      if (to === 'listener') {
        await this.deps.spaces.setRole(this.id, accountId, undefined, Date.now());
        this.roles.delete(accountId);
        await this.stage?.remove(accountId, 'MOVED_TO_AUDIENCE');
      } else {
        await this.grant(accountId, to);
        this.stage?.setRole(accountId, to);
        if (to === 'cohost') this.sendQueueTo(accountId);
      }
      this.feed.changed(true);
    });
  }

  /** A speaker or co-host goes back to listening. */
  stepDown(account: StoredAccount): Promise<void> {
    return this.exclusive(async () => {
      const place = this.placeOf(account.id);
      if (place === 'host') throw new TribuneError('HOST_CANNOT_STEP_DOWN');
      if (place === 'listener') throw new TribuneError('NOT_ON_STAGE');
      await this.deps.spaces.setRole(this.id, account.id, undefined, Date.now());
      this.roles.delete(account.id);
      await this.stage?.remove(account.id, 'STEPPED_DOWN');
      this.feed.changed(true);
    });
  }

  /** Mutes someone on stage; unmuting is for the speaker alone. */
  setMuted(by: StoredAccount, accountId: string, muted: boolean): Promise<void> {
    return this.exclusive(async () => {
      this.requireLive();
      const self = by.id === accountId;
      if (!muted && !self) throw new TribuneError('CANNOT_UNMUTE_OTHERS');
      const refusal = checkMute(this.placeOf(by.id), this.placeOf(accountId), self);
      if (refusal) throw new TribuneError(refusal);
      const member = this.stage?.memberOf(accountId);
      if (!member) throw new TribuneError('NOT_ON_STAGE', 'not connected to the stage');
      this.stage?.setMuted(member.view.id, muted);
      if (muted && !self) member.connection.send({ type: 'muted-by', by: by.id, name: by.displayName });
    });
  }

  block(by: StoredAccount, target: StoredAccount): Promise<void> {
    return this.exclusive(async () => {
      const refusal = checkBlock(this.placeOf(by.id), this.placeOf(target.id), by.id === target.id);
      if (refusal) throw new TribuneError(refusal);
      await this.deps.spaces.block(this.id, target.id, by.id, Date.now());
      this.blocks.add(target.id);
      this.roles.delete(target.id);
      this.invites.delete(target.id);
      if (this.requests.delete(target.id)) this.requestsChanged();
      await this.stage?.remove(target.id, 'BLOCKED');
      this.feed.changed(true);
    });
  }

  unblock(by: StoredAccount, accountId: string): Promise<void> {
    return this.exclusive(async () => {
      if (!isModerator(this.placeOf(by.id))) throw new TribuneError('NOT_MODERATOR');
      await this.deps.spaces.unblock(this.id, accountId);
      this.blocks.delete(accountId);
    });
  }

  private async grant(accountId: string, role: StoredRole): Promise<void> {
    if (!this.people.has(accountId)) {
      const [account] = await this.deps.accounts.byIds([accountId]);
      if (!account) throw new TribuneError('ACCOUNT_NOT_FOUND');
      this.people.set(accountId, account);
    }
    const now = Date.now();
    await this.deps.spaces.setRole(this.id, accountId, role, now);
    this.roles.set(accountId, { role, grantedAtMs: now });
    this.feed.changed(true);
  }

  private counts(): StageCounts {
    let cohosts = 0;
    let speakers = this.invites.size;
    for (const { role } of this.roles.values()) {
      if (role === 'cohost') cohosts++;
      else if (role === 'speaker') speakers++;
    }
    return { cohosts, speakers };
  }

  private queueView(): RequestToSpeak[] {
    return [...this.requests.entries()].map(([accountId, at]) => {
      const person = this.people.get(accountId);
      return { accountId, username: person?.username ?? '', name: person?.displayName ?? '', requestedAt: new Date(at).toISOString() };
    });
  }

  /** A member who just became a moderator gets the queue at once, not at its next change. */
  private sendQueueTo(accountId: string): void {
    this.stage?.sendTo((member) => member.accountId === accountId, { type: 'requests', requests: this.queueView() });
  }

  private requestsChanged(): void {
    this.stage?.sendTo((member) => member.role === 'host' || member.role === 'cohost', { type: 'requests', requests: this.queueView() });
    this.feed.changed(true);
  }

  // --- the audience ----------------------------------------------------------------

  beacon(listener: string, leaving: boolean): void {
    if (!this.isOpen()) throw new TribuneError('SPACE_ENDED');
    if (leaving) this.presence.leave(listener);
    else this.presence.beat(listener, Date.now());
  }

  react(account: StoredAccount, emoji: string): void {
    this.requireLive();
    if (this.blocks.has(account.id)) throw new TribuneError('BLOCKED');
    const now = Date.now();
    if (!this.reactionBuckets.take(account.id, now)) throw new TribuneError('REACTION_RATE_LIMITED');
    this.reactions.add(emoji, now);
    this.stage?.audience.noteReaction(emoji, now);
    this.feed.changed(false);
  }

  pin(by: StoredAccount, url: string, label: string): FeedPin {
    if (!isModerator(this.placeOf(by.id))) throw new TribuneError('NOT_MODERATOR');
    if (!this.isOpen()) throw new TribuneError('SPACE_ENDED');
    if (this.pins.length >= API_LIMITS.maxPins) throw new TribuneError('PIN_LIMIT');
    const pin = { id: newId(6), url, label };
    this.pins = [...this.pins, pin];
    this.feed.changed(true);
    return pin;
  }

  unpin(by: StoredAccount, pinId: string): void {
    if (!isModerator(this.placeOf(by.id))) throw new TribuneError('NOT_MODERATOR');
    const kept = this.pins.filter((p) => p.id !== pinId);
    if (kept.length === this.pins.length) throw new TribuneError('PIN_NOT_FOUND');
    this.pins = kept;
    this.feed.changed(true);
  }

  listenerCount(): { count: number; peak: number } {
    const count = this.presence.count(Date.now());
    return { count, peak: this.presence.peak };
  }

  private startTicker(): void {
    this.ticker = setInterval(() => {
      const now = Date.now();
      const count = this.presence.count(now);
      if (count !== this.lastCount) this.feed.changed(false);
      if (this.reactions.expire(now)) this.feed.changed(false);
      this.feed.publishIfDirty();
    }, FEED_TICK_MS);
    this.ticker.unref();
  }

  private buildFeed(): Omit<FeedState, 'version'> {
    const now = Date.now();
    const count = this.presence.count(now);
    this.lastCount = count;
    const members = new Map((this.stage?.memberViews() ?? []).map((m) => [m.accountId, m]));
    const order: Record<StoredRole, number> = { host: 0, cohost: 1, speaker: 2 };
    const stage: FeedSeat[] = [...this.roles.entries()]
      .sort(([, a], [, b]) => order[a.role] - order[b.role] || a.grantedAtMs - b.grantedAtMs)
      .map(([accountId, grant]) => {
        const person = this.people.get(accountId);
        const member = members.get(accountId);
        return { accountId, username: person?.username ?? '', name: person?.displayName ?? '', role: grant.role, muted: member?.muted ?? false, connected: member !== undefined };
      });
    const speakingMembers = new Set(this.stage?.speakingNow() ?? []);
    return {
      space: spaceSummary(this.record, this.host()),
      stage,
      speaking: [...members.values()].filter((m) => speakingMembers.has(m.id)).map((m) => m.accountId),
      invited: [...this.invites.keys()],
      requests: this.requests.size,
      listeners: { count, peak: this.presence.peak },
      reactions: this.reactions.recent(),
      pins: this.pins,
      // Spread the wave at start: about 1 s per 20,000 waiting, from 0.5 s to 10 s.
      joinSpreadMs: Math.round(Math.min(10_000, Math.max(500, count / 20))),
    };
  }

  // --- helpers -------------------------------------------------------------------

  private requireHost(by: StoredAccount): void {
    if (this.placeOf(by.id) !== 'host') throw new TribuneError('NOT_HOST');
  }

  private requireLive(): void {
    if (this.record.state !== 'live') throw new TribuneError(this.record.state === 'scheduled' ? 'SPACE_NOT_LIVE' : 'SPACE_ENDED');
  }

  private exclusive<T>(change: () => Promise<T>): Promise<T> {
    const run = this.chain.then(change, change);
    this.chain = run.catch(() => undefined);
    return run;
  }
}
