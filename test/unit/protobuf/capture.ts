// A throwaway HTTP server that real kubectl binaries can talk to: it serves just enough legacy
// discovery for the imperative `create`/`autoscale`/`auth` commands, records every request body,
// and answers writes with 201 + a JSON echo so kubectl exits 0.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtobufObject, isProtobufEnvelope } from '../../../src/apiserver/protobuf/decode.js';

export const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';
export const kubectlPath = (minor: number) => join(KUBECTL_DIR, `kubectl.1.${minor}`);
export const haveKubectl = (...minors: number[]) => minors.every((m) => existsSync(kubectlPath(m)));

export interface Captured {
  method: string;
  path: string;
  contentType: string;
  body: Buffer;
}

type Res = { name: string; kind: string; namespaced: boolean; verbs?: string[]; group?: string; version?: string };
const CRUD = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const ns = (name: string, kind: string): Res => ({ name, kind, namespaced: true });
const cl = (name: string, kind: string): Res => ({ name, kind, namespaced: false });

const RESOURCES: Record<string, Res[]> = {
  v1: [
    ns('pods', 'Pod'), cl('namespaces', 'Namespace'), ns('configmaps', 'ConfigMap'), ns('secrets', 'Secret'),
    ns('services', 'Service'), ns('serviceaccounts', 'ServiceAccount'), ns('resourcequotas', 'ResourceQuota'),
    { name: 'serviceaccounts/token', kind: 'TokenRequest', namespaced: true, verbs: ['create'], group: 'authentication.k8s.io', version: 'v1' },
  ],
  'apps/v1': [ns('deployments', 'Deployment'), ns('replicasets', 'ReplicaSet'),
    { name: 'deployments/scale', kind: 'Scale', namespaced: true, verbs: ['get', 'patch', 'update'], group: 'autoscaling', version: 'v1' }],
  'batch/v1': [ns('jobs', 'Job'), ns('cronjobs', 'CronJob')],
  'rbac.authorization.k8s.io/v1': [ns('roles', 'Role'), ns('rolebindings', 'RoleBinding'), cl('clusterroles', 'ClusterRole'), cl('clusterrolebindings', 'ClusterRoleBinding')],
  'policy/v1': [ns('poddisruptionbudgets', 'PodDisruptionBudget')],
  'networking.k8s.io/v1': [ns('ingresses', 'Ingress')],
  'scheduling.k8s.io/v1': [cl('priorityclasses', 'PriorityClass')],
  'autoscaling/v2': [ns('horizontalpodautoscalers', 'HorizontalPodAutoscaler')],
  'autoscaling/v1': [ns('horizontalpodautoscalers', 'HorizontalPodAutoscaler')],
  'authorization.k8s.io/v1': [{ ...cl('selfsubjectaccessreviews', 'SelfSubjectAccessReview'), verbs: ['create'] }, { ...cl('selfsubjectrulesreviews', 'SelfSubjectRulesReview'), verbs: ['create'] }],
  'authentication.k8s.io/v1': [{ ...cl('selfsubjectreviews', 'SelfSubjectReview'), verbs: ['create'] }],
};

/** Objects the server returns for GETs (autoscale and `create job --from` read their source first). */
const FIXED_OBJECTS: Record<string, unknown> = {
  '/apis/apps/v1/namespaces/default/deployments/d1': {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd1', namespace: 'default', uid: 'u-d1', resourceVersion: '1' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'd1' } }, template: { metadata: { labels: { app: 'd1' } }, spec: { containers: [{ name: 'nginx', image: 'nginx' }] } } },
  },
  '/apis/batch/v1/namespaces/default/cronjobs/cj': {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj', namespace: 'default', uid: 'u-cj', resourceVersion: '1' },
    spec: { schedule: '*/1 * * * *', jobTemplate: { metadata: { name: 'cj' }, spec: { template: { spec: { containers: [{ name: 'cj', image: 'busybox' }], restartPolicy: 'OnFailure' } } } } },
  },
};

function discovery(path: string, host: string): unknown {
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }] };
  if (path === '/apis') {
    const byGroup = new Map<string, string[]>();
    for (const gv of Object.keys(RESOURCES)) {
      if (gv === 'v1') continue;
      const [g, v] = gv.split('/');
      byGroup.set(g, [...(byGroup.get(g) ?? []), v]);
    }
    return {
      kind: 'APIGroupList', apiVersion: 'v1',
      groups: [...byGroup].map(([name, vs]) => ({
        name, versions: vs.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
        preferredVersion: { groupVersion: `${name}/${vs[0]}`, version: vs[0] },
      })),
    };
  }
  const gv = path === '/api/v1' ? 'v1' : path.startsWith('/apis/') ? path.slice(6) : '';
  const list = RESOURCES[gv];
  if (!list) return undefined;
  return {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv,
    resources: list.map((r) => ({
      name: r.name, singularName: r.name.includes('/') ? '' : r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind,
      verbs: r.verbs ?? CRUD, ...(r.group !== undefined ? { group: r.group, version: r.version } : {}),
    })),
  };
}

/** The 201 body: the request object, plus the status fields some commands read. */
function echo(req: Captured): unknown {
  let obj: Record<string, unknown> = {};
  try {
    obj = isProtobufEnvelope(req.body) ? (decodeProtobufObject(req.body) as Record<string, unknown>) : JSON.parse(req.body.toString('utf8'));
  } catch {
    // A body we cannot decode is still recorded; the test's assertions will report it.
  }
  const meta = (obj.metadata ?? {}) as Record<string, unknown>;
  obj.metadata = { ...meta, name: meta.name ?? 'x', uid: 'u1', resourceVersion: '1', creationTimestamp: '2024-01-01T00:00:00Z' };
  if (obj.kind === 'SelfSubjectAccessReview') obj.status = { allowed: true };
  if (obj.kind === 'SelfSubjectRulesReview') obj.status = { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], incomplete: false };
  if (obj.kind === 'SelfSubjectReview') obj.status = { userInfo: { username: 'tester', groups: ['system:authenticated'] } };
  if (obj.kind === 'TokenRequest') obj.status = { token: 'tok', expirationTimestamp: '2030-01-01T00:00:00Z' };
  return obj;
}

export class CaptureServer {
  readonly requests: Captured[] = [];
  private server = http.createServer((req, res) => this.handle(req, res));
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const cap: Captured = { method: req.method ?? '', path: url.pathname, contentType: String(req.headers['content-type'] ?? ''), body: Buffer.concat(chunks) };
      const json = (code: number, body: unknown) => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (cap.method === 'GET') {
        if (cap.path === '/version') return json(200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
        if (cap.path === '/openapi/v2') {
          // Empty protobuf Document: kubectl finds no schema and skips client-side validation.
          res.writeHead(200, { 'Content-Type': 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' });
          return res.end();
        }
        const d = discovery(cap.path, `127.0.0.1:${this.port}`) ?? FIXED_OBJECTS[cap.path];
        if (d) return json(200, d);
        return json(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: `${cap.path} not found` });
      }
      this.requests.push(cap);
      json(201, echo(cap));
    });
  }
}

export interface KubectlEnv {
  dir: string;
  kubeconfig: string;
  cleanup(): void;
}

export function kubectlEnv(port: number): KubectlEnv {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-pb-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config',
    `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]`,
    'users: [{name: u, user: {}}]',
    'contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]',
    'current-context: x', '',
  ].join('\n'));
  return { dir, kubeconfig, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one kubectl; a hung binary is SIGKILLed by execFile's timeout, so none outlives the test. */
export function runKubectl(minor: number, env: KubectlEnv, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      kubectlPath(minor),
      ['--kubeconfig', env.kubeconfig, '--cache-dir', join(env.dir, 'cache'), '--request-timeout=20s', ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: env.dir }, timeout: 60_000, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * What a Go JSON body means, minus what protobuf cannot carry: `null`s (nil pointers, zero
 * Times), empty objects (non-pointer structs left at zero) and empty lists are dropped.
 */
export function normalizeGoJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalizeGoJson);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const n = normalizeGoJson(x);
    if (n === null || n === undefined) continue;
    if (Array.isArray(n) && n.length === 0) continue;
    if (typeof n === 'object' && !Array.isArray(n) && Object.keys(n).length === 0) continue;
    out[k] = n;
  }
  return out;
}

/** A normalized JSON request body as a KObject: `metadata` is always present after decoding. */
export function expectedObject(jsonBody: Buffer): Record<string, unknown> {
  const n = normalizeGoJson(JSON.parse(jsonBody.toString('utf8'))) as Record<string, unknown>;
  return { ...n, metadata: n.metadata ?? {} };
}
