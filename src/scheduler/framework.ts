// The scheduling framework: PreFilter → Filter (every node, first failing plugin wins) →
// PreScore → Score → NormalizeScore (0–100) → weighted sum → the best node, ties broken at
// random among the top scores as upstream does, so identical replicas spread.
import type { ClusterEvent } from './queue.js';
import type { NodeInfo, PodInfo } from './types.js';

export const MAX_NODE_SCORE = 100;

export type Code = 'Unschedulable' | 'UnschedulableAndUnresolvable';

export interface Status {
  code: Code;
  reasons: string[];
  plugin?: string;
}

export const unschedulable = (...reasons: string[]): Status => ({ code: 'Unschedulable', reasons });
export const unresolvable = (...reasons: string[]): Status => ({ code: 'UnschedulableAndUnresolvable', reasons });

export interface CycleState {
  pod: PodInfo;
  /** Every node that exists (the snapshot the cycle works on). */
  nodes: NodeInfo[];
  /** Namespace labels, for affinity terms with a namespaceSelector. */
  nsLabels: (ns: string) => Record<string, string> | undefined;
  /** Per-plugin state computed in PreFilter/PreScore. */
  data: Map<string, unknown>;
}

export interface Plugin {
  readonly name: string;
  /** Cluster events that may turn this plugin's rejection into a success. */
  readonly events: readonly ClusterEvent[];
  preFilter?(s: CycleState): void;
  filter?(s: CycleState, n: NodeInfo): Status | undefined;
  /** Return false to skip scoring for this pod (the plugin has nothing to say). */
  preScore?(s: CycleState, feasible: NodeInfo[]): boolean;
  score?(s: CycleState, n: NodeInfo): number;
  normalize?(s: CycleState, scores: number[], nodes: NodeInfo[]): void;
}

export interface ScheduleResult {
  node?: NodeInfo;
  /** Why each rejected node was rejected (when no node fits). */
  statuses?: Map<string, Status>;
  numNodes: number;
  /** Plugins that rejected at least one node. */
  rejectedBy?: Set<string>;
  message?: string;
}

export class Framework {
  constructor(
    readonly plugins: Plugin[],
    readonly weights: Record<string, number>,
    private random: () => number = Math.random,
  ) {}

  /** One scheduling cycle: synchronous, over the cache as it is now. */
  schedule(pod: PodInfo, nodes: NodeInfo[], nsLabels: CycleState['nsLabels']): ScheduleResult {
    if (!nodes.length) return { numNodes: 0, statuses: new Map(), rejectedBy: new Set(), message: 'no nodes available to schedule pods' };
    const s: CycleState = { pod, nodes, nsLabels, data: new Map() };
    for (const p of this.plugins) p.preFilter?.(s);
    const feasible: NodeInfo[] = [];
    const statuses = new Map<string, Status>();
    const rejectedBy = new Set<string>();
    const filters = this.plugins.filter((p) => p.filter);
    for (const n of nodes) {
      let failed: Status | undefined;
      for (const p of filters) {
        const st = p.filter!(s, n);
        if (st) {
          failed = { ...st, plugin: p.name };
          rejectedBy.add(p.name);
          break;
        }
      }
      if (failed) statuses.set(n.name, failed);
      else feasible.push(n);
    }
    if (!feasible.length) return { numNodes: nodes.length, statuses, rejectedBy, message: fitErrorMessage(nodes.length, statuses, pod) };
    if (feasible.length === 1) return { node: feasible[0], numNodes: nodes.length };
    const totals = this.scoreNodes(s, feasible);
    return { node: this.select(feasible, totals), numNodes: nodes.length };
  }

  /** Weighted, normalized scores of the feasible nodes (exported for tests). */
  scoreNodes(s: CycleState, feasible: NodeInfo[]): number[] {
    const totals = new Array<number>(feasible.length).fill(0);
    for (const p of this.plugins) {
      const w = this.weights[p.name] ?? 0;
      if (!w || !p.score) continue;
      if (p.preScore && !p.preScore(s, feasible)) continue;
      const scores = feasible.map((n) => p.score!(s, n));
      p.normalize?.(s, scores, feasible);
      for (let i = 0; i < scores.length; i++) totals[i] += w * scores[i];
    }
    return totals;
  }

  /** The highest total; among equals, each is equally likely (reservoir sampling). */
  private select(nodes: NodeInfo[], totals: number[]): NodeInfo {
    let best = 0;
    let ties = 1;
    for (let i = 1; i < nodes.length; i++) {
      if (totals[i] > totals[best]) {
        best = i;
        ties = 1;
      } else if (totals[i] === totals[best]) {
        ties++;
        if (this.random() * ties < 1) best = i;
      }
    }
    return nodes[best];
  }
}

function countedList(counts: Map<string, number>): string {
  return [...counts].map(([reason, n]) => `${n} ${reason}`).sort().join(', ');
}

/**
 * Upstream's FitError text plus the preemption post-filter's verdict, e.g.
 * `0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.`
 */
export function fitErrorMessage(numNodes: number, statuses: Map<string, Status>, pod: PodInfo): string {
  const reasons = new Map<string, number>();
  const preemption = new Map<string, number>();
  for (const st of statuses.values()) {
    for (const r of st.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    // Preemption is not implemented: a node rejected for a reason that removing pods could fix
    // reports that no victims were found, as upstream does when there are none to take.
    const verdict = st.code === 'UnschedulableAndUnresolvable' ? 'Preemption is not helpful for scheduling' : 'No preemption victims found for incoming pod';
    preemption.set(verdict, (preemption.get(verdict) ?? 0) + 1);
  }
  let msg = `0/${numNodes} nodes are available: ${countedList(reasons)}.`;
  if (pod.preemptionPolicy === 'Never') msg += ' preemption: not eligible due to preemptionPolicy=Never.';
  else msg += ` preemption: 0/${numNodes} nodes are available: ${countedList(preemption)}.`;
  return msg;
}
