// The per-node plugins: NodeName, NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts.
import { MAX_NODE_SCORE, unresolvable, unschedulable, type CycleState, type Plugin } from '../framework.js';
import { toleratedBy, type NodeInfo, type NodeSelectorRequirement, type NodeSelectorTerm, type PodInfo, type Taint } from '../types.js';

export const REASON = {
  nodeName: "node(s) didn't match the requested node name",
  unschedulable: 'node(s) were unschedulable',
  nodeAffinity: "node(s) didn't match Pod's node affinity/selector",
  nodePorts: "node(s) didn't have free ports for the requested pod ports",
  taint: (t: Taint) => `node(s) had untolerated taint {${t.key}: ${t.value ?? ''}}`,
};

export const nodeName: Plugin = {
  name: 'NodeName',
  events: ['NodeAdd'],
  filter(s, n) {
    const want = s.pod.nodeName;
    return want && want !== n.name ? unresolvable(REASON.nodeName) : undefined;
  },
};

const UNSCHEDULABLE_TAINT: Taint = { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' };

export const nodeUnschedulable: Plugin = {
  name: 'NodeUnschedulable',
  events: ['NodeAdd', 'NodeUpdate'],
  filter(s, n) {
    if (!n.unschedulable || toleratedBy(s.pod.tolerations, UNSCHEDULABLE_TAINT)) return undefined;
    return unresolvable(REASON.unschedulable);
  },
};

export const taintToleration: Plugin = {
  name: 'TaintToleration',
  events: ['NodeAdd', 'NodeUpdate'],
  filter(s, n) {
    for (const t of n.taints) {
      if (t.effect !== 'NoSchedule' && t.effect !== 'NoExecute') continue;
      if (!toleratedBy(s.pod.tolerations, t)) return unresolvable(REASON.taint(t));
    }
    return undefined;
  },
  preScore(s, feasible) {
    // Only tolerations that apply to PreferNoSchedule count for scoring.
    s.data.set('TaintToleration', s.pod.tolerations.filter((t) => !t.effect || t.effect === 'PreferNoSchedule'));
    return feasible.some((n) => n.taints.some((t) => t.effect === 'PreferNoSchedule'));
  },
  score(s, n) {
    const tols = s.data.get('TaintToleration') as PodInfo['tolerations'];
    let count = 0;
    for (const t of n.taints) if (t.effect === 'PreferNoSchedule' && !toleratedBy(tols, t)) count++;
    return count;
  },
  normalize(_s, scores) {
    normalizeByMax(scores, true);
  },
};

/** Upstream's DefaultNormalizeScore: scale to 0–100 by the maximum, optionally reversed. */
export function normalizeByMax(scores: number[], reverse: boolean): void {
  let max = 0;
  for (const x of scores) if (x > max) max = x;
  for (let i = 0; i < scores.length; i++) {
    if (max === 0) scores[i] = reverse ? MAX_NODE_SCORE : 0;
    else {
      const v = Math.trunc((MAX_NODE_SCORE * scores[i]) / max);
      scores[i] = reverse ? MAX_NODE_SCORE - v : v;
    }
  }
}

const INT = /^[-+]?\d+$/;

function matchRequirement(r: NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key] : undefined;
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return has && values.includes(v!);
    case 'NotIn':
      return !has || !values.includes(v!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has || values.length !== 1 || !INT.test(v!) || !INT.test(values[0])) return false;
      const a = BigInt(v!);
      const b = BigInt(values[0]);
      return r.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** A node selector term: all expressions and fields must match; an empty term matches nothing. */
export function matchNodeSelectorTerm(term: NodeSelectorTerm, n: NodeInfo): boolean {
  const exprs = term?.matchExpressions ?? [];
  const fields = term?.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  if (!exprs.every((r) => matchRequirement(r, n.labels))) return false;
  return fields.every((r) => r.key === 'metadata.name' && (r.operator === 'In' || r.operator === 'NotIn') && matchRequirement(r, { 'metadata.name': n.name }));
}

/** nodeSelector and required node affinity (what NodeAffinity filters on; topology spread reuses it). */
export function matchesNodeAffinity(p: PodInfo, n: NodeInfo): boolean {
  if (p.nodeSelector) for (const [k, v] of Object.entries(p.nodeSelector)) if (n.labels[k] !== v) return false;
  if (p.requiredNodeTerms) return p.requiredNodeTerms.some((t) => matchNodeSelectorTerm(t, n));
  return true;
}

export const nodeAffinity: Plugin = {
  name: 'NodeAffinity',
  events: ['NodeAdd', 'NodeUpdate'],
  filter(s, n) {
    return matchesNodeAffinity(s.pod, n) ? undefined : unresolvable(REASON.nodeAffinity);
  },
  preScore(s) {
    return s.pod.preferredNodeTerms.length > 0;
  },
  score(s, n) {
    let sum = 0;
    for (const { weight, term } of s.pod.preferredNodeTerms) if (weight && matchNodeSelectorTerm(term, n)) sum += weight;
    return sum;
  },
  normalize(_s, scores) {
    normalizeByMax(scores, false);
  },
};

export const nodePorts: Plugin = {
  name: 'NodePorts',
  events: ['NodeAdd', 'AssignedPodDelete'],
  filter(s: CycleState, n: NodeInfo) {
    for (const want of s.pod.hostPorts) {
      for (const used of n.usedPorts) {
        if (used.port !== want.port || used.protocol !== want.protocol) continue;
        if (used.ip === want.ip || used.ip === '0.0.0.0' || want.ip === '0.0.0.0') return unschedulable(REASON.nodePorts);
      }
    }
    return undefined;
  },
};
