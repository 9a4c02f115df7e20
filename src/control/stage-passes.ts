/** Issues stage passes to accounts that hold a seat on a live Space's stage. */
import type { StoredAccount } from '../store/account-store.js';
import type { StagePass } from '../wire/api.js';
import type { SpaceHub } from './space-hub.js';
import type { StageTokens } from './stage-tokens.js';

export class StagePasses {
  constructor(private readonly tokens: StageTokens) {}

  /** Throws SPACE_NOT_LIVE, BLOCKED or NOT_ON_STAGE when the account may not go up. */
  async issue(hub: SpaceHub, account: StoredAccount, base: string): Promise<StagePass> {
    const { role } = hub.admit(account.id);
    const token = await this.tokens.issue({ spaceId: hub.id, accountId: account.id });
    const socketUrl = `${base.replace(/^http/, 'ws')}/api/spaces/${hub.id}/stage?token=${encodeURIComponent(token)}`;
    return { token, socketUrl, role, expiresAt: new Date(Date.now() + this.tokens.ttlSeconds * 1000).toISOString() };
  }
}
