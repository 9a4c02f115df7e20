/**
 * What the attack harness watches on the server side, from /proc and from
 * outside: peak resident memory of the origin and of nginx (every process
 * of its tree), sampled each second; CPU time per group of processes; and
 * after each attack, whether the origin and the edge are still alive and
 * answering (and whether an nginx worker died and was replaced: its error
 * log says so).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { CLOCK_TICKS_PER_S, hostBusyMs } from './bench-util.js';

function stat(pid: number): { ppid: number; cpuMs: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state is field 3, ppid 4, utime 14, stime 15 (proc(5)).
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S };
  } catch {
    return undefined;
  }
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = stat(Number(entry))?.ppid;
    if (parent === undefined) continue;
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const child of children.get(p) ?? []) walk(child);
  };
  walk(pid);
  return out;
}

function rssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

export function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** Peak VmRSS of the origin and of nginx's whole tree, sampled every second; peaks restart with reset(). */
export class MemoryWatch {
  origin = 0;
  nginx = 0;
  /** Over the whole run. */
  maxOrigin = 0;
  maxNginx = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly originPid: number,
    private readonly nginxPid: number,
  ) {
    this.timer = setInterval(() => this.sample(), 1000);
    this.sample();
  }

  reset(): void {
    this.origin = 0;
    this.nginx = 0;
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const origin = rssMb([this.originPid]);
    const nginx = rssMb(processTree(this.nginxPid));
    this.origin = Math.max(this.origin, origin);
    this.nginx = Math.max(this.nginx, nginx);
    this.maxOrigin = Math.max(this.maxOrigin, origin);
    this.maxNginx = Math.max(this.maxNginx, nginx);
  }
}

/** CPU ms per named group of processes (a group's pids are looked up each time: nginx's tree changes). */
export type CpuGroups = Record<string, () => number[]>;
export interface CpuSnapshot {
  byGroup: Record<string, Map<number, number>>;
  hostMs: number;
  wallMs: number;
}

export function cpuSnapshot(groups: CpuGroups): CpuSnapshot {
  const byGroup: CpuSnapshot['byGroup'] = {};
  for (const [name, pids] of Object.entries(groups)) byGroup[name] = new Map(pids().map((pid) => [pid, stat(pid)?.cpuMs ?? 0]));
  return { byGroup, hostMs: hostBusyMs(), wallMs: Date.now() };
}

/** % of one core per group between two snapshots, the whole machine's, and what the rest of the machine used. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const wall = Math.max(1, b.wallMs - a.wallMs);
  const out: Record<string, number> = {};
  let counted = 0;
  for (const [name, after] of Object.entries(b.byGroup)) {
    let ms = 0;
    for (const [pid, cpu] of after) ms += Math.max(0, cpu - (a.byGroup[name]?.get(pid) ?? cpu));
    counted += ms;
    out[name] = Math.round((1000 * ms) / wall) / 10;
  }
  out.host_busy = Math.round((1000 * (b.hostMs - a.hostMs)) / wall) / 10;
  out.other_processes = Math.round((1000 * Math.max(0, b.hostMs - a.hostMs - counted)) / wall) / 10;
  return out;
}

/** Lines of nginx's error log that say a worker died ("worker process N exited on signal S"). */
export function nginxWorkerCrashes(errorLog: string): number {
  if (!existsSync(errorLog)) return 0;
  return (readFileSync(errorLog, 'utf8').match(/exited on signal/g) ?? []).length;
}

/** Whether `url` answers `status` within 5 s. */
export async function answers(url: string, status = 200): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    return response.status === status;
  } catch {
    return false;
  }
}
