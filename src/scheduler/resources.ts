// Resource arithmetic for scheduling: what a pod requests (containers + the largest init
// container + sidecars + overhead, as upstream's resource helpers compute it), what a node offers
// (status.allocatable), in integer units (cpu in millicores, everything else in whole units).
import { parseQuantity } from '../api/common/quantity.js';

export interface Res {
  /** Millicores. */
  cpu: number;
  /** Bytes. */
  memory: number;
  /** Bytes. */
  ephemeral: number;
  /** Every other resource (extended resources, hugepages-*), in whole units. */
  scalar?: Map<string, number>;
}

/** What upstream assumes a container without a cpu/memory request uses, for scoring only. */
export const DEFAULT_MILLI_CPU = 100;
export const DEFAULT_MEMORY = 200 * 1024 * 1024;

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function emptyRes(): Res {
  return { cpu: 0, memory: 0, ephemeral: 0 };
}

/** Whole units rounded up (upstream's Quantity.Value()); cpu in millicores (MilliValue()). */
function amount(name: string, q: unknown): number {
  const p = parseQuantity(q);
  if (!p) return 0;
  const n = p.nanos;
  const div = name === 'cpu' ? 1_000_000n : 1_000_000_000n;
  const whole = n / div;
  return Number(n > 0n && whole * div !== n ? whole + 1n : whole);
}

/** A ResourceList (`{cpu: "500m", memory: "1Gi", ...}`) as a Res; `pods` is ignored. */
export function resFromList(list: unknown): Res {
  const r = emptyRes();
  const l = asObj(list);
  if (!l) return r;
  for (const [k, v] of Object.entries(l)) {
    const n = amount(k, v);
    if (k === 'cpu') r.cpu = n;
    else if (k === 'memory') r.memory = n;
    else if (k === 'ephemeral-storage') r.ephemeral = n;
    else if (k !== 'pods') (r.scalar ??= new Map()).set(k, n);
  }
  return r;
}

export function addRes(into: Res, r: Res, sign = 1): void {
  into.cpu += sign * r.cpu;
  into.memory += sign * r.memory;
  into.ephemeral += sign * r.ephemeral;
  if (r.scalar) {
    const s = (into.scalar ??= new Map());
    for (const [k, v] of r.scalar) {
      const next = (s.get(k) ?? 0) + sign * v;
      if (next === 0) s.delete(k);
      else s.set(k, next);
    }
  }
}

function maxRes(into: Res, r: Res): void {
  into.cpu = Math.max(into.cpu, r.cpu);
  into.memory = Math.max(into.memory, r.memory);
  into.ephemeral = Math.max(into.ephemeral, r.ephemeral);
  if (r.scalar) {
    const s = (into.scalar ??= new Map());
    for (const [k, v] of r.scalar) s.set(k, Math.max(s.get(k) ?? 0, v));
  }
}

function copyRes(r: Res): Res {
  return { cpu: r.cpu, memory: r.memory, ephemeral: r.ephemeral, scalar: r.scalar ? new Map(r.scalar) : undefined };
}

export function isZeroRes(r: Res): boolean {
  return r.cpu === 0 && r.memory === 0 && r.ephemeral === 0 && !(r.scalar && [...r.scalar.values()].some((v) => v !== 0));
}

/**
 * The pod's effective request, and the "non-zero" variant scoring uses (a container without a
 * cpu or memory request counts as 100m / 200Mi). Regular containers add up; sidecars (init
 * containers with restartPolicy Always) add up and stay; every other init container runs alone
 * (alongside the sidecars started before it), so the pod needs the maximum of the two; overhead
 * comes on top.
 */
export function podRequests(spec: unknown): { req: Res; nonZero: Res } {
  const s = asObj(spec) ?? {};
  const reqs = (c: unknown, nonZero: boolean): Res => {
    const requests = asObj(asObj(asObj(c)?.resources)?.requests);
    const r = resFromList(requests);
    if (nonZero) {
      if (!requests || !('cpu' in requests)) r.cpu = DEFAULT_MILLI_CPU;
      if (!requests || !('memory' in requests)) r.memory = DEFAULT_MEMORY;
    }
    return r;
  };
  const compute = (nonZero: boolean): Res => {
    const total = emptyRes();
    for (const c of asArr(s.containers)) addRes(total, reqs(c, nonZero));
    const sidecars = emptyRes();
    const initMax = emptyRes();
    for (const c of asArr(s.initContainers)) {
      let r = reqs(c, nonZero);
      if (asObj(c)?.restartPolicy === 'Always') {
        addRes(total, r);
        addRes(sidecars, r);
        r = copyRes(sidecars);
      } else {
        addRes(r, sidecars);
      }
      maxRes(initMax, r);
    }
    maxRes(total, initMax);
    if (s.overhead) addRes(total, resFromList(s.overhead));
    return total;
  };
  return { req: compute(false), nonZero: compute(true) };
}
