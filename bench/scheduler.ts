// Scheduler throughput: pods bound per second for 1,000 pending pods on 5 and 50 fake nodes,
// over the in-process API (memory store), from start() until every pod is bound. The anchor,
// measured in the same run: 1,000 plain in-process client updates of the same pods with the
// same number in flight — the API's own cost for one write per pod, which binding also is.
// Both rates are printed per wall-clock second and per CPU-second of this process (the latter
// holds up on a loaded machine; the API server shares the process, so it is in both).
// Runs on import: `node dist/bench/scheduler.js [pods]`.
import { R, type ApiClient } from '../src/client/client.js';
import type { KObject } from '../src/machinery/object.js';
import { Scheduler } from '../src/scheduler/index.js';
import { startTestApi } from '../test/support/in-memory-api.js';

const PODS = Number(process.argv[2] ?? 1000);
const IN_FLIGHT = 256;

function node(name: string): KObject {
  const alloc = { cpu: '64', memory: '256Gi', pods: String(PODS), 'ephemeral-storage': '1Ti' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    status: { capacity: alloc, allocatable: alloc, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function pod(i: number): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `p-${i}`, namespace: 'default', labels: { app: 'bench' } },
    spec: { containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
  };
}

async function setup(nodes: number): Promise<{ client: ApiClient; close: () => Promise<void> }> {
  const t = await startTestApi();
  const client = t.client('system:kube-scheduler');
  for (let i = 0; i < nodes; i++) await client.create(R.nodes, undefined, node(`node-${i}`));
  for (let i = 0; i < PODS; i++) await client.create(R.pods, 'default', pod(i));
  return { client, close: () => t.close() };
}

async function pool(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(IN_FLIGHT, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

interface Rate {
  wall: number;
  cpu: number;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

async function schedulerRun(nodes: number, events: boolean): Promise<Rate> {
  const { client, close } = await setup(nodes);
  const sched = new Scheduler(client, { events, maxInFlightBindings: IN_FLIGHT });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await sched.start();
  while (sched.stats.bound < PODS) {
    await sched.idle();
    if (sched.stats.bound < PODS && !sched.queue.sizes.active && !sched.queue.sizes.backoff) break;
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c0);
  const bound = sched.stats.bound;
  sched.stop();
  await close();
  if (bound !== PODS) throw new Error(`only ${bound}/${PODS} pods bound`);
  return { wall: PODS / secs, cpu: PODS / cpu };
}

async function anchorRun(): Promise<Rate> {
  const { client, close } = await setup(1);
  const pods = (await client.list(R.pods, 'default')).items;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await pool(pods.length, (i) => {
    const p = pods[i];
    return client.update(R.pods, 'default', { ...p, metadata: { ...p.metadata, labels: { ...p.metadata.labels, touched: 'yes' } } });
  });
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(c0);
  await close();
  return { wall: pods.length / secs, cpu: pods.length / cpu };
}

const fmt = (n: number) => String(Math.round(n)).padStart(7);

// Warm up the JIT once, untimed.
await schedulerRun(5, true).catch(() => 0);
const anchor = await anchorRun();
console.log(`anchor    in-process pod updates/s ${fmt(anchor.wall)}   per cpu-s ${fmt(anchor.cpu)}   (${PODS} pods, ${IN_FLIGHT} in flight)`);
for (const nodes of [5, 50]) {
  for (const events of [true, false]) {
    const r = await schedulerRun(nodes, events);
    console.log(
      `scheduler nodes ${String(nodes).padStart(3)}   events ${events ? 'on ' : 'off'}   pods bound/s ${fmt(r.wall)} (${(r.wall / anchor.wall).toFixed(2)}x anchor)` +
        `   per cpu-s ${fmt(r.cpu)} (${(r.cpu / anchor.cpu).toFixed(2)}x anchor)`,
    );
  }
}
