/** What a SpaceHub needs from the process around it. */
import type { TribuneConfig } from '../config.js';
import type { ReplayLibrary } from '../replay/replay-library.js';
import type { StartWebhook } from '../notify/start-webhook.js';
import type { AccountStore } from '../store/account-store.js';
import type { PublicIds } from '../store/public-ids.js';
import type { ReminderStore } from '../store/reminder-store.js';
import type { SpaceStore } from '../store/space-store.js';

export interface HubDeps {
  config: Pick<
    TribuneConfig,
    'sfu' | 'maxCohosts' | 'maxSpeakers' | 'hostGraceMs' | 'presenceWindowMs' | 'reactionsPerSecond' | 'reactionBurst' | 'maxQueuedRequests'
  >;
  spaces: SpaceStore;
  accounts: AccountStore;
  reminders: ReminderStore;
  webhook: StartWebhook;
  replays: ReplayLibrary;
  /** Mints and checks the ids of Spaces (a made-up id is answered without reading the store). */
  ids: PublicIds;
  /** Base URL for links in webhooks (TRIBUNE_PUBLIC_URL, or the address we listen on). */
  publicBase(): string;
  /** Throws SPACE_LIMIT_REACHED when this process hosts as many live Spaces as it may. */
  reserveLiveSlot(): void;
  log: { error(object: unknown, message?: string): void; warn(object: unknown, message?: string): void };
}
