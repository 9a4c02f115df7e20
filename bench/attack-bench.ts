/**
 * `npm run bench:attack`: Tribune under attack, on this machine, loopback
 * only. It starts:
 *
 *   the origin     bench/attack-server.ts (buildServer in scaled mode, its own process)
 *   the edge       the nginx edge of src/edge/ in front of it (the file deploy/ ships)
 *   2 speakers     bench/attack-speakers.ts: the speaker tool, host and speaker, each
 *                  playing a tone and measuring the other's audio continuity
 *   the crowd      1,000 simulated LL-HLS listeners (bench/ll-hls-crowd.ts) through the
 *                  edge, arriving over 50 s (20 a second: the legitimate arrival rate),
 *                  listening throughout
 *   the attacker   bench/attack-runner.ts, its own process at a lower CPU priority
 *
 * then, after a 20 s baseline, runs each attack for BENCH_ATTACK_SECONDS
 * (default 60) followed by 10 s to settle, one after another:
 *
 *   1 join-surge    bench/attack-surge.ts         4 write-flood  bench/attack-write-flood.ts
 *   2 cache-bust    bench/attack-cache-bust.ts    5 websocket    bench/attack-websocket.ts
 *   3 slow-headers  bench/attack-slow-headers.ts  6 media        bench/attack-media.ts
 *
 * (BENCH_ATTACKS=comma list picks some; BENCH_ATTACK_LISTENERS and
 * BENCH_ATTACK_RAMP_S change the crowd, for quick checks). Each attack is judged over its
 * window (the attack and the settle after it):
 *
 * - legit_on_time_part_ratio: parts whose media ended in the window that
 *   reached the crowd within 1.5 s of their media end, over all parts the
 *   crowd should have had (judged + missing; start-up parts left out).
 * - speaker_longest_gap_ms: the longest stretch without the other
 *   speaker's tone in what each speaker received (bench/attack-speakers.ts).
 * - server_crashes: the origin or the nginx master exiting, and nginx
 *   workers dying (its error log); the processes must also still answer
 *   after the attack (answering_after). Nothing is restarted.
 * - peak_rss_mb: VmRSS each second, the origin and nginx's whole tree.
 * - attack_requests_reaching_origin: HTTP and upgrade requests from the
 *   attack's addresses that the origin read (its own count, by the client's
 *   address: X-Forwarded-For through the edge), plus requests its parser
 *   refused; slow-header connections accepted straight from the attacker are
 *   in details.origin.direct_connections, datagrams at the SFU's ports in
 *   the attack's details.
 *
 * Prints one JSON line per attack as it ends and, last,
 * {"baseline": {...}, "attacks": [...]}. Stops by itself: every process it
 * started is stopped at the end, or killed at the hard deadline.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NGINX, nginxInstalled, startNginxEdge, type RunningEdge } from '../src/edge/nginx-process.js';
import { freePort } from '../src/tools/free-port.js';
import type { StagePass } from '../src/wire/api.js';
import { TestAccount } from '../test/helpers/accounts.js';
import { addStageMember, createSpace, positive, round, sleep, writeJsonLine } from './bench-util.js';
import { ChildScript } from './attack-child.js';
import { LEGIT_CIDR } from './attack-net.js';
import { MemoryWatch, alive, answers, cpuBetween, cpuSnapshot, nginxWorkerCrashes, processTree, type CpuGroups, type CpuSnapshot } from './attack-monitor.js';
import type { AttackParentMessage, AttackServerAnswer, AttackOriginStats, Tally } from './attack-server.js';
import type { GapReport, SpeakersAnswer, SpeakersRequest } from './attack-speakers.js';
import { ATTACK_CATALOGUE, type AttackResult, type AttackSetup, type RunnerAnswer, type RunnerRequest } from './attack-types.js';
import { startCrowd, type CrowdHandle, type CrowdReport, type TimelineBucket } from './ll-hls-crowd.js';
import { ServerProcess } from './server-process.js';
import { stagePassKeys } from '../src/control/stage-tokens.js';

/** The crowd (BENCH_ATTACK_LISTENERS, default 1,000), arriving over BENCH_ATTACK_RAMP_S (default 50 s). */
const LISTENERS = positive('BENCH_ATTACK_LISTENERS', 1000);
const RAMP_MS = positive('BENCH_ATTACK_RAMP_S', 50) * 1000;
/** The crowd's arrivals per second: the legitimate arrival rate the surge is 20 times. */
const LEGIT_ARRIVALS_PER_S = LISTENERS / (RAMP_MS / 1000);
/** Each crowd worker has its own address: ≤ 167 listeners per address keeps their beacons inside one address's budget (600 a minute). */
const CROWD_WORKERS = 6;
const BASELINE_FROM_MS = 5000;
const BASELINE_MS = 20_000;
const SETTLE_MS = 10_000;
const CROWD_MARGIN_S = 20;
const TARGETS = { onTimeRatio: 0.999, speakerGapMs: 200 } as const;

const log = (message: string): void => {
  process.stderr.write(`[attack-bench] ${new Date().toISOString().slice(11, 19)} ${message}\n`);
};

type OriginServer = ServerProcess<AttackParentMessage, AttackServerAnswer>;

interface Running {
  origin?: OriginServer;
  edge?: RunningEdge;
  speakers?: ChildScript<SpeakersRequest, SpeakersAnswer>;
  runner?: ChildScript<RunnerRequest, RunnerAnswer>;
  crowd?: CrowdHandle;
  memory?: MemoryWatch;
}

/** One attack's line of the result. */
export interface AttackLine {
  attack: string;
  legit_on_time_part_ratio: number | null;
  speaker_longest_gap_ms: { a: number; b: number };
  server_crashes: number;
  peak_rss_mb: { origin: number; nginx: number };
  attack_requests_sent: number;
  attack_requests_reaching_origin: number;
  attack_answers: Record<string, number>;
  targets_met: Record<string, boolean>;
  details: Record<string, unknown>;
}

// ---------------------------------------------------------------- judging a window

function onTime(timeline: TimelineBucket[], fromMs: number, toMs: number): { ratio: number | null; judged: number; late: number; missing: number } {
  let judged = 0;
  let late = 0;
  let missing = 0;
  for (const [start, j, l, m] of timeline) {
    if (start < fromMs || start >= toMs) continue;
    judged += j;
    late += l;
    missing += m;
  }
  const due = judged + missing;
  return { ratio: due > 0 ? round((judged - late) / due, 5) : null, judged, late, missing };
}

function diff(after: Record<string, number> = {}, before: Record<string, number> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const d = value - (before[key] ?? 0);
    if (d !== 0) out[key] = d;
  }
  return out;
}

const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);

function tallyDiff(after: Tally | undefined, before: Tally | undefined) {
  return {
    requests: diff(after?.requests, before?.requests),
    statuses: diff(after?.statuses, before?.statuses),
    upgrades: (after?.upgrades ?? 0) - (before?.upgrades ?? 0),
    direct_upgrades: (after?.directUpgrades ?? 0) - (before?.directUpgrades ?? 0),
    direct_connections: (after?.directConnections ?? 0) - (before?.directConnections ?? 0),
  };
}

function originDetails(before: AttackOriginStats, after: AttackOriginStats, attackNumber: number) {
  const sender = `attack${attackNumber}`;
  const attack = tallyDiff(after.by[sender], before.by[sender]);
  const legit = tallyDiff(after.by.legit, before.by.legit);
  const clientErrors = diff(after.clientErrors, before.clientErrors);
  // Requests the parser refused (too many or too large headers, malformed, a head timeout); a
  // connection the client reset or closed mid-head is not a request (direct_connections has those).
  const attackParserRefusals = Object.entries(clientErrors)
    .filter(([key]) => key.startsWith(`${sender} `) && !/ (ECONNRESET|HPE_INVALID_EOF_STATE)$/.test(key))
    .reduce((n, [, v]) => n + v, 0);
  const sfu: Record<string, Record<string, number>> = {};
  for (const [name, counters] of Object.entries(after.sfu)) sfu[name] = diff(counters, before.sfu[name]);
  const direct = Object.entries(attack.requests)
    .filter(([route]) => route.startsWith('direct '))
    .reduce((n, [, v]) => n + v, 0);
  return {
    reaching: sum(attack.requests) + attack.upgrades + attackParserRefusals,
    details: {
      reaching_through_the_edge: sum(attack.requests) - direct + attack.upgrades - attack.direct_upgrades,
      reaching_straight_to_the_origin_port: direct + attack.direct_upgrades + attackParserRefusals,
      attack_requests_by_route: attack.requests,
      attack_statuses: attack.statuses,
      attack_upgrades: attack.upgrades,
      direct_connections: attack.direct_connections,
      parser_refusals: clientErrors,
      legit_requests: sum(legit.requests),
      legit_statuses: legit.statuses,
      shedding: { max_level: after.maxShedLevel, shed: diff(after.shedder.shed, before.shedder.shed), delay_p99_ms_at_end: round(after.shedder.delayP99Ms, 1) },
      rss_mb_at_end: after.rssMb,
      heap_used_mb_at_end: after.heapUsedMb,
      sfu,
    },
  };
}

// ---------------------------------------------------------------- set-up

async function startStack(running: Running, attackNames: string[]): Promise<{ setup: AttackSetup; nginxErrorLog: string }> {
  const edgeSecret = randomBytes(24).toString('hex');
  const secretHex = randomBytes(32).toString('hex');
  const idKey = randomBytes(32).toString('hex');
  log('starting the origin');
  const { server: origin, url: originUrl } = await ServerProcess.start<AttackParentMessage, AttackServerAnswer>(new URL('./attack-server.ts', import.meta.url), {
    env: { ATTACK_EDGE_SECRET: edgeSecret, ATTACK_SECRET_HEX: secretHex, ATTACK_ID_KEY: idKey },
  });
  running.origin = origin;
  const space = await createSpace(originUrl, 'Attack bench', { record: true });
  const speakerPass: StagePass = await addStageMember(originUrl, space, 'speaker b');
  const hostile = await TestAccount.signUp(originUrl, undefined, 'hostile member');
  const asked = await hostile.bot('POST', `/api/spaces/${space.space.id}/requests`, {});
  const accepted = await space.host.bot('POST', `/api/spaces/${space.space.id}/requests/${hostile.id}/accept`, {});
  if (asked.status !== 200 || accepted.status !== 200) throw new Error(`the hostile member got no seat: ${asked.status} ${accepted.status}`);

  log('starting the edge');
  const edge = await startNginxEdge({ port: await freePort(), origin: `127.0.0.1:${new URL(originUrl).port}`, edgeSecret, idKey, stagePassKey: stagePassKeys(Buffer.from(secretHex, 'hex')).point, unlimited: [LEGIT_CIDR] });
  running.edge = edge;

  log('starting the speakers');
  const speakers = ChildScript.start<SpeakersRequest, SpeakersAnswer>(new URL('./attack-speakers.ts', import.meta.url), -5);
  running.speakers = speakers;
  const started = await speakers.ask(
    { type: 'start', a: { url: space.hostPass.socketUrl, name: space.host.account.displayName }, b: { url: speakerPass.socketUrl, name: 'speaker b' } },
    60_000,
    'the speakers to join',
  );
  if (started.type !== 'started') throw new Error(`speakers: ${JSON.stringify(started)}`);
  await waitForParts(`${edge.url}/hls/${space.space.id}/live.m3u8`);
  // From now on the origin keeps every stage member's SFU counters, members who leave included.
  await origin.ask({ type: 'stats', spaceId: space.space.id }, 'stats');

  running.runner = ChildScript.start<RunnerRequest, RunnerAnswer>(new URL('./attack-runner.ts', import.meta.url), 5);
  const ready = await running.runner.next(30_000, 'the attacker to start');
  if (ready.type !== 'ready') throw new Error(`attacker: ${JSON.stringify(ready)}`);
  const setup: AttackSetup = {
    seconds: 0,
    edgeUrl: edge.url,
    originUrl,
    spaceId: space.space.id,
    secretHex,
    legitArrivalsPerS: LEGIT_ARRIVALS_PER_S,
    member: { accountId: hostile.id, apiToken: hostile.apiToken },
    sfuTargets: started.targets,
  };
  for (const name of attackNames) {
    if (!ATTACK_CATALOGUE.find((a) => a.name === name)?.prepares) continue;
    log(`preparing ${name} (outside the measured windows)`);
    const prepared = await running.runner.ask({ type: 'prepare', name, setup }, 300_000, `${name} to prepare`);
    if (prepared.type !== 'prepared') throw new Error(`${name}: ${JSON.stringify(prepared).slice(0, 500)}`);
  }
  return { setup, nginxErrorLog: join(edge.prefix, 'error.log') };
}

async function waitForParts(playlistUrl: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(playlistUrl, { signal: AbortSignal.timeout(5000) });
      if (response.status === 200 && ((await response.text()).match(/#EXT-X-PART:/g) ?? []).length >= 2) return;
    } catch {
      // not yet
    }
    await sleep(250);
  }
  throw new Error(`no parts at ${playlistUrl} within 30 s`);
}

async function stopAll(running: Running): Promise<void> {
  running.memory?.stop();
  running.crowd?.abort();
  await running.runner?.stop({ type: 'close' }).catch(() => undefined);
  await running.speakers?.stop({ type: 'close' }).catch(() => undefined);
  await running.edge?.stop().catch(() => undefined);
  await running.origin?.stop().catch(() => undefined);
}

// ---------------------------------------------------------------- the run

async function listenerCount(edgeUrl: string, spaceId: string): Promise<number | null> {
  try {
    const response = await fetch(`${edgeUrl}/api/spaces/${spaceId}/feed`, { signal: AbortSignal.timeout(5000) });
    return ((await response.json()) as { listeners?: { count?: number } }).listeners?.count ?? null;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  if (!nginxInstalled()) throw new Error(`nginx is not installed (${NGINX})`);
  const seconds = positive('BENCH_ATTACK_SECONDS', 60);
  const picked = (process.env.BENCH_ATTACKS ?? ATTACK_CATALOGUE.map((a) => a.name).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const attacks = ATTACK_CATALOGUE.filter((a) => picked.includes(a.name));
  if (attacks.length !== picked.length) throw new Error(`BENCH_ATTACKS: pick from ${ATTACK_CATALOGUE.map((a) => a.name).join(', ')}`);
  const slotMs = seconds * 1000 + SETTLE_MS;
  const crowdSeconds = (BASELINE_FROM_MS + BASELINE_MS) / 1000 + (attacks.length * slotMs) / 1000 + CROWD_MARGIN_S;
  const deadlineMs = 600_000 + RAMP_MS + crowdSeconds * 1000;
  const running: Running = {};
  const lines: AttackLine[] = [];
  let baseline: Record<string, unknown> = {};
  const watchdog = setTimeout(() => {
    log(`hard deadline (${Math.round(deadlineMs / 1000)} s) reached: killing everything`);
    void writeJsonLine({ baseline, attacks: lines, error: 'hard deadline reached' }).finally(() => {
      running.crowd?.abort();
      running.runner?.kill();
      running.speakers?.kill();
      running.origin?.kill();
      running.edge?.process.kill('SIGKILL');
      process.exit(1);
    });
  }, deadlineMs);
  try {
    const { setup, nginxErrorLog } = await startStack(running, attacks.map((a) => a.name));
    setup.seconds = seconds;
    const origin = running.origin as OriginServer;
    const edge = running.edge as RunningEdge;
    const speakers = running.speakers as ChildScript<SpeakersRequest, SpeakersAnswer>;
    const runner = running.runner as ChildScript<RunnerRequest, RunnerAnswer>;
    const nginxPid = edge.process.pid ?? 0;
    const exits: { who: string; atMs: number }[] = [];
    origin.child.once('exit', (code, signal) => exits.push({ who: `origin (${signal ?? code})`, atMs: Date.now() }));
    edge.process.once('exit', (code, signal) => exits.push({ who: `nginx (${signal ?? code})`, atMs: Date.now() }));

    log(`starting ${LISTENERS} listeners over ${RAMP_MS / 1000} s`);
    const crowd = await startCrowd({ url: edge.url, spaceId: setup.spaceId, listeners: LISTENERS, seconds: crowdSeconds, rampMs: RAMP_MS, workers: CROWD_WORKERS, timelineMs: 1000 });
    running.crowd = crowd;
    const memory = new MemoryWatch(origin.pid, nginxPid);
    running.memory = memory;
    const groups: CpuGroups = {
      origin: () => [origin.pid],
      nginx: () => processTree(nginxPid),
      crowd: () => crowd.pids,
      speakers: () => [speakers.pid],
      attacker: () => [runner.pid],
      harness: () => [process.pid],
    };
    const rampEnd = crowd.startAtMs + RAMP_MS;
    const baselineFrom = rampEnd + BASELINE_FROM_MS;
    const baselineTo = baselineFrom + BASELINE_MS;
    await sleep(baselineFrom - Date.now());
    memory.reset();
    const baselineCpu = cpuSnapshot(groups);
    await sleep(baselineTo - Date.now());
    const baselineGaps = await speakers.ask({ type: 'gaps', fromMs: baselineFrom, toMs: baselineTo }, 10_000, 'speaker gaps');
    baseline = {
      window_s: BASELINE_MS / 1000,
      speaker_longest_gap_ms: baselineGaps.type === 'gaps' ? { a: baselineGaps.a.longest_gap_ms, b: baselineGaps.b.longest_gap_ms } : null,
      speakers: baselineGaps.type === 'gaps' ? { a: baselineGaps.a, b: baselineGaps.b } : null,
      origin_worst_event_loop_delay: await origin.ask({ type: 'loop-delay', fromMs: baselineFrom, toMs: baselineTo }, 'loop-delay').catch(() => null),
      peak_rss_mb: { origin: Math.round(memory.origin), nginx: Math.round(memory.nginx) },
      cpu_pct_of_core: cpuBetween(baselineCpu, cpuSnapshot(groups)),
      listeners: await listenerCount(edge.url, setup.spaceId),
      loadavg: readFileSync('/proc/loadavg', 'utf8').trim(),
    };
    log(`baseline: ${JSON.stringify(baseline)}`);

    const windows: { line: AttackLine; fromMs: number; toMs: number }[] = [];
    for (const [k, attack] of attacks.entries()) {
      const fromMs = Math.max(Date.now(), baselineTo + k * slotMs);
      await sleep(fromMs - Date.now());
      const untilMs = fromMs + seconds * 1000;
      const toMs = untilMs + SETTLE_MS;
      log(`attack ${attack.number} ${attack.name}: ${seconds} s, then ${SETTLE_MS / 1000} s to settle`);
      memory.reset();
      const statsBefore = await origin.ask({ type: 'stats', spaceId: setup.spaceId }, 'stats');
      const cpuBefore: CpuSnapshot = cpuSnapshot(groups);
      const crashesBefore = nginxWorkerCrashes(nginxErrorLog);
      const listenersBefore = await listenerCount(edge.url, setup.spaceId);
      let result: AttackResult;
      let attackerCpuMs = 0;
      try {
        const answer = await runner.ask({ type: 'run', name: attack.name, setup, untilMs }, seconds * 1000 + SETTLE_MS + 30_000, `${attack.name} to finish`);
        if (answer.type !== 'result') throw new Error(answer.type === 'error' ? answer.message : JSON.stringify(answer));
        result = answer.result;
        attackerCpuMs = answer.cpuMs;
      } catch (error) {
        log(`attack ${attack.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        result = { sent: 0, answers: {}, details: { harness_error: error instanceof Error ? error.message.slice(0, 2000) : String(error) } };
      }
      await sleep(toMs - Date.now());
      const cpu = cpuBetween(cpuBefore, cpuSnapshot(groups));
      const originUp = alive(origin.pid) && (await answers(`${setup.originUrl}/healthz`));
      const edgeUp = nginxPid > 0 && alive(nginxPid) && (await answers(`${edge.url}/hls/${setup.spaceId}/master.m3u8`));
      const statsAfter = originUp ? await origin.ask({ type: 'stats', spaceId: setup.spaceId }, 'stats').catch(() => statsBefore) : statsBefore;
      const gaps = await speakers.ask({ type: 'gaps', fromMs, toMs }, 10_000, 'speaker gaps');
      const originLoop = originUp ? await origin.ask({ type: 'loop-delay', fromMs, toMs }, 'loop-delay').catch(() => undefined) : undefined;
      const gapA: GapReport | undefined = gaps.type === 'gaps' ? gaps.a : undefined;
      const gapB: GapReport | undefined = gaps.type === 'gaps' ? gaps.b : undefined;
      const exited = exits.filter((e) => e.atMs >= fromMs && e.atMs < toMs + 5000);
      const workerCrashes = nginxWorkerCrashes(nginxErrorLog) - crashesBefore;
      const originCounts = originDetails(statsBefore, statsAfter, attack.number);
      const line: AttackLine = {
        attack: attack.name,
        legit_on_time_part_ratio: null,
        speaker_longest_gap_ms: { a: gapA?.longest_gap_ms ?? -1, b: gapB?.longest_gap_ms ?? -1 },
        server_crashes: exited.length + workerCrashes,
        peak_rss_mb: { origin: Math.round(memory.origin), nginx: Math.round(memory.nginx) },
        attack_requests_sent: result.sent,
        attack_requests_reaching_origin: originCounts.reaching,
        attack_answers: result.answers,
        targets_met: {},
        details: {
          window_s: (toMs - fromMs) / 1000,
          answering_after: { origin: originUp, edge: edgeUp },
          exits: exited,
          nginx_worker_crashes: workerCrashes,
          origin: { ...originCounts.details, worst_event_loop_delay: originLoop ? { ms: originLoop.ms, atMs: originLoop.atMs } : null },
          speakers: { a: gapA, b: gapB },
          listeners_in_feed: { before: listenersBefore, after: await listenerCount(edge.url, setup.spaceId) },
          cpu_pct_of_core: cpu,
          attacker_cpu_s: round(attackerCpuMs / 1000, 1),
          attack: result.details,
        },
      };
      windows.push({ line, fromMs, toMs });
      lines.push(line);
      log(`attack ${attack.name}: sent ${line.attack_requests_sent}, reaching the origin ${line.attack_requests_reaching_origin}, gaps ${JSON.stringify(line.speaker_longest_gap_ms)}, crashes ${line.server_crashes}`);
      if (!originUp || !edgeUp) {
        log('the origin or the edge no longer answers: the remaining attacks are not run');
        break;
      }
    }

    log('waiting for the crowd to finish');
    let report: CrowdReport | undefined;
    try {
      report = await crowd.done;
    } catch (error) {
      log(`crowd: ${error instanceof Error ? error.message : String(error)}`);
    }
    running.crowd = undefined;
    const timeline = report?.timeline ?? [];
    const baseOnTime = onTime(timeline, baselineFrom, baselineTo);
    baseline = { legit_on_time_part_ratio: baseOnTime.ratio, parts: baseOnTime, ...baseline };
    for (const { line, fromMs, toMs } of windows) {
      const judged = onTime(timeline, fromMs, toMs);
      line.legit_on_time_part_ratio = judged.ratio;
      line.details = { crowd: judged, ...line.details };
      line.targets_met = {
        on_time_ratio_at_least_99_9_pct: judged.ratio !== null && judged.ratio >= TARGETS.onTimeRatio,
        no_speaker_gap_over_200_ms: line.speaker_longest_gap_ms.a >= 0 && line.speaker_longest_gap_ms.a <= TARGETS.speakerGapMs && line.speaker_longest_gap_ms.b >= 0 && line.speaker_longest_gap_ms.b <= TARGETS.speakerGapMs,
        zero_crashes: line.server_crashes === 0 && (line.details.answering_after as { origin: boolean; edge: boolean }).origin && (line.details.answering_after as { origin: boolean; edge: boolean }).edge,
        no_attack_request_reaching_origin: line.attack_requests_reaching_origin === 0,
      };
      await writeJsonLine(line);
    }
    const summary = {
      baseline,
      attacks: lines,
      run: {
        listeners: LISTENERS,
        legit_arrivals_per_s: LEGIT_ARRIVALS_PER_S,
        attack_seconds: seconds,
        settle_seconds: SETTLE_MS / 1000,
        peak_rss_mb_whole_run: { origin: Math.round(memory.maxOrigin), nginx: Math.round(memory.maxNginx) },
        crowd: report ? { late_parts_pct: report.late_parts_pct, missing_parts: report.missing_parts, statuses: report.statuses, errors: report.errors, load_generator: report.load_generator } : null,
      },
    };
    await stopAll(running);
    await writeJsonLine(summary);
    return 0;
  } catch (error) {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await stopAll(running);
    await writeJsonLine({ baseline, attacks: lines, error: error instanceof Error ? error.message : String(error) });
    return 1;
  } finally {
    clearTimeout(watchdog);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // The harness itself at normal priority; its children set their own.
  try {
    setPriority(0);
  } catch {
    // not permitted
  }
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    },
  );
}
