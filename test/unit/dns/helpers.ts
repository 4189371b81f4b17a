// Query helpers (dns-packet over real UDP/TCP sockets), a fake upstream resolver on loopback, and
// builders for Services and EndpointSlices.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type RecordType } from 'dns-packet';
import type { KObject } from '../../../src/machinery/object.js';
import { until } from '../../support/wait.js';

export interface QueryOptions {
  tcp?: boolean;
  /** Add an EDNS0 OPT record advertising this UDP size. */
  edns?: number;
  timeoutMs?: number;
}

export type Reply = DecodedPacket & { rcode: string };

export function encodeQuery(name: string, type: RecordType | 'ANY', opts: QueryOptions = {}, id = Math.floor(Math.random() * 65536)): Buffer {
  const p: Packet = { type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as RecordType, class: 'IN' }] };
  if (opts.edns) p.additionals = [{ name: '.', type: 'OPT', udpPayloadSize: opts.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
  return dnsPacket.encode(p);
}

export async function rawQuery(port: number, msg: Buffer, opts: QueryOptions = {}, host = '127.0.0.1'): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  if (!opts.tcp) {
    const sock = dgram.createSocket('udp4');
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('udp query timed out')), timeoutMs);
        sock.on('message', (m) => {
          if (m.length >= 2 && m[0] === msg[0] && m[1] === msg[1]) {
            clearTimeout(t);
            resolve(m);
          }
        });
        sock.on('error', (e) => {
          clearTimeout(t);
          reject(e);
        });
        sock.send(msg, port, host);
      });
    } finally {
      sock.close();
    }
  }
  const sock = net.connect({ host, port });
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('tcp query timed out')), timeoutMs);
      let buf = Buffer.alloc(0);
      sock.on('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(msg.length);
        sock.write(Buffer.concat([len, msg]));
      });
      sock.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          clearTimeout(t);
          resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        }
      });
    });
  } finally {
    sock.destroy();
  }
}

export async function query(port: number, name: string, type: RecordType | 'ANY', opts: QueryOptions = {}): Promise<Reply> {
  return dnsPacket.decode(await rawQuery(port, encodeQuery(name, type, opts), opts)) as Reply;
}

/** The data of the answers of one type, sorted (strings) — for order-independent comparison. */
export function datas(r: DecodedPacket, type: string = r.questions?.[0]?.type ?? 'A'): string[] {
  return (r.answers ?? [])
    .filter((a) => a.type === type)
    .map((a) => (typeof (a as { data: unknown }).data === 'string' ? ((a as { data: string }).data) : JSON.stringify((a as { data: unknown }).data)))
    .sort();
}

export function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs?: number): Promise<T> {
  return until(fn, what, timeoutMs);
}

// ---------------------------------------------------------------------------------------------
// A fake upstream resolver: fixed records, UDP truncation for chosen names, a query log.

export interface FakeUpstream {
  port: number;
  /** Questions seen, as "udp|tcp name TYPE". */
  seen: string[];
  close(): Promise<void>;
}

export async function startFakeUpstream(records: Record<string, Answer[]>, opts: { truncateOverUdp?: string[] } = {}): Promise<FakeUpstream> {
  const seen: string[] = [];
  const respond = (msg: Buffer, proto: 'udp' | 'tcp'): Buffer | undefined => {
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question) return undefined;
    const name = question.name.toLowerCase();
    seen.push(`${proto} ${name} ${question.type}`);
    const answers = (records[name] ?? []).filter((a) => a.type === question.type);
    const known = name in records;
    if (proto === 'udp' && opts.truncateOverUdp?.includes(name))
      return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.TRUNCATED_RESPONSE | dnsPacket.RECURSION_AVAILABLE, questions: q.questions });
    return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), questions: q.questions, answers });
  };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  udp.on('message', (m, rinfo) => {
    const out = respond(m, 'udp');
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  const conns = new Set<net.Socket>();
  const tcp = net.createServer((s) => {
    conns.add(s);
    s.on('close', () => conns.delete(s));
    s.on('error', () => s.destroy());
    let buf = Buffer.alloc(0);
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const n = buf.readUInt16BE(0);
        const out = respond(buf.subarray(2, 2 + n), 'tcp');
        buf = buf.subarray(2 + n);
        if (out) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(out.length);
          s.write(Buffer.concat([len, out]));
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    seen,
    close: async () => {
      for (const c of conns) c.destroy();
      await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
}

/** A loopback UDP+TCP port where nothing listens (bound, noted, released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Objects

export function service(name: string, spec: Record<string, unknown>, namespace = 'default'): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

export interface EndpointSpec {
  ip: string;
  ready?: boolean;
  hostname?: string;
}

export function slice(name: string, svc: string, endpoints: EndpointSpec[], ports: { name?: string; port: number; protocol?: string }[], namespace = 'default'): KObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false }, ...(e.hostname ? { hostname: e.hostname } : {}) })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}
