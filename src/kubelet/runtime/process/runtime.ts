// The process runtime: every container is a host process (see ../types.ts for the contract and
// docs/process-runtime notes in the final report). Pods share the host's network stack; each
// owns one loopback address (PodSandboxConfig.ip) and is told it through POD_IP.
//
// Layout under `stateDir` (the node's runtime directory):
//   sandboxes/<sandboxId>/sandbox.json                 the sandbox record
//   sandboxes/<sandboxId>/containers/<id>.json         one record per container instance
//   sandboxes/<sandboxId>/<name>/<attempt>.log         CRI log (see logs.ts for .stdout/.stderr/.pos)
//   sandboxes/<sandboxId>/<name>/<attempt>.stdin       FIFO, only for containers with stdin
//   sandboxes/<sandboxId>/<name>/rootfs/               working directory; mounts appear here as symlinks
//
// Containers are spawned detached (own session and process group, pgid = pid) with file-backed
// stdio, so they outlive the kubelet; a new runtime instance re-adopts them by pid *and* the
// process start time from /proc/<pid>/stat, never a recycled pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants as fsc,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { constants as osc } from 'node:os';
import path from 'node:path';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { sourceFile } from '../../../machinery/install.js';
import { resolveEntrypoint } from '../images.js';
import type { ContainerConfig, ContainerId, ContainerStatus, ExecIO, LogOptions, PodSandboxConfig, Runtime, Sandbox, Usage } from '../types.js';
import { LogCollector, readLog } from './logs.js';
import { groupMembers, groupUsage, isSameLiveProcess, readStat, scanGroups, type ProcStat } from './procfs.js';

export interface ProcessRuntimeOptions {
  /** The node's runtime directory (created if missing). */
  stateDir: string;
  /** How often adopted containers are checked for exit and memory limits sampled (ms). Default 250. */
  monitorIntervalMs?: number;
  /** The Node.js preload that binds unspecified listens to POD_IP; false disables it. Default: bundled bind-pod-ip.cjs. */
  preloadPath?: string | false;
  /** PATH for containers whose env has none. Default: the usual image PATH + this Node's directory + the host's PATH. */
  defaultPath?: string;
}

interface SandboxRecord {
  id: string;
  config: PodSandboxConfig;
  dir: string;
  createdAt: string;
  state: 'ready' | 'notready';
}

interface ContainerRecord {
  id: string;
  sandboxId: string;
  name: string;
  attempt: number;
  image: string;
  config: ContainerConfig;
  state: ContainerStatus['state'];
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  pid?: number;
  /** /proc/<pid>/stat start time: with pid, the process's identity. */
  procStart?: number;
  exitCode?: number;
  reason?: string;
  message?: string;
  oomKilled?: boolean;
  logPath: string;
  /** `<dir>/<attempt>`: prefix of the raw output files. */
  base: string;
  argv: string[];
  /** Why the container cannot start (unknown image without command). */
  startError?: string;
  env: Record<string, string>;
  cwd: string;
  stdinPath?: string;
}

interface Live {
  rec: ContainerRecord;
  child?: ChildProcess;
  /** Spawned by another runtime instance: exits are noticed by polling /proc. */
  adopted: boolean;
  waiters: (() => void)[];
  execs: Set<ChildProcess>;
  /** Write end of the stdin FIFO held for stdinOnce containers until the first attach ends. */
  stdinKeeper?: number;
}

const SCAN_REUSE_MS = 1000;
const STANDARD_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const UNKNOWN_EXIT_MESSAGE = 'the container exited while no runtime was watching it; its exit code is unknown';

/** The Node.js preloads every Node container gets: bind the pod IP, resolve cluster names. */
const PRELOADS = ['bind-pod-ip.cjs', 'resolve-cluster-names.cjs'];

export function defaultPreloads(): string[] {
  // The .cjs files are not compiled: they are used from the source tree. A missing one is a broken
  // installation: fail here rather than run pods that silently listen on the wrong address.
  return PRELOADS.map((f) => {
    const file = sourceFile(`kubelet/runtime/preload/${f}`);
    if (!existsSync(file)) throw new Error(`process runtime: preload ${file} is missing`);
    return file;
  });
}

let tmpCounter = 0;
/** Atomic replace: a kubelet killed mid-write never leaves a torn record (a lost record would mean a twin). */
function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.${tmpCounter++}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

async function writeJsonAsync(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${tmpCounter++}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Resolves argv[0] as execve(2) via $PATH would, with Docker's error messages when it cannot. */
export function findExecutable(file: string, envPath: string, cwd: string): { path: string } | { error: string } {
  if (file.includes('/')) {
    const p = path.resolve(cwd, file);
    if (!existsSync(p)) return { error: `exec: "${file}": stat ${file}: no such file or directory` };
    return isExecutableFile(p) ? { path: p } : { error: `exec: "${file}": permission denied` };
  }
  for (const dir of envPath.split(':')) {
    const p = path.resolve(cwd, dir || '.', file);
    if (isExecutableFile(p)) return { path: p };
  }
  return { error: `exec: "${file}": executable file not found in $PATH` };
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal ? ((osc.signals as Record<string, number>)[signal] ?? 9) : 0;
}

function shellQuote(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Sends a signal to a whole process group; false when it no longer exists. */
function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  readonly version = 'skiff-process://0.1.0';
  private readonly stateDir: string;
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly containers = new Map<string, Live>();
  private readonly listeners: ((s: ContainerStatus) => void)[] = [];
  private readonly collector = new LogCollector();
  private readonly monitor: NodeJS.Timeout;
  private readonly preloads: string[];
  private scanCache?: { at: number; groups: Map<number, ProcStat[]> };
  private readonly defaultPath: string;
  private closed = false;

  constructor(opts: ProcessRuntimeOptions) {
    this.stateDir = path.resolve(opts.stateDir);
    mkdirSync(path.join(this.stateDir, 'sandboxes'), { recursive: true });
    this.preloads = opts.preloadPath === false ? [] : opts.preloadPath ? [opts.preloadPath] : defaultPreloads();
    this.defaultPath =
      opts.defaultPath ?? [...new Set([...STANDARD_PATH, path.dirname(process.execPath), ...(process.env.PATH ?? '').split(':').filter(Boolean)])].join(':');
    this.load();
    this.monitor = setInterval(() => this.tick(), opts.monitorIntervalMs ?? 250);
    this.monitor.unref();
  }

  // ---- state ----

  /** Reads every record left by earlier instances: re-adopts live containers, closes dead ones. */
  private load(): void {
    const root = path.join(this.stateDir, 'sandboxes');
    for (const sid of readdirSync(root)) {
      const sb = readJson<SandboxRecord>(path.join(root, sid, 'sandbox.json'));
      if (!sb) continue;
      this.sandboxes.set(sb.id, sb);
      const cdir = path.join(sb.dir, 'containers');
      let files: string[] = [];
      try {
        files = readdirSync(cdir).filter((f) => f.endsWith('.json'));
      } catch {
        /* no containers yet */
      }
      for (const f of files) {
        const rec = readJson<ContainerRecord>(path.join(cdir, f));
        if (!rec) continue;
        const live: Live = { rec, adopted: true, waiters: [], execs: new Set() };
        this.containers.set(rec.id, live);
        if (rec.state !== 'running') continue;
        if (rec.pid !== undefined && isSameLiveProcess(rec.pid, rec.procStart)) {
          this.collector.track(rec.id, rec.base, rec.logPath);
        } else {
          this.finalizeUnknown(live);
        }
      }
    }
  }

  private recordPath(rec: ContainerRecord): string {
    const sb = this.sandboxes.get(rec.sandboxId);
    return path.join(sb?.dir ?? path.join(this.stateDir, 'sandboxes', rec.sandboxId), 'containers', `${rec.id}.json`);
  }

  /** Off the event loop (pod starts overlap on the thread pool); a later sync save always wins. */
  private async saveAsync(rec: ContainerRecord): Promise<void> {
    const state = rec.state;
    try {
      await writeJsonAsync(this.recordPath(rec), JSON.stringify(rec));
    } catch {
      return;
    }
    if (rec.state !== state) this.save(rec); // the container exited meanwhile: do not leave "running" on disk
  }

  private save(rec: ContainerRecord): void {
    try {
      writeJson(this.recordPath(rec), rec);
    } catch {
      /* the sandbox directory is gone (removed) */
    }
  }

  private status(rec: ContainerRecord): ContainerStatus {
    const s: ContainerStatus = {
      id: rec.id,
      sandboxId: rec.sandboxId,
      name: rec.name,
      attempt: rec.attempt,
      state: rec.state,
      createdAt: rec.createdAt,
      image: rec.image,
      logPath: rec.logPath,
    };
    if (rec.state === 'running' && rec.pid !== undefined) s.pid = rec.pid;
    if (rec.startedAt) s.startedAt = rec.startedAt;
    if (rec.finishedAt) s.finishedAt = rec.finishedAt;
    if (rec.exitCode !== undefined) s.exitCode = rec.exitCode;
    if (rec.reason) s.reason = rec.reason;
    if (rec.message) s.message = rec.message;
    return s;
  }

  private get(id: ContainerId): Live {
    const c = this.containers.get(id);
    if (!c) throw new Error(`container "${id}" not found`);
    return c;
  }

  // ---- exits ----

  private finalize(c: Live, exitCode: number, reason?: string, message?: string): void {
    const rec = c.rec;
    if (rec.state === 'exited') return;
    rec.state = 'exited';
    rec.finishedAt = new Date().toISOString();
    if (rec.oomKilled) {
      rec.exitCode = 137;
      rec.reason = 'OOMKilled';
    } else {
      rec.exitCode = exitCode;
      rec.reason = reason ?? (exitCode === 0 ? 'Completed' : 'Error');
      if (message) rec.message = message;
    }
    // A closed instance still records the exit code on disk: a successor adopting the
    // container (same process, tests) then reports the real code instead of "unknown".
    this.save(rec);
    for (const e of c.execs) if (e.pid) killGroup(e.pid, 'SIGKILL');
    if (c.stdinKeeper !== undefined) {
      closeSync(c.stdinKeeper);
      c.stdinKeeper = undefined;
    }
    if (this.closed) return;
    this.collector.finish(rec.id);
    for (const w of c.waiters.splice(0)) w();
    const status = this.status(rec);
    for (const l of this.listeners) {
      try {
        l(status);
      } catch {
        /* a listener's bug must not break exit handling */
      }
    }
  }

  /** An adopted container's process is gone: take the exit another instance recorded, or say it is unknown. */
  private finalizeUnknown(c: Live): void {
    const disk = readJson<ContainerRecord>(this.recordPath(c.rec));
    if (disk && disk.state === 'exited' && disk.exitCode !== undefined) {
      c.rec.oomKilled = disk.oomKilled;
      this.finalize(c, disk.exitCode, disk.reason, disk.message);
    } else {
      // Upstream reports ContainerStatusUnknown with 137 when the runtime lost track of an exit.
      this.finalize(c, 137, 'ContainerStatusUnknown', UNKNOWN_EXIT_MESSAGE);
    }
    if (c.rec.pid !== undefined) this.killLeftovers(c.rec.pid);
  }

  /** Kills what is left of a container's group once its leader is gone (as a pid namespace's init dying would). */
  private killLeftovers(pgid: number, scan?: Map<number, ProcStat[]>): void {
    for (const m of groupMembers(pgid, scan)) {
      if (m.session !== pgid) continue; // only members of the session the container created
      try {
        process.kill(m.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }

  private checkAdopted(c: Live): void {
    const rec = c.rec;
    if (!c.adopted || rec.state !== 'running' || rec.pid === undefined) return;
    if (!isSameLiveProcess(rec.pid, rec.procStart)) this.finalizeUnknown(c);
  }

  /** Adopted exits and memory limits. One /proc scan per tick serves every container. */
  private tick(): void {
    let scan: Map<number, ProcStat[]> | undefined;
    for (const c of this.containers.values()) {
      const rec = c.rec;
      if (rec.state !== 'running' || rec.pid === undefined) continue;
      this.checkAdopted(c);
      const limit = rec.config.memoryLimitBytes;
      if (rec.state !== 'running' || !limit) continue;
      scan ??= scanGroups();
      const { rssBytes } = groupUsage(groupMembers(rec.pid, scan));
      if (rssBytes > limit && !rec.oomKilled) {
        rec.oomKilled = true;
        rec.message = `memory usage ${rssBytes} bytes exceeded the limit of ${limit} bytes`;
        this.save(rec);
        killGroup(rec.pid, 'SIGKILL');
      }
    }
  }

  /** Resolves true once the container has exited, false after `ms`. */
  private waitExit(c: Live, ms: number): Promise<boolean> {
    if (c.rec.state !== 'running') return Promise.resolve(true);
    return new Promise((resolve) => {
      let poll: NodeJS.Timeout | undefined;
      const done = (v: boolean) => {
        clearTimeout(timer);
        if (poll) clearInterval(poll);
        resolve(v);
      };
      const timer = setTimeout(() => done(c.rec.state !== 'running'), ms);
      c.waiters.push(() => done(true));
      if (c.adopted || !c.child) {
        poll = setInterval(() => {
          this.checkAdopted(c);
          if (c.rec.state !== 'running') done(true);
        }, 25);
      }
    });
  }

  // ---- sandboxes ----

  async runSandbox(config: PodSandboxConfig): Promise<Sandbox> {
    for (const sb of this.sandboxes.values()) {
      if (sb.config.uid === config.uid && sb.state === 'ready') return { id: sb.id, config: sb.config, dir: sb.dir };
    }
    const id = randomBytes(16).toString('hex');
    const dir = path.join(this.stateDir, 'sandboxes', id);
    await mkdir(path.join(dir, 'containers'), { recursive: true });
    const sb: SandboxRecord = { id, config, dir, createdAt: new Date().toISOString(), state: 'ready' };
    await writeJsonAsync(path.join(dir, 'sandbox.json'), JSON.stringify(sb));
    this.sandboxes.set(id, sb);
    return { id, config, dir };
  }

  async stopSandbox(id: string): Promise<void> {
    const sb = this.sandboxes.get(id);
    if (!sb) return;
    await Promise.all([...this.containers.values()].filter((c) => c.rec.sandboxId === id).map((c) => this.stopContainer(c.rec.id, 0)));
    sb.state = 'notready';
    writeJson(path.join(sb.dir, 'sandbox.json'), sb);
  }

  async removeSandbox(id: string): Promise<void> {
    const sb = this.sandboxes.get(id);
    if (!sb) return;
    await this.stopSandbox(id);
    for (const c of [...this.containers.values()]) if (c.rec.sandboxId === id) this.containers.delete(c.rec.id);
    this.sandboxes.delete(id);
    rmSync(sb.dir, { recursive: true, force: true });
  }

  async listSandboxes(): Promise<Sandbox[]> {
    return [...this.sandboxes.values()].map((sb) => ({ id: sb.id, config: sb.config, dir: sb.dir }));
  }

  // ---- containers ----

  async createContainer(sandbox: Sandbox, config: ContainerConfig): Promise<ContainerId> {
    const sb = this.sandboxes.get(sandbox.id);
    if (!sb) throw new Error(`sandbox "${sandbox.id}" not found`);
    const id = randomBytes(16).toString('hex');
    const dir = path.join(sb.dir, config.name);
    const rootfs = path.join(dir, 'rootfs');
    const base = path.join(dir, String(config.attempt));
    // Few filesystem operations on the common path (a first instance): pod start cost is benchmarked.
    if (await exists(dir)) {
      // A new instance gets a fresh root directory (volumes live elsewhere and are linked in again).
      await rm(rootfs, { recursive: true, force: true });
      await Promise.all(['log', 'stdout', 'stderr', 'pos', 'stdin'].map((ext) => rm(`${base}.${ext}`, { force: true })));
    }
    await mkdir(rootfs, { recursive: true });
    const mountTargets = this.linkMounts(rootfs, config);

    const entry = resolveEntrypoint(config.image, config.command, config.args);
    const workingDir = config.workingDir ?? ('workingDir' in entry ? entry.workingDir : undefined);
    const cwd = this.workingDirectory(rootfs, workingDir, mountTargets);

    const env: Record<string, string> = { PATH: this.defaultPath, HOME: rootfs, HOSTNAME: sb.config.hostname };
    Object.assign(env, config.env);
    env.POD_IP ??= sb.config.ip;
    if (sb.config.dnsServers?.length) env.SKIFF_DNS_SERVERS ??= sb.config.dnsServers.join(',');
    if (sb.config.dnsSearches?.length) env.SKIFF_DNS_SEARCHES ??= sb.config.dnsSearches.join(' ');
    if (this.preloads.length)
      env.NODE_OPTIONS = [...this.preloads.map((p) => `--require ${JSON.stringify(p)}`), ...(env.NODE_OPTIONS ? [env.NODE_OPTIONS] : [])].join(' ');

    let stdinPath: string | undefined;
    if (config.stdin) {
      stdinPath = `${base}.stdin`;
      const r = spawnSync('mkfifo', ['-m', '600', stdinPath], { stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`cannot create the stdin pipe ${stdinPath}`);
    }
    const rec: ContainerRecord = {
      id,
      sandboxId: sb.id,
      name: config.name,
      attempt: config.attempt,
      image: config.image,
      config,
      state: 'created',
      createdAt: new Date().toISOString(),
      logPath: `${base}.log`,
      base,
      argv: 'argv' in entry ? entry.argv : [],
      env,
      cwd,
    };
    if ('error' in entry) rec.startError = entry.error;
    if (stdinPath) rec.stdinPath = stdinPath;
    // Not persisted until it starts: a created-but-never-started container lost in a kubelet
    // restart is simply created again.
    this.containers.set(id, { rec, adopted: false, waiters: [], execs: new Set() });
    return id;
  }

  /** Volumes appear as symlinks at <rootfs><mountPath>; returns the container paths linked. */
  private linkMounts(rootfs: string, config: ContainerConfig): string[] {
    const linked: string[] = [];
    const mounts = [...config.mounts].sort((a, b) => a.containerPath.length - b.containerPath.length);
    for (const m of mounts) {
      const rel = path.normalize(m.containerPath).replace(/^\/+/, '');
      if (!rel || rel.startsWith('..')) continue;
      // A mount nested in another would land inside the outer volume: skip it (unsupported says so).
      if (linked.some((p) => rel === p || rel.startsWith(`${p}/`))) continue;
      const target = path.join(rootfs, rel);
      mkdirSync(path.dirname(target), { recursive: true });
      const source = m.subPath ? path.join(m.hostPath, m.subPath) : m.hostPath;
      try {
        lstatSync(target);
        rmSync(target, { recursive: true, force: true });
      } catch {
        /* nothing there */
      }
      symlinkSync(source, target);
      linked.push(rel);
    }
    return linked;
  }

  private workingDirectory(rootfs: string, workingDir: string | undefined, mounts: string[]): string {
    if (!workingDir) return rootfs;
    const rel = path.normalize(workingDir).replace(/^\/+/, '');
    const mapped = path.join(rootfs, rel);
    if (mounts.some((p) => rel === p || rel.startsWith(`${p}/`))) return mapped;
    if (path.isAbsolute(workingDir) && existsSync(workingDir) && statSync(workingDir).isDirectory()) return workingDir;
    mkdirSync(mapped, { recursive: true });
    return mapped;
  }

  private cannotRun(c: Live, reason: string, message: string): never {
    const rec = c.rec;
    rec.state = 'exited';
    rec.exitCode = 128;
    rec.reason = reason;
    rec.message = message;
    rec.startedAt = rec.finishedAt = new Date().toISOString();
    this.save(rec);
    throw new Error(message);
  }

  async startContainer(id: ContainerId): Promise<void> {
    const c = this.get(id);
    const rec = c.rec;
    if (rec.state !== 'created') throw new Error(`container "${id}" is ${rec.state}, not created`);
    if (rec.startError) this.cannotRun(c, 'ContainerCannotRun', rec.startError);
    const exe = findExecutable(rec.argv[0]!, rec.env.PATH ?? this.defaultPath, rec.cwd);
    if ('error' in exe) this.cannotRun(c, 'ContainerCannotRun', exe.error);

    const [outFile, errFile] = await Promise.all([open(`${rec.base}.stdout`, 'a'), open(`${rec.base}.stderr`, 'a')]);
    const out = outFile.fd;
    const err = errFile.fd;
    let stdin: number | 'ignore' = 'ignore';
    if (rec.stdinPath) {
      if (rec.config.stdinOnce) {
        // The child reads a read-only end; the runtime holds a writer until the first attach
        // ends, after which the child sees EOF (stdinOnce semantics).
        c.stdinKeeper = openSync(rec.stdinPath, 'r+');
        stdin = openSync(rec.stdinPath, 'r');
      } else {
        // Read-write: the child itself keeps a writer open, so its stdin never reaches EOF
        // between attaches or across kubelet restarts.
        stdin = openSync(rec.stdinPath, 'r+');
      }
    }
    let child: ChildProcess;
    try {
      child = spawn(exe.path, rec.argv.slice(1), {
        argv0: rec.argv[0],
        cwd: rec.cwd,
        env: rec.env,
        detached: true,
        stdio: [stdin, out, err],
      });
    } catch (e) {
      await Promise.all([outFile.close(), errFile.close()]);
      if (typeof stdin === 'number') closeSync(stdin);
      this.cannotRun(c, 'StartError', (e as Error).message);
    }
    if (typeof stdin === 'number') closeSync(stdin);
    if (child.pid === undefined) {
      const e = await new Promise<Error>((resolve) => child.once('error', resolve));
      await Promise.all([outFile.close(), errFile.close()]);
      this.cannotRun(c, 'StartError', e.message);
    }
    // Everything up to the exit listener is synchronous: an exit cannot be missed.
    child.on('error', () => undefined);
    child.unref();
    c.child = child;
    rec.pid = child.pid;
    rec.procStart = readStat(child.pid)?.startTime;
    rec.state = 'running';
    rec.startedAt = new Date().toISOString();
    child.once('exit', (code, signal) => {
      // The group dies with its leader, as a pid namespace does when its init exits.
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      this.finalize(c, code ?? 128 + signalNumber(signal));
    });
    if (!this.closed) this.collector.track(id, rec.base, rec.logPath);
    await Promise.all([outFile.close(), errFile.close()]);
    await this.saveAsync(rec);
  }

  async stopContainer(id: ContainerId, graceSeconds: number): Promise<void> {
    const c = this.get(id);
    const rec = c.rec;
    if (rec.state === 'created') {
      this.finalize(c, 0, 'Completed');
      return;
    }
    if (rec.state !== 'running' || rec.pid === undefined) return;
    // Never signal a group whose leader is not the process we started (pid reuse).
    if (c.adopted && !isSameLiveProcess(rec.pid, rec.procStart)) {
      this.finalizeUnknown(c);
      return;
    }
    if (graceSeconds > 0) {
      killGroup(rec.pid, 'SIGTERM');
      if (await this.waitExit(c, graceSeconds * 1000)) return;
    }
    killGroup(rec.pid, 'SIGKILL');
    if (!(await this.waitExit(c, 10_000))) throw new Error(`container "${id}" (pid ${rec.pid}) did not exit after SIGKILL`);
  }

  async removeContainer(id: ContainerId): Promise<void> {
    const c = this.containers.get(id);
    if (!c) return;
    if (c.rec.state === 'running') await this.stopContainer(id, 0);
    this.collector.finish(id);
    this.containers.delete(id);
    for (const ext of ['log', 'stdout', 'stderr', 'pos', 'stdin']) rmSync(`${c.rec.base}.${ext}`, { force: true });
    try {
      unlinkSync(this.recordPath(c.rec));
    } catch {
      /* already gone */
    }
  }

  async containerStatus(id: ContainerId): Promise<ContainerStatus | undefined> {
    const c = this.containers.get(id);
    if (!c) return undefined;
    this.checkAdopted(c);
    return this.status(c.rec);
  }

  async listContainers(sandboxId?: string): Promise<ContainerStatus[]> {
    const out: ContainerStatus[] = [];
    for (const c of this.containers.values()) {
      if (sandboxId !== undefined && c.rec.sandboxId !== sandboxId) continue;
      this.checkAdopted(c);
      out.push(this.status(c.rec));
    }
    return out;
  }

  onExit(listener: (status: ContainerStatus) => void): void {
    this.listeners.push(listener);
  }

  // ---- streams ----

  async exec(id: ContainerId, cmd: string[], io: ExecIO, signal?: AbortSignal): Promise<number> {
    const c = this.get(id);
    const rec = c.rec;
    if (rec.state !== 'running') throw new Error(`container "${rec.name}" is not running`);
    if (cmd.length === 0) throw new Error('exec: no command given');
    const exe = findExecutable(cmd[0]!, rec.env.PATH ?? this.defaultPath, rec.cwd);
    if ('error' in exe) throw new Error(exe.error);
    let file = exe.path;
    let args = cmd.slice(1);
    let argv0 = cmd[0];
    const scriptCmd = io.tty ? findExecutable('script', this.defaultPath, rec.cwd) : undefined;
    if (scriptCmd && 'path' in scriptCmd) {
      // util-linux `script` gives the command a pseudo-terminal without native modules;
      // -e returns the command's exit code, -f flushes each write. No resize (documented).
      file = scriptCmd.path;
      argv0 = 'script';
      args = ['-qefc', shellQuote([exe.path, ...cmd.slice(1)]), '/dev/null'];
    }
    const child = spawn(file, args, {
      argv0,
      cwd: rec.cwd,
      env: io.tty ? { TERM: 'xterm', ...rec.env } : rec.env,
      detached: true,
      stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    c.execs.add(child);
    const kill = () => {
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    };
    signal?.addEventListener('abort', kill);
    if (signal?.aborted) kill();
    if (io.stdin && child.stdin) {
      child.stdin.on('error', () => undefined);
      io.stdin.pipe(child.stdin);
    }
    child.stdout?.on('data', (d: Buffer) => io.stdout?.write(d));
    child.stderr?.on('data', (d: Buffer) => (io.stderr ?? io.stdout)?.write(d));
    return new Promise<number>((resolve, reject) => {
      child.once('error', (e) => {
        c.execs.delete(child);
        signal?.removeEventListener('abort', kill);
        reject(e);
      });
      child.once('close', (code, sig) => {
        c.execs.delete(child);
        signal?.removeEventListener('abort', kill);
        if (io.stdin && child.stdin) io.stdin.unpipe(child.stdin);
        resolve(code ?? 128 + signalNumber(sig));
      });
    });
  }

  async attach(id: ContainerId, io: ExecIO, signal?: AbortSignal): Promise<void> {
    const c = this.get(id);
    const rec = c.rec;
    if (rec.state !== 'running') throw new Error(`cannot attach to a container that is not running (${rec.state})`);
    this.collector.flush(id);
    const ac = new AbortController();
    const opts = (): LogOptions => ({ follow: true, tailLines: 0, timestamps: false, signal: ac.signal });
    const outs: Readable[] = [];
    if (io.stdout) outs.push(readLog(rec.logPath, opts(), { collector: this.collector, id }, { filter: 'stdout' }));
    if (io.stderr || io.stdout) outs.push(readLog(rec.logPath, opts(), { collector: this.collector, id }, { filter: 'stderr' }));
    outs[0]?.on('data', (d: Buffer) => io.stdout?.write(d));
    outs[1]?.on('data', (d: Buffer) => (io.stderr ?? io.stdout)?.write(d));
    let input: ReturnType<typeof createWriteStream> | undefined;
    if (io.stdin && rec.stdinPath) {
      input = createWriteStream(rec.stdinPath, { flags: 'r+' });
      input.on('error', () => undefined);
      io.stdin.pipe(input);
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done);
      if (signal?.aborted) done();
      c.waiters.push(done);
      if (rec.state !== 'running') done();
    });
    ac.abort();
    if (input) {
      io.stdin?.unpipe(input);
      input.destroy();
    }
    if (rec.config.stdinOnce && c.stdinKeeper !== undefined) {
      closeSync(c.stdinKeeper);
      c.stdinKeeper = undefined;
    }
  }

  logs(id: ContainerId, opts: LogOptions): Readable {
    const c = this.containers.get(id);
    if (!c) {
      const s = new PassThrough();
      queueMicrotask(() => s.destroy(new Error(`container "${id}" not found`)));
      return s;
    }
    this.checkAdopted(c);
    this.collector.flush(id);
    return readLog(c.rec.logPath, opts, { collector: this.collector, id });
  }

  async stats(id: ContainerId): Promise<Usage | undefined> {
    const c = this.containers.get(id);
    if (!c || c.rec.state !== 'running' || c.rec.pid === undefined) return undefined;
    if (!isSameLiveProcess(c.rec.pid, c.rec.procStart)) return undefined;
    const usage = groupUsage(groupMembers(c.rec.pid, this.recentScan()));
    return { cpuUsageNanos: usage.cpuNanos, memoryWorkingSetBytes: usage.rssBytes, timestamp: Date.now() };
  }

  /** One /proc scan shared by every container's stats within a second (a metrics poll asks for all of them). */
  private recentScan(): Map<number, ProcStat[]> {
    const now = Date.now();
    if (!this.scanCache || now - this.scanCache.at > SCAN_REUSE_MS) this.scanCache = { at: now, groups: scanGroups() };
    return this.scanCache.groups;
  }

  async portForward(sandboxId: string, port: number): Promise<Duplex> {
    const sb = this.sandboxes.get(sandboxId);
    if (!sb) throw new Error(`sandbox "${sandboxId}" not found`);
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: sb.config.ip, port });
      sock.once('connect', () => {
        sock.removeListener('error', reject);
        resolve(sock);
      });
      sock.once('error', reject);
    });
  }

  unsupported(config: ContainerConfig): string[] {
    const out: string[] = [];
    const mounts = [...config.mounts].sort((a, b) => a.containerPath.length - b.containerPath.length);
    const linked: string[] = [];
    for (const m of mounts) {
      const rel = path.normalize(m.containerPath).replace(/^\/+/, '');
      if (linked.some((p) => rel === p || rel.startsWith(`${p}/`))) {
        out.push(`volume mount ${m.containerPath} is nested in another mount: the process runtime cannot show it`);
        continue;
      }
      linked.push(rel);
      out.push(
        `volume mount ${m.containerPath}: the process sees it at ./${rel} relative to its working directory (a link in the container's directory), not at the absolute path`,
      );
      if (m.readOnly) out.push(`volume mount ${m.containerPath}: readOnly is not enforced by the process runtime`);
    }
    if (config.cpuLimitMillis !== undefined) out.push(`CPU limit ${config.cpuLimitMillis}m is not enforced by the process runtime (no cgroups)`);
    if (config.tty) out.push('tty: the main process gets no pseudo-terminal in the process runtime (stdin is a pipe)');
    return out;
  }

  /** Stops watching; the containers keep running and a new instance over the same stateDir adopts them. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.monitor);
    this.collector.close();
    for (const c of this.containers.values()) {
      for (const e of c.execs) if (e.pid) killGroup(e.pid, 'SIGKILL');
      for (const w of c.waiters.splice(0)) w();
    }
  }
}
