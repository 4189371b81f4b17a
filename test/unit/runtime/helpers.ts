// Shared fixtures for the process runtime tests: temporary node directories, pod IPs that do not
// collide with other test files, bounded waits, and cleanup of every process a test started.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { readStat } from '../../../src/kubelet/runtime/process/procfs.js';
import { ProcessRuntime } from '../../../src/kubelet/runtime/process/runtime.js';
import type { ContainerConfig, PodSandboxConfig, Runtime } from '../../../src/kubelet/runtime/types.js';

const subnet = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
let nextHost = 2;
export function podIp(): string {
  return `${subnet}.${nextHost++}`;
}

export function sandboxConfig(name: string, ip = podIp()): PodSandboxConfig {
  return { uid: `uid-${name}-${Math.random().toString(16).slice(2)}`, namespace: 'default', name, ip, hostname: name };
}

export function containerConfig(name: string, over: Partial<ContainerConfig> = {}): ContainerConfig {
  return { name, image: 'busybox', command: [], args: [], env: {}, stdin: false, stdinOnce: false, tty: false, mounts: [], attempt: 0, ports: [], ...over };
}

/** Polls `fn` until it returns a truthy value; fails after `ms` (a bound, not a timing assertion). */
export async function until<T>(fn: () => T | Promise<T>, ms = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function readAll(r: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    r.on('data', (d: Buffer) => (s += d.toString()));
    r.on('end', () => resolve(s));
    r.on('error', reject);
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** Retries a GET until the server is listening (bounded). */
export async function httpGetReady(url: string, ms = 10_000): Promise<{ status: number; body: string }> {
  return until(() => httpGet(url).catch(() => undefined), ms, `GET ${url}`);
}

/** Tracks runtimes and directories so `after` hooks stop every container a test started. */
export class Fixture {
  readonly dirs: string[] = [];
  readonly runtimes: Runtime[] = [];
  readonly pids = new Set<number>();

  dir(): string {
    const d = mkdtempSync(path.join(tmpdir(), 'skiff-rt-'));
    this.dirs.push(d);
    return d;
  }

  runtime(stateDir = this.dir(), monitorIntervalMs = 100): ProcessRuntime {
    const rt = new ProcessRuntime({ stateDir, monitorIntervalMs });
    this.runtimes.push(rt);
    return rt;
  }

  async cleanup(): Promise<void> {
    for (const rt of this.runtimes) {
      for (const c of await rt.listContainers()) {
        if (c.pid !== undefined) this.pids.add(c.pid);
        if (c.state === 'running') await rt.stopContainer(c.id, 0).catch(() => undefined);
      }
    }
    for (const rt of this.runtimes) await rt.close();
    // Anything a test started and the runtimes no longer know (a simulated lost record): by pid only.
    for (const pid of this.pids) {
      if (readStat(pid)?.session !== pid) continue; // not (any more) a session one of our containers created
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}
