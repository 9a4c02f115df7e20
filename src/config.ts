/**
 * Tribune's configuration, read once at start from the environment. Every
 * option has a default that lets `npm start` run with no external service.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SHEDDER, type ShedderOptions } from './guard/load-shedder.js';
import { DEFAULT_SFU_OPTIONS, type IceServerConfig, type SfuOptions } from './sfu/sfu-types.js';
import type { StoreOptions } from './store/database.js';

export interface TribuneConfig {
  /** Interface to listen on. Default '0.0.0.0' (TRIBUNE_HOST). */
  host: string;
  /** TCP port; 0 picks a free one. Default 8080 (PORT). */
  port: number;
  /** Base URL put in share links; default: derived from the request's Host (TRIBUNE_PUBLIC_URL). */
  publicUrl: string | undefined;
  /**
   * Key that signs stage passes and cookies; default: random per process,
   * which signs everyone out at a restart (TRIBUNE_SECRET, hex, ≥ 32 bytes).
   */
  secret: Uint8Array;
  /**
   * Key that tags the ids of Spaces and clips, shared with the edges so they
   * refuse made-up ids (TRIBUNE_ID_KEY, hex, ≥ 16 bytes). Default: one the
   * store generates once and keeps, which every node on that store shares.
   */
  idKey: Uint8Array | undefined;
  /**
   * Only these addresses may open a connection (TRIBUNE_ACCEPT_FROM, comma-separated
   * addresses or CIDRs); others are closed before a byte is read. For an origin
   * behind edges: the edges. Unset: anyone.
   */
  acceptFrom: string[];
  /** Lifetime of a stage pass, in seconds. Default 10 min. */
  tokenTtlSeconds: number;
  /** Live Spaces this process hosts at most. Default 200. */
  maxLiveSpaces: number;
  /** Co-hosts per Space (TRIBUNE_MAX_COHOSTS). Default 2. */
  maxCohosts: number;
  /** Speakers per Space, besides host and co-hosts (TRIBUNE_MAX_SPEAKERS). Default 10. */
  maxSpeakers: number;
  /** How long a host whose connection dropped has to come back before a co-host takes over. Default 30 s. */
  hostGraceMs: number;
  /** A listener counts this long after its last presence beacon (beacons every 30 s). Default 70 s. */
  presenceWindowMs: number;
  /** Longest a feed long-poll is held open. Default 20 s. */
  feedHoldMs: number;
  /** Reactions per person: sustained per second, and burst. Default 1/s, burst 5. */
  reactionsPerSecond: number;
  reactionBurst: number;
  /** Requests to speak waiting at most per Space. Default 500. */
  maxQueuedRequests: number;
  /** Secure cookies on HTTPS and loopback names (src/accounts/auth.ts); false never sets the flag. */
  secureCookies: boolean;
  /**
   * Scaled mode: listener routes answer only requests carrying this secret in
   * `x-tribune-edge`, i.e. from our edges (TRIBUNE_EDGE_SECRET). Unset: the
   * origin serves listeners directly (`npm start`).
   */
  edgeSecret: string | undefined;
  /**
   * Addresses of the edges or proxies in front (TRIBUNE_TRUST_PROXY, comma-separated
   * addresses or CIDRs): their X-Forwarded-Proto/For are believed, so cookies get
   * Secure and links https:// behind a TLS-terminating edge. Unset: none.
   */
  trustProxy: string[];
  /** POSTed when a Space starts (TRIBUNE_WEBHOOK_URL), signed with TRIBUNE_WEBHOOK_SECRET. */
  webhook: { url: string | undefined; secret: string | undefined };
  /** Where the built browser client lives. Default dist/web. */
  webRoot: string;
  sfu: SfuOptions;
  /** SQL store: SQLite under TRIBUNE_DATA_DIR (default ./data), or PostgreSQL when DATABASE_URL is set. */
  store: StoreOptions;
  replay: ReplayConfig;
  guard: GuardConfig;
}

export interface GuardConfig {
  /** Shared rate limits across nodes (TRIBUNE_REDIS_URL, redis://…); unset: this process's memory. */
  redisUrl: string | undefined;
  /** Multiplies per-address budgets (TRIBUNE_IP_LIMIT_SCALE, default 1): a deployment that sees many people per address raises it. */
  ipScale: number;
  /** Connections one address may hold open at once (TRIBUNE_MAX_CONNECTIONS_PER_IP, default 256); edges in TRIBUNE_TRUST_PROXY are exempt. */
  connectionsPerAddress: number;
  /** How long a client may take to send its request headers, ms (slow-header connections are closed). Default 10 s. */
  headersTimeoutMs: number;
  /** When to shed what (src/guard/load-shedder.ts). */
  shedder: ShedderOptions;
}

export interface ReplayConfig {
  /** Local replay storage (TRIBUNE_DATA_DIR/replays), unless S3 is configured. */
  dir: string;
  /** The recording journal, always on local disk (TRIBUNE_DATA_DIR/journal). */
  journalDir: string;
  /** TRIBUNE_REPLAY_S3_* (src/replay/storage-from-config.ts); none set: local disk. */
  s3Env: Record<string, string | undefined>;
  /** Replays go this long after their Space ends (TRIBUNE_REPLAY_RETENTION_DAYS, default 30; 0 keeps them). */
  retentionMs: number;
  /** Clips go this long after they are cut (TRIBUNE_CLIP_RETENTION_DAYS, default 90; 0 keeps them). */
  clipRetentionMs: number;
  /** How often expired replays and clips are deleted. Default 10 min. */
  sweepIntervalMs: number;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): TribuneConfig {
  return {
    host: env.TRIBUNE_HOST ?? '0.0.0.0',
    port: env.PORT === undefined ? 8080 : parsePort(env.PORT),
    publicUrl: env.TRIBUNE_PUBLIC_URL || undefined,
    secret: env.TRIBUNE_SECRET ? Buffer.from(env.TRIBUNE_SECRET, 'hex') : randomBytes(32),
    idKey: parseIdKey(env.TRIBUNE_ID_KEY),
    acceptFrom: (env.TRIBUNE_ACCEPT_FROM ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    tokenTtlSeconds: 600,
    maxLiveSpaces: 200,
    maxCohosts: parseCount(env.TRIBUNE_MAX_COHOSTS, 2, 'TRIBUNE_MAX_COHOSTS'),
    maxSpeakers: parseCount(env.TRIBUNE_MAX_SPEAKERS, 10, 'TRIBUNE_MAX_SPEAKERS'),
    hostGraceMs: 30_000,
    presenceWindowMs: 70_000,
    feedHoldMs: 20_000,
    reactionsPerSecond: 1,
    reactionBurst: 5,
    maxQueuedRequests: 500,
    secureCookies: true,
    edgeSecret: env.TRIBUNE_EDGE_SECRET || undefined,
    trustProxy: (env.TRIBUNE_TRUST_PROXY ?? '').split(',').map((a) => a.trim()).filter(Boolean),
    webhook: { url: env.TRIBUNE_WEBHOOK_URL || undefined, secret: env.TRIBUNE_WEBHOOK_SECRET || undefined },
    webRoot: fileURLToPath(new URL('../dist/web/', import.meta.url)),
    store: {
      databaseUrl: env.DATABASE_URL || undefined,
      sqlitePath: join(env.TRIBUNE_DATA_DIR ?? 'data', 'tribune.db'),
    },
    guard: {
      redisUrl: env.TRIBUNE_REDIS_URL || undefined,
      ipScale: parseScale(env.TRIBUNE_IP_LIMIT_SCALE),
      connectionsPerAddress: env.TRIBUNE_MAX_CONNECTIONS_PER_IP ? parseCount(env.TRIBUNE_MAX_CONNECTIONS_PER_IP, 256, 'TRIBUNE_MAX_CONNECTIONS_PER_IP', 1_000_000) : 256,
      headersTimeoutMs: 10_000,
      shedder: DEFAULT_SHEDDER,
    },
    replay: {
      dir: join(env.TRIBUNE_DATA_DIR ?? 'data', 'replays'),
      journalDir: join(env.TRIBUNE_DATA_DIR ?? 'data', 'journal'),
      s3Env: Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('TRIBUNE_REPLAY_S3_'))),
      retentionMs: parseDays(env.TRIBUNE_REPLAY_RETENTION_DAYS, 30, 'TRIBUNE_REPLAY_RETENTION_DAYS'),
      clipRetentionMs: parseDays(env.TRIBUNE_CLIP_RETENTION_DAYS, 90, 'TRIBUNE_CLIP_RETENTION_DAYS'),
      sweepIntervalMs: 10 * 60_000,
    },
    sfu: {
      ...DEFAULT_SFU_OPTIONS,
      iceServers: parseIceServers(env.TRIBUNE_ICE_SERVERS),
      icePortRange: parsePortRange(env.TRIBUNE_ICE_PORT_RANGE),
      iceAdditionalHostAddresses: (env.TRIBUNE_ICE_EXTRA_HOSTS ?? '').split(',').filter(Boolean),
      publicCandidatesOnly: env.TRIBUNE_PUBLIC_CANDIDATES_ONLY === '1',
      turn: parseTurn(env.TRIBUNE_TURN_URLS, env.TRIBUNE_TURN_SECRET),
    },
  };
}

function parseCount(value: string | undefined, fallback: number, name: string, max = 100): number {
  if (value === undefined || value === '') return fallback;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0 || count > max) throw new Error(`${name} must be an integer 0-${max}, got ${value}`);
  return count;
}

function parseIdKey(value: string | undefined): Uint8Array | undefined {
  if (!value) return undefined;
  if (!/^([0-9a-fA-F]{2}){16,64}$/.test(value)) throw new Error('TRIBUNE_ID_KEY must be 16 to 64 bytes in hex');
  return Buffer.from(value, 'hex');
}

function parseScale(value: string | undefined): number {
  if (value === undefined || value === '') return 1;
  const scale = Number(value);
  if (!Number.isFinite(scale) || scale <= 0 || scale > 1e6) throw new Error(`TRIBUNE_IP_LIMIT_SCALE must be a number above 0, got ${value}`);
  return scale;
}

function parseDays(value: string | undefined, fallback: number, name: string): number {
  const days = value === undefined || value === '' ? fallback : Number(value);
  if (!Number.isFinite(days) || days < 0 || days > 36_500) throw new Error(`${name} must be a number of days 0-36500, got ${value}`);
  return days * 86_400_000;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be 0-65535, got ${value}`);
  return port;
}

/** TRIBUNE_ICE_SERVERS: JSON array of RTCIceServer, e.g. [{"urls":"stun:stun.example.org:3478"}]. */
function parseIceServers(value: string | undefined): IceServerConfig[] {
  if (!value) return [];
  const parsed: unknown = JSON.parse(value);
  if (!Array.isArray(parsed)) throw new Error('TRIBUNE_ICE_SERVERS must be a JSON array of {urls, username?, credential?}');
  return parsed as IceServerConfig[];
}

/** TRIBUNE_TURN_URLS (comma-separated turn:/turns: URLs) and TRIBUNE_TURN_SECRET (coturn's static-auth-secret) go together. */
function parseTurn(urls: string | undefined, secret: string | undefined): { urls: string[]; secret: string; lifetimeS: number } | undefined {
  if (!urls && !secret) return undefined;
  if (!urls || !secret) throw new Error('TRIBUNE_TURN_URLS and TRIBUNE_TURN_SECRET go together');
  const list = urls.split(',').map((u) => u.trim()).filter(Boolean);
  if (list.length === 0 || list.some((u) => !/^turns?:[^\s,]+$/.test(u))) throw new Error('TRIBUNE_TURN_URLS must be turn: or turns: URLs, comma-separated');
  // Twelve hours: a stage session refreshes its relay with the credential it joined with.
  return { urls: list, secret, lifetimeS: 12 * 3600 };
}

/** TRIBUNE_ICE_PORT_RANGE: "40000-40100". */
function parsePortRange(value: string | undefined): [number, number] | undefined {
  if (!value) return undefined;
  const match = /^(\d+)-(\d+)$/.exec(value);
  if (!match) throw new Error('TRIBUNE_ICE_PORT_RANGE must look like 40000-40100');
  const low = parsePort(match[1] ?? '');
  const high = parsePort(match[2] ?? '');
  if (low >= high) throw new Error('TRIBUNE_ICE_PORT_RANGE: the low port must be below the high port');
  return [low, high];
}
