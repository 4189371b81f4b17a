// Real clusters for end-to-end tests: `bin/skiff create cluster` in a private SKIFF_HOME and
// kubeconfig, driven by the real kubectl binaries. Each test file gets its own cluster.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import https from 'node:https';
import YAML from 'yaml';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SKIFF = path.join(REPO, 'bin', 'skiff');
/** The seed's shared material sits beside the repository (as in CI: a copy of shared/ next to the clone). */
export const SHARED = path.resolve(REPO, '..', 'shared');
const KUBECTL_DIR = '/usr/lib/google-cloud-sdk/bin';

export function kubectlPath(minor: number): string {
  return path.join(KUBECTL_DIR, `kubectl.1.${minor}`);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env: opts.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin?.end();
  });
}

export class TestCluster {
  readonly home: string;
  readonly kubeconfig: string;
  readonly cacheDir: string;
  readonly env: NodeJS.ProcessEnv;
  private kc?: { server: string; ca: string; cert: string; key: string };

  constructor(readonly name: string) {
    this.home = mkdtempSync(path.join(os.tmpdir(), `skiff-e2e-${name}-`));
    this.kubeconfig = path.join(this.home, 'kubeconfig');
    this.cacheDir = path.join(this.home, 'kube-cache');
    this.env = { ...process.env, SKIFF_HOME: path.join(this.home, 'skiff'), KUBECONFIG: this.kubeconfig, HOME: this.home };
  }

  static async create(name: string, extraArgs: string[] = []): Promise<TestCluster> {
    const c = new TestCluster(name);
    const r = await c.skiff(['create', 'cluster', '--name', name, ...extraArgs]);
    if (r.code !== 0) throw new Error(`create cluster failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return c;
  }

  skiff(args: string[]): Promise<RunResult> {
    return run(process.execPath, [SKIFF, ...args], { env: this.env, timeoutMs: 120_000 });
  }

  /** Run a kubectl of the given minor (default 1.32) against this cluster. */
  kubectl(args: string[], opts: { input?: string; minor?: number; timeoutMs?: number } = {}): Promise<RunResult> {
    return run(kubectlPath(opts.minor ?? 32), ['--kubeconfig', this.kubeconfig, '--cache-dir', this.cacheDir, ...args], {
      env: this.env,
      input: opts.input,
      timeoutMs: opts.timeoutMs,
    });
  }

  /** kubectl that must succeed; returns stdout. */
  async k(args: string[], opts: { input?: string; minor?: number } = {}): Promise<string> {
    const r = await this.kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /** Start kubectl in the background (get -w). */
  spawnKubectl(args: string[], minor = 32) {
    return spawn(kubectlPath(minor), ['--kubeconfig', this.kubeconfig, '--cache-dir', this.cacheDir, ...args], { env: this.env });
  }

  credentials() {
    if (!this.kc) {
      const doc = YAML.parse(readFileSync(this.kubeconfig, 'utf8'));
      const ctx = `skiff-${this.name}`;
      const cluster = doc.clusters.find((c: { name: string }) => c.name === ctx).cluster;
      const user = doc.users.find((u: { name: string }) => u.name === ctx).user;
      const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
      this.kc = { server: cluster.server, ca: b64(cluster['certificate-authority-data']), cert: b64(user['client-certificate-data']), key: b64(user['client-key-data']) };
    }
    return this.kc;
  }

  /** A raw HTTPS request as the admin (or anonymous), for wire-level checks. */
  request(method: string, urlPath: string, opts: { body?: string | Buffer; headers?: Record<string, string>; anonymous?: boolean } = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
    const kc = this.credentials();
    const u = new URL(urlPath, kc.server);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          method,
          hostname: u.hostname,
          port: u.port,
          path: u.pathname + u.search,
          ca: kc.ca,
          cert: opts.anonymous ? undefined : kc.cert,
          key: opts.anonymous ? undefined : kc.key,
          headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error('request timed out')));
      req.end(opts.body);
    });
  }

  async destroy(): Promise<void> {
    await this.skiff(['delete', 'cluster', '--name', this.name]);
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** Poll until fn returns a truthy value (bounded; for eventually-consistent controller effects). */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
