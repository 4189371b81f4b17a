// Ingress data-plane benchmark: wrk against a backend directly, through the skiff Ingress
// controller, and through nginx configured as the same reverse proxy (keep-alive upstream pool,
// X-Forwarded-* headers), same concurrency and duration, all on loopback. Prints requests/s and
// p50/p99 latency, each as a ratio to direct, and the ingress/nginx throughput ratio (target ≥ 0.5).
//   node dist/bench/ingress.js [--duration 5] [--connections 64] [--threads 1] [--runs 1]
// Skips cleanly (exit 0) when wrk is not installed; the nginx and haproxy rows are skipped without them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { R } from '../src/client/client.js';
import type { KObject } from '../src/machinery/object.js';
import { IngressController, INGRESSES } from '../src/ingress/index.js';
import { startTestApi } from '../test/support/in-memory-api.js';
import { sleep } from './stats.js';
import { best, CONNS, DURATION, freePort, RUNS, startBackend, THREADS, waitPort, which, wrk, type WrkResult } from './loadgen.js';

const BACKEND_IP = '127.10.9.2';
const INGRESS_IP = '127.10.9.1';
const NGINX_IP = '127.10.9.3';

const children = new Set<ChildProcess>();
const tmp = mkdtempSync(join(os.tmpdir(), 'skiff-ingress-bench-'));
function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => (cleanup(), process.exit(130)));


async function startNginx(nginx: string, backendPort: number): Promise<number> {
  const port = await freePort(NGINX_IP);
  const conf = `
worker_processes auto;
daemon off;
pid ${tmp}/nginx.pid;
error_log ${tmp}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi;
  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  keepalive_timeout 75s; keepalive_requests 1000000;
  upstream backend { server ${BACKEND_IP}:${backendPort}; keepalive 320; keepalive_requests 1000000; }
  server {
    listen ${NGINX_IP}:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Port $server_port;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}`;
  writeFileSync(join(tmp, 'nginx.conf'), conf);
  const c = spawn(nginx, ['-c', join(tmp, 'nginx.conf'), '-p', tmp, '-e', join(tmp, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr?.on('data', (d) => (err += d));
  children.add(c);
  try {
    await waitPort(NGINX_IP, port);
  } catch (e) {
    throw new Error(`nginx did not start: ${err}`);
  }
  return port;
}

async function startHaproxy(haproxy: string, backendPort: number): Promise<number> {
  const port = await freePort(NGINX_IP);
  // The same reverse proxy as nginx's: HTTP mode, keep-alive both ways, X-Forwarded-For.
  const conf = `
global
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  option forwardfor
frontend fe
  bind ${NGINX_IP}:${port}
  default_backend be
backend be
  http-reuse always
  server s1 ${BACKEND_IP}:${backendPort}
`;
  writeFileSync(join(tmp, 'haproxy.cfg'), conf);
  const c = spawn(haproxy, ['-db', '-f', join(tmp, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr?.on('data', (d) => (err += d));
  children.add(c);
  try {
    await waitPort(NGINX_IP, port);
  } catch (e) {
    throw new Error(`haproxy did not start: ${err}`);
  }
  return port;
}

/** Reference point: a plain node:http reverse proxy (keep-alive agent), the "about 0.22 of direct". */
async function startNodeProxy(backendPort: number): Promise<number> {
  const port = await freePort(NGINX_IP);
  const code = `const http=require('http');const agent=new http.Agent({keepAlive:true,maxFreeSockets:320});
http.createServer((q,s)=>{const h={...q.headers,'x-forwarded-for':q.socket.remoteAddress,'x-forwarded-proto':'http'};
const r=http.request({host:'${BACKEND_IP}',port:${backendPort},method:q.method,path:q.url,headers:h,agent},(b)=>{s.writeHead(b.statusCode,b.headers);b.pipe(s)});
r.on('error',()=>{s.statusCode=502;s.end()});q.pipe(r)}).listen(${port},'${NGINX_IP}')`;
  const c = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  children.add(c);
  await waitPort(NGINX_IP, port);
  return port;
}


async function main(): Promise<void> {
  const wrkBin = which('wrk');
  if (!wrkBin) {
    console.log('ingress bench: wrk is not installed (apt-get install wrk); skipped');
    return;
  }
  const nginxBin = which('nginx');
  const backendPort = await startBackend(BACKEND_IP, children);
  const api = await startTestApi();
  const client = api.client('ingress-bench');
  await client.create({ group: 'networking.k8s.io', version: 'v1', resource: 'ingressclasses' }, undefined, {
    apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass',
    metadata: { name: 'skiff', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
    spec: { controller: 'skiff.dev/ingress-controller' },
  } as KObject);
  await client.create(R.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: backendPort }] } } as KObject);
  await client.create(R.endpointslices, 'default', {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', ports: [{ name: '', port: backendPort, protocol: 'TCP' }], endpoints: [{ addresses: [BACKEND_IP], conditions: { ready: true } }],
  } as KObject);
  await client.create(INGRESSES, 'default', {
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'default' },
    spec: { rules: [{ host: 'bench.local', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  } as KObject);
  const ctl = new IngressController(client, { address: INGRESS_IP, httpPort: 0, httpsPort: 0 });
  const { httpPort } = await ctl.start();
  for (let i = 0; i < 100; i++) {
    if (ctl.decide('bench.local', '/') && !('status' in ctl.decide('bench.local', '/'))) break;
    await sleep(20);
  }
  const nginxPort = nginxBin ? await startNginx(nginxBin, backendPort) : undefined;
  const haproxyBin = which('haproxy');
  const haproxyPort = haproxyBin ? await startHaproxy(haproxyBin, backendPort) : undefined;

  const rows: [string, string, WrkResult][] = [];
  const targets: [string, string][] = [
    ['direct', `http://${BACKEND_IP}:${backendPort}/`],
    ['skiff ingress', `http://${INGRESS_IP}:${httpPort}/`],
  ];
  if (nginxPort) targets.push(['nginx', `http://${NGINX_IP}:${nginxPort}/`]);
  if (haproxyPort) targets.push(['haproxy', `http://${NGINX_IP}:${haproxyPort}/`]);
  const nodePort = await startNodeProxy(backendPort);
  targets.push(['node:http proxy', `http://${NGINX_IP}:${nodePort}/`]);
  const results = new Map<string, WrkResult[]>();
  process.stderr.write(`ingress bench: load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} before the runs\n`);
  // Warm up (JIT, pools), then RUNS interleaved rounds; the best round of each counts.
  for (const [, url] of targets) await wrk(wrkBin, url, children, 'bench.local').catch(() => undefined);
  for (let r = 0; r < RUNS; r++)
    for (const [name, url] of targets) {
      const res = await wrk(wrkBin, url, children, 'bench.local');
      results.set(name, [...(results.get(name) ?? []), res]);
    }
  for (const [name, url] of targets) rows.push([name, url, best(results.get(name)!)]);
  const direct = rows[0][2];
  console.log(`ingress bench: wrk -t${THREADS} -c${CONNS} -d${DURATION}s, ${RUNS} run(s), ${os.cpus().length} CPUs, nginx worker_processes auto`);
  console.log('target            req/s     ×direct   p50 ms  ×direct   p99 ms  ×direct   errors');
  for (const [name, , r] of rows)
    console.log(
      `${name.padEnd(16)} ${r.rps.toFixed(0).padStart(7)}   ${(r.rps / direct.rps).toFixed(2).padStart(6)}   ${r.p50.toFixed(2).padStart(6)}  ${(r.p50 / direct.p50).toFixed(2).padStart(6)}   ${r.p99.toFixed(2).padStart(6)}  ${(r.p99 / direct.p99).toFixed(2).padStart(6)}   ${r.errors || '-'}`,
    );
  const ing = rows.find((r) => r[0] === 'skiff ingress')![2];
  const ngx = rows.find((r) => r[0] === 'nginx')?.[2];
  if (ngx) console.log(`skiff ingress / nginx throughput: ${(ing.rps / ngx.rps).toFixed(2)} (target ≥ 0.50)`);
  else console.log('nginx not installed: the nginx comparison was skipped');
  const hap = rows.find((r) => r[0] === 'haproxy')?.[2];
  if (hap) console.log(`skiff ingress / haproxy throughput: ${(ing.rps / hap.rps).toFixed(2)}`);
  else console.log('haproxy not installed: the haproxy comparison was skipped');
  ctl.stop();
  await api.close();
}

main()
  .catch((e) => {
    console.error(`ingress bench failed: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
