// InterPodAffinity: required pod affinity / anti-affinity of the incoming pod by topology
// domain, existing pods' required anti-affinity against the incoming pod, and the preferred terms
// of both sides (plus existing pods' required affinity, weight 1) for scoring.
import { unresolvable, unschedulable, type CycleState, type Plugin } from '../framework.js';
import { termMatches, type AffinityTerm, type NodeInfo } from '../types.js';

export const REASON = {
  affinity: "node(s) didn't match pod affinity rules",
  antiAffinity: "node(s) didn't match pod anti-affinity rules",
  existingAnti: "node(s) didn't satisfy existing pods anti-affinity rules",
};

/** topologyKey → value → count (or score). */
type TopologyCounts = Map<string, Map<string, number>>;

function bump(m: TopologyCounts, key: string, value: string | undefined, by: number): void {
  if (value === undefined || !by) return;
  let inner = m.get(key);
  if (!inner) m.set(key, (inner = new Map()));
  inner.set(value, (inner.get(value) ?? 0) + by);
}

const lookup = (m: TopologyCounts, key: string, value: string | undefined) => (value === undefined ? 0 : (m.get(key)?.get(value) ?? 0));

interface FilterState {
  existingAnti: TopologyCounts;
  affinity: TopologyCounts;
  anti: TopologyCounts;
  /** No existing pod matches the affinity terms, but the pod matches them itself (first replica). */
  selfAffinityOk: boolean;
}

const HARD_POD_AFFINITY_WEIGHT = 1;

/** Pods on node `n` that a term selects; cached per node while its pods do not change. */
function countOn(n: NodeInfo, s: CycleState, terms: AffinityTerm[]): number {
  const key = terms.length === 1 ? terms[0].key : terms.map((t) => t.key).join('&');
  return n.countMatching(`ipa\u0000${key}`, (p) => terms.every((t) => termMatches(t, p, s.nsLabels)));
}

export const interPodAffinity: Plugin = {
  name: 'InterPodAffinity',
  events: ['NodeAdd', 'NodeUpdate', 'AssignedPodAdd', 'AssignedPodUpdate', 'AssignedPodDelete'],
  preFilter(s) {
    const pod = s.pod;
    const st: FilterState = { existingAnti: new Map(), affinity: new Map(), anti: new Map(), selfAffinityOk: false };
    for (const n of s.nodes) {
      for (const e of n.podsWithRequiredAnti) {
        for (const t of e.requiredAntiAffinity) if (termMatches(t, pod, s.nsLabels)) bump(st.existingAnti, t.topologyKey, n.labels[t.topologyKey], 1);
      }
    }
    if (pod.requiredAffinity.length || pod.requiredAntiAffinity.length) {
      for (const n of s.nodes) {
        if (!n.pods.size) continue;
        if (pod.requiredAffinity.length) {
          const c = countOn(n, s, pod.requiredAffinity);
          if (c) for (const t of pod.requiredAffinity) bump(st.affinity, t.topologyKey, n.labels[t.topologyKey], c);
        }
        pod.requiredAntiAffinity.forEach((t) => bump(st.anti, t.topologyKey, n.labels[t.topologyKey], countOn(n, s, [t])));
      }
      st.selfAffinityOk = st.affinity.size === 0 && pod.requiredAffinity.every((t) => termMatches(t, pod, s.nsLabels));
    }
    s.data.set('InterPodAffinity', st);
  },
  filter(s, n) {
    const st = s.data.get('InterPodAffinity') as FilterState;
    if (st.existingAnti.size) {
      for (const [key, values] of st.existingAnti) {
        const v = n.labels[key];
        if (v !== undefined && (values.get(v) ?? 0) > 0) return unschedulable(REASON.existingAnti);
      }
    }
    const pod = s.pod;
    for (const t of pod.requiredAntiAffinity) if (lookup(st.anti, t.topologyKey, n.labels[t.topologyKey]) > 0) return unschedulable(REASON.antiAffinity);
    if (pod.requiredAffinity.length) {
      const hasKeys = pod.requiredAffinity.every((t) => n.labels[t.topologyKey] !== undefined);
      const ok = hasKeys && pod.requiredAffinity.every((t) => lookup(st.affinity, t.topologyKey, n.labels[t.topologyKey]) > 0);
      if (!ok && !(hasKeys && st.selfAffinityOk)) return unresolvable(REASON.affinity);
    }
    return undefined;
  },
  preScore(s, feasible) {
    const pod = s.pod;
    const scores: TopologyCounts = new Map();
    const preferred = pod.preferredAffinity.length + pod.preferredAntiAffinity.length > 0;
    let any = false;
    for (const n of s.nodes) {
      if (preferred && n.pods.size) {
        pod.preferredAffinity.forEach((t) => {
          const c = countOn(n, s, [t]);
          if (c) bump(scores, t.topologyKey, n.labels[t.topologyKey], c * t.weight);
        });
        pod.preferredAntiAffinity.forEach((t) => {
          const c = countOn(n, s, [t]);
          if (c) bump(scores, t.topologyKey, n.labels[t.topologyKey], -c * t.weight);
        });
      }
      // The other direction: existing pods whose terms select the incoming pod.
      for (const e of n.podsWithAffinity) {
        any = true;
        const side = (terms: AffinityTerm[], weight: (t: AffinityTerm) => number) => {
          for (const t of terms) if (termMatches(t, pod, s.nsLabels)) bump(scores, t.topologyKey, n.labels[t.topologyKey], weight(t));
        };
        side(e.requiredAffinity, () => HARD_POD_AFFINITY_WEIGHT);
        side(e.preferredAffinity, (t) => t.weight);
        side(e.preferredAntiAffinity, (t) => -t.weight);
      }
    }
    s.data.set('InterPodAffinity/score', scores);
    return (preferred || any) && feasible.length > 0;
  },
  score(s, n) {
    const scores = s.data.get('InterPodAffinity/score') as TopologyCounts;
    let total = 0;
    for (const [key, values] of scores) {
      const v = n.labels[key];
      if (v !== undefined) total += values.get(v) ?? 0;
    }
    return total;
  },
  normalize(_s, scores) {
    let min = Infinity;
    let max = -Infinity;
    for (const x of scores) {
      min = Math.min(min, x);
      max = Math.max(max, x);
    }
    const diff = max - min;
    for (let i = 0; i < scores.length; i++) scores[i] = diff > 0 ? Math.trunc((100 * (scores[i] - min)) / diff) : 0;
  },
};
