// The kubelet's HTTPS server (upstream's port 10250): container logs, exec, attach and
// port-forward (the API server relays kubectl's requests here), and /stats/summary for the
// metrics API. Only clients with a certificate from the cluster CA are served.
import https from 'node:https';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { errors, StatusError } from '../machinery/errors.js';
import type { ContainerStatus, Runtime, Sandbox } from './runtime/types.js';
import { parseAttachQuery, parseExecQuery, serveAttachUpgrade, serveExecUpgrade, servePortForwardUpgrade } from './streaming/index.js';

export interface KubeletTls {
  cert: string;
  key: string;
  /** CA that the API server's client certificate must chain to. */
  ca: string;
}

export interface KubeletServerOptions {
  runtime: Runtime;
  tls: KubeletTls;
  nodeName: string;
  log?: (line: string) => void;
}

/**
 * The machine's busy CPU time and memory in use. Every node of a process-runtime cluster shares
 * the host, so each reports the host's figures, as a node on a VM reports the VM's.
 */
function hostUsage(): { cpuNanos: number; memoryBytes: number } {
  let cpuNanos = 0;
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait, in USER_HZ (1/100 s).
    const busy = fields.reduce((a, b) => a + b, 0) - (fields[3] ?? 0) - (fields[4] ?? 0);
    cpuNanos = busy * 1e7;
  } catch {
    cpuNanos = 0;
  }
  let memoryBytes = os.totalmem() - os.freemem();
  try {
    const avail = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (avail) memoryBytes = os.totalmem() - Number(avail[1]) * 1024;
  } catch {
    // keep the free-memory estimate
  }
  return { cpuNanos, memoryBytes };
}

function sendStatus(res: ServerResponse, e: unknown) {
  const s = e instanceof StatusError ? e : errors.internal((e as Error).message);
  if (res.headersSent) return res.end();
  res.writeHead(s.code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(s.toStatus()));
}

export class KubeletServer {
  private server: https.Server;
  private sockets = new Set<Duplex>();

  constructor(private opts: KubeletServerOptions) {
    this.server = https.createServer(
      { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, requestCert: true, rejectUnauthorized: true },
      (req, res) => this.handle(req, res).catch((e) => sendStatus(res, e)),
    );
    this.server.on('secureConnection', (s: Duplex) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      this.upgrade(req, socket, head).catch((e) => {
        const s = e instanceof StatusError ? e : errors.internal((e as Error).message);
        const body = JSON.stringify(s.toStatus());
        socket.end(`HTTP/1.1 ${s.code} ${s.reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      });
    });
    this.server.on('tlsClientError', () => {});
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private async sandboxOf(namespace: string, pod: string): Promise<Sandbox> {
    const sandboxes = (await this.opts.runtime.listSandboxes()).filter((s) => s.config.namespace === namespace && s.config.name === pod);
    if (!sandboxes.length) throw errors.notFound({ group: '', resource: 'pods' }, pod);
    return sandboxes[sandboxes.length - 1];
  }

  /** The instances of one container of a pod, newest first. */
  private async instances(namespace: string, pod: string, container: string): Promise<ContainerStatus[]> {
    const sandbox = await this.sandboxOf(namespace, pod);
    return (await this.opts.runtime.listContainers(sandbox.id)).filter((c) => c.name === container).sort((a, b) => b.attempt - a.attempt);
  }

  private async current(namespace: string, pod: string, container: string): Promise<ContainerStatus> {
    const [latest] = await this.instances(namespace, pod, container);
    if (!latest) throw errors.badRequest(`container "${container}" in pod "${pod}" is waiting to start: ContainerCreating`);
    return latest;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!(req.socket as TLSSocket).authorized) throw errors.unauthorized();
    const url = new URL(req.url ?? '/', 'https://kubelet.invalid');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('ok');
    }
    if (parts[0] === 'containerLogs' && parts.length === 4 && req.method === 'GET') return this.logs(parts[1], parts[2], parts[3], url.searchParams, req, res);
    if (url.pathname === '/stats/summary' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(await this.summary()));
    }
    if (['exec', 'attach', 'portForward'].includes(parts[0])) throw errors.badRequest('Upgrade request required');
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private async logs(ns: string, pod: string, container: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse) {
    const all = await this.instances(ns, pod, container);
    // Instances are newest first: the previous one is the instance the latest restart replaced.
    const previous = q.get('previous') === 'true';
    const target: ContainerStatus | undefined = previous ? all[1] : all[0];
    if (previous && !target) throw errors.badRequest(`previous terminated container "${container}" in pod "${pod}" not found`);
    if (!target) throw errors.badRequest(`container "${container}" in pod "${pod}" is waiting to start: ContainerCreating`);
    const num = (k: string) => (q.get(k) === null ? undefined : Number(q.get(k)));
    const since = num('sinceSeconds') !== undefined ? Date.now() - num('sinceSeconds')! * 1000 : q.get('sinceTime') ? Date.parse(q.get('sinceTime')!) : undefined;
    const abort = new AbortController();
    req.on('close', () => abort.abort());
    const stream = this.opts.runtime.logs(target.id, {
      follow: q.get('follow') === 'true',
      tailLines: num('tailLines'),
      sinceTime: since,
      timestamps: q.get('timestamps') === 'true',
      limitBytes: num('limitBytes'),
      signal: abort.signal,
    });
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    stream.on('error', () => res.end());
    stream.pipe(res);
    res.on('close', () => stream.destroy());
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    if (!(req.socket as TLSSocket).authorized) throw errors.unauthorized();
    const url = new URL(req.url ?? '/', 'https://kubelet.invalid');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const rt = this.opts.runtime;
    if ((parts[0] === 'exec' || parts[0] === 'attach') && parts.length === 4) {
      const c = await this.current(parts[1], parts[2], parts[3]);
      if (c.state !== 'running') throw errors.badRequest(`container ${parts[3]} is not running (state: ${c.state})`);
      if (parts[0] === 'exec') {
        const exec = parseExecQuery(url.searchParams);
        return serveExecUpgrade(req, socket, head, exec, (io, signal) => rt.exec(c.id, exec.command, io, signal));
      }
      return serveAttachUpgrade(req, socket, head, parseAttachQuery(url.searchParams), async (io, signal) => {
        await rt.attach(c.id, io, signal);
        return 0;
      });
    }
    if (parts[0] === 'portForward' && parts.length === 3) {
      const sandbox = await this.sandboxOf(parts[1], parts[2]);
      return servePortForwardUpgrade(req, socket, head, (port) => rt.portForward(sandbox.id, port));
    }
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }

  /** The shape of upstream's /stats/summary that metrics consumers read. */
  private async summary() {
    const rt = this.opts.runtime;
    const now = new Date().toISOString();
    const pods = [];
    for (const s of await rt.listSandboxes()) {
      const containers = [];
      let cpu = 0;
      let mem = 0;
      for (const c of (await rt.listContainers(s.id)).filter((x) => x.state === 'running')) {
        const u = await rt.stats(c.id);
        if (!u) continue;
        cpu += u.cpuUsageNanos;
        mem += u.memoryWorkingSetBytes;
        containers.push({ name: c.name, startTime: c.startedAt, cpu: { time: now, usageCoreNanoSeconds: u.cpuUsageNanos }, memory: { time: now, workingSetBytes: u.memoryWorkingSetBytes } });
      }
      pods.push({
        podRef: { name: s.config.name, namespace: s.config.namespace, uid: s.config.uid },
        containers,
        cpu: { time: now, usageCoreNanoSeconds: cpu },
        memory: { time: now, workingSetBytes: mem },
      });
    }
    const host = hostUsage();
    return {
      node: { nodeName: this.opts.nodeName, cpu: { time: now, usageCoreNanoSeconds: host.cpuNanos }, memory: { time: now, workingSetBytes: host.memoryBytes } },
      pods,
    };
  }
}
