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
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { R } from '../src/client/client.js';
import type { KObject } from '../src/machinery/object.js';
import { ServiceProxy } from '../src/proxy/service-proxy.js';
import { nftUsable } from '../src/proxy/nftables.js';
import { startTestApi } from '../test/support/in-memory-api.js';
import { sleep } from './stats.js';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '1' },
    runs: { type: 'string', default: '1' },
  },
});
const DURATION = Math.min(60, Math.max(1, Number(args.duration)));
const CONNS = Math.min(1024, Math.max(1, Number(args.connections)));
const THREADS = Math.min(16, Math.max(1, Number(args.threads)));
const RUNS = Math.min(10, Math.max(1, Number(args.runs)));
const BACKEND_IP = '127.10.8.2';
const NODE_IP = '127.10.8.1';

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    try {
      execFileSync('test', ['-x', join(dir, cmd)]);
      return join(dir, cmd);
    } catch {
      /* not here */
    }
  }
  return undefined;
}

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

async function freePort(ip: string): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, ip, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitPort(ip: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: ip, port }, () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${ip}:${port}`);
}

/** The backend pod: a separate Node process answering a small fixed body. */
async function startBackend(): Promise<number> {
  const port = await freePort(BACKEND_IP);
  const code = `require('http').createServer((q,s)=>{s.writeHead(200,{'content-type':'text/plain','content-length':13});s.end('hello, world\\n')}).listen(${port},'${BACKEND_IP}')`;
  const c = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  children.add(c);
  await waitPort(BACKEND_IP, port);
  return port;
}

interface WrkResult {
  rps: number;
  p50: number; // ms
  p99: number; // ms
  errors: string;
}

function parseLatency(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

function wrk(bin: string, url: string): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(bin, ['-t', String(THREADS), '-c', String(CONNS), '-d', `${DURATION}s`, '--latency', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    const killer = setTimeout(() => c.kill('SIGKILL'), (DURATION + 30) * 1000);
    c.on('exit', (code) => {
      clearTimeout(killer);
      children.delete(c);
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${out}`));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const p50 = parseLatency(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
      const p99 = parseLatency(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
      const errors = [/Non-2xx or 3xx responses: \d+/.exec(out)?.[0], /Socket errors: .*/.exec(out)?.[0]].filter(Boolean).join('; ');
      resolve({ rps, p50, p99, errors });
    });
  });
}

function best(rs: WrkResult[]): WrkResult {
  return rs.reduce((a, b) => (b.rps > a.rps ? b : a));
}

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
  const backendPort = await startBackend();
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
    for (const [, url] of targets) await wrk(wrkBin, url).catch(() => undefined); // warm-up
    const results = new Map<string, WrkResult[]>();
    for (let r = 0; r < RUNS; r++)
      for (const [name, url] of targets) results.set(name, [...(results.get(name) ?? []), await wrk(wrkBin, url)]);
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
