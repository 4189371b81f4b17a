// PodTopologySpread: DoNotSchedule constraints filter (skew = matching pods in the node's domain
// + the pod itself − the global minimum must stay ≤ maxSkew; minDomains lowers the minimum to 0
// while there are too few domains); ScheduleAnyway constraints (and the system defaults for pods
// a controller owns) score, fewer matching pods in the domain being better.
import { unresolvable, unschedulable, type CycleState, type Plugin } from '../framework.js';
import { toleratedBy, type NodeInfo, type SpreadConstraint } from '../types.js';
import { matchesNodeAffinity } from './basic.js';

export const REASON = {
  skew: "node(s) didn't match pod topology spread constraints",
  missingLabel: "node(s) didn't match pod topology spread constraints (missing required label)",
};

const HOSTNAME = 'kubernetes.io/hostname';

interface FilterState {
  hard: SpreadConstraint[];
  /** Per constraint: domain value → matching pods. */
  counts: Map<string, number>[];
  /** Per constraint: the smallest count over the eligible domains (0 below minDomains). */
  min: number[];
}

interface ScoreState {
  soft: SpreadConstraint[];
  counts: Map<string, number>[];
  weights: number[];
  ignored: Set<string>;
}

function hasKeys(n: NodeInfo, cs: SpreadConstraint[]): boolean {
  return cs.every((c) => n.labels[c.topologyKey] !== undefined);
}

/** Does node `n` take part in counting for `c` (nodeAffinityPolicy / nodeTaintsPolicy)? */
function eligible(s: CycleState, c: SpreadConstraint, n: NodeInfo): boolean {
  if (c.nodeAffinityPolicy === 'Honor' && !matchesNodeAffinity(s.pod, n)) return false;
  if (c.nodeTaintsPolicy === 'Honor') {
    for (const t of n.taints) if ((t.effect === 'NoSchedule' || t.effect === 'NoExecute') && !toleratedBy(s.pod.tolerations, t)) return false;
  }
  return true;
}

export const podTopologySpread: Plugin = {
  name: 'PodTopologySpread',
  events: ['NodeAdd', 'NodeUpdate', 'AssignedPodAdd', 'AssignedPodUpdate', 'AssignedPodDelete'],
  preFilter(s) {
    const hard = s.pod.spread.filter((c) => c.hard);
    const st: FilterState = { hard, counts: hard.map(() => new Map()), min: [] };
    if (hard.length) {
      for (const n of s.nodes) {
        if (!hasKeys(n, hard)) continue;
        hard.forEach((c, i) => {
          if (!eligible(s, c, n)) return;
          const v = n.labels[c.topologyKey];
          st.counts[i].set(v, (st.counts[i].get(v) ?? 0) + n.countMatching(`pts\u0000${c.cacheKey}`, c.matches));
        });
      }
      hard.forEach((c, i) => {
        const m = st.counts[i];
        let min = m.size ? Infinity : 0;
        for (const v of m.values()) min = Math.min(min, v);
        if (c.minDomains !== undefined && m.size < c.minDomains) min = 0;
        st.min[i] = min;
      });
    }
    s.data.set('PodTopologySpread', st);
  },
  filter(s, n) {
    const st = s.data.get('PodTopologySpread') as FilterState;
    for (let i = 0; i < st.hard.length; i++) {
      const c = st.hard[i];
      const v = n.labels[c.topologyKey];
      if (v === undefined) return unresolvable(REASON.missingLabel);
      const skew = (st.counts[i].get(v) ?? 0) + (c.selfMatch ? 1 : 0) - st.min[i];
      if (skew > c.maxSkew) return unschedulable(REASON.skew);
    }
    return undefined;
  },
  preScore(s, feasible) {
    // System defaults apply only to the topologies the nodes have (no zones → hostname only).
    const soft = s.pod.spread.filter((c) => !c.hard && (!c.system || feasible.some((n) => n.labels[c.topologyKey] !== undefined)));
    if (!soft.length) return false;
    const st: ScoreState = { soft, counts: soft.map(() => new Map()), weights: [], ignored: new Set() };
    const sizes = soft.map(() => new Set<string>());
    let hostnames = 0;
    for (const n of feasible) {
      if (!hasKeys(n, soft)) {
        st.ignored.add(n.name);
        continue;
      }
      hostnames++;
      soft.forEach((c, i) => {
        if (c.topologyKey === HOSTNAME) return;
        const v = n.labels[c.topologyKey];
        sizes[i].add(v);
        if (!st.counts[i].has(v)) st.counts[i].set(v, 0);
      });
    }
    soft.forEach((c, i) => (st.weights[i] = Math.log((c.topologyKey === HOSTNAME ? hostnames : sizes[i].size) + 2)));
    // Domains are counted over every eligible node, not only the feasible ones.
    for (const n of s.nodes) {
      if (!hasKeys(n, soft)) continue;
      soft.forEach((c, i) => {
        if (c.topologyKey === HOSTNAME || !eligible(s, c, n)) return;
        const v = n.labels[c.topologyKey];
        const m = st.counts[i];
        if (m.has(v)) m.set(v, m.get(v)! + n.countMatching(`pts\u0000${c.cacheKey}`, c.matches));
      });
    }
    s.data.set('PodTopologySpread/score', st);
    return true;
  },
  score(s, n) {
    const st = s.data.get('PodTopologySpread/score') as ScoreState;
    if (st.ignored.has(n.name)) return 0;
    let score = 0;
    st.soft.forEach((c, i) => {
      const cnt = c.topologyKey === HOSTNAME ? n.countMatching(`pts\u0000${c.cacheKey}`, c.matches) : (st.counts[i].get(n.labels[c.topologyKey]) ?? 0);
      score += cnt * st.weights[i] + (c.maxSkew - 1);
    });
    return Math.round(score);
  },
  normalize(s, scores, nodes) {
    const st = s.data.get('PodTopologySpread/score') as ScoreState;
    let min = Infinity;
    let max = -Infinity;
    nodes.forEach((n, i) => {
      if (st.ignored.has(n.name)) return;
      min = Math.min(min, scores[i]);
      max = Math.max(max, scores[i]);
    });
    nodes.forEach((n, i) => {
      if (st.ignored.has(n.name)) scores[i] = 0;
      else if (max === 0) scores[i] = 100;
      else scores[i] = Math.trunc((100 * (max + min - scores[i])) / max);
    });
  },
};
