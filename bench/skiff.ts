// Skiff clusters driven as a user drives them: `bin/skiff` as a child process, with SKIFF_HOME
// and KUBECONFIG pointing into the bench's temp directory (never ~/.skiff or ~/.kube).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { Tls } from './h2.js';
import { stopPid, timeCommand } from './procs.js';
import { sleep } from './stats.js';

// dist/bench/skiff.js → the repository root.
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SKIFF = join(REPO, 'bin', 'skiff');
const DELETE_ATTEMPTS = 3;

export interface CreateTiming {
  /** `skiff create cluster` from spawn to exit. */
  ms: number;
  /** The control plane's own start-up, from its "ready … in N ms" log line. */
  controlPlaneMs: number;
  /** Spawn of the CLI to the server's "starting control plane" line: CLI start, certificates, server process start and module loading. */
  beforeControlPlaneMs: number;
  /** The server's "ready" line to the CLI's exit: /readyz polling, kubeconfig. */
  afterReadyMs: number;
}

export class SkiffEnv {
  readonly home: string;
  readonly kubeconfig: string;
  readonly env: NodeJS.ProcessEnv;
  /** Clusters created and not yet deleted: the cleanup list. */
  readonly live = new Set<string>();

  constructor(root: string, extraEnv: NodeJS.ProcessEnv = {}) {
    this.home = join(root, 'skiff-home');
    this.kubeconfig = join(root, 'kubeconfig');
    this.env = { ...process.env, SKIFF_HOME: this.home, KUBECONFIG: this.kubeconfig, ...extraEnv };
  }

  /**
   * `skiff create cluster`, timed from spawn to exit (it exits once /readyz is 200), split into
   * phases by the control plane's log timestamps (same clock).
   */
  async create(name: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<CreateTiming> {
    this.live.add(name); // before the command: a half-created cluster is cleaned up too
    const spawnedAt = Date.now();
    const r = await timeCommand(process.execPath, [SKIFF, 'create', 'cluster', '--name', name], { ...this.env, ...extraEnv });
    if (r.code !== 0) throw new Error(`skiff create cluster --name ${name} failed (${r.code}):\n${r.output}`);
    const log = readFileSync(join(this.clusterDir(name), 'logs', 'controlplane.log'), 'utf8');
    const at = (re: RegExp) => Date.parse(re.exec(log)?.[1] ?? '');
    const startingAt = at(/^(\S+) starting control plane/m);
    const ready = /^(\S+) control plane "[^"]+" ready on \S+ in (\d+) ms/m.exec(log);
    const readyAt = Date.parse(ready?.[1] ?? '');
    return {
      ms: r.ms,
      controlPlaneMs: Number(ready?.[2] ?? NaN),
      beforeControlPlaneMs: startingAt - spawnedAt,
      afterReadyMs: spawnedAt + r.ms - readyAt,
    };
  }

  async delete(name: string): Promise<void> {
    const r = await timeCommand(process.execPath, [SKIFF, 'delete', 'cluster', '--name', name], this.env);
    if (r.code !== 0 && !/unknown cluster/.test(r.output)) throw new Error(`skiff delete cluster --name ${name} failed (${r.code}):\n${r.output}`);
    this.live.delete(name);
  }

  /**
   * Delete every cluster this env created. `skiff delete` is retried (the CLI can be briefly
   * unloadable while the tree is rebuilt); if it still fails, the server is stopped by its
   * recorded PID — only if its command line is this cluster's `serve` — so that removing the
   * temp directory never orphans a process.
   */
  async deleteAll(): Promise<void> {
    for (const name of [...this.live]) {
      for (let attempt = 1; attempt <= DELETE_ATTEMPTS && this.live.has(name); attempt++) {
        try {
          await this.delete(name);
        } catch (e) {
          console.error(`WARNING (attempt ${attempt}/${DELETE_ATTEMPTS}): ${(e as Error).message}`);
          if (attempt < DELETE_ATTEMPTS) await sleep(2000);
        }
      }
      if (this.live.has(name)) await this.stopServerByPid(name);
    }
  }

  private async stopServerByPid(name: string): Promise<void> {
    let pid: number;
    try {
      pid = this.pid(name);
    } catch {
      return; // never started
    }
    const ours = (() => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(`serve --name ${name} --home ${this.home}`);
      } catch {
        return false;
      }
    })();
    if (ours) {
      console.error(`stopping the server of cluster ${name} by its PID ${pid}`);
      await stopPid(pid);
    }
    this.live.delete(name);
  }

  clusterDir(name: string): string {
    return join(this.home, 'clusters', name);
  }

  pid(name: string): number {
    return Number(readFileSync(join(this.clusterDir(name), 'pids', 'controlplane.pid'), 'utf8').trim());
  }

  pkiFile(name: string, file: string): string {
    return join(this.clusterDir(name), 'pki', file);
  }

  /** Server URL and admin credentials of context skiff-<name>, from the kubeconfig the CLI wrote. */
  credentials(name: string): { server: string; tls: Tls } {
    const config = YAML.parse(readFileSync(this.kubeconfig, 'utf8'));
    const ctx = `skiff-${name}`;
    const find = (list: { name: string }[] | undefined) => list?.find((e) => e.name === ctx) as Record<string, Record<string, string>> | undefined;
    const cluster = find(config.clusters)?.cluster;
    const user = find(config.users)?.user;
    if (!cluster || !user) throw new Error(`context ${ctx} not found in ${this.kubeconfig}`);
    const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
    return {
      server: cluster.server,
      tls: { ca: b64(cluster['certificate-authority-data']), cert: b64(user['client-certificate-data']), key: b64(user['client-key-data']) },
    };
  }
}
