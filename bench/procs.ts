// Child processes and what /proc says about them. Only processes this bench started are ever
// signalled, always by PID.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { sleep } from './stats.js';

/** Resident set size and its peak (VmHWM) in MB, from /proc/<pid>/status; NaN if unreadable. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { rss: NaN, peak: NaN };
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

let ticksPerSecond: number | undefined;
const ticksToMs = (ticks: number) => {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return (ticks / ticksPerSecond) * 1000;
};

/** CPU time (user + system) the process has used so far, ms. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces); utime, stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ticksToMs(Number(fields[11]) + Number(fields[12]));
  } catch {
    return NaN;
  }
}

/** Busy CPU time of the whole machine so far (all cores, all processes), ms, from /proc/stat. */
function machineCpuMs(): number {
  try {
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return ticksToMs(user + nice + system + irq + softirq + steal);
  } catch {
    return NaN;
  }
}

/**
 * Measures how much of the machine other processes took while a phase ran — neither the server
 * under test nor this client. A shared machine skews figures; this says by how much.
 */
export function startInterferenceMeter(serverPid: number): () => number {
  const [machine0, server0, client0, t0] = [machineCpuMs(), cpuMs(serverPid), process.cpuUsage(), performance.now()];
  return () => {
    const client = process.cpuUsage(client0);
    const others = machineCpuMs() - machine0 - (cpuMs(serverPid) - server0) - (client.user + client.system) / 1000;
    return Math.max(0, others) / ((performance.now() - t0) * os.cpus().length);
  };
}

export interface Timed {
  ms: number;
  code: number | null;
  output: string;
}

/** Run a command to completion (killed after `timeoutMs`), timing it from spawn to exit. */
export function timeCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t, code, output });
    });
  });
}

/** True if `cmd --version` runs. */
export function commandExists(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** SIGTERM the process, wait up to `graceMs` for it to go, then SIGKILL. */
export async function stopPid(pid: number, graceMs = 5000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  for (let t = 0; t < graceMs && alive(); t += 50) await sleep(50);
  if (alive()) process.kill(pid, 'SIGKILL');
}

/** A port the OS reports free on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** RSS of a bare, idle Node process: what any Node server costs before it loads anything. */
export async function bareNodeRssMb(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(1000);
    return memoryMb(child.pid!).rss;
  } finally {
    if (child.pid) await stopPid(child.pid);
  }
}
