// The API workloads, identical for every target: 10,000 creates watched by one watcher, 10,000
// gets, lists (whole and paged); then 10,000 creates fanned out to 100 watchers.
import { runPool, type PoolResult } from './pool.js';
import { cpuMs, startInterferenceMeter } from './procs.js';
import { median, percentile, perSecond, sleep } from './stats.js';
import type { Target, WatchCounter } from './targets.js';

export interface BenchOptions {
  count: number;
  concurrency: number;
  watchers: number;
  /** Time limit of each phase, ms. */
  phaseLimitMs: number;
  /** Fan-out: time limit for the creates, and again for the delivery after them. */
  fanoutLimitMs: number;
}

export interface OpStats {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  firstError?: string;
  done: number;
  /** The time limit stopped the phase before `count` operations. */
  timedOut: boolean;
}

export interface CrudResult {
  /** The first creates after the server started: they include V8 compiling the write path. */
  create: OpStats;
  /** The same number of creates again, into a second collection, once the server is warm. */
  warmCreate: OpStats;
  /** Server CPU per 1,000 warm creates. */
  cpuPerKWarmCreateMs: number;
  get: OpStats;
  /** Events/s delivered to the one watcher, from the first create to the last event received. */
  watchPerSecond: number;
  /** How long after the last create was acknowledged its event reached the watcher. */
  watchLagMs: number;
  watchMissed: number;
  listAllMs: number;
  listPagedMs: number;
  /** Server CPU time per 1,000 creates (including the watch delivery) and per 1,000 gets. */
  cpuPerKCreateMs: number;
  cpuPerKGetMs: number;
  /** This (client) process's CPU per 1,000 creates: shows when the client, not the server, is the limit. */
  clientCpuPerKCreateMs: number;
  /** Share of the machine's CPU other processes used during the phase (0..1). */
  interference: number;
}

export interface FanoutResult {
  watchers: number;
  create: OpStats;
  /** Events received by all watchers together, per second. */
  eventsPerSecond: number;
  /** Events of acknowledged creates that some watcher had not received when the bench stopped waiting. */
  missed: number;
  unexpected: number;
  /** Time from the first create until the last watcher had its last event. */
  deliveryMs: number;
  /** How long after the last create was acknowledged the last watcher had its event. */
  lagMs: number;
  cpuMs: number;
  clientCpuMs: number;
  interference: number;
}

const LIST_RUNS = 3;

function opStats(r: PoolResult): OpStats {
  return {
    perSecond: perSecond(r.done, r.ms),
    p50: percentile(r.latencies, 50),
    p99: percentile(r.latencies, 99),
    errors: r.errors,
    firstError: r.firstError,
    done: r.done,
    timedOut: r.timedOut,
  };
}

/** Wait until every watcher has `expected` events, or the deadline, or no progress for `stallMs`. */
async function awaitEvents(watchers: WatchCounter[], expected: number, deadline: number, stallMs = 10_000): Promise<void> {
  let total = -1;
  let progressAt = performance.now();
  while (performance.now() < deadline && performance.now() - progressAt < stallMs) {
    const now = watchers.reduce((s, w) => s + w.events, 0);
    if (watchers.every((w) => w.events >= expected)) return;
    if (now !== total) [total, progressAt] = [now, performance.now()];
    await sleep(20);
  }
}

const missedOf = (watchers: WatchCounter[], expected: number) => watchers.reduce((s, w) => s + Math.max(0, expected - w.events), 0);

async function timeList(target: Target, ns: string, count: number, limit?: number): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < LIST_RUNS; i++) {
    const t = performance.now();
    const n = await target.list(ns, limit);
    runs.push(performance.now() - t);
    if (n !== count) throw new Error(`${target.label}: listed ${n} items, expected ${count}`);
  }
  return median(runs);
}

export async function runCrud(target: Target, ns: string, o: BenchOptions): Promise<CrudResult> {
  await target.prepare(ns, o.count);
  const watcher = await target.watch(ns);
  const interference = startInterferenceMeter(target.pid);
  const cpu0 = cpuMs(target.pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const creates = await runPool(o.count, o.concurrency, (i) => target.create(ns, i), o.phaseLimitMs);
  await awaitEvents([watcher], creates.done, t0 + o.phaseLimitMs);
  const cpu1 = cpuMs(target.pid);
  const client = process.cpuUsage(client0);
  watcher.close();
  const watchPerSecond = perSecond(watcher.events, watcher.lastEventAt - t0);
  // Gets in a scattered order, so no two neighbours hit the same page in a row.
  const gets = await runPool(o.count, o.concurrency, (i) => target.get(ns, (i * 7919) % o.count), o.phaseLimitMs);
  const cpu2 = cpuMs(target.pid);
  const listAllMs = await timeList(target, ns, o.count);
  const listPagedMs = await timeList(target, ns, o.count, 500);
  // The same creates again into a second collection: a JIT-compiled server (Skiff) is warm now,
  // and the first run included its warm-up; a compiled one (etcd) should not care.
  const warmNs = `${ns}-warm`;
  await target.prepare(warmNs, o.count);
  const cpu3 = cpuMs(target.pid);
  const warm = await runPool(o.count, o.concurrency, (i) => target.create(warmNs, i), o.phaseLimitMs);
  const cpu4 = cpuMs(target.pid);
  return {
    create: opStats(creates),
    warmCreate: opStats(warm),
    cpuPerKWarmCreateMs: ((cpu4 - cpu3) / warm.done) * 1000,
    get: opStats(gets),
    watchPerSecond,
    watchLagMs: watcher.lastEventAt - (t0 + creates.ms),
    watchMissed: missedOf([watcher], creates.done) + watcher.unexpected,
    listAllMs,
    listPagedMs,
    cpuPerKCreateMs: ((cpu1 - cpu0) / creates.done) * 1000,
    cpuPerKGetMs: ((cpu2 - cpu1) / gets.done) * 1000,
    clientCpuPerKCreateMs: ((client.user + client.system) / 1000 / creates.done) * 1000,
    interference: interference(),
  };
}

export async function runFanout(target: Target, ns: string, o: BenchOptions): Promise<FanoutResult> {
  await target.prepare(ns, o.count);
  const watchers: WatchCounter[] = [];
  try {
    // Each watcher on its own connection, as 100 separate clients would be.
    for (let i = 0; i < o.watchers; i++) watchers.push(await target.watch(ns));
    const cpu0 = cpuMs(target.pid);
    const client0 = process.cpuUsage();
    const interference = startInterferenceMeter(target.pid);
    const t0 = performance.now();
    const creates = await runPool(o.count, o.concurrency, (i) => target.create(ns, i), o.fanoutLimitMs);
    await awaitEvents(watchers, creates.done, performance.now() + o.fanoutLimitMs);
    const lastAt = Math.max(...watchers.map((w) => w.lastEventAt));
    const received = watchers.reduce((s, w) => s + w.events, 0);
    const client = process.cpuUsage(client0);
    return {
      watchers: watchers.length,
      create: opStats(creates),
      eventsPerSecond: perSecond(received, lastAt - t0),
      missed: missedOf(watchers, creates.done),
      unexpected: watchers.reduce((s, w) => s + w.unexpected, 0),
      deliveryMs: lastAt - t0,
      lagMs: lastAt - (t0 + creates.ms),
      cpuMs: cpuMs(target.pid) - cpu0,
      clientCpuMs: (client.user + client.system) / 1000,
      interference: interference(),
    };
  } finally {
    for (const w of watchers) w.close();
  }
}
