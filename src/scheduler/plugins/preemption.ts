// DefaultPreemption, the post-filter upstream runs when no node fits a pod: on each node where
// removing pods could help, take away every pod of lower priority, check that the preemptor then
// fits, and give back as many of them as possible (those whose eviction would violate a
// PodDisruptionBudget first, then the rest, most important first) — what stays out are the
// victims. The node whose victims hurt least wins (fewest PDB violations, then the lowest
// highest-victim priority, the smallest priority sum, the fewest victims, the latest start).
// The victims are marked DisruptionTarget, deleted gracefully with a `Preempted` event, and the
// preemptor gets status.nominatedNodeName; it binds through the normal cycle once they are gone.
import { R, type ApiClient } from '../../client/client.js';
import { Informer } from '../../client/informer.js';
import type { KObject } from '../../machinery/object.js';
import { compileLabelSelector, type LabelSelector } from '../../machinery/selectors.js';
import type { PodEvents } from '../events.js';
import { unresolvable, type CycleState, type Framework, type ScheduleResult, type Status } from '../framework.js';
import { asObj, NodeInfo, type PodInfo } from '../types.js';
import { rfc3339 } from '../../machinery/time.js';

export const NOT_HELPFUL = 'Preemption is not helpful for scheduling';
export const NO_VICTIMS = 'No preemption victims found for incoming pod';
const NOT_ELIGIBLE_NEVER = 'not eligible due to preemptionPolicy=Never.';
const NOT_ELIGIBLE_TERMINATING = 'not eligible due to a terminating pod on the nominated node.';
/** Upstream evaluates at most this many candidate nodes (minCandidateNodesAbsolute). */
const MAX_CANDIDATES = 100;

export interface PreemptionOptions {
  schedulerName: string;
  framework: Framework;
  /** The scheduler's pod informer (to find pods nominated to a node). */
  pods: Informer;
  nsLabels: CycleState['nsLabels'];
  events?: PodEvents;
  log?: (msg: string) => void;
}

export interface Candidate {
  node: NodeInfo;
  victims: PodInfo[];
  pdbViolations: number;
}

const startTime = (p: PodInfo): number => {
  const t = Date.parse(String(asObj(p.pod.status)?.startTime ?? ''));
  return Number.isNaN(t) ? p.created : t;
};

function countedList(counts: Map<string, number>): string {
  return [...counts].map(([reason, n]) => `${n} ${reason}`).sort().join(', ');
}

/** Upstream's FitError text: the filter reasons, then the post-filter's message (if any). */
export function fitMessage(numNodes: number, statuses: Map<string, Status>, postFilter: string): string {
  const reasons = new Map<string, number>();
  for (const st of statuses.values()) for (const r of st.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  let msg = `0/${numNodes} nodes are available: ${countedList(reasons)}.`;
  if (postFilter) msg += ` ${postFilter}`;
  return msg;
}

export class Preemption {
  readonly pdbs: Informer;
  /** Pods this scheduler nominated (key → uid and node), ahead of the watch showing it. */
  private nominated = new Map<string, { uid: string; node: string }>();
  private log: (msg: string) => void;

  constructor(
    private client: ApiClient,
    private opts: PreemptionOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.pdbs = new Informer(client, R.poddisruptionbudgets);
  }

  async start(): Promise<void> {
    await this.pdbs.start();
  }

  stop(): void {
    this.pdbs.stop();
  }

  /**
   * Runs after a pod failed filtering on every node: returns the FailedScheduling message, and
   * (asynchronously) evicts the victims on the chosen node and nominates it.
   */
  postFilter(pod: PodInfo, res: ScheduleResult, nodes: NodeInfo[]): string {
    const statuses = res.statuses;
    if (!statuses || !res.numNodes) return res.message ?? '';
    const { nominatedNode, message } = this.preempt(pod, statuses, nodes);
    if (nominatedNode) void this.prepare(pod, nominatedNode.node, nominatedNode.victims);
    return fitMessage(res.numNodes, statuses, message);
  }

  /** The decision alone (synchronous, over the cache as it is now). */
  preempt(pod: PodInfo, statuses: Map<string, Status>, nodes: NodeInfo[]): { nominatedNode?: Candidate; message: string } {
    const eligible = this.eligible(pod, statuses, nodes);
    if (eligible !== true) return { message: `preemption: ${eligible}` };
    const verdicts = new Map<string, Status>();
    const potential: NodeInfo[] = [];
    for (const n of nodes) {
      const st = statuses.get(n.name);
      if (!st) continue;
      if (st.code === 'UnschedulableAndUnresolvable') verdicts.set(n.name, unresolvable(NOT_HELPFUL));
      else potential.push(n);
    }
    const pdbs = this.pdbs.list();
    const candidates: Candidate[] = [];
    for (const n of potential.slice(0, MAX_CANDIDATES)) {
      const r = this.selectVictimsOnNode(pod, n, nodes, pdbs);
      if ('status' in r) verdicts.set(n.name, r.status);
      else candidates.push({ node: n, ...r });
    }
    for (const n of potential.slice(MAX_CANDIDATES)) verdicts.set(n.name, unresolvable(NO_VICTIMS));
    if (!candidates.length) {
      this.clearNomination(pod);
      return { message: `preemption: ${fitMessage(nodes.length, verdicts, '')}` };
    }
    return { nominatedNode: pickOne(candidates), message: '' };
  }

  /** Upstream's PodEligibleToPreemptOthers: true, or why not. */
  private eligible(pod: PodInfo, statuses: Map<string, Status>, nodes: NodeInfo[]): true | string {
    if (pod.preemptionPolicy === 'Never') return NOT_ELIGIBLE_NEVER;
    const mine = this.nominated.get(pod.key);
    const nominated = (mine?.uid === pod.uid ? mine.node : undefined) || (asObj(pod.pod.status)?.nominatedNodeName as string | undefined) || '';
    if (!nominated) return true;
    // A nominated node the filters now rule out for good is no reason to wait.
    if (statuses.get(nominated)?.code === 'UnschedulableAndUnresolvable') return true;
    const n = nodes.find((x) => x.name === nominated);
    if (n) for (const p of n.pods.values()) if (p.priority < pod.priority && p.terminating) return NOT_ELIGIBLE_TERMINATING;
    return true;
  }

  /** Does `pod` pass every filter on `node` holding only `keep`? (undefined = it fits) */
  private fits(pod: PodInfo, node: NodeInfo, nodes: NodeInfo[], keep: PodInfo[]): Status | undefined {
    const clone = new NodeInfo(node.name);
    clone.setNode(node.node!);
    for (const p of keep) clone.addPod(p);
    const s: CycleState = { pod, nodes: nodes.map((n) => (n === node ? clone : n)), nsLabels: this.opts.nsLabels, data: new Map() };
    const plugins = this.opts.framework.plugins;
    for (const p of plugins) p.preFilter?.(s);
    for (const p of plugins) {
      const st = p.filter?.(s, clone);
      if (st) return { ...st, plugin: p.name };
    }
    return undefined;
  }

  private selectVictimsOnNode(pod: PodInfo, node: NodeInfo, nodes: NodeInfo[], pdbs: KObject[]): { victims: PodInfo[]; pdbViolations: number } | { status: Status } {
    if (!node.node) return { status: unresolvable(NO_VICTIMS) };
    const all = [...node.pods.values()];
    const lower = all.filter((p) => p.priority < pod.priority);
    if (!lower.length) return { status: unresolvable(NO_VICTIMS) };
    const kept = all.filter((p) => p.priority >= pod.priority);
    const st = this.fits(pod, node, nodes, kept);
    if (st) return { status: st };
    // Most important first: higher priority, then the longest running.
    lower.sort((a, b) => b.priority - a.priority || startTime(a) - startTime(b));
    const { violating, nonViolating } = splitByPDB(lower, pdbs);
    const victims: PodInfo[] = [];
    let pdbViolations = 0;
    const reprieve = (p: PodInfo): boolean => {
      kept.push(p);
      if (!this.fits(pod, node, nodes, kept)) return false;
      kept.pop();
      victims.push(p);
      return true;
    };
    for (const p of violating) if (reprieve(p)) pdbViolations++;
    for (const p of nonViolating) reprieve(p);
    if (!victims.length) return { status: unresolvable(NO_VICTIMS) };
    victims.sort((a, b) => b.priority - a.priority || startTime(a) - startTime(b));
    return { victims, pdbViolations };
  }

  /** Nominate the node, then mark, delete and announce each victim; clear weaker nominations there. */
  private async prepare(pod: PodInfo, node: NodeInfo, victims: PodInfo[]): Promise<void> {
    this.nominated.set(pod.key, { uid: pod.uid, node: node.name });
    if (this.nominated.size > 4096) this.nominated.delete(this.nominated.keys().next().value as string);
    await this.setNominatedNode(pod.pod, node.name);
    await Promise.all(victims.map((v) => this.preemptVictim(pod, node.name, v)));
    for (const p of this.opts.pods.list()) {
      const spec = asObj(p.spec) ?? {};
      const prio = typeof spec.priority === 'number' ? spec.priority : 0;
      if (spec.nodeName || asObj(p.status)?.nominatedNodeName !== node.name || prio >= pod.priority || p.metadata.uid === pod.uid) continue;
      await this.setNominatedNode(p, null);
    }
  }

  private async preemptVictim(pod: PodInfo, nodeName: string, v: PodInfo): Promise<void> {
    try {
      const cond = {
        type: 'DisruptionTarget',
        status: 'True',
        lastProbeTime: null,
        lastTransitionTime: rfc3339(),
        reason: 'PreemptionByScheduler',
        message: `${this.opts.schedulerName}: preempting to accommodate a higher priority pod`,
      };
      await this.client
        .patch(R.pods, v.namespace, v.name, 'application/strategic-merge-patch+json', { status: { conditions: [cond] } }, 'status')
        .catch(() => undefined);
      await this.client.delete(R.pods, v.namespace, v.name, { preconditions: { uid: v.uid } });
      void this.opts.events?.record(v.pod, 'Normal', 'Preempted', `Preempted by pod ${pod.uid} on node ${nodeName}`);
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      if (code !== 404 && code !== 409) this.log(`preempting ${v.key} for ${pod.key}: ${(e as Error).message ?? e}`);
    }
  }

  private clearNomination(pod: PodInfo): void {
    const mine = this.nominated.get(pod.key);
    this.nominated.delete(pod.key);
    if (mine || asObj(pod.pod.status)?.nominatedNodeName) void this.setNominatedNode(pod.pod, null);
  }

  private async setNominatedNode(pod: KObject, node: string | null): Promise<void> {
    try {
      await this.client.patch(R.pods, pod.metadata.namespace, pod.metadata.name!, 'application/merge-patch+json', { status: { nominatedNodeName: node } }, 'status');
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      if (code !== 404) this.log(`setting nominatedNodeName of ${pod.metadata.namespace}/${pod.metadata.name}: ${(e as Error).message ?? e}`);
    }
  }
}

/** Pods whose eviction would take a PDB below its budget (in the order given), and the rest. */
export function splitByPDB(pods: PodInfo[], pdbs: KObject[]): { violating: PodInfo[]; nonViolating: PodInfo[] } {
  const matchers = pdbs.map((pdb) => {
    const sel = asObj(pdb.spec)?.selector as LabelSelector | null | undefined;
    // A nil or empty selector matches nothing here, as upstream.
    if (!sel || (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length)) return () => false;
    try {
      return compileLabelSelector(sel);
    } catch {
      return () => false;
    }
  });
  const allowed = pdbs.map((pdb) => {
    const n = asObj(pdb.status)?.disruptionsAllowed;
    return typeof n === 'number' ? n : 0;
  });
  const violating: PodInfo[] = [];
  const nonViolating: PodInfo[] = [];
  for (const p of pods) {
    let violated = false;
    pdbs.forEach((pdb, i) => {
      if (pdb.metadata.namespace !== p.namespace || !matchers[i](p.labels)) return;
      // Already counted by the PDB (an eviction in progress).
      if (asObj(asObj(pdb.status)?.disruptedPods)?.[p.name] !== undefined) return;
      if (--allowed[i] < 0) violated = true;
    });
    (violated ? violating : nonViolating).push(p);
  }
  return { violating, nonViolating };
}

/** Upstream's pickOneNodeForPreemption, criterion by criterion until one candidate is left. */
export function pickOne(candidates: Candidate[]): Candidate {
  const highest = (c: Candidate) => c.victims[0]?.priority ?? -Infinity;
  const criteria: ((c: Candidate) => number)[] = [
    (c) => -c.pdbViolations,
    (c) => -highest(c),
    (c) => -c.victims.reduce((s, v) => s + v.priority + 2 ** 31, 0),
    (c) => -c.victims.length,
    // The latest start among the earliest-started highest-priority victims.
    (c) => Math.min(...c.victims.filter((v) => v.priority === highest(c)).map(startTime)),
  ];
  let left = candidates;
  for (const score of criteria) {
    if (left.length === 1) break;
    const scores = left.map(score);
    const best = Math.max(...scores);
    left = left.filter((_, i) => scores[i] === best);
  }
  return left[0];
}
