// Service-proxy data-plane benchmark: wrk against a backend pod directly, through the service
// proxy's kernel data plane (nftables DNAT on the ClusterIP) and through its userspace relay,
// same concurrency and duration, all on loopback. Prints requests/s and p50/p99 latency as ratios
// to direct (targets: kernel ≥ 0.8 of direct throughput, < 0.1 ms added at p50).
//   node dist/bench/proxy.js [--duration 5] [--connections 64] [--threads 1] [--runs 1]
// Skips cleanly (exit 0) without wrk; the kernel row is skipped unless root with a working nft.
//
// One ServiceProxy serves both proxied rows: `web` (rr, programmed into nftables) and `web-relay`
// (annotated skiff.dev/lb-algorithm: lc, which the kernel mode leaves to the userspace relay) —
// so the rows can be interleaved. Without nft the proxy runs in userspace mode and serves both.
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { R } from '../src/client/client.js';
import type { KObject } from '../src/machinery/object.js';
import { ServiceProxy } from '../src/proxy/service-proxy.js';
import { nftUsable } from '../src/proxy/nftables.js';
import { startTestApi } from '../test/support/in-memory-api.js';
import { sleep } from './stats.js';
import { best, CONNS, DURATION, RUNS, startBackend, THREADS, which, wrk, type WrkResult } from './loadgen.js';

const BACKEND_IP = '127.10.8.2';
const NODE_IP = '127.10.8.1';

const children = new Set<ChildProcess>();
let proxy: ServiceProxy | undefined;
function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    cleanup();
    void (proxy?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });



function svc(name: string, port: number, annotations?: Record<string, string>): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: port }] } } as KObject;
}

function slice(name: string, backendPort: number): KObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: '', port: backendPort, protocol: 'TCP' }],
    endpoints: [{ addresses: [BACKEND_IP], conditions: { ready: true } }],
  } as KObject;
}

async function main(): Promise<void> {
  const wrkBin = which('wrk');
  if (!wrkBin) {
    console.log('proxy bench: wrk is not installed (apt-get install wrk); skipped');
    return;
  }
  const kernel = nftUsable();
  const backendPort = await startBackend(BACKEND_IP, children);
  const api = await startTestApi();
  const client = api.client('proxy-bench');
  for (const [name, ann] of [
    ['web', undefined],
    ['web-relay', { 'skiff.dev/lb-algorithm': 'lc' }],
  ] as const) {
    await client.create(R.services, 'default', svc(name, backendPort, ann));
    await client.create(R.endpointslices, 'default', slice(name, backendPort));
  }
  proxy = new ServiceProxy(api.client('proxy'), { nodeIPs: [NODE_IP], mode: kernel ? 'kernel' : 'userspace', tableName: `skiff-bench-${process.pid}` });
  try {
    await proxy.start();
    for (let i = 0; i < 200 && proxy.snapshot().filter((p) => p.endpoints.length === 1).length < 2; i++) await sleep(10);
    await proxy.flush();
    const vip = async (name: string) => ((await client.get(R.services, 'default', name)).spec as { clusterIP: string }).clusterIP;
    const targets: [string, string][] = [['direct', `http://${BACKEND_IP}:${backendPort}/`]];
    if (kernel) targets.push(['proxy (kernel)', `http://${await vip('web')}/`]);
    else console.log('proxy bench: not root or nft unusable: the kernel row is skipped');
    targets.push(['proxy (userspace)', `http://${await vip('web-relay')}/`]);
    process.stderr.write(`proxy bench: load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} before the runs\n`);
    for (const [, url] of targets) await wrk(wrkBin, url, children).catch(() => undefined); // warm-up
    const results = new Map<string, WrkResult[]>();
    for (let r = 0; r < RUNS; r++)
      for (const [name, url] of targets) results.set(name, [...(results.get(name) ?? []), await wrk(wrkBin, url, children)]);
    const direct = best(results.get('direct')!);
    console.log(`proxy bench: wrk -t${THREADS} -c${CONNS} -d${DURATION}s, ${RUNS} run(s), ${os.cpus().length} CPUs, backend: one node:http process`);
    console.log('target               req/s   ×direct   p50 ms  ×direct  +p50 ms   p99 ms  ×direct   errors');
    for (const [name] of targets) {
      const r = best(results.get(name)!);
      console.log(
        `${name.padEnd(18)} ${r.rps.toFixed(0).padStart(7)}   ${(r.rps / direct.rps).toFixed(2).padStart(6)}   ${r.p50.toFixed(3).padStart(6)}  ${(r.p50 / direct.p50).toFixed(2).padStart(6)}  ${(r.p50 - direct.p50).toFixed(3).padStart(7)}   ${r.p99.toFixed(2).padStart(6)}  ${(r.p99 / direct.p99).toFixed(2).padStart(6)}   ${r.errors || '-'}`,
      );
    }
    if (kernel) {
      const k = best(results.get('proxy (kernel)')!);
      console.log(`kernel proxy: ${(k.rps / direct.rps).toFixed(2)} of direct throughput (target ≥ 0.80), +${(k.p50 - direct.p50).toFixed(3)} ms at p50 (target < 0.1)`);
    }
  } finally {
    await proxy.stop();
    await api.close();
  }
}

main()
  .catch((e) => {
    console.error(`proxy bench failed: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
