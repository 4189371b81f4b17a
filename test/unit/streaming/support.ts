// Test support: a fake API server answering just enough for kubectl to exec/attach/cp/port-forward
// into pod default/p1 (container c), whose upgrade requests go to the streaming functions; and a
// helper that runs the real kubectl and always kills it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { ExecIO } from '../../../src/kubelet/runtime/types.js';
import {
  parseAttachQuery,
  parseExecQuery,
  serveAttachUpgrade,
  serveExecUpgrade,
  servePortForwardUpgrade,
  type ExecRequest,
  type ExecRunner,
} from '../../../src/kubelet/streaming/index.js';
import { isStatusError } from '../../../src/machinery/errors.js';

export const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';
export const kubectlBin = (minor: number) => path.join(KUBECTL_DIR, `kubectl.1.${minor}`);

export interface Upgrade {
  method: string;
  path: string;
  upgrade: string;
  protocols: string;
  /** Resolves when the server side of the upgraded connection is closed. */
  closed: Promise<void>;
}

export interface FakeApi {
  port: number;
  dir: string;
  kubeconfig: string;
  upgrades: Upgrade[];
  /** Answer WebSocket upgrades with 400 (forces kubectl's SPDY fallback). */
  refuseWebSocket: boolean;
  /** What exec runs (default: a real host process, see processRunner). */
  runner: (exec: ExecRequest) => ExecRunner;
  dial: (port: number) => Promise<Duplex>;
  close(): Promise<void>;
}

const pod = {
  kind: 'Pod',
  apiVersion: 'v1',
  metadata: { name: 'p1', namespace: 'default', uid: '6b2c0f1e-0000-4000-8000-000000000001', resourceVersion: '7', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec: { containers: [{ name: 'c', image: 'busybox' }], nodeName: 'node1' },
  status: {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: 'True' }],
    podIP: '127.0.0.1',
    containerStatuses: [{ name: 'c', ready: true, restartCount: 0, image: 'busybox', imageID: '', state: { running: { startedAt: '2024-01-01T00:00:01Z' } } }],
  },
};

const resourceList = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [
    { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'] },
    { name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] },
    { name: 'pods/portforward', singularName: '', namespaced: true, kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  ],
};

function json(res: http.ServerResponse, code: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s) });
  res.end(s);
}

/** Runs the command as a host process (so tar really works for kubectl cp). */
export function processRunner(exec: ExecRequest): ExecRunner {
  return (io: ExecIO, signal: AbortSignal) =>
    new Promise<number>((resolve) => {
      const [cmd, ...args] = exec.command;
      const child = spawn(cmd!, args, { stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      const onAbort = () => child.kill('SIGKILL');
      signal.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => {
        io.stderr?.write(`exec failed: ${e.message}\n`);
        signal.removeEventListener('abort', onAbort);
        resolve(127);
      });
      if (io.stdin && child.stdin) {
        child.stdin.on('error', () => {});
        io.stdin.pipe(child.stdin);
      }
      child.stdout!.on('data', (c: Buffer) => io.stdout?.write(c));
      child.stderr!.on('data', (c: Buffer) => (io.stderr ?? io.stdout)?.write(c));
      child.on('close', (code, sig) => {
        signal.removeEventListener('abort', onAbort);
        resolve(code ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : 1));
      });
    });
}

export async function startFakeApi(): Promise<FakeApi> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-streaming-'));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    if (p === '/version') return json(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
    if (p === '/api') return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
    if (p === '/apis') return json(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (p === '/api/v1') return json(res, 200, resourceList);
    if (p === '/api/v1/namespaces/default/pods/p1' && req.method === 'GET') return json(res, 200, pod);
    json(res, 404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `the server could not find the requested resource (${req.method} ${p})`, reason: 'NotFound', code: 404 });
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const api: FakeApi = {
    port: 0,
    dir,
    kubeconfig: path.join(dir, 'kubeconfig'),
    upgrades: [],
    refuseWebSocket: false,
    runner: processRunner,
    dial: (port) =>
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      }),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket as net.Socket);
    const url = new URL(req.url ?? '/', 'http://x');
    api.upgrades.push({
      method: req.method ?? '',
      path: url.pathname,
      upgrade: String(req.headers.upgrade ?? ''),
      protocols: String(req.headers['sec-websocket-protocol'] ?? req.headers['x-stream-protocol-version'] ?? ''),
      closed: new Promise<void>((resolve) => socket.once('close', () => resolve())),
    });
    const m = /^\/api\/v1\/namespaces\/default\/pods\/p1\/(exec|attach|portforward)$/.exec(url.pathname);
    if (api.refuseWebSocket && String(req.headers.upgrade).toLowerCase() === 'websocket') {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'websocket refused by test', reason: 'BadRequest', code: 400 });
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    try {
      if (m?.[1] === 'exec') {
        const exec = parseExecQuery(url.searchParams);
        serveExecUpgrade(req, socket, head, exec, api.runner(exec));
      } else if (m?.[1] === 'attach') {
        const attach = parseAttachQuery(url.searchParams);
        serveAttachUpgrade(req, socket, head, attach, api.runner(attach));
      } else if (m?.[1] === 'portforward') {
        servePortForwardUpgrade(req, socket, head, (port) => api.dial(port));
      } else {
        socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      }
    } catch (e) {
      const status = isStatusError(e) ? e.toStatus() : { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: String(e), reason: 'InternalError', code: 500 };
      const body = JSON.stringify(status);
      socket.end(`HTTP/1.1 ${status.code} Error\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.port = (server.address() as AddressInfo).port;
  writeFileSync(
    api.kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: http://127.0.0.1:${api.port}`,
      'contexts:',
      '- name: fake',
      '  context: {cluster: fake, user: fake, namespace: default}',
      'current-context: fake',
      'users:',
      '- name: fake',
      '  user: {}',
      '',
    ].join('\n'),
  );
  return api;
}

export interface KubectlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Kill every kubectl still running (call from after()). */
export function killAllKubectl(): void {
  for (const c of children) c.kill('SIGKILL');
}

export function spawnKubectl(api: FakeApi, minor: number, args: string[], opts: { cwd?: string } = {}): ChildProcess {
  const child = spawn(kubectlBin(minor), ['--kubeconfig', api.kubeconfig, '--cache-dir', path.join(api.dir, `cache-${minor}`), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: opts.cwd ?? api.dir,
    env: { ...process.env, KUBECONFIG: api.kubeconfig, HOME: api.dir },
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Run kubectl to completion (killed after timeoutMs). */
export function kubectl(api: FakeApi, minor: number, args: string[], opts: { stdin?: string | Buffer; timeoutMs?: number; cwd?: string } = {}): Promise<KubectlResult> {
  const child = spawnKubectl(api, minor, args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin!.on('error', () => {});
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  else child.stdin!.end();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resolve when `stream` has produced text matching `re` (or reject after timeoutMs). */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (c: Buffer) => {
      seen += c.toString();
      const m = re.exec(seen);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`kubectl exited before printing ${re}: ${seen}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re}; saw: ${seen}`));
    }, timeoutMs);
    function cleanup() {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
    }
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', onExit);
  });
}

/** Stop a child and wait for it to be gone. */
export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** A TCP echo server (the "pod" port for port-forward). */
export async function startEchoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Connect to a local port, send `payload`, half-close, and collect everything echoed back. */
export function echoRoundTrip(port: number, payload: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('echo round trip timed out'));
    }, timeoutMs);
    s.on('connect', () => s.end(payload));
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}
