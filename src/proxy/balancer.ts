// Backend selection for the userspace data plane: the IPVS schedulers kube-proxy's ipvs mode
// offers (rr, lc, dh, sh, sed, nq) and ClientIP session affinity. One Balancer per service port;
// it survives endpoint updates so round-robin position, connection counts and affinity entries
// carry over (an affinity entry whose backend is gone is dropped on its next use).
//
// Semantics (IPVS, weights default 1):
//   rr  — next backend in turn.
//   lc  — fewest active connections; ties broken in turn (so equal load spreads).
//   dh  — hash of the destination address the client connected to (one VIP → one backend).
//   sh  — hash of the client's source address (a client keeps its backend while the set is stable).
//   sed — smallest (active + 1) / weight.
//   nq  — an idle backend (no active connection) if there is one, in turn; otherwise as sed.
import type { Algorithm, Endpoint } from './model.js';

export interface PickContext {
  /** Client address (source IP). */
  clientIP: string;
  /** The address the client connected to (VIP / node IP / LB IP). */
  destIP: string;
  /** Milliseconds, for affinity expiry (defaults to Date.now()). */
  now?: number;
}

export function endpointKey(e: Pick<Endpoint, 'ip' | 'port'>): string {
  return `${e.ip}:${e.port}`;
}

/** FNV-1a over a string: stable across processes and runs. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const MAX_AFFINITY_ENTRIES = 65_536;

export class Balancer {
  private endpoints: Endpoint[] = [];
  private next = 0;
  /** Active connections (TCP) or sessions (UDP) per endpoint key. */
  private active = new Map<string, number>();
  /** client IP → endpoint key and expiry (ms). */
  private affinity = new Map<string, { key: string; expires: number }>();

  constructor(
    public algorithm: Algorithm = 'rr',
    /** Seconds; undefined = no session affinity. */
    public affinityTimeoutS?: number,
  ) {}

  /** Replaces the backend set; counters for backends still present are kept. */
  setEndpoints(list: readonly Endpoint[]): void {
    this.endpoints = [...list];
    if (this.next >= this.endpoints.length) this.next = 0;
  }

  configure(algorithm: Algorithm, affinityTimeoutS: number | undefined): void {
    if (algorithm !== this.algorithm) this.next = 0;
    this.algorithm = algorithm;
    if (affinityTimeoutS !== this.affinityTimeoutS) this.affinity.clear();
    this.affinityTimeoutS = affinityTimeoutS;
  }

  get size(): number {
    return this.endpoints.length;
  }

  has(e: Pick<Endpoint, 'ip' | 'port'>): boolean {
    const k = endpointKey(e);
    return this.endpoints.some((x) => endpointKey(x) === k);
  }

  activeCount(e: Pick<Endpoint, 'ip' | 'port'>): number {
    return this.active.get(endpointKey(e)) ?? 0;
  }

  /** Chooses a backend for a new connection, or undefined when there is none. */
  pick(ctx: PickContext): Endpoint | undefined {
    const eps = this.endpoints;
    if (eps.length === 0) return undefined;
    const now = ctx.now ?? Date.now();
    if (this.affinityTimeoutS !== undefined) {
      const hit = this.affinity.get(ctx.clientIP);
      if (hit && hit.expires > now) {
        const e = eps.find((x) => endpointKey(x) === hit.key);
        if (e) {
          hit.expires = now + this.affinityTimeoutS * 1000;
          return e;
        }
      }
      if (hit) this.affinity.delete(ctx.clientIP);
    }
    const e = this.choose(eps, ctx);
    if (this.affinityTimeoutS !== undefined) {
      if (this.affinity.size >= MAX_AFFINITY_ENTRIES) this.expire(now);
      if (this.affinity.size >= MAX_AFFINITY_ENTRIES) this.affinity.delete(this.affinity.keys().next().value as string);
      this.affinity.set(ctx.clientIP, { key: endpointKey(e), expires: now + this.affinityTimeoutS * 1000 });
    }
    return e;
  }

  /** Drops expired affinity entries. */
  expire(now = Date.now()): void {
    for (const [ip, a] of this.affinity) if (a.expires <= now) this.affinity.delete(ip);
  }

  /** A connection/session to `e` opened. */
  acquire(e: Pick<Endpoint, 'ip' | 'port'>): void {
    const k = endpointKey(e);
    this.active.set(k, (this.active.get(k) ?? 0) + 1);
  }

  /** A connection/session to `e` ended. */
  release(e: Pick<Endpoint, 'ip' | 'port'>): void {
    const k = endpointKey(e);
    const n = (this.active.get(k) ?? 0) - 1;
    if (n > 0) this.active.set(k, n);
    else this.active.delete(k);
  }

  private turn(n: number): number {
    const i = this.next % n;
    this.next = (i + 1) % n;
    return i;
  }

  /** Index of the minimum of `cost` over eps, ties resolved starting at the round-robin position. */
  private minBy(eps: Endpoint[], cost: (e: Endpoint) => number): Endpoint {
    const n = eps.length;
    const start = this.next % n;
    let best = start;
    let bestCost = cost(eps[start]);
    for (let j = 1; j < n; j++) {
      const i = (start + j) % n;
      const c = cost(eps[i]);
      if (c < bestCost) {
        best = i;
        bestCost = c;
      }
    }
    this.next = (best + 1) % n;
    return eps[best];
  }

  private choose(eps: Endpoint[], ctx: PickContext): Endpoint {
    const w = (e: Endpoint) => (e.weight && e.weight > 0 ? e.weight : 1);
    const act = (e: Endpoint) => this.active.get(endpointKey(e)) ?? 0;
    switch (this.algorithm) {
      case 'lc':
        return this.minBy(eps, (e) => act(e) / w(e));
      case 'sed':
        return this.minBy(eps, (e) => (act(e) + 1) / w(e));
      case 'nq': {
        const n = eps.length;
        const start = this.next % n;
        for (let j = 0; j < n; j++) {
          const i = (start + j) % n;
          if (act(eps[i]) === 0) {
            this.next = (i + 1) % n;
            return eps[i];
          }
        }
        return this.minBy(eps, (e) => (act(e) + 1) / w(e));
      }
      case 'dh':
        return eps[hash32(ctx.destIP) % eps.length];
      case 'sh':
        return eps[hash32(ctx.clientIP) % eps.length];
      case 'rr':
      default:
        return eps[this.turn(eps.length)];
    }
  }
}
