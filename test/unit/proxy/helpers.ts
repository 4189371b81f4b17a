// Real sockets for the service proxy tests: line servers that answer with their name, UDP echo
// servers, clients with bounded waits, and pod/service builders over the in-memory API.
import net from 'node:net';
import dgram from 'node:dgram';
import type { KObject } from '../../../src/machinery/object.js';
import { R, type ApiClient } from '../../../src/client/client.js';
import { until } from '../../support/wait.js';

export function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs?: number): Promise<T> {
  return until(fn, what, timeoutMs);
}

/** A random /16 inside 127.0.0.0/8 that other suites are unlikely to use: `127.X.` */
export function randomNet(): string {
  return `127.${150 + Math.floor(Math.random() * 90)}.`;
}

export interface Servers {
  close(): Promise<void>;
}

/** A TCP server on ip:port answering every line with `name|port`. */
export async function lineServer(ip: string, port: number, name: string): Promise<net.Server> {
  const conns = new Set<net.Socket>();
  const srv = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => {});
    let buf = '';
    c.on('data', (d) => {
      buf += String(d);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        buf = buf.slice(i + 1);
        c.write(`${name}|${port}\n`);
      }
    });
  });
  srv.on('close', () => conns.forEach((c) => c.destroy()));
  (srv as net.Server & { dropAll?: () => void }).dropAll = () => conns.forEach((c) => c.destroy());
  await new Promise<void>((res, rej) => {
    srv.once('error', rej);
    srv.listen(port, ip, () => res());
  });
  return srv;
}

export function closeServer(s: net.Server): Promise<void> {
  (s as net.Server & { dropAll?: () => void }).dropAll?.();
  return new Promise((r) => s.close(() => r()));
}

/** A UDP server on ip:port answering `name:<message>`. */
export async function udpEcho(ip: string, port: number, name: string): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send(`${name}:${String(m)}`, r.port, r.address));
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind(port, ip, () => res());
  });
  return s;
}

/** A persistent client connection: ask() sends a line and resolves with the answer line. */
export async function connectLine(ip: string, port: number, localAddress?: string): Promise<{ ask(): Promise<string>; close(): void }> {
  const sock = net.connect({ host: ip, port, localAddress });
  sock.on('error', () => {});
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`connect ${ip}:${port} timed out`)), 3000);
    sock.once('connect', () => (clearTimeout(t), res()));
    sock.once('error', (e) => (clearTimeout(t), rej(e)));
  });
  let buf = '';
  const waiters: ((l: string | Error) => void)[] = [];
  sock.on('data', (d) => {
    buf += String(d);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiters.shift()?.(line);
    }
  });
  const fail = (e: Error) => waiters.splice(0).forEach((w) => w(e));
  sock.on('close', () => fail(new Error('closed')));
  sock.on('error', (e) => fail(e));
  return {
    ask: () =>
      new Promise<string>((res, rej) => {
        const t = setTimeout(() => rej(new Error('no answer within 3s')), 3000);
        waiters.push((l) => (clearTimeout(t), l instanceof Error ? rej(l) : res(l)));
        sock.write('q\n');
      }),
    close: () => sock.destroy(),
  };
}

/** One question on a fresh connection. */
export async function ask(ip: string, port: number, localAddress?: string): Promise<string> {
  const c = await connectLine(ip, port, localAddress);
  try {
    return await c.ask();
  } finally {
    c.close();
  }
}

/** Resolves with how a connection attempt failed ('refused', 'reset', 'closed'), or rejects if it was answered. */
export async function expectRejected(ip: string, port: number): Promise<string> {
  try {
    const answer = await ask(ip, port);
    throw new Error(`unexpected answer ${answer}`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return 'refused';
    if (code === 'ECONNRESET') return 'reset';
    if ((e as Error).message === 'closed') return 'closed';
    throw e;
  }
}

export async function udpAsk(ip: string, port: number, msg: string): Promise<string> {
  const s = dgram.createSocket('udp4');
  try {
    return await new Promise<string>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no UDP answer from ${ip}:${port}`)), 3000);
      s.on('message', (m) => (clearTimeout(t), res(String(m))));
      s.on('error', (e) => (clearTimeout(t), rej(e)));
      s.send(msg, port, ip);
    });
  } finally {
    s.close();
  }
}

export function pod(name: string, ports: { name?: string; containerPort: number; protocol?: string }[], labels: Record<string, string>): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox', ports }] },
  };
}

export async function setPodStatus(client: ApiClient, name: string, ip: string, ready: boolean): Promise<void> {
  const live = await client.get(R.pods, 'default', name);
  const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  live.status = {
    ...(live.status as object),
    phase: 'Running',
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [
      { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: t },
      { type: 'ContainersReady', status: ready ? 'True' : 'False', lastTransitionTime: t },
    ],
  };
  await client.update(R.pods, 'default', live, 'status');
}

export async function runPod(client: ApiClient, p: KObject, ip: string, ready = true): Promise<void> {
  await client.create(R.pods, 'default', p);
  await setPodStatus(client, p.metadata.name!, ip, ready);
}

export function service(name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', ...(annotations ? { annotations } : {}) }, spec };
}
