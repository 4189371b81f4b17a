// Shared pieces of the ingress tests: loopback backends, API objects, a tiny HTTP client.
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import type { ApiClient } from '../../../src/client/client.js';
import { R } from '../../../src/client/client.js';
import type { KObject } from '../../../src/machinery/object.js';
import { INGRESSES, INGRESS_CLASSES } from '../../../src/ingress/index.js';

export interface Backend {
  name: string;
  ip: string;
  port: number;
  /** Requests seen, in order. */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  server: http.Server;
  close(): Promise<void>;
}

/**
 * An HTTP server on ip:0 answering JSON {backend, method, url, headers}; POST /echo streams the
 * request body back; WebSocket connections echo every message prefixed with the backend name.
 */
export async function startBackend(name: string, ip: string, handler?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean): Promise<Backend> {
  const seen: Backend['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (handler?.(req, res)) return;
    if (req.url?.startsWith('/echo')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m, isBinary) => ws.send(isBinary ? m : `${name}:${m.toString()}`)));
  await new Promise<void>((resolve) => server.listen(0, ip, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    name, ip, port, seen, server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function ensureNamespace(c: ApiClient, name: string): Promise<void> {
  try {
    await c.create(R.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } as KObject);
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
  }
}

export async function createService(c: ApiClient, ns: string, name: string, ports: { name?: string; port: number; targetPort?: number | string }[]): Promise<KObject> {
  return c.create(R.services, ns, {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns },
    spec: { selector: { app: name }, ports: ports.map((p) => ({ protocol: 'TCP', ...p })) },
  } as KObject);
}

export function sliceObject(ns: string, svc: string, name: string, ports: { name?: string; port: number }[], endpoints: { ip: string; ready?: boolean }[]): KObject {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: 'TCP' })),
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true } })),
  } as KObject;
}

/** A Service plus one EndpointSlice listing the given backends on their ports (all one port). */
export async function exposeBackends(c: ApiClient, ns: string, svc: string, backends: Backend[], opts: { port?: number; portName?: string } = {}): Promise<void> {
  await createService(c, ns, svc, [{ name: opts.portName, port: opts.port ?? 80, targetPort: backends[0]?.port ?? 8080 }]);
  // One slice per backend: the test backends listen on different ports.
  let i = 0;
  for (const b of backends) await c.create(R.endpointslices, ns, sliceObject(ns, svc, `${svc}-${i++}`, [{ name: opts.portName ?? '', port: b.port }], [{ ip: b.ip }]));
}

export async function createIngress(c: ApiClient, obj: Record<string, unknown>): Promise<KObject> {
  const o = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', ...obj } as KObject;
  return c.create(INGRESSES, o.metadata.namespace, o);
}

export async function createDefaultClass(c: ApiClient, name = 'skiff', controller = 'skiff.dev/ingress-controller', isDefault = true): Promise<void> {
  await c.create(INGRESS_CLASSES, undefined, {
    apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass',
    metadata: { name, annotations: isDefault ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : {} },
    spec: { controller },
  } as KObject);
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json?: { backend: string; method: string; url: string; headers: Record<string, string> };
}

export function request(port: number, path: string, opts: { host?: string; ip?: string; method?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: opts.ip ?? '127.10.0.1', port, path, method: opts.method ?? 'GET', headers: { host: opts.host ?? 'example.test', ...opts.headers }, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          const r: Reply = { status: res.statusCode ?? 0, headers: res.headers, body };
          if (res.headers['content-type']?.includes('json')) r.json = JSON.parse(body);
          resolve(r);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns a truthy value (bounded: ~10 s), returning it. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string): Promise<T> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
