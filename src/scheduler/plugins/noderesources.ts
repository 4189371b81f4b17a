// NodeResourcesFit (filter: requests vs allocatable minus what bound and assumed pods request;
// score: LeastAllocated over cpu and memory) and NodeResourcesBalancedAllocation.
import { MAX_NODE_SCORE, unschedulable, type Plugin, type Status } from '../framework.js';
import { isZeroRes } from '../resources.js';
import type { NodeInfo, PodInfo } from '../types.js';

/** Reasons the pod does not fit the node, in upstream's order and words; empty when it fits. */
export function insufficient(p: PodInfo, n: NodeInfo): string[] {
  const out: string[] = [];
  if (n.pods.size + 1 > n.allowedPods) out.push('Too many pods');
  const r = p.req;
  if (isZeroRes(r)) return out;
  const a = n.allocatable;
  const used = n.requested;
  if (r.cpu && a.cpu < r.cpu + used.cpu) out.push('Insufficient cpu');
  if (r.memory && a.memory < r.memory + used.memory) out.push('Insufficient memory');
  if (r.ephemeral && a.ephemeral < r.ephemeral + used.ephemeral) out.push('Insufficient ephemeral-storage');
  if (r.scalar) {
    for (const [name, q] of r.scalar) {
      if (!q) continue;
      if ((a.scalar?.get(name) ?? 0) < q + (used.scalar?.get(name) ?? 0)) out.push(`Insufficient ${name}`);
    }
  }
  return out;
}

export const nodeResourcesFit: Plugin = {
  name: 'NodeResourcesFit',
  events: ['NodeAdd', 'NodeUpdate', 'AssignedPodDelete', 'AssignedPodUpdate'],
  filter(s, n): Status | undefined {
    const reasons = insufficient(s.pod, n);
    return reasons.length ? unschedulable(...reasons) : undefined;
  },
  // LeastAllocated: the free share of cpu and memory after placing the pod (non-zero requests).
  score(s, n) {
    const least = (req: number, cap: number) => (cap === 0 || req > cap ? 0 : Math.trunc(((cap - req) * MAX_NODE_SCORE) / cap));
    const cpu = least(n.nonZeroRequested.cpu + s.pod.nonZero.cpu, n.allocatable.cpu);
    const mem = least(n.nonZeroRequested.memory + s.pod.nonZero.memory, n.allocatable.memory);
    return Math.trunc((cpu + mem) / 2);
  },
};

export const balancedAllocation: Plugin = {
  name: 'NodeResourcesBalancedAllocation',
  events: ['NodeAdd', 'NodeUpdate', 'AssignedPodDelete', 'AssignedPodUpdate'],
  // How evenly cpu and memory would be used: 100 × (1 − standard deviation of the fractions).
  score(s, n) {
    const fractions: number[] = [];
    const add = (req: number, cap: number) => {
      if (cap > 0) fractions.push(Math.min(1, req / cap));
    };
    add(n.requested.cpu + s.pod.req.cpu, n.allocatable.cpu);
    add(n.requested.memory + s.pod.req.memory, n.allocatable.memory);
    let std = 0;
    if (fractions.length === 2) std = Math.abs((fractions[0] - fractions[1]) / 2);
    else if (fractions.length > 2) {
      const mean = fractions.reduce((x, y) => x + y, 0) / fractions.length;
      std = Math.sqrt(fractions.reduce((x, f) => x + (f - mean) ** 2, 0) / fractions.length);
    }
    return Math.trunc((1 - std) * MAX_NODE_SCORE);
  },
};
