// etcd as the anchor: the store real Kubernetes uses, started by the bench on 127.0.0.1 with a
// temp data dir and free ports, serving TLS with the same certificate as the Skiff API server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { H2Session, type Tls } from './h2.js';
import { commandExists, freePort } from './procs.js';
import { sleep } from './stats.js';

export const etcdInstalled = (): boolean => commandExists('etcd');

export interface Etcd {
  pid: number;
  origin: string;
  /** Spawn to the first 200 from /health. */
  readyMs: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;

/** Start one single-member etcd; `dataDir` on a disk or on tmpfs decides what an fsync costs. */
export async function startEtcd(dataDir: string, tls: { certFile: string; keyFile: string; ca: string }): Promise<Etcd> {
  mkdirSync(dataDir, { recursive: true });
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const origin = `https://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const log = openSync(join(dataDir, '..', `${dataDir.split('/').pop()}.log`), 'a');
  const t = performance.now();
  const child = spawn('etcd', [
    '--name', 'bench', '--data-dir', dataDir,
    '--listen-client-urls', origin, '--advertise-client-urls', origin,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `bench=${peer}`,
    '--cert-file', tls.certFile, '--key-file', tls.keyFile,
    '--logger', 'zap', '--log-level', 'error',
  ], { stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = () => stopChild(child, exited);
  try {
    await waitHealthy(origin, { ca: tls.ca }, child);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: child.pid!, origin, readyMs: performance.now() - t, stop };
}

async function waitHealthy(origin: string, tls: Tls, child: ChildProcess): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let last = '';
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`etcd exited with code ${child.exitCode}`);
    try {
      const s = await H2Session.connect(origin, tls, 1000);
      try {
        const r = await s.request('GET', '/health');
        if (r.status === 200 && r.body.includes('"health":"true"')) return;
        last = `${r.status} ${r.body}`;
      } finally {
        s.close();
      }
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(10);
  }
  throw new Error(`etcd not healthy within ${READY_TIMEOUT_MS} ms: ${last}`);
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM'); // by the child's own PID
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
