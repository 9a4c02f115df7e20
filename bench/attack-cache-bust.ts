/**
 * Attack 2: cache-busting GETs through the edge, from 64 addresses
 * (127.2.0.x) each staying under the edge's per-address read limit, so what
 * reaches the origin is what the edge's cache keys and path rules let
 * through, not what its rate limits happen to stop. Every request is one
 * of these, in equal shares:
 *
 *   real objects with junk query strings   live.m3u8?k=v, part/…m4s?k=v, init.mp4?k=v, feed?k=v
 *   LL-HLS directives with random values   live.m3u8?_HLS_msn=<random>&_HLS_part=<0-3>
 *   the next part, plus junk               live.m3u8?_HLS_msn=<next>&_HLS_part=<p>&k=v (a real blocking reload)
 *   random feed versions                   feed?v=<1-15 random digits>
 *   random names of the right shape        part/<random>.m4s, seg/<random>.m4s, /replay/<id>/playlist.m3u8, /s/<id>
 *   random paths                           /hls/<random>/…, /api/<random>/…, /<random>
 *
 * Requests that the origin may hold (blocking reloads, feed versions) each
 * get a connection of their own, as an attacker would open; the others share
 * keep-alive connections.
 */
import type { Attack, AttackResult, AttackSetup } from './attack-types.js';
import { AttackConnection, Counts, answerKey, attackAddress, paced, randomSpaceId, randomToken, requestBytes, targetOf, type Target } from './attack-net.js';
import { parseMediaPlaylist } from './ll-hls-crowd.js';

const RATE_PER_S = 2000;
const ADDRESSES = 64;
const POOL_PER_ADDRESS = 4;
const MAX_IN_FLIGHT = 6000;

type Kind =
  | 'playlist junk query'
  | 'playlist random msn'
  | 'next part + junk'
  | 'part junk query'
  | 'part random name'
  | 'segment random name'
  | 'init junk query'
  | 'feed random v'
  | 'feed junk query'
  | 'hls random path'
  | 'api random path'
  | 'replay random space'
  | 'page random space'
  | 'random path';

const KINDS: Kind[] = [
  'playlist junk query',
  'playlist random msn',
  'next part + junk',
  'part junk query',
  'part random name',
  'segment random name',
  'init junk query',
  'feed random v',
  'feed junk query',
  'hls random path',
  'api random path',
  'replay random space',
  'page random space',
  'random path',
];

/** May be held by the origin (blocking reload, long-poll): a connection of its own. */
const HELD: ReadonlySet<Kind> = new Set<Kind>(['next part + junk', 'feed random v', 'feed junk query']);

interface Live {
  /** msn and part of the next part, and a part that exists. */
  nextMsn: number;
  nextPart: number;
  existingPart: string;
}

const junk = (): string => `${randomToken(6)}=${randomToken(10)}`;

function pathFor(kind: Kind, spaceId: string, live: Live): string {
  const hls = `/hls/${spaceId}`;
  switch (kind) {
    case 'playlist junk query':
      return `${hls}/live.m3u8?${junk()}`;
    case 'playlist random msn':
      return `${hls}/live.m3u8?_HLS_msn=${Math.floor(Math.random() * 1e9)}&_HLS_part=${Math.floor(Math.random() * 4)}`;
    case 'next part + junk':
      return `${hls}/live.m3u8?_HLS_msn=${live.nextMsn}&_HLS_part=${live.nextPart}&_HLS_skip=YES&${junk()}`;
    case 'part junk query':
      return `${hls}/${live.existingPart}?${junk()}`;
    case 'part random name':
      return `${hls}/part/${Math.floor(Math.random() * 1e6)}.${Math.floor(Math.random() * 10)}.m4s`;
    case 'segment random name':
      return `${hls}/seg/${Math.floor(Math.random() * 1e6)}.m4s`;
    case 'init junk query':
      return `${hls}/init.mp4?${junk()}`;
    case 'feed random v':
      return `/api/spaces/${spaceId}/feed?v=${Math.floor(Math.random() * 10 ** (1 + Math.floor(Math.random() * 15)))}`;
    case 'feed junk query':
      return `/api/spaces/${spaceId}/feed?${junk()}`;
    case 'hls random path':
      return `/hls/${randomToken(12)}/${randomToken(8)}.m4s`;
    case 'api random path':
      return `/api/${randomToken(8)}/${randomToken(8)}`;
    case 'replay random space':
      return `/replay/${randomSpaceId()}/playlist.m3u8`;
    case 'page random space':
      return `/s/${randomSpaceId()}`;
    case 'random path':
      return `/${randomToken(12)}`;
  }
}

/** Follows the live playlist through the edge (from the attack's first address) to know the next part. */
function followLive(setup: AttackSetup, untilMs: number, live: Live): Promise<void> {
  const target = targetOf(setup.edgeUrl, attackAddress(2, 0));
  const connection = new AttackConnection(target);
  const host = `${target.host}:${target.port}`;
  return (async () => {
    while (Date.now() < untilMs) {
      const answer = await connection.request(requestBytes('GET', `/hls/${setup.spaceId}/live.m3u8`, host), 5000);
      if (answer.status === 200) {
        const playlist = parseMediaPlaylist(answer.body.toString('utf8'));
        if (playlist.lastSeq >= 0) {
          const next = playlist.lastSeq + 1;
          live.nextMsn = Math.floor(next / 4);
          live.nextPart = next % 4;
          live.existingPart = playlist.uris[playlist.uris.length - 1] ?? live.existingPart;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    connection.close();
  })();
}

export const cacheBustAttack: Attack = {
  name: 'cache-bust',
  number: 2,
  async run(setup, untilMs): Promise<AttackResult> {
    const live: Live = { nextMsn: 0, nextPart: 0, existingPart: 'init.mp4' };
    const following = followLive(setup, untilMs, live);
    const targets: Target[] = Array.from({ length: ADDRESSES }, (_, i) => targetOf(setup.edgeUrl, attackAddress(2, i + 1)));
    const idle: AttackConnection[] = targets.flatMap((target) => Array.from({ length: POOL_PER_ADDRESS }, () => new AttackConnection(target)));
    const pool = [...idle];
    const host = `${targets[0]?.host}:${targets[0]?.port}`;
    const answers = new Counts();
    const byKind = new Map<Kind, Counts>(KINDS.map((kind) => [kind, new Counts()]));
    let sent = 0;
    let poolBusy = 0;
    const own = new Set<AttackConnection>();
    const stop = (): void => {
      for (const connection of [...pool, ...own]) connection.close();
    };
    const { skipped } = await paced(RATE_PER_S, untilMs, MAX_IN_FLIGHT, async (index) => {
      const kind = KINDS[index % KINDS.length] as Kind;
      const data = requestBytes('GET', pathFor(kind, setup.spaceId, live), host);
      let connection: AttackConnection | undefined;
      const held = HELD.has(kind);
      if (held) {
        connection = new AttackConnection(targets[index % ADDRESSES] as Target);
        own.add(connection);
      } else {
        // Oldest first: the pool rotates through every address. (Taking the newest, as
        // this did at first, put almost every request on the few connections that had
        // just answered: a handful of addresses far over the edge's per-address limit.)
        connection = idle.shift();
        if (!connection) {
          poolBusy++;
          return;
        }
      }
      sent++;
      const answer = await connection.request(data, 40_000);
      const key = answerKey(answer);
      answers.add(key);
      byKind.get(kind)?.add(key);
      if (held) {
        connection.close();
        own.delete(connection);
      } else {
        idle.push(connection);
      }
    }, stop);
    await following;
    stop();
    return {
      sent,
      answers: answers.sorted(),
      details: {
        unit: 'HTTP GETs through the edge',
        rate_per_s: RATE_PER_S,
        addresses: ADDRESSES,
        skipped_in_flight_cap: skipped,
        skipped_pool_busy: poolBusy,
        answers_by_kind: Object.fromEntries([...byKind].map(([kind, counts]) => [kind, counts.sorted(6)])),
      },
    };
  },
};
