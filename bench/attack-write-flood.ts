/**
 * Attack 4: floods of the write path (presence beacons, reactions, requests
 * to speak), through the edge, two ways at once:
 *
 *   few addresses  4 addresses (127.4.0.x), one account each, 250 requests/s per address
 *   many tokens    200 accounts with an API token each, each from its own address
 *                  (127.4.1.x-127.4.2.x: a sign-up farm behind a botnet), 5 requests/s each
 *
 * 2,000 requests/s in all, in equal shares: a beacon with a fresh random
 * listener id (anonymous: no token), a reaction and a request to speak (with
 * the account's API token). The accounts and tokens are made in prepare(),
 * before the measured window, each from its own address through the edge,
 * as a sign-up farm would.
 */
import type { Attack, AttackResult, AttackSetup } from './attack-types.js';
import { AttackConnection, Counts, answerKey, attackAddress, cookieHeader, cookiesOf, paced, randomToken, requestBytes, targetOf, type Target } from './attack-net.js';

const FEW_ADDRESSES = 4;
const FEW_RATE_PER_ADDRESS = 250;
const FEW_CONNECTIONS_PER_ADDRESS = 8;
const MANY_TOKENS = 200;
const MANY_RATE_PER_TOKEN = 5;
const KINDS = ['beacon', 'reaction', 'speak request'] as const;
type Kind = (typeof KINDS)[number];
const EMOJI = ['👏', '🔥', '💯', '👍'];

interface Flooder {
  target: Target;
  token: string;
  idle: AttackConnection[];
  all: AttackConnection[];
}

/** Flooders from the last prepare(): index < FEW_ADDRESSES are the few, the rest the many. */
let flooders: Flooder[] = [];

/** Signs up one account from `target`'s address through the edge and makes it an API token. */
async function farmAccount(target: Target): Promise<string> {
  const host = `${target.host}:${target.port}`;
  const connection = new AttackConnection(target);
  const jar = new Map<string, string>();
  const call = async (method: string, path: string, csrf?: string, body?: string) => {
    const headers: Record<string, string> = {};
    if (csrf) headers['x-csrf-token'] = csrf;
    if (jar.size > 0) headers.Cookie = cookieHeader(jar);
    const answer = await connection.request(requestBytes(method, path, host, headers, body), 30_000);
    cookiesOf(answer.head, jar);
    const parsed = (() => {
      try {
        return JSON.parse(answer.body.toString('utf8')) as { csrfToken?: string; token?: string };
      } catch {
        return {};
      }
    })();
    if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`);
    return parsed;
  };
  try {
    const session = await call('GET', '/api/session');
    const account = await call('POST', '/api/accounts', session.csrfToken, JSON.stringify({ username: `farm_${randomToken(12)}`, password: 'correct horse battery' }));
    const token = await call('POST', '/api/tokens', account.csrfToken, JSON.stringify({ name: 'flood' }));
    if (!token.token) throw new Error('no API token in the answer');
    return token.token;
  } finally {
    connection.close();
  }
}

function bodyFor(kind: Kind, spaceId: string, token: string): { path: string; headers: Record<string, string>; body: string } {
  switch (kind) {
    case 'beacon':
      return { path: `/api/spaces/${spaceId}/presence`, headers: {}, body: JSON.stringify({ listener: `flood${randomToken(20)}` }) };
    case 'reaction':
      return { path: `/api/spaces/${spaceId}/reactions`, headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ emoji: EMOJI[Math.floor(Math.random() * EMOJI.length)] }) };
    case 'speak request':
      return { path: `/api/spaces/${spaceId}/requests`, headers: { Authorization: `Bearer ${token}` }, body: '{}' };
  }
}

async function flood(group: Flooder[], ratePerS: number, setup: AttackSetup, untilMs: number, byKind: Map<string, Counts>, answers: Counts): Promise<{ sent: number; skipped: number; busy: number }> {
  let sent = 0;
  let busy = 0;
  const host = `${group[0]?.target.host}:${group[0]?.target.port}`;
  const { skipped } = await paced(ratePerS, untilMs, 4000, async (index) => {
    const flooder = group[index % group.length] as Flooder;
    const kind = KINDS[Math.floor(index / group.length) % KINDS.length] as Kind;
    const connection = flooder.idle.pop();
    if (!connection) {
      busy++;
      return;
    }
    const { path, headers, body } = bodyFor(kind, setup.spaceId, flooder.token);
    sent++;
    const answer = await connection.request(requestBytes('POST', path, host, headers, body), 15_000);
    flooder.idle.push(connection);
    const key = answerKey(answer);
    answers.add(key);
    byKind.get(kind)?.add(key);
  }, () => {
    for (const flooder of group) for (const connection of flooder.all) connection.close();
  });
  return { sent, skipped, busy };
}

export const writeFloodAttack: Attack = {
  name: 'write-flood',
  number: 4,
  async prepare(setup) {
    const targets = [
      ...Array.from({ length: FEW_ADDRESSES }, (_, i) => targetOf(setup.edgeUrl, attackAddress(4, i + 1))),
      ...Array.from({ length: MANY_TOKENS }, (_, i) => targetOf(setup.edgeUrl, attackAddress(4, 256 + i))),
    ];
    const tokens: string[] = new Array<string>(targets.length);
    let next = 0;
    // Eight at a time: each costs the origin one Argon2id hash.
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < targets.length) {
          const i = next++;
          tokens[i] = await farmAccount(targets[i] as Target);
        }
      }),
    );
    flooders = targets.map((target, i) => {
      const connections = Array.from({ length: i < FEW_ADDRESSES ? FEW_CONNECTIONS_PER_ADDRESS : 1 }, () => new AttackConnection(target));
      return { target, token: tokens[i] ?? '', idle: [...connections], all: connections };
    });
  },
  async run(setup, untilMs): Promise<AttackResult> {
    if (flooders.length === 0) await this.prepare?.(setup);
    const few = flooders.slice(0, FEW_ADDRESSES);
    const many = flooders.slice(FEW_ADDRESSES);
    const answers = new Counts();
    const fewByKind = new Map<string, Counts>(KINDS.map((k) => [k, new Counts()]));
    const manyByKind = new Map<string, Counts>(KINDS.map((k) => [k, new Counts()]));
    const [a, b] = await Promise.all([
      flood(few, FEW_ADDRESSES * FEW_RATE_PER_ADDRESS, setup, untilMs, fewByKind, answers),
      flood(many, MANY_TOKENS * MANY_RATE_PER_TOKEN, setup, untilMs, manyByKind, answers),
    ]);
    for (const flooder of flooders) for (const connection of flooder.all) connection.close();
    flooders = [];
    const table = (m: Map<string, Counts>) => Object.fromEntries([...m].map(([k, c]) => [k, c.sorted(6)]));
    return {
      sent: a.sent + b.sent,
      answers: answers.sorted(),
      details: {
        unit: 'HTTP POSTs through the edge',
        few_addresses: { addresses: FEW_ADDRESSES, rate_per_s: FEW_ADDRESSES * FEW_RATE_PER_ADDRESS, sent: a.sent, skipped_connection_busy: a.busy, answers_by_kind: table(fewByKind) },
        many_tokens: { tokens: MANY_TOKENS, rate_per_s: MANY_TOKENS * MANY_RATE_PER_TOKEN, sent: b.sent, skipped_connection_busy: b.busy, answers_by_kind: table(manyByKind) },
        accounts_signed_up_before_the_window: FEW_ADDRESSES + MANY_TOKENS,
      },
    };
  },
};
