// Reading Linux /proc for the process runtime: process identity (pid + start time, so a recycled
// PID is never mistaken for a container), process-group membership, CPU and memory usage.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  cpuTicks: number;
  /** Clock ticks after boot; with the pid it identifies one process for the machine's lifetime. */
  startTime: number;
  rssPages: number;
}

function sysconf(name: string, fallback: number): number {
  try {
    const v = Number(execFileSync('getconf', [name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isFinite(v) && v > 0 ? v : fallback;
  } catch {
    return fallback;
  }
}

let cached: { pageSize: number; clkTck: number } | undefined;
/** Page size and clock ticks per second (asked once: they never change while running). */
export function machineUnits(): { pageSize: number; clkTck: number } {
  cached ??= { pageSize: sysconf('PAGESIZE', 4096), clkTck: sysconf('CLK_TCK', 100) };
  return cached;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses, so split after the last ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < 0) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const f = text.slice(close + 2).split(' '); // f[0] is field 3 (state)
  const n = (field: number) => Number(f[field - 3]);
  return {
    pid,
    state: f[0] ?? '?',
    ppid: n(4),
    pgrp: n(5),
    session: n(6),
    cpuTicks: n(14) + n(15) + n(16) + n(17),
    startTime: n(22),
    rssPages: n(24),
  };
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** True while `pid` is the very process that started at `startTime` and has not exited (zombies count as exited). */
export function isSameLiveProcess(pid: number, startTime: number | undefined): boolean {
  const st = readStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Every live process on the machine grouped by process group (one /proc scan serves all containers). */
export function scanGroups(): Map<number, ProcStat[]> {
  const groups = new Map<number, ProcStat[]>();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return groups;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readStat(Number(name));
    if (!st || st.state === 'Z') continue;
    let list = groups.get(st.pgrp);
    if (!list) groups.set(st.pgrp, (list = []));
    list.push(st);
  }
  return groups;
}

export function groupUsage(members: ProcStat[]): { cpuNanos: number; rssBytes: number } {
  const { pageSize, clkTck } = machineUnits();
  let ticks = 0;
  let pages = 0;
  for (const m of members) {
    ticks += m.cpuTicks;
    pages += m.rssPages;
  }
  return { cpuNanos: Math.round((ticks * 1e9) / clkTck), rssBytes: pages * pageSize };
}

/** Members of one process group, without scanning when the caller already has a scan. */
export function groupMembers(pgid: number, scan?: Map<number, ProcStat[]>): ProcStat[] {
  return (scan ?? scanGroups()).get(pgid) ?? [];
}
