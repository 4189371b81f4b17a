// Pods, scheduler and kubelet (issue 3): each figure next to an anchor measured in this run.
//   node dist/bench/pods.js [--runs 3] [--replicas 100] [--big-replicas 1000] [--workers 10]
//                           [--skip-ready] [--skip-big] [--skip-scheduler] [--cpu-prof DIR]
// From bench/run.ts: `const rows = await runPodBenchmarks()` returns Report rows (bench/report.ts).
//
// 1. `skiff create cluster` (1 node; the seed's 5-node kind config) until it exits — it waits for
//    every Node Ready — median of --runs; anchor: `node -e 0`.
// 2. A Deployment of N `sleep 3600` replicas (image busybox) until the Deployment reports all N
//    available, on 1 node (N = --replicas) and on 1 control plane + --workers workers (N =
//    --big-replicas); anchor: the same N `sleep 3600` spawned bare from this process
//    (child_process.spawn until every 'spawn' event), the physical limit.
// 3. Scheduler throughput: bench/scheduler.ts run as its own process; its own anchor.
// 4. Control-plane RSS growth per pod (the process hosts the kubelets) and the pods' own RSS;
//    anchor: the RSS of the bare `sleep` processes of (2).
// 5. Per-pod creation → Running (client-side watch times) against the bare spawn per process.
//
// Everything runs on 127.0.0.0/8; clusters live in a temp SKIFF_HOME/KUBECONFIG (never ~/.skiff
// or ~/.kube) and are deleted on every path; only processes this bench started (or that its
// clusters started, identified by pid and start time) are ever signalled, always by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { H2Session } from './h2.js';
import { cpuMs, memoryMb, startInterferenceMeter, timeCommand } from './procs.js';
import { Report, type Row } from './report.js';
import { SkiffEnv } from './skiff.js';
import { fmt, median, percentile, sleep } from './stats.js';

export type { Row } from './report.js';

export interface PodBenchOptions {
  /** Cluster creations per configuration (median reported). Default 3. */
  runs?: number;
  /** Replicas of the single-node Deployment. Default 100. */
  replicas?: number;
  /** Replicas of the multi-node Deployment; 0 skips it. Default 1000. */
  bigReplicas?: number;
  /** Worker nodes of the multi-node cluster (110 pods each). Default 10. */
  workers?: number;
  /** Skip the cluster Ready figures. */
  skipReady?: boolean;
  /** Skip bench/scheduler.js. */
  skipScheduler?: boolean;
  /** Profile the pod clusters' control planes (bench/cpu-profile-preload.ts) into this directory. */
  cpuProfDir?: string;
  /** Progress lines (stderr by default). */
  progress?: (msg: string) => void;
}

// dist/bench/pods.js → the repository root.
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SKIFF = join(REPO, 'bin', 'skiff');
const EPSILON_5 = '/work/shared/workshop/k8s-workshop/kind/1-clusters/epsilon-5.yaml';
const SCHEDULER_BENCH = fileURLToPath(new URL('./scheduler.js', import.meta.url));

const CREATE_LIMIT_MS = 120_000;
const DELETE_LIMIT_MS = 180_000;
const SETTLE_MS = 1500;
const SLEEP_ARGV = ['sleep', '3600'];

// ---- /proc ----------------------------------------------------------------------------------

interface ProcId {
  pid: number;
  /** /proc/<pid>/stat field 22: tells a recycled pid apart. */
  start: string;
}

function statOf(pid: number): { state: string; ppid: number; start: string } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0], ppid: Number(f[1]), start: f[19] };
  } catch {
    return undefined;
  }
}

const isAlive = (p: ProcId) => {
  const st = statOf(p.pid);
  return st?.start === p.start && st.state !== 'Z' && st.state !== 'X';
};

/** Every live process whose working directory is under `dir` (containers run in their rootfs there). */
function processesUnder(dir: string): ProcId[] {
  const out: ProcId[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${e}/cwd`);
    } catch {
      continue;
    }
    const st = statOf(Number(e));
    if (st && st.state !== 'Z' && (cwd === dir || cwd.startsWith(`${dir}/`))) out.push({ pid: Number(e), start: st.start });
  }
  return out;
}

/** The process tree under `root` (not including it) whose environment has POD_IP: the containers. */
function containerProcesses(root: number): ProcId[] {
  const children = new Map<number, number[]>();
  const starts = new Map<number, string>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const st = statOf(Number(e));
    if (!st) continue;
    starts.set(Number(e), st.start);
    const list = children.get(st.ppid) ?? [];
    list.push(Number(e));
    children.set(st.ppid, list);
  }
  const out: ProcId[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    stack.push(...(children.get(pid) ?? []));
    let env = '';
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (env.startsWith('POD_IP=') || env.includes('\0POD_IP=')) out.push({ pid, start: starts.get(pid)! });
  }
  return out;
}

const sumRssMb = (ps: ProcId[]) => ps.reduce((a, p) => a + (memoryMb(p.pid).rss || 0), 0);

// ---- the session: everything started, so that every path cleans it up -------------------------

class Session {
  readonly root = mkdtempSync(join(os.tmpdir(), 'skiff-bench-pods-'));
  readonly skiff = new SkiffEnv(this.root);
  /** Bare anchor processes alive. */
  readonly bare = new Set<ChildProcess>();
  /** Container processes our clusters started: checked after every delete. */
  readonly containers = new Map<number, ProcId>();
  /** Container processes `skiff delete cluster` left behind (this bench killed them). */
  leaked = 0;
  private cleaned?: Promise<void>;

  constructor(readonly progress: (msg: string) => void) {}

  async create(name: string, config: string | undefined, extraEnv: NodeJS.ProcessEnv = {}): Promise<number> {
    this.skiff.live.add(name); // before the command: a half-created cluster is cleaned up too
    const args = [SKIFF, 'create', 'cluster', '--name', name, ...(config ? ['--config', config] : [])];
    const r = await timeCommand(process.execPath, args, { ...this.skiff.env, ...extraEnv }, CREATE_LIMIT_MS);
    if (r.code !== 0) throw new Error(`skiff create cluster --name ${name} failed (${r.code}):\n${r.output}`);
    return r.ms;
  }

  async delete(name: string): Promise<number> {
    const r = await timeCommand(process.execPath, [SKIFF, 'delete', 'cluster', '--name', name], this.skiff.env, DELETE_LIMIT_MS);
    if (r.code !== 0 && !/unknown cluster/.test(r.output)) throw new Error(`skiff delete cluster --name ${name} failed (${r.code}):\n${r.output}`);
    this.skiff.live.delete(name);
    await this.reapContainers();
    return r.ms;
  }

  /**
   * Containers that outlived their cluster's deletion — the ones seen while it ran, and any process
   * whose working directory is under this bench's SKIFF_HOME — reported, then SIGKILLed by pid.
   */
  async reapContainers(): Promise<void> {
    const stray = () => {
      for (const p of processesUnder(this.skiff.home)) this.containers.set(p.pid, p);
      return [...this.containers.values()].filter(isAlive);
    };
    for (let i = 0; i < 20 && stray().length; i++) await sleep(100);
    const left = stray();
    if (left.length) {
      this.leaked += left.length;
      this.progress(`WARNING: ${left.length} container processes outlived their cluster (e.g. pid ${left[0].pid}); killing them`);
      for (const p of left) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      for (let i = 0; i < 50 && left.some(isAlive); i++) await sleep(100);
      const still = left.filter(isAlive);
      if (still.length) this.progress(`WARNING: ${still.length} container processes survived SIGKILL (e.g. pid ${still[0].pid})`);
    }
    this.containers.clear();
  }

  killBare(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const c of this.bare) {
      waits.push(new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r()))));
      c.kill('SIGKILL');
    }
    return Promise.race([Promise.all(waits).then(() => undefined), sleep(10_000)]).then(() => this.bare.clear());
  }

  cleanup(): Promise<void> {
    this.cleaned ??= (async () => {
      await this.killBare();
      for (const name of [...this.skiff.live]) {
        try {
          await this.delete(name);
        } catch (e) {
          this.progress(`WARNING: ${(e as Error).message}`);
        }
      }
      await this.reapContainers();
      rmSync(this.root, { recursive: true, force: true });
    })();
    return this.cleaned;
  }
}

// ---- anchors ------------------------------------------------------------------------------------

async function nodeStartMs(runs: number): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) ms.push((await timeCommand(process.execPath, ['-e', '0'], process.env)).ms);
  return median(ms);
}

interface BareSpawn {
  /** First spawn() call to the last 'spawn' event. */
  wallMs: number;
  perProcessMs: number;
  /** RSS of one bare `sleep 3600`, MB (mean). */
  rssMb: number;
}

/** N × `sleep 3600` spawned as the process runtime does (detached), until every 'spawn' event; then killed. */
async function bareSpawn(s: Session, n: number): Promise<BareSpawn> {
  const t0 = performance.now();
  const spawned: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const c = spawn(SLEEP_ARGV[0], SLEEP_ARGV.slice(1), { detached: true, stdio: 'ignore' });
    s.bare.add(c);
    spawned.push(new Promise((resolve, reject) => {
      c.once('spawn', resolve);
      c.once('error', reject);
    }));
  }
  await Promise.all(spawned);
  const wallMs = performance.now() - t0;
  await sleep(300);
  const rss = [...s.bare].map((c) => memoryMb(c.pid!).rss).filter(Number.isFinite);
  await s.killBare();
  return { wallMs, perProcessMs: wallMs / n, rssMb: rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length) };
}

// ---- CPU profile of the control plane during one phase (V8 inspector on 127.0.0.1) --------------

/**
 * The control plane runs with NODE_OPTIONS=--inspect=127.0.0.1:0; this attaches to the inspector
 * URL it logged and profiles from now until `stop`, which writes `file`. Only the measured phase is
 * profiled, and a control plane that has to be SIGKILLed still yields its profile.
 */
async function startProfiler(logFile: string, file: string): Promise<{ stop(): Promise<void> }> {
  const url = [...readFileSync(logFile, 'utf8').matchAll(/Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/g)].pop()?.[1];
  if (!url) throw new Error(`no inspector URL in ${logFile}`);
  const ws = new WebSocket(url);
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  let id = 0;
  const pending = new Map<number, (r: { result?: any; error?: any }) => void>();
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
  });
  const call = (method: string, params: object = {}, timeoutMs = 60_000) =>
    new Promise<any>((res, rej) => {
      const n = ++id;
      const timer = setTimeout(() => rej(new Error(`inspector ${method}: no answer in ${timeoutMs} ms`)), timeoutMs);
      pending.set(n, (r) => {
        clearTimeout(timer);
        pending.delete(n);
        if (r.error) rej(new Error(`inspector ${method}: ${JSON.stringify(r.error)}`));
        else res(r.result);
      });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  await call('Profiler.enable');
  await call('Profiler.setSamplingInterval', { interval: 500 });
  await call('Profiler.start');
  return {
    async stop() {
      try {
        const { profile } = await call('Profiler.stop', {}, 120_000);
        writeFileSync(file, JSON.stringify(profile));
      } finally {
        ws.close();
      }
    },
  };
}

// ---- a Deployment of sleepers -------------------------------------------------------------------

interface PodTimes {
  added: number;
  scheduled?: number;
  running?: number;
  ready?: number;
}

interface DeploymentRun {
  replicas: number;
  nodes: number;
  /** POST of the Deployment → the Deployment reports every replica available (NaN if never). */
  availableMs: number;
  /** POST → the last pod seen Running / Ready on the watch. */
  lastRunningMs: number;
  lastReadyMs: number;
  running: number;
  ready: number;
  /** After the POST: when the first and last pod was seen ADDED / scheduled / Running (ms). */
  spread: { added: [number, number]; scheduled: [number, number]; running: [number, number] };
  /** Per pod, from its ADDED event: medians and p95 (ms). */
  toScheduled: { p50: number; p95: number };
  toRunning: { p50: number; p95: number };
  toReady: { p50: number; p95: number };
  /** Control-plane RSS before the Deployment and after every pod is up (settled), MB. */
  cpIdleMb: number;
  cpAfterMb: number;
  cpCpuMs: number;
  /** Container processes found and their summed RSS, MB. */
  containers: number;
  containersRssMb: number;
  interference: number;
  /** Store writes (revisions) from the POST to the end of the run, every kind together. */
  writes: number;
  limitMs: number;
  timedOut: boolean;
  /** Container processes still alive after `skiff delete cluster` returned (killed by this bench). */
  leakedOnDelete?: number;
}

function deployment(name: string, replicas: number): string {
  return JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', labels: { bench: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'sleep', image: 'busybox', command: SLEEP_ARGV }] },
      },
    },
  });
}

/** Newline-delimited JSON watch events → callback. */
function lines(onEvent: (ev: { type: string; object: Record<string, any> }) => void): (chunk: Buffer) => void {
  let partial = '';
  return (chunk) => {
    const text = partial + chunk.toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = text.slice(start, nl);
      start = nl + 1;
      if (line.trim()) onEvent(JSON.parse(line));
    }
    partial = text.slice(start);
  };
}

const quantiles = (xs: number[]) => ({ p50: median(xs), p95: percentile(xs, 95) });

async function runDeployment(s: Session, cluster: string, nodes: number, replicas: number, limitMs: number, cpuProfDir?: string): Promise<DeploymentRun> {
  const pid = s.skiff.pid(cluster);
  const { server, tls } = s.skiff.credentials(cluster);
  const api = await H2Session.connect(server, tls);
  const watchSession = await H2Session.connect(server, tls);
  const closers: (() => void)[] = [];
  try {
    await sleep(SETTLE_MS);
    const cpIdleMb = memoryMb(pid).rss;
    const name = `sleepers-${replicas}`;
    const pods = new Map<string, PodTimes>();
    let availableAt = NaN;
    let t0 = 0;
    let notify = () => {};
    const podWatch = await watchSession.stream('GET', `/api/v1/namespaces/default/pods?watch=1&labelSelector=${encodeURIComponent(`app=${name}`)}`, undefined,
      lines(({ type, object: o }) => {
        if (type !== 'ADDED' && type !== 'MODIFIED') return;
        const now = performance.now();
        const key = o.metadata?.name as string;
        let p = pods.get(key);
        if (!p) pods.set(key, (p = { added: now }));
        if (p.scheduled === undefined && o.spec?.nodeName) p.scheduled = now;
        if (p.running === undefined && o.status?.phase === 'Running') p.running = now;
        if (p.ready === undefined && (o.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')) {
          p.ready = now;
          notify();
        }
      }));
    if (podWatch.status !== 200) throw new Error(`pod watch: status ${podWatch.status}`);
    closers.push(podWatch.close);
    const deployWatch = await watchSession.stream('GET', `/apis/apps/v1/namespaces/default/deployments?watch=1&labelSelector=${encodeURIComponent(`bench=${name}`)}`, undefined,
      lines(({ type, object: o }) => {
        const st = o.status ?? {};
        if (Number.isNaN(availableAt) && type !== 'DELETED' && st.availableReplicas === replicas && st.updatedReplicas === replicas && st.readyReplicas === replicas) {
          availableAt = performance.now();
          notify();
        }
      }));
    if (deployWatch.status !== 200) throw new Error(`deployment watch: status ${deployWatch.status}`);
    closers.push(deployWatch.close);

    const profiler = cpuProfDir
      ? await startProfiler(join(s.skiff.clusterDir(cluster), 'logs', 'controlplane.log'), join(cpuProfDir, `${cluster}-${replicas}-pods.cpuprofile`))
      : undefined;
    const revision = async () => {
      const r = await api.request('GET', '/api/v1/namespaces/default/configmaps?limit=1');
      return Number(JSON.parse(r.body).metadata?.resourceVersion ?? NaN);
    };
    const rv0 = await revision();
    const meter = startInterferenceMeter(pid);
    const cpu0 = cpuMs(pid);
    t0 = performance.now();
    const r = await api.request('POST', '/apis/apps/v1/namespaces/default/deployments', deployment(name, replicas));
    if (r.status !== 201) throw new Error(`creating deployment ${name}: ${r.status} ${r.body.slice(0, 300)}`);
    const readyCount = () => [...pods.values()].filter((p) => p.ready !== undefined).length;
    const done = () => !Number.isNaN(availableAt) && readyCount() >= replicas;
    const deadline = t0 + limitMs;
    let lastReport = t0;
    while (!done() && performance.now() < deadline) {
      await Promise.race([new Promise<void>((res) => (notify = res)), sleep(1000)]);
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        s.progress(`  ${name}: ${pods.size} pods, ${readyCount()} ready after ${fmt((lastReport - t0) / 1000)} s`);
      }
    }
    const timedOut = !done();
    const cpCpuMs = cpuMs(pid) - cpu0;
    const interference = meter();
    await profiler?.stop();
    // The store has one revision for everything: its growth is the number of writes the run caused.
    const writes = (await revision()) - rv0;
    await sleep(SETTLE_MS);
    const cpAfterMb = memoryMb(pid).rss;
    const found = containerProcesses(pid);
    for (const p of found) s.containers.set(p.pid, p);
    const containersRssMb = sumRssMb(found);

    const all = [...pods.values()];
    const since = (pick: (p: PodTimes) => number | undefined) => all.map((p) => (pick(p) ?? NaN) - p.added).filter(Number.isFinite);
    const last = (pick: (p: PodTimes) => number | undefined) => {
      const xs = all.map(pick).filter((x): x is number => x !== undefined);
      return xs.length === replicas ? Math.max(...xs) - t0 : NaN;
    };
    const range = (pick: (p: PodTimes) => number | undefined): [number, number] => {
      const xs = all.map(pick).filter((x): x is number => x !== undefined).map((x) => x - t0);
      return xs.length ? [Math.min(...xs), Math.max(...xs)] : [NaN, NaN];
    };
    return {
      replicas, nodes,
      spread: { added: range((p) => p.added), scheduled: range((p) => p.scheduled), running: range((p) => p.running) },
      availableMs: availableAt - t0,
      lastRunningMs: last((p) => p.running),
      lastReadyMs: last((p) => p.ready),
      running: all.filter((p) => p.running !== undefined).length,
      ready: readyCount(),
      toScheduled: quantiles(since((p) => p.scheduled)),
      toRunning: quantiles(since((p) => p.running)),
      toReady: quantiles(since((p) => p.ready)),
      cpIdleMb, cpAfterMb, cpCpuMs,
      containers: found.length,
      containersRssMb,
      interference,
      writes,
      limitMs,
      timedOut,
    };
  } finally {
    for (const c of closers) c();
    api.close();
    watchSession.close();
  }
}

/** A cluster created for one Deployment run and deleted whatever happens. */
async function deploymentOnCluster(s: Session, o: { cluster: string; config?: string; nodes: number; replicas: number; limitMs: number; cpuProfDir?: string }): Promise<{ run: DeploymentRun; createMs: number; deleteMs: number }> {
  const env = o.cpuProfDir ? { NODE_OPTIONS: '--inspect=127.0.0.1:0' } : {};
  let deleteMs = NaN;
  try {
    const createMs = await s.create(o.cluster, o.config, env);
    const run = await runDeployment(s, o.cluster, o.nodes, o.replicas, o.limitMs, o.cpuProfDir);
    // Containers started after the snapshot (a replaced pod) are found again just before the delete.
    for (const p of containerProcesses(s.skiff.pid(o.cluster))) s.containers.set(p.pid, p);
    const leaked = s.leaked;
    deleteMs = await s.delete(o.cluster);
    run.leakedOnDelete = s.leaked - leaked;
    return { run, createMs, deleteMs };
  } finally {
    if (s.skiff.live.has(o.cluster)) await s.delete(o.cluster).catch((e) => s.progress(`WARNING: ${(e as Error).message}`));
  }
}

// ---- scheduler (bench/scheduler.ts, its own process) --------------------------------------------

interface SchedulerFigures {
  output: string;
  anchor: number;
  /** pods bound/s by node count, events on. */
  bound: Map<number, number>;
}

async function runScheduler(): Promise<SchedulerFigures> {
  const r = await timeCommand(process.execPath, [SCHEDULER_BENCH], process.env, 300_000);
  if (r.code !== 0) throw new Error(`bench/scheduler.js failed (${r.code}):\n${r.output}`);
  const anchor = Number(/^anchor\s+in-process pod updates\/s\s+(\d+)/m.exec(r.output)?.[1] ?? NaN);
  const bound = new Map<number, number>();
  for (const m of r.output.matchAll(/^scheduler nodes\s+(\d+)\s+events on\s+pods bound\/s\s+(\d+)/gm)) bound.set(Number(m[1]), Number(m[2]));
  return { output: r.output.trimEnd(), anchor, bound };
}

// ---- the whole benchmark ------------------------------------------------------------------------

function workersConfig(dir: string, workers: number): string {
  const file = join(dir, `workers-${workers}.yaml`);
  const nodes = ['- role: control-plane', ...Array.from({ length: workers }, () => '- role: worker')];
  writeFileSync(file, ['kind: Cluster', 'apiVersion: kind.x-k8s.io/v1alpha4', 'nodes:', ...nodes, ''].join('\n'));
  return file;
}

function describeRun(label: string, d: DeploymentRun, bare: BareSpawn, createMs: number, deleteMs: number): void {
  const q = (x: { p50: number; p95: number }) => `${fmt(x.p50)}/${fmt(x.p95)} ms`;
  console.log(`${label}: ${d.replicas} replicas on ${d.nodes} node(s): Deployment available after ${fmt(d.availableMs)} ms` +
    `${d.timedOut ? ` — TIMED OUT with ${d.running} running, ${d.ready} ready` : ''}; last pod Running ${fmt(d.lastRunningMs)} ms, Ready ${fmt(d.lastReadyMs)} ms`);
  console.log(`  bare spawn of ${d.replicas} × sleep 3600: ${fmt(bare.wallMs)} ms (${fmt(bare.perProcessMs)} ms per process, ${fmt(bare.rssMb * 1024)} kB RSS each)`);
  const span = (r: [number, number]) => `${fmt(r[0])}–${fmt(r[1])}`;
  console.log(`  after the POST (first–last pod, ms): ADDED ${span(d.spread.added)}, scheduled ${span(d.spread.scheduled)}, Running ${span(d.spread.running)}`);
  console.log(`  per pod from ADDED (p50/p95): → scheduled ${q(d.toScheduled)}, → Running ${q(d.toRunning)}, → Ready ${q(d.toReady)}`);
  console.log(`  control plane: RSS ${fmt(d.cpIdleMb)} MB idle → ${fmt(d.cpAfterMb)} MB with the pods (${fmt(((d.cpAfterMb - d.cpIdleMb) * 1024) / d.replicas)} kB per pod); CPU ${fmt(d.cpCpuMs)} ms (${fmt(d.cpCpuMs / d.replicas)} ms per pod); ${fmt(d.writes)} store writes (${fmt(d.writes / d.replicas)} per pod); other processes took ${Math.round(d.interference * 100)}% of the machine`);
  console.log(`  ${d.containers} container processes, ${fmt(d.containersRssMb)} MB RSS in all (${fmt((d.containersRssMb * 1024) / Math.max(1, d.containers))} kB each); cluster create ${fmt(createMs)} ms, delete ${fmt(deleteMs)} ms`);
  if (d.leakedOnDelete) console.log(`  !!! skiff delete cluster left ${d.leakedOnDelete} container processes running (this bench killed them by pid) !!!`);
}

export async function runPodBenchmarks(options: PodBenchOptions = {}): Promise<Row[]> {
  const runs = options.runs ?? 3;
  const replicas = options.replicas ?? 100;
  const bigReplicas = options.bigReplicas ?? 1000;
  const workers = options.workers ?? 10;
  const progress = options.progress ?? ((m: string) => process.stderr.write(`[pods] ${m}\n`));
  const s = new Session(progress);
  const cpuProfDir = options.cpuProfDir ? resolve(options.cpuProfDir) : undefined;
  if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
  const report = new Report();
  const cleanupOnSignal = () => void s.cleanup().finally(() => process.exit(130));
  process.once('SIGINT', cleanupOnSignal);
  process.once('SIGTERM', cleanupOnSignal);
  try {
    console.log(`pods bench — ${new Date().toISOString()} — ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    progress(`anchor: node -e 0 x${runs}`);
    const nodeMs = await nodeStartMs(runs);

    if (!options.skipReady) report.section(`cluster Ready: skiff create cluster until it exits (median of ${runs})`);
    for (const [label, config, target] of options.skipReady ? [] :  [['1 node', undefined, undefined], ['seed epsilon-5 (2 control planes + 3 workers)', EPSILON_5, 3000]] as const) {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        progress(`create cluster ${label} #${i + 1}`);
        const name = `ready-${config ? 'e5' : 'n1'}-${i}`;
        try {
          times.push(await s.create(name, config));
        } finally {
          await s.delete(name);
        }
      }
      const ms = median(times);
      console.log(`create cluster, ${label}: ${times.map(fmt).join(', ')} ms (node -e 0: ${fmt(nodeMs)} ms)`);
      report.add({ figure: `${label} → all nodes Ready`, unit: 'ms', skiff: ms, anchors: [{ name: 'node -e 0', value: nodeMs }],
        ...(target ? { target: { text: `< ${target} ms`, pass: ms < target } } : {}) });
    }

    const runsOut: { label: string; d: DeploymentRun; bare: BareSpawn; target?: number }[] = [];
    const plans = [
      { cluster: 'pods-1', config: undefined, nodes: 1, replicas, limitMs: 120_000, target: 3000, repeat: runs },
      ...(bigReplicas > 0 ? [{ cluster: `pods-${workers + 1}`, config: workersConfig(s.root, workers), nodes: workers + 1, replicas: bigReplicas, limitMs: 240_000, target: undefined, repeat: 1 }] : []),
    ];
    for (const plan of plans) {
      const label = `${plan.replicas} pods / ${plan.nodes} node${plan.nodes > 1 ? 's' : ''}`;
      const tries: { run: DeploymentRun; bare: BareSpawn }[] = [];
      for (let i = 0; i < plan.repeat; i++) {
        progress(`bare spawn anchor: ${plan.replicas} × sleep 3600`);
        const bare = await bareSpawn(s, plan.replicas);
        progress(`Deployment of ${plan.replicas} on ${plan.nodes} node(s)${plan.repeat > 1 ? ` #${i + 1}` : ''}`);
        // A profile of the first run is enough.
        const { run, createMs, deleteMs } = await deploymentOnCluster(s, { ...plan, cpuProfDir: i === 0 ? cpuProfDir : undefined });
        describeRun(`${label}${plan.repeat > 1 ? ` #${i + 1}` : ''}`, run, bare, createMs, deleteMs);
        tries.push({ run, bare });
      }
      // The median run by its headline figure (a run that timed out counts as the slowest); the
      // anchor is the median of the bare spawns, each measured just before its run.
      const byTime = [...tries].sort((a, b) => (a.run.availableMs || Infinity) - (b.run.availableMs || Infinity));
      const mid = byTime[Math.floor((byTime.length - 1) / 2)];
      const bare: BareSpawn = {
        wallMs: median(tries.map((t) => t.bare.wallMs)),
        perProcessMs: median(tries.map((t) => t.bare.perProcessMs)),
        rssMb: median(tries.map((t) => t.bare.rssMb)),
      };
      if (plan.repeat > 1) console.log(`${label}: Deployment available after ${tries.map((t) => fmt(t.run.availableMs)).join(', ')} ms; bare spawns ${tries.map((t) => fmt(t.bare.wallMs)).join(', ')} ms`);
      runsOut.push({ label: plan.repeat > 1 ? `${label} (median of ${plan.repeat})` : label, d: mid.run, bare, target: plan.target });
    }

    report.section('Deployment of sleep 3600 replicas → all available (Running and Ready)');
    for (const { label, d, bare, target } of runsOut) {
      report.add({ figure: label, unit: 'ms', skiff: d.availableMs, anchors: [{ name: `bare spawn × ${d.replicas}`, value: bare.wallMs }],
        ...(target ? { target: { text: `< ${target} ms`, pass: d.availableMs < target } } : {}) });
    }
    report.section('pod start vs bare spawn, per pod');
    for (const { label, d, bare } of runsOut) {
      report.add({ figure: `${label}: creation → Running, p50`, unit: 'ms', skiff: d.toRunning.p50, anchors: [{ name: 'bare spawn per process', value: bare.perProcessMs }] });
      report.add({ figure: `${label}: all Running ÷ pods`, unit: 'ms', skiff: d.lastRunningMs / d.replicas, anchors: [{ name: 'bare spawn per process', value: bare.perProcessMs }] });
    }
    report.section('memory per pod');
    for (const { label, d, bare } of runsOut) {
      report.add({ figure: `${label}: control-plane RSS growth ÷ pods`, unit: 'MB', skiff: (d.cpAfterMb - d.cpIdleMb) / d.replicas, anchors: [{ name: 'bare sleep RSS', value: bare.rssMb }] });
      report.add({ figure: `${label}: container RSS ÷ pods`, unit: 'MB', skiff: d.containersRssMb / Math.max(1, d.containers), anchors: [{ name: 'bare sleep RSS', value: bare.rssMb }] });
    }

    if (!options.skipScheduler) {
      progress('scheduler: node dist/bench/scheduler.js');
      const sched = await runScheduler();
      console.log(`scheduler (node dist/bench/scheduler.js):\n  ${sched.output.split('\n').join('\n  ')}`);
      report.section('scheduler: 1,000 pending pods bound (in-process API, events on)');
      for (const [nodes, rate] of sched.bound) {
        report.add({ figure: `${nodes} nodes`, unit: '/s', skiff: rate, anchors: [{ name: 'in-process pod updates', value: sched.anchor }], target: { text: '≥ 500/s', pass: rate >= 500 } });
      }
    }
    report.notes.push('Cluster and pod figures: `bin/skiff` as a child with a temp SKIFF_HOME/KUBECONFIG; pod times from a watch in this process (client clock).');
    if (cpuProfDir) report.notes.push(`Pod clusters' control planes ran with --inspect and were profiled during the Deployment: ${cpuProfDir}/*.cpuprofile (node dist/bench/profile-summary.js FILE); their figures include the profiler's cost.`);
    for (const { label, d } of runsOut) if (d.timedOut) report.notes.push(`${label}: not all available within the ${fmt(d.limitMs / 1000)} s limit — ${d.ready} of ${d.replicas} pods Ready by then.`);
    for (const { label, d } of runsOut) if (d.leakedOnDelete) report.notes.push(`${label}: \`skiff delete cluster\` left ${d.leakedOnDelete} container processes running (killed by the bench).`);
    console.log('\n' + report.render());
    return report.rows;
  } finally {
    process.off('SIGINT', cleanupOnSignal);
    process.off('SIGTERM', cleanupOnSignal);
    progress('cleaning up');
    await s.cleanup();
  }
}

// Run alone: node dist/bench/pods.js
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      replicas: { type: 'string', default: '100' },
      'big-replicas': { type: 'string', default: '1000' },
      workers: { type: 'string', default: '10' },
      'skip-big': { type: 'boolean', default: false },
      'skip-scheduler': { type: 'boolean', default: false },
      'skip-ready': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
    },
  });
  const watchdog = setTimeout(() => {
    console.error('pods bench: past 20 minutes, giving up');
    process.kill(process.pid, 'SIGTERM');
  }, 20 * 60_000);
  watchdog.unref();
  try {
    await runPodBenchmarks({
      runs: Number(values.runs), replicas: Number(values.replicas), workers: Number(values.workers),
      bigReplicas: values['skip-big'] ? 0 : Number(values['big-replicas']),
      skipScheduler: values['skip-scheduler'], skipReady: values['skip-ready'], cpuProfDir: values['cpu-prof'],
    });
  } catch (e) {
    console.error(`pods bench FAILED: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  }
}
