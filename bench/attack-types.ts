/**
 * Contracts between the attack harness's coordinator (bench/attack-bench.ts),
 * its attack runner process (bench/attack-runner.ts) and the attacks
 * (bench/attack-*.ts, one file per attack).
 */

/** An SFU port of a real stage member, as that member's side sees it. */
export interface SfuTarget {
  /** The member's display name ("speaker a", "speaker b", or the attacker member). */
  name: string;
  /** The SFU's UDP port for this member's peer connection (werift binds 0.0.0.0, so 127.0.0.1 reaches it). */
  port: number;
  /** ICE ufrags: the SFU's (from its offer) and the member's (from its answer). */
  sfuUfrag: string;
  memberUfrag: string;
  /** The SSRC the member sends its audio with. */
  ssrc: number;
}

/** What every attack gets: where things are, and what it may use. */
export interface AttackSetup {
  /** Seconds per attack (BENCH_ATTACK_SECONDS). */
  seconds: number;
  edgeUrl: string;
  originUrl: string;
  spaceId: string;
  /** The origin's signing key (hex): the harness mints an expired stage pass with it, as an attacker with an old pass holds one. */
  secretHex: string;
  /** How many listeners arrive per second legitimately (the crowd's ramp); the surge is 20 times that. */
  legitArrivalsPerS: number;
  /** An extra account with a seat on the stage, turned hostile (attacks 5 and 6). */
  member: { accountId: string; apiToken: string };
  /** The two speakers' SFU ports (attack 6). */
  sfuTargets: SfuTarget[];
}

/** What an attack reports. */
export interface AttackResult {
  /** Attack requests sent (HTTP requests, connections, WebSocket messages or datagrams: `details.unit` says which). */
  sent: number;
  /** What the attacker got back, by status, close code or error. */
  answers: Record<string, number>;
  details: Record<string, unknown>;
}

export interface Attack {
  /** Stable name, as BENCH_ATTACKS picks it. */
  name: string;
  /** 1-6: its addresses are 127.<number>.x.y. */
  number: number;
  /** Work before the measured window (sign-ups, tokens). */
  prepare?(setup: AttackSetup): Promise<void>;
  /** Attacks until `untilMs` (Date.now()), then resolves with what it did. */
  run(setup: AttackSetup, untilMs: number): Promise<AttackResult>;
}

/** The attacks, in the order the harness runs them (the runner holds their code, bench/attack-runner.ts). */
export const ATTACK_CATALOGUE = [
  { number: 1, name: 'join-surge', prepares: false },
  { number: 2, name: 'cache-bust', prepares: false },
  { number: 3, name: 'slow-headers', prepares: false },
  { number: 4, name: 'write-flood', prepares: true },
  { number: 5, name: 'websocket', prepares: false },
  { number: 6, name: 'media', prepares: false },
] as const;

export type RunnerRequest = { type: 'prepare'; name: string; setup: AttackSetup } | { type: 'run'; name: string; setup: AttackSetup; untilMs: number } | { type: 'close' };
export type RunnerAnswer = { type: 'ready' } | { type: 'prepared' } | { type: 'result'; result: AttackResult; cpuMs: number } | { type: 'error'; message: string };
