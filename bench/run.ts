// `npm run bench`: the API server and store, each figure next to an anchor measured in this run.
//   node dist/bench/run.js [--runs 5] [--count 10000] [--concurrency 32] [--watchers 100]
//                          [--no-etcd] [--cpu-prof DIR]
// --cpu-prof DIR runs the workload cluster (CLI and server) under the V8 profiler (see
// cpu-profile-preload.ts), writing .cpuprofile files to DIR when the cluster is deleted; its
// start-up is then left out of the figures.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { etcdInstalled, startEtcd, type Etcd } from './etcd.js';
import { bareNodeRssMb, cpuMs, memoryMb, timeCommand } from './procs.js';
import { SkiffEnv, type CreateTiming } from './skiff.js';
import { fmt, median, pct, sleep } from './stats.js';
import { runStoreAnchor } from './store-anchor.js';
import { EtcdTarget, SkiffTarget, type Target } from './targets.js';
import { buildReport, type EtcdResults } from './summary.js';
import { runCrud, runFanout, type BenchOptions, type CrudResult, type FanoutResult, type OpStats } from './workloads.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    count: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    watchers: { type: 'string', default: '100' },
    'no-etcd': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    // Only the API/store figures (issue 2), or fewer repetitions of the pod figures.
    'api-only': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});
function positive(name: string, text: string | undefined): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return n;
}
const RUNS = positive('runs', args.runs);
const OPTS: BenchOptions = {
  count: positive('count', args.count), concurrency: positive('concurrency', args.concurrency), watchers: positive('watchers', args.watchers),
  phaseLimitMs: 60_000, fanoutLimitMs: 30_000,
};
const PROFILE_DIR = args['cpu-prof'] ? resolve(args['cpu-prof']) : undefined;
/** The whole bench is abandoned (and cleaned up) past this. */
const OVERALL_LIMIT_MS = 15 * 60_000;
const IDLE_SETTLE_MS = 1000;
const WORKLOAD_CLUSTER = 'bench';

const started = performance.now();
const progress = (msg: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${msg}\n`);

// Everything the bench starts, so that cleanup (normal, failure, Ctrl-C, time limit) ends it.
const root = mkdtempSync(join(os.tmpdir(), 'skiff-bench-'));
const shmRoot = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/skiff-bench-') : undefined;
const skiff = new SkiffEnv(root);
const etcds = new Set<Etcd>();
const targets = new Set<Target>();

let cleaned: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    for (const t of targets) t.close();
    for (const e of etcds) await e.stop();
    await skiff.deleteAll();
    for (const dir of [root, shmRoot]) if (dir) rmSync(dir, { recursive: true, force: true });
  })();
  return cleaned;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  progress(`ERROR: the bench ran past ${OVERALL_LIMIT_MS / 60_000} minutes; cleaning up`);
  void cleanup().finally(() => process.exit(1));
}, OVERALL_LIMIT_MS);
watchdog.unref();

/** `skiff create cluster` RUNS times; every cluster is deleted except the workload one. */
async function measureSkiffStartup(): Promise<CreateTiming[]> {
  const s: CreateTiming[] = [];
  for (let i = 0; i < RUNS; i++) {
    const keep = i === RUNS - 1 && !PROFILE_DIR;
    const name = keep ? WORKLOAD_CLUSTER : `startup-${i}`;
    s.push(await skiff.create(name));
    if (!keep) await skiff.delete(name);
  }
  if (PROFILE_DIR) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    const preload = new URL('./cpu-profile-preload.js', import.meta.url).href;
    await skiff.create(WORKLOAD_CLUSTER, { NODE_OPTIONS: `--import ${preload}`, SKIFF_BENCH_PROF_DIR: PROFILE_DIR });
  }
  return s;
}

const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

async function nodeStartMs(): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push((await timeCommand(process.execPath, ['-e', '0'], process.env)).ms);
  return median(runs);
}

/** etcd TLS material: the Skiff API server's own certificate, so both pay the same handshake. */
function etcdTls() {
  const ca = skiff.credentials(WORKLOAD_CLUSTER).tls.ca;
  return { certFile: skiff.pkiFile(WORKLOAD_CLUSTER, 'apiserver.crt'), keyFile: skiff.pkiFile(WORKLOAD_CLUSTER, 'apiserver.key'), ca };
}

async function launchEtcd(dataDir: string): Promise<Etcd> {
  const e = await startEtcd(dataDir, etcdTls());
  etcds.add(e);
  return e;
}

async function stopEtcd(e: Etcd): Promise<void> {
  await e.stop();
  etcds.delete(e);
}

/** etcd start-to-ready RUNS times on disk; the last one is kept for the workload. */
async function measureEtcdStartup(): Promise<{ readyMs: number[]; etcd: Etcd }> {
  const readyMs: number[] = [];
  for (let i = 0; ; i++) {
    const e = await launchEtcd(join(root, `etcd-${i}`));
    readyMs.push(e.readyMs);
    if (i === RUNS - 1) return { readyMs, etcd: e };
    await stopEtcd(e);
  }
}

async function connect<T extends Target>(make: Promise<T>): Promise<T> {
  const t = await make;
  targets.add(t);
  return t;
}

function release(t: Target): void {
  t.close();
  targets.delete(t);
}

function describeOp(label: string, s: OpStats): string {
  const errors = s.errors ? `  !!! ${s.errors} ERRORS (first: ${s.firstError})` : '';
  const cut = s.timedOut ? ` (cut short by the time limit after ${s.done})` : '';
  return `${label} ${fmt(s.perSecond)}/s  p50 ${fmt(s.p50)} ms  p99 ${fmt(s.p99)} ms${cut}${errors}`;
}

function printCrud(label: string, r: CrudResult): void {
  console.log(`${label}: ${describeOp('create', r.create)} | warm ${describeOp('create', r.warmCreate)} | ${describeOp('get', r.get)}`);
  console.log(`${' '.repeat(label.length)}  list ${OPTS.count}: ${fmt(r.listAllMs)} ms (paged by 500: ${fmt(r.listPagedMs)} ms)  watch ${fmt(r.watchPerSecond)} events/s (last one ${fmt(r.watchLagMs)} ms after the last create), missed ${r.watchMissed}  server CPU ${fmt(r.cpuPerKCreateMs)} ms/1k creates (client ${fmt(r.clientCpuPerKCreateMs)}), ${fmt(r.cpuPerKGetMs)} ms/1k gets; other processes took ${pct(r.interference)} of the machine`);
  if (r.watchMissed) console.log(`!!! ${label}: THE WATCHER MISSED ${r.watchMissed} EVENTS !!!`);
}

function printFanout(label: string, r: FanoutResult): void {
  console.log(`${label}: ${r.watchers} watchers, ${describeOp('create', r.create)}, ${fmt(r.eventsPerSecond)} events/s delivered, last one after ${fmt(r.deliveryMs)} ms (${fmt(r.lagMs)} ms after the last create), server CPU ${fmt(r.cpuMs)} ms (client ${fmt(r.clientCpuMs)} ms), missed ${r.missed}; other processes took ${pct(r.interference)} of the machine`);
  if (r.missed || r.unexpected) console.log(`!!! ${label}: EVENTS MISSED: ${r.missed}, UNEXPECTED LINES: ${r.unexpected} !!!`);
}

async function benchEtcd(): Promise<EtcdResults> {
  const version = /etcd Version: (\S+)/.exec(execFileSync('etcd', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  progress(`etcd ${version}: start-up x${RUNS}`);
  const { readyMs, etcd } = await measureEtcdStartup();
  await sleep(IDLE_SETTLE_MS);
  const idleMb = memoryMb(etcd.pid).rss;
  const tls = { ca: etcdTls().ca };
  progress('etcd (data on disk, fsync per commit): CRUD, then fan-out');
  const target = await connect(EtcdTarget.connect('etcd', etcd.origin, tls, etcd.pid));
  const disk = await runCrud(target, 'crud', OPTS);
  printCrud('etcd disk ', disk);
  const fanout = await runFanout(target, 'fanout', OPTS);
  printFanout('etcd      ', fanout);
  release(target);
  await sleep(IDLE_SETTLE_MS);
  const mem = memoryMb(etcd.pid);
  await stopEtcd(etcd);
  let tmpfs: CrudResult | undefined;
  if (shmRoot) {
    // The same etcd with its data on tmpfs, where fsync is free: Skiff's SQLite commits do not
    // fsync either (WAL, synchronous=NORMAL), so this is the like-for-like durability anchor.
    progress('etcd (data on tmpfs, fsync free): CRUD');
    const e = await launchEtcd(join(shmRoot, 'etcd'));
    const t = await connect(EtcdTarget.connect('etcd-tmpfs', e.origin, tls, e.pid));
    tmpfs = await runCrud(t, 'crud', OPTS);
    printCrud('etcd tmpfs', tmpfs);
    release(t);
    await stopEtcd(e);
  }
  return { version, readyMs, idleMb, afterMb: mem.rss, peakMb: mem.peak, disk, fanout, tmpfs };
}

async function main(): Promise<void> {
  const cpu = os.cpus();
  // Other work on the machine skews every figure: the load average is printed to judge that.
  console.log(`skiff bench — ${new Date().toISOString()} — ${cpu.length} × ${cpu[0]?.model ?? '?'}, Node ${process.version}, load average ${loadAverage()}`);
  progress(`anchors: node -e 0 x${RUNS}, bare node RSS`);
  const nodeMs = await nodeStartMs();
  const bareNodeMb = await bareNodeRssMb();

  progress(`skiff create cluster x${RUNS}`);
  const startup = await measureSkiffStartup();
  const phase = (pick: (t: CreateTiming) => number) => `${fmt(median(startup.map(pick)))} ms`;
  console.log(`create cluster → ready: ${startup.map((t) => fmt(t.ms)).join(', ')} ms (node -e 0: ${fmt(nodeMs)} ms)`);
  console.log(`  medians: spawn → server's "starting" line ${phase((t) => t.beforeControlPlaneMs)} (CLI start, certificates, server start + module loading); control plane ${phase((t) => t.controlPlaneMs)}; ready → CLI exit ${phase((t) => t.afterReadyMs)}`);
  const pid = skiff.pid(WORKLOAD_CLUSTER);
  await sleep(IDLE_SETTLE_MS);
  const idleMb = memoryMb(pid).rss;

  const { server, tls } = skiff.credentials(WORKLOAD_CLUSTER);
  progress('skiff: CRUD');
  const api = await connect(SkiffTarget.connect(server, tls, pid));
  const crud = await runCrud(api, 'bench-crud', OPTS);
  printCrud('skiff     ', crud);
  const afterCrudMb = memoryMb(pid).rss; // separates the growth due to objects from that due to watchers
  progress(`skiff: fan-out to ${OPTS.watchers} watchers`);
  const fanout = await runFanout(api, 'bench-fanout', OPTS);
  printFanout('skiff     ', fanout);
  release(api);
  await sleep(2 * IDLE_SETTLE_MS);
  const after = memoryMb(pid);
  console.log(`skiff RSS: ${fmt(idleMb)} MB idle after start, ${fmt(afterCrudMb)} MB after CRUD, ${fmt(after.rss)} MB after the fan-out (peak ${fmt(after.peak)} MB)`);

  // The anchor must run alone: Skiff's idle server should burn no CPU meanwhile.
  const skiffCpuBefore = cpuMs(pid);
  let etcd: EtcdResults | undefined;
  if (args['no-etcd']) console.log('etcd anchor skipped (--no-etcd).');
  else if (!etcdInstalled()) console.log('etcd anchor SKIPPED: etcd is not installed (Debian: apt-get install etcd-server).');
  else etcd = await benchEtcd();
  const skiffCpuDuringAnchorsMs = cpuMs(pid) - skiffCpuBefore;

  progress('in-process store anchor (bench/store.ts)');
  const store = await runStoreAnchor(OPTS.count);
  console.log(`in-process store anchor (node dist/bench/store.js ${OPTS.count}):\n  ${store.output.split('\n').join('\n  ')}`);

  console.log(`load average at the end: ${loadAverage()}`);
  const report = buildReport({ startup, nodeMs, bareNodeMb, idleMb, afterMb: after.rss, peakMb: after.peak, crud, fanout, etcd, store, skiffCpuDuringAnchorsMs },
    { runs: RUNS, opts: OPTS, profileDir: PROFILE_DIR });
  console.log('\n' + report.render());
}

/**
 * The other areas' benchmarks, each its own process with its own anchors: pods/scheduler/kubelet
 * (issue 3), and the data plane — service proxy and ingress against direct, nginx and haproxy.
 */
function runAreaBenchmarks(): void {
  const benches: [string, string[]][] = [
    ['pods.js', args['quick'] ? ['--skip-big', '--runs', '1'] : ['--skip-big']],
    ['proxy.js', []],
    ['ingress.js', []],
  ];
  for (const [file, extra] of benches) {
    progress(`${file.replace('.js', '')} benchmarks`);
    try {
      execFileSync(process.execPath, [new URL(`./${file}`, import.meta.url).pathname, ...extra], { stdio: 'inherit', timeout: 15 * 60_000 });
    } catch (e) {
      console.log(`${file} FAILED: ${(e as Error).message}`);
      process.exitCode = 1;
    }
  }
}

try {
  await main();
  if (!args['api-only']) runAreaBenchmarks();
} catch (e) {
  console.error(`bench FAILED: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  progress('cleaning up');
  await cleanup();
  progress('done');
}
