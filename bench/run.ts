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
import { Report } from './report.js';
import { SkiffEnv, type CreateTiming } from './skiff.js';
import { fmt, median, sleep } from './stats.js';
import { runStoreAnchor, type StoreAnchor } from './store-anchor.js';
import { EtcdTarget, SkiffTarget, type Target } from './targets.js';
import { runCrud, runFanout, type BenchOptions, type CrudResult, type FanoutResult, type OpStats } from './workloads.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    count: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    watchers: { type: 'string', default: '100' },
    'no-etcd': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
  },
});
const RUNS = Number(args.runs);
const OPTS: BenchOptions = { count: Number(args.count), concurrency: Number(args.concurrency), watchers: Number(args.watchers), phaseLimitMs: 60_000, fanoutLimitMs: 30_000 };
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
  console.log(`${label}: ${describeOp('create', r.create)} | ${describeOp('get', r.get)}`);
  console.log(`${' '.repeat(label.length)}  list ${OPTS.count}: ${fmt(r.listAllMs)} ms (paged by 500: ${fmt(r.listPagedMs)} ms)  watch ${fmt(r.watchPerSecond)} events/s, missed ${r.watchMissed}  server CPU ${fmt(r.cpuPerKCreateMs)} ms/1k creates (client ${fmt(r.clientCpuPerKCreateMs)}), ${fmt(r.cpuPerKGetMs)} ms/1k gets`);
  if (r.watchMissed) console.log(`!!! ${label}: THE WATCHER MISSED ${r.watchMissed} EVENTS !!!`);
}

function printFanout(label: string, r: FanoutResult): void {
  console.log(`${label}: ${r.watchers} watchers, ${describeOp('create', r.create)}, ${fmt(r.eventsPerSecond)} events/s delivered, last one after ${fmt(r.deliveryMs)} ms, server CPU ${fmt(r.cpuMs)} ms, missed ${r.missed}`);
  if (r.missed || r.unexpected) console.log(`!!! ${label}: EVENTS MISSED: ${r.missed}, UNEXPECTED LINES: ${r.unexpected} !!!`);
}

interface EtcdResults {
  version: string;
  readyMs: number[];
  idleMb: number;
  afterMb: number;
  peakMb: number;
  disk: CrudResult;
  fanout: FanoutResult;
  tmpfs?: CrudResult;
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

function buildReport(x: {
  startup: CreateTiming[]; nodeMs: number; bareNodeMb: number; idleMb: number; afterMb: number; peakMb: number;
  crud: CrudResult; fanout: FanoutResult; etcd?: EtcdResults; store: StoreAnchor;
}): Report {
  const r = new Report();
  const e = x.etcd;
  const etcdAnchors = (pick: (c: CrudResult) => number) => (e ? [{ name: 'etcd (disk)', value: pick(e.disk) }, ...(e.tmpfs ? [{ name: 'etcd (tmpfs)', value: pick(e.tmpfs) }] : [])] : []);
  const createMs = median(x.startup.map((t) => t.ms));

  r.section(`start-up (median of ${RUNS})`);
  r.add({ figure: 'create cluster → API ready', unit: 'ms', skiff: createMs,
    anchors: [{ name: 'node -e 0', value: x.nodeMs }, ...(e ? [{ name: 'etcd start→ready', value: median(e.readyMs) }] : [])],
    target: { text: '< 1000 ms', pass: createMs < 1000 } });
  r.add({ figure: 'control plane start (its log)', unit: 'ms', skiff: median(x.startup.map((t) => t.controlPlaneMs)),
    anchors: e ? [{ name: 'etcd start→ready', value: median(e.readyMs) }] : [] });

  r.section(`${OPTS.count} ConfigMaps over HTTPS (HTTP/2, ${OPTS.concurrency} in flight)`);
  const crud = x.crud;
  r.add({ figure: 'create (durable)', unit: '/s', skiff: crud.create.perSecond,
    anchors: [...etcdAnchors((c) => c.create.perSecond), { name: 'in-process SqliteStore', value: x.store.createsPerSecond }],
    target: { text: '≥ 2000 /s', pass: crud.create.perSecond >= 2000 && crud.create.errors === 0 } });
  r.add({ figure: 'create p50', unit: 'ms', skiff: crud.create.p50, anchors: etcdAnchors((c) => c.create.p50) });
  r.add({ figure: 'create p99', unit: 'ms', skiff: crud.create.p99, anchors: etcdAnchors((c) => c.create.p99) });
  r.add({ figure: 'get', unit: '/s', skiff: crud.get.perSecond,
    anchors: [...etcdAnchors((c) => c.get.perSecond), { name: 'in-process SqliteStore', value: x.store.getsPerSecond }] });
  r.add({ figure: 'get p50', unit: 'ms', skiff: crud.get.p50, anchors: etcdAnchors((c) => c.get.p50) });
  r.add({ figure: 'get p99', unit: 'ms', skiff: crud.get.p99, anchors: etcdAnchors((c) => c.get.p99) });
  r.add({ figure: `list all ${OPTS.count}, one request`, unit: 'ms', skiff: crud.listAllMs,
    anchors: [...etcdAnchors((c) => c.listAllMs), { name: 'in-process SqliteStore', value: x.store.listMs }] });
  r.add({ figure: `list all ${OPTS.count}, limit=500`, unit: 'ms', skiff: crud.listPagedMs, anchors: etcdAnchors((c) => c.listPagedMs) });
  r.add({ figure: 'watch, 1 watcher while creating', unit: 'ev/s', skiff: crud.watchPerSecond, anchors: etcdAnchors((c) => c.watchPerSecond),
    target: { text: '0 missed', pass: crud.watchMissed === 0 } });
  r.add({ figure: 'server CPU per 1k creates', unit: 'ms', skiff: crud.cpuPerKCreateMs, anchors: etcdAnchors((c) => c.cpuPerKCreateMs) });
  r.add({ figure: 'server CPU per 1k gets', unit: 'ms', skiff: crud.cpuPerKGetMs, anchors: etcdAnchors((c) => c.cpuPerKGetMs) });

  r.section(`watch fan-out: ${OPTS.watchers} watchers, ${OPTS.count} creates`);
  const fanoutAnchor = (pick: (f: FanoutResult) => number) => (e ? [{ name: 'etcd (disk)', value: pick(e.fanout) }] : []);
  r.add({ figure: 'events delivered', unit: 'ev/s', skiff: x.fanout.eventsPerSecond, anchors: fanoutAnchor((f) => f.eventsPerSecond) });
  r.add({ figure: 'events missed', unit: '', skiff: x.fanout.missed + x.fanout.unexpected, anchors: fanoutAnchor((f) => f.missed + f.unexpected),
    target: { text: '0', pass: x.fanout.missed + x.fanout.unexpected === 0 } });
  r.add({ figure: 'creates during fan-out', unit: '/s', skiff: x.fanout.create.perSecond, anchors: fanoutAnchor((f) => f.create.perSecond) });
  r.add({ figure: 'server CPU for the fan-out', unit: 'ms', skiff: x.fanout.cpuMs, anchors: fanoutAnchor((f) => f.cpuMs) });

  r.section('memory (RSS)');
  r.add({ figure: 'control plane idle after start', unit: 'MB', skiff: x.idleMb,
    anchors: [{ name: 'bare node', value: x.bareNodeMb }, ...(e ? [{ name: 'etcd idle', value: e.idleMb }] : [])],
    target: { text: '< 100 MB', pass: x.idleMb < 100 } });
  r.add({ figure: 'idle after the workloads', unit: 'MB', skiff: x.afterMb, anchors: e ? [{ name: 'etcd after same', value: e.afterMb }] : [] });
  r.add({ figure: 'peak (VmHWM)', unit: 'MB', skiff: x.peakMb, anchors: e ? [{ name: 'etcd peak', value: e.peakMb }] : [] });

  r.notes.push('skiff/anchor: for rates higher is better; for times, CPU and memory lower is better.');
  r.notes.push(`client: Node ${process.version} http2, one TLS session per client (${OPTS.concurrency} streams in flight; each watcher its own session), in this process.`);
  if (e) r.notes.push(`etcd ${e.version} via its HTTP/JSON gateway (/v3/kv/put, /v3/kv/range, /v3/watch), TLS with the Skiff API server's certificate; "disk" fsyncs each commit, "tmpfs" makes fsync free (like Skiff's WAL with synchronous=NORMAL).`);
  else r.notes.push('etcd is not installed: etcd anchors skipped (apt-get install etcd-server).');
  r.notes.push('in-process SqliteStore: bench/store.ts (no HTTP, no API machinery), same session.');
  if (PROFILE_DIR) r.notes.push(`--cpu-prof: the workload cluster ran under the profiler (figures after start-up are slowed); profiles in ${PROFILE_DIR}.`);
  return r;
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
  progress(`skiff: fan-out to ${OPTS.watchers} watchers`);
  const fanout = await runFanout(api, 'bench-fanout', OPTS);
  printFanout('skiff     ', fanout);
  release(api);
  await sleep(2 * IDLE_SETTLE_MS);
  const after = memoryMb(pid);

  // The anchor must run alone: Skiff's idle server should burn no CPU meanwhile.
  const skiffCpuBefore = cpuMs(pid);
  let etcd: EtcdResults | undefined;
  if (args['no-etcd']) console.log('etcd anchor skipped (--no-etcd).');
  else if (!etcdInstalled()) console.log('etcd anchor SKIPPED: etcd is not installed (Debian: apt-get install etcd-server).');
  else etcd = await benchEtcd();
  const skiffCpuDuringAnchors = cpuMs(pid) - skiffCpuBefore;

  progress('in-process store anchor (bench/store.ts)');
  const store = await runStoreAnchor(OPTS.count);
  console.log(`in-process store anchor (node dist/bench/store.js ${OPTS.count}):\n  ${store.output.split('\n').join('\n  ')}`);

  console.log(`load average at the end: ${loadAverage()}`);
  const report = buildReport({ startup, nodeMs, bareNodeMb, idleMb, afterMb: after.rss, peakMb: after.peak, crud, fanout, etcd, store });
  report.notes.push(`the idle Skiff server used ${fmt(skiffCpuDuringAnchors)} ms of CPU while the etcd anchor ran.`);
  if (etcd?.fanout.create.timedOut) report.notes.push(`etcd fan-out: creates cut short by the ${OPTS.fanoutLimitMs / 1000} s limit after ${etcd.fanout.create.done}; its events/s and missed count refer to those.`);
  console.log('\n' + report.render());
}

try {
  await main();
} catch (e) {
  console.error(`bench FAILED: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  progress('cleaning up');
  await cleanup();
  progress('done');
}
