// LoadBalancer addresses (the role MetalLB plays on premise): every `type: LoadBalancer` Service
// without a foreign spec.loadBalancerClass gets one address from a loopback pool, written to
// status.loadBalancer.ingress as [{ ip, ipMode: VIP }] through the status subresource; the
// service proxy then answers on it. Semantics follow MetalLB's controller:
//  - an address the Service already holds (status) is kept while it stays in the pool;
//  - spec.loadBalancerIP (or the annotation metallb.universe.tf/loadBalancerIPs, first IPv4) is
//    honoured when it is in the pool and free, otherwise the Service gets nothing and a Warning
//    `AllocationFailed` event;
//  - otherwise a free address is picked at random (so two clusters sharing a host's pool rarely
//    collide); the pool's network and broadcast addresses are never handed out;
//  - the address is released when the Service is deleted or stops being a LoadBalancer (its
//    status is then cleared); Events `IPAllocated` / `AllocationFailed` as MetalLB writes them.
import { isIPv4 } from 'node:net';
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { Informer, cacheKey } from '../client/informer.js';
import { R, type ApiClient } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';
import { asArr, asObj, asStr, dig } from '../api/common/shape.js';
import { emitEvent } from '../client/events.js';

const COMPONENT = 'skiff-loadbalancer-controller';
/** spec.loadBalancerClass values this controller serves (besides none). */
export const LOAD_BALANCER_CLASS = 'skiff.dev/loadbalancer';
const METALLB_IPS_ANNOTATION = 'metallb.universe.tf/loadBalancerIPs';

export interface LoadBalancerControllerOptions {
  /** CIDR inside 127.0.0.0/8, e.g. '127.112.0.0/16'. */
  pool: string;
  log?: (line: string) => void;
  /** Random source in [0, 1) (tests). */
  random?: () => number;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Pool {
  cidr: string;
  first: number;
  last: number;
}

/** The usable addresses of a loopback CIDR (network and broadcast excluded for prefixes < /31). */
export function parsePool(cidr: string): Pool {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m || !isIPv4(m[1])) throw new Error(`load-balancer pool ${JSON.stringify(cidr)} is not an IPv4 CIDR`);
  const bits = Number(m[2]);
  if (bits < 8 || bits > 32) throw new Error(`load-balancer pool ${cidr}: prefix must be /8../32`);
  const size = 2 ** (32 - bits);
  const base = ipToInt(m[1]) - (ipToInt(m[1]) % size);
  if (intToIp(base).split('.')[0] !== '127') throw new Error(`load-balancer pool ${cidr} must be inside 127.0.0.0/8`);
  if (size <= 2) return { cidr, first: base, last: base + size - 1 };
  return { cidr, first: base + 1, last: base + size - 2 };
}

export function inPool(pool: Pool, ip: string): boolean {
  if (!isIPv4(ip)) return false;
  const n = ipToInt(ip);
  return n >= pool.first && n <= pool.last;
}

function isLoadBalancer(svc: KObject): boolean {
  if (dig(svc, 'spec', 'type') !== 'LoadBalancer') return false;
  const cls = asStr(dig(svc, 'spec', 'loadBalancerClass'));
  return !cls || cls === LOAD_BALANCER_CLASS;
}

function statusIPs(svc: KObject): string[] {
  return asArr(dig(svc, 'status', 'loadBalancer', 'ingress'))
    .map((i) => asStr(asObj(i)?.ip))
    .filter((ip): ip is string => !!ip);
}

function requestedIP(svc: KObject): string | undefined {
  const spec = asStr(dig(svc, 'spec', 'loadBalancerIP'));
  if (spec) return spec;
  const ann = svc.metadata.annotations?.[METALLB_IPS_ANNOTATION];
  return ann
    ?.split(',')
    .map((s) => s.trim())
    .find((s) => isIPv4(s));
}

export class LoadBalancerController {
  private services: Informer;
  private queue: WorkQueue;
  private pool: Pool;
  private log: (line: string) => void;
  private random: () => number;
  /** ip → Service key, and back. */
  private owners = new Map<string, string>();
  private assigned = new Map<string, string>();
  /** Failures already reported (one Warning per Service and reason). */
  private warned = new Set<string>();
  /** Services that wanted an address and got none. */
  private waiting = new Set<string>();

  constructor(
    private client: ApiClient,
    opts: LoadBalancerControllerOptions,
  ) {
    this.pool = parsePool(opts.pool);
    this.log = opts.log ?? (() => {});
    this.random = opts.random ?? Math.random;
    this.services = new Informer(client, R.services);
    this.queue = new WorkQueue((k) => this.sync(k), 1, 50, 10_000, (k, e) => this.log(`${COMPONENT}: ${k}: ${(e as Error).message}`));
    const add = (s: KObject) => this.queue.add(cacheKey(s));
    this.services.on({ onAdd: add, onUpdate: add, onDelete: add });
  }

  /** The address each Service holds (diagnostics, tests). */
  allocations(): Map<string, string> {
    return new Map(this.assigned);
  }

  async start(): Promise<void> {
    await this.services.start();
    // Claim what Services already hold before handing out anything new (a restart keeps addresses).
    for (const svc of this.services.list()) {
      if (!isLoadBalancer(svc)) continue;
      const ip = statusIPs(svc).find((a) => inPool(this.pool, a) && !this.owners.has(a));
      if (ip) this.claim(cacheKey(svc), ip);
    }
    for (const svc of this.services.list()) this.queue.add(cacheKey(svc));
  }

  stop(): void {
    this.services.stop();
    this.queue.stop();
  }

  private claim(key: string, ip: string): void {
    if (this.assigned.get(key) === ip) return;
    this.release(key);
    this.owners.set(ip, key);
    this.assigned.set(key, ip);
  }

  private release(key: string): void {
    const ip = this.assigned.get(key);
    if (ip === undefined) return;
    this.assigned.delete(key);
    if (this.owners.get(ip) !== key) return;
    this.owners.delete(ip);
    // An address came free: Services that could not get one try again.
    for (const k of this.waiting) if (k !== key) this.queue.add(k);
  }

  /** A random free address of the pool, or undefined when it is full. */
  private pickFree(): string | undefined {
    const size = this.pool.last - this.pool.first + 1;
    if (this.owners.size >= size) return undefined;
    const start = Math.floor(this.random() * size);
    // Random probes first (cheap while the pool is mostly free), then a bounded linear scan.
    for (let i = 0; i < 32; i++) {
      const ip = intToIp(this.pool.first + ((start + Math.floor(this.random() * size)) % size));
      if (!this.owners.has(ip)) return ip;
    }
    for (let i = 0; i < size; i++) {
      const ip = intToIp(this.pool.first + ((start + i) % size));
      if (!this.owners.has(ip)) return ip;
    }
    return undefined;
  }

  private async sync(key: string): Promise<void> {
    const svc = this.services.cache.get(key);
    if (!svc || !isLoadBalancer(svc)) {
      this.waiting.delete(key);
      this.release(key);
      for (const w of [...this.warned]) if (w.startsWith(`${key}|`)) this.warned.delete(w);
      // No longer a LoadBalancer (ours): clear an address we had written.
      if (svc && dig(svc, 'spec', 'type') !== 'LoadBalancer' && statusIPs(svc).some((ip) => inPool(this.pool, ip))) await this.writeStatus(svc, undefined);
      return;
    }
    const held = this.assigned.get(key);
    const current = statusIPs(svc);
    const want = requestedIP(svc);
    let ip: string | undefined;
    if (want) {
      if (!inPool(this.pool, want)) return this.fail(svc, key, `requested IP ${want} is not in the pool ${this.pool.cidr}`);
      const owner = this.owners.get(want);
      if (owner && owner !== key) return this.fail(svc, key, `requested IP ${want} is already assigned to ${owner}`);
      ip = want;
    } else if (held && inPool(this.pool, held)) ip = held;
    else {
      const fromStatus = current.find((a) => inPool(this.pool, a) && (!this.owners.has(a) || this.owners.get(a) === key));
      ip = fromStatus ?? this.pickFree();
      if (!ip) return this.fail(svc, key, `no available IPs in pool ${this.pool.cidr}`);
    }
    this.claim(key, ip);
    this.waiting.delete(key);
    for (const w of [...this.warned]) if (w.startsWith(`${key}|`)) this.warned.delete(w);
    const ingress = asArr(dig(svc, 'status', 'loadBalancer', 'ingress'));
    const ok = ingress.length === 1 && asStr(asObj(ingress[0])?.ip) === ip && asStr(asObj(ingress[0])?.ipMode) === 'VIP';
    if (ok) return;
    await this.writeStatus(svc, ip);
    await emitEvent(this.client, COMPONENT, svc, 'Normal', 'IPAllocated', `Assigned IP ${JSON.stringify([ip])}`);
    this.log(`${COMPONENT}: ${key}: assigned ${ip}`);
  }

  private async fail(svc: KObject, key: string, why: string): Promise<void> {
    this.release(key);
    this.waiting.add(key);
    if (statusIPs(svc).some((ip) => inPool(this.pool, ip))) await this.writeStatus(svc, undefined);
    const mark = `${key}|${why}`;
    if (this.warned.has(mark)) return;
    this.warned.add(mark);
    await emitEvent(this.client, COMPONENT, svc, 'Warning', 'AllocationFailed', `Failed to allocate IP for "${key}": ${why}`);
  }

  private async writeStatus(svc: KObject, ip: string | undefined): Promise<void> {
    const body = { status: { loadBalancer: ip ? { ingress: [{ ip, ipMode: 'VIP' }] } : { ingress: null } } };
    try {
      await this.client.patch(R.services, svc.metadata.namespace, svc.metadata.name!, 'application/merge-patch+json', body, 'status');
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return;
      throw e;
    }
  }
}
