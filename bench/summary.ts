// The closing table: which figure sits next to which anchor, and the targets.
import { Report } from './report.js';
import type { CreateTiming } from './skiff.js';
import { fmt, median, pct } from './stats.js';
import type { StoreAnchor } from './store-anchor.js';
import type { BenchOptions, CrudResult, FanoutResult } from './workloads.js';

/** What the etcd anchor measured. */
export interface EtcdResults {
  version: string;
  readyMs: number[];
  idleMb: number;
  afterMb: number;
  peakMb: number;
  disk: CrudResult;
  fanout: FanoutResult;
  tmpfs?: CrudResult;
}

export function buildReport(x: {
  startup: CreateTiming[]; nodeMs: number; bareNodeMb: number; idleMb: number; afterMb: number; peakMb: number;
  crud: CrudResult; fanout: FanoutResult; etcd?: EtcdResults; store: StoreAnchor; skiffCpuDuringAnchorsMs: number;
}, settings: { runs: number; opts: BenchOptions; profileDir?: string }): Report {
  const { runs, opts, profileDir } = settings;
  const r = new Report();
  const e = x.etcd;
  const etcdAnchors = (pick: (c: CrudResult) => number) => (e ? [{ name: 'etcd (disk)', value: pick(e.disk) }, ...(e.tmpfs ? [{ name: 'etcd (tmpfs)', value: pick(e.tmpfs) }] : [])] : []);
  const createMs = median(x.startup.map((t) => t.ms));

  r.section(`start-up (median of ${runs})`);
  r.add({ figure: 'create cluster → API ready', unit: 'ms', skiff: createMs,
    anchors: [{ name: 'node -e 0', value: x.nodeMs }, ...(e ? [{ name: 'etcd start→ready', value: median(e.readyMs) }] : [])],
    target: { text: '< 1000 ms', pass: createMs < 1000 } });
  r.add({ figure: 'control plane start (its log)', unit: 'ms', skiff: median(x.startup.map((t) => t.controlPlaneMs)),
    anchors: e ? [{ name: 'etcd start→ready', value: median(e.readyMs) }] : [] });

  r.section(`${opts.count} ConfigMaps over HTTPS (HTTP/2, ${opts.concurrency} in flight)`);
  const crud = x.crud;
  r.add({ figure: 'create (durable), first after start', unit: '/s', skiff: crud.create.perSecond,
    anchors: [...etcdAnchors((c) => c.create.perSecond), { name: 'in-process SqliteStore', value: x.store.createsPerSecond }] });
  r.add({ figure: `create (durable), ${opts.count} more (warm)`, unit: '/s', skiff: crud.warmCreate.perSecond,
    anchors: etcdAnchors((c) => c.warmCreate.perSecond),
    target: { text: '≥ 2000 /s', pass: crud.warmCreate.perSecond >= 2000 && crud.warmCreate.errors === 0 && crud.create.errors === 0 } });
  r.add({ figure: 'create p50', unit: 'ms', skiff: crud.create.p50, anchors: etcdAnchors((c) => c.create.p50) });
  r.add({ figure: 'create p99', unit: 'ms', skiff: crud.create.p99, anchors: etcdAnchors((c) => c.create.p99) });
  r.add({ figure: 'get', unit: '/s', skiff: crud.get.perSecond,
    anchors: [...etcdAnchors((c) => c.get.perSecond), { name: 'in-process SqliteStore', value: x.store.getsPerSecond }] });
  r.add({ figure: 'get p50', unit: 'ms', skiff: crud.get.p50, anchors: etcdAnchors((c) => c.get.p50) });
  r.add({ figure: 'get p99', unit: 'ms', skiff: crud.get.p99, anchors: etcdAnchors((c) => c.get.p99) });
  r.add({ figure: `list all ${opts.count}, one request`, unit: 'ms', skiff: crud.listAllMs,
    anchors: [...etcdAnchors((c) => c.listAllMs), { name: 'in-process SqliteStore', value: x.store.listMs }] });
  r.add({ figure: `list all ${opts.count}, limit=500`, unit: 'ms', skiff: crud.listPagedMs, anchors: etcdAnchors((c) => c.listPagedMs) });
  r.add({ figure: 'watch, 1 watcher while creating', unit: 'ev/s', skiff: crud.watchPerSecond, anchors: etcdAnchors((c) => c.watchPerSecond),
    target: { text: '0 missed', pass: crud.watchMissed === 0 } });
  r.add({ figure: 'server CPU per 1k creates', unit: 'ms', skiff: crud.cpuPerKCreateMs, anchors: etcdAnchors((c) => c.cpuPerKCreateMs) });
  r.add({ figure: 'server CPU per 1k warm creates', unit: 'ms', skiff: crud.cpuPerKWarmCreateMs, anchors: etcdAnchors((c) => c.cpuPerKWarmCreateMs) });
  r.add({ figure: 'server CPU per 1k gets', unit: 'ms', skiff: crud.cpuPerKGetMs, anchors: etcdAnchors((c) => c.cpuPerKGetMs) });

  r.section(`watch fan-out: ${opts.watchers} watchers, ${opts.count} creates`);
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
  r.notes.push(`client: Node ${process.version} http2, one TLS session per client (${opts.concurrency} streams in flight; each watcher its own session), in this process.`);
  if (e) r.notes.push(`etcd ${e.version} via its HTTP/JSON gateway (/v3/kv/put, /v3/kv/range, /v3/watch), TLS with the Skiff API server's certificate; "disk" fsyncs each commit, "tmpfs" makes fsync free (like Skiff's WAL with synchronous=NORMAL).`);
  else r.notes.push('etcd is not installed: etcd anchors skipped (apt-get install etcd-server).');
  r.notes.push('in-process SqliteStore: bench/store.ts (no HTTP, no API machinery), same session.');
  r.notes.push(`creates: the first ${opts.count} after start-up include V8 compiling the write path (the server is JavaScript); the warm figure is ${opts.count} more into a second collection, the same for etcd.`);
  r.notes.push(`the idle Skiff server used ${fmt(x.skiffCpuDuringAnchorsMs)} ms of CPU while the etcd anchor ran.`);
  const shares = [['skiff CRUD', x.crud.interference], ['skiff fan-out', x.fanout.interference], ['etcd CRUD', e?.disk.interference],
    ['etcd fan-out', e?.fanout.interference], ['etcd tmpfs CRUD', e?.tmpfs?.interference]] as const;
  r.notes.push(`CPU taken by other processes on this machine: ${shares.filter(([, v]) => v !== undefined).map(([k, v]) => `${k} ${pct(v!)}`).join(', ')}.`);
  if (e?.fanout.create.timedOut) r.notes.push(`etcd fan-out: creates cut short by the ${opts.fanoutLimitMs / 1000} s limit after ${e.fanout.create.done}; its events/s and missed count refer to those.`);
  if (profileDir) r.notes.push(`--cpu-prof: the workload cluster ran under the profiler (figures after start-up are slowed); profiles in ${profileDir}.`);
  return r;
}
