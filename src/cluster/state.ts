// Where a cluster lives on disk, and which processes belong to it.
//
//   $SKIFF_HOME (default ~/.skiff)/clusters/<name>/
//     cluster.json            config, listen address and port, creation time
//     pki/                    see pki.ts (files 0600)
//     data/                   the store
//     logs/controlplane.log   the background server's stdout+stderr
//     pids/<component>.pid
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ClusterConfig } from './config.js';
import { writeFileAtomic } from './files.js';

export interface ClusterState {
  name: string;
  config: ClusterConfig;
  host: string;
  /** Fixed at creation so restarts keep the kubeconfig valid. */
  port: number;
  createdAt: string;
  /** The kubeconfig file the context was written to, so delete cleans the same file. */
  kubeconfig?: string;
}

export class UnknownClusterError extends Error {
  constructor(name: string) {
    super(`unknown cluster "${name}" (see \`skiff get clusters\`)`);
  }
}

export function skiffHome(env: NodeJS.ProcessEnv): string {
  return path.resolve(env.SKIFF_HOME || path.join(env.HOME || os.homedir(), '.skiff'));
}

export interface ClusterPaths {
  dir: string;
  stateFile: string;
  pki: string;
  data: string;
  logs: string;
  log: string;
  pids: string;
}

export function clusterPaths(home: string, name: string): ClusterPaths {
  const dir = path.join(home, 'clusters', name);
  return {
    dir,
    stateFile: path.join(dir, 'cluster.json'),
    pki: path.join(dir, 'pki'),
    data: path.join(dir, 'data'),
    logs: path.join(dir, 'logs'),
    log: path.join(dir, 'logs', 'controlplane.log'),
    pids: path.join(dir, 'pids'),
  };
}

export async function createClusterDirs(home: string, name: string): Promise<ClusterPaths> {
  const p = clusterPaths(home, name);
  await fs.mkdir(path.dirname(p.dir), { recursive: true, mode: 0o700 });
  // mkdir without `recursive` fails on an existing directory: the atomic "does it exist yet?" check.
  await fs.mkdir(p.dir, { mode: 0o700 });
  for (const d of [p.pki, p.data, p.logs, p.pids]) await fs.mkdir(d, { recursive: true, mode: 0o700 });
  return p;
}

export async function writeClusterState(home: string, state: ClusterState): Promise<void> {
  await writeFileAtomic(clusterPaths(home, state.name).stateFile, JSON.stringify(state, null, 2) + '\n');
}

export async function readClusterState(home: string, name: string): Promise<ClusterState> {
  const file = clusterPaths(home, name).stateFile;
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UnknownClusterError(name);
    throw e;
  }
  try {
    return JSON.parse(text) as ClusterState;
  } catch {
    throw new Error(`cluster state ${file} is corrupt (not JSON); \`skiff delete cluster --name ${name}\` removes it`);
  }
}

export async function clusterExists(home: string, name: string): Promise<boolean> {
  return existsSync(clusterPaths(home, name).dir);
}

/** Names of clusters with a state file, sorted. */
export async function listClusters(home: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(path.join(home, 'clusters'));
  } catch {
    return [];
  }
  return entries.filter((n) => existsSync(clusterPaths(home, n).stateFile)).sort();
}

/** The arguments after the entry script that start a cluster's server; also what identifies it in /proc. */
export function serveArgs(name: string, home: string): string[] {
  return ['serve', '--name', name, '--home', home];
}

/** The inverse of serveArgs, for the server entry; throws on anything else. */
export function parseServeArgs(argv: string[]): { name: string; home: string } {
  const [verb, nameFlag, name, homeFlag, home] = argv;
  if (argv.length !== 5 || verb !== 'serve' || nameFlag !== '--name' || homeFlag !== '--home' || !name || !home) {
    throw new Error(`usage: serve --name <cluster> --home <dir> (got: ${argv.join(' ')})`);
  }
  return { name, home };
}

export async function writePid(home: string, name: string, component: string, pid: number): Promise<void> {
  await writeFileAtomic(path.join(clusterPaths(home, name).pids, `${component}.pid`), `${pid}\n`);
}

export async function readPids(home: string, name: string): Promise<{ component: string; pid: number }[]> {
  const dir = clusterPaths(home, name).pids;
  let files: string[];
  try {
    files = await fs.readdir(dir);
  } catch {
    return [];
  }
  const out: { component: string; pid: number }[] = [];
  for (const f of files.filter((f) => f.endsWith('.pid'))) {
    const pid = Number((await fs.readFile(path.join(dir, f), 'utf8')).trim());
    if (Number.isInteger(pid) && pid > 0) out.push({ component: f.slice(0, -4), pid });
  }
  return out;
}

export async function removePid(home: string, name: string, component: string): Promise<void> {
  await fs.rm(path.join(clusterPaths(home, name).pids, `${component}.pid`), { force: true });
}

// Linux: the exact argv from procfs. Elsewhere (macOS) ps prints only the space-joined command line.
function commandLineMatches(pid: number, want: string[]): boolean {
  if (existsSync('/proc/self/cmdline')) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return false;
    }
    return argv.some((_, i) => want.every((w, j) => argv[i + j] === w));
  }
  try {
    return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).includes(want.join(' '));
  } catch {
    return false;
  }
}

/**
 * True only if `pid` is alive AND is this cluster's server: its command line carries our serve
 * arguments with this cluster's name and home. A PID recycled by an unrelated process never matches,
 * so stop/delete can never signal it. (A zombie has an empty cmdline, so it counts as gone.)
 */
export function isOurProcess(pid: number, name: string, home: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: someone else's process
  }
  return commandLineMatches(pid, serveArgs(name, home));
}
