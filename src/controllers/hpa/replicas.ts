// The replica calculator of the HorizontalPodAutoscaler, as upstream's
// pkg/controller/podautoscaler/replica_calculator.go: from the target's pods and their resource
// metrics, the replica count that brings the average usage to the target (utilization as a
// percentage of the pods' requests, or a raw average value), within a tolerance, treating pods
// that are not ready yet, and pods whose metrics are missing, so that they never turn a scale-up
// into a scale-down or the other way round. Pure: time and inputs come from the caller.
import type { KObject } from '../../machinery/object.js';
import { parseQuantity } from '../../api/common/quantity.js';

/** Upstream's default tolerance: no change while |1 - usage/target| <= 0.1. */
export const DEFAULT_TOLERANCE = 0.1;
/** --horizontal-pod-autoscaler-cpu-initialization-period (5 min). */
export const CPU_INITIALIZATION_PERIOD_MS = 5 * 60_000;
/** --horizontal-pod-autoscaler-initial-readiness-delay (30 s). */
export const DELAY_OF_INITIAL_READINESS_STATUS_MS = 30_000;

/** One pod's usage of one resource, in milli-units (millicores, millibytes). */
export interface PodResourceMetric {
  value: number;
  /** When the sample was taken (ms since epoch), if the source says. */
  timestamp?: number;
  /** The window the sample covers (ms), if the source says. */
  windowMs?: number;
}

export interface CalculatorOptions {
  now: number;
  tolerance?: number;
  cpuInitializationPeriodMs?: number;
  delayOfInitialReadinessStatusMs?: number;
}

export interface ResourceReplicasResult {
  replicas: number;
  /** Current utilization in percent of requests (Utilization targets only). */
  utilization?: number;
  /** Current average usage per pod, milli-units. */
  rawAverage: number;
}

type Obj = Record<string, unknown>;

/** The milli-value of a quantity, rounded up as resource.Quantity.MilliValue does; NaN if malformed. */
export function milliValue(q: unknown): number {
  const p = parseQuantity(q);
  if (!p) return NaN;
  const n = p.nanos;
  const div = 1_000_000n;
  const whole = n / div;
  return Number(n > 0n && whole * div !== n ? whole + 1n : whole);
}

export function parseTime(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** A Go duration as the metrics API prints it ("5s", "1.5s", "500ms", "1m0s"); undefined if not understood. */
export function parseDurationMs(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || v === '') return undefined;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, 'µs': 1e-3, ns: 1e-6 };
  const re = /(\d+(?:\.\d*)?)(h|ms|m|s|us|µs|ns)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    total += Number(m[1]) * unit[m[2]];
    end = re.lastIndex;
  }
  return end === v.length ? total : undefined;
}

function podName(p: KObject): string {
  return p.metadata.name!;
}

function readyCondition(pod: KObject): { status?: string; lastTransitionTime?: string } | undefined {
  const conds = ((pod.status as Obj | undefined)?.conditions as { type?: string; status?: string; lastTransitionTime?: string }[] | undefined) ?? [];
  return Array.isArray(conds) ? conds.find((c) => c?.type === 'Ready') : undefined;
}

interface Groups {
  readyPodCount: number;
  unready: Set<string>;
  missing: Set<string>;
  ignored: Set<string>;
}

/** groupPods: which pods count, which are not ready yet (CPU only), which lack metrics, which are gone. */
function groupPods(pods: KObject[], metrics: Map<string, PodResourceMetric>, resource: string, o: Required<CalculatorOptions>): Groups {
  const g: Groups = { readyPodCount: 0, unready: new Set(), missing: new Set(), ignored: new Set() };
  for (const pod of pods) {
    const name = podName(pod);
    const phase = (pod.status as Obj | undefined)?.phase;
    if (pod.metadata.deletionTimestamp || phase === 'Failed') {
      g.ignored.add(name);
      continue;
    }
    if (phase === 'Pending') {
      g.unready.add(name);
      continue;
    }
    const metric = metrics.get(name);
    if (!metric) {
      g.missing.add(name);
      continue;
    }
    if (resource === 'cpu') {
      const cond = readyCondition(pod);
      const start = parseTime((pod.status as Obj | undefined)?.startTime);
      let unready: boolean;
      if (!cond || start === undefined) unready = true;
      else {
        const transition = parseTime(cond.lastTransitionTime) ?? start;
        if (start + o.cpuInitializationPeriodMs > o.now) {
          // Still initialising: a sample counts only once a full window was taken since it became ready.
          const sampledTooEarly = metric.timestamp !== undefined && metric.timestamp < transition + (metric.windowMs ?? 0);
          unready = cond.status === 'False' || sampledTooEarly;
        } else {
          // Later: ignore only a pod that is unready and has never been ready.
          unready = cond.status === 'False' && start + o.delayOfInitialReadinessStatusMs > transition;
        }
      }
      if (unready) {
        g.unready.add(name);
        continue;
      }
    }
    g.readyPodCount++;
  }
  return g;
}

interface ContainerLike {
  name?: string;
  restartPolicy?: string;
  resources?: { requests?: Record<string, unknown> };
}

/** Each pod's request of `resource` (milli), summed over its containers (or just `container`). */
export function podRequests(pods: KObject[], resource: string, container?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pod of pods) {
    const spec = (pod.spec as { containers?: ContainerLike[]; initContainers?: ContainerLike[] } | undefined) ?? {};
    const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((c) => c.restartPolicy === 'Always')];
    let sum = 0;
    for (const c of containers) {
      if (container && c.name !== container) continue;
      const raw = c.resources?.requests?.[resource];
      const v = raw === undefined ? NaN : milliValue(raw);
      if (Number.isNaN(v)) throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${podName(pod)}`);
      sum += v;
    }
    out.set(podName(pod), sum);
  }
  return out;
}

function utilizationRatio(metrics: Map<string, PodResourceMetric>, requests: Map<string, number>, target: number) {
  let usage = 0;
  let request = 0;
  let n = 0;
  for (const [name, m] of metrics) {
    const r = requests.get(name);
    if (r === undefined) continue;
    usage += m.value;
    request += r;
    n++;
  }
  if (request === 0) throw new Error('no metrics returned matched known pods');
  const utilization = Math.trunc((usage * 100) / request);
  return { ratio: utilization / target, utilization, rawAverage: Math.trunc(usage / n) };
}

function usageRatio(metrics: Map<string, PodResourceMetric>, target: number) {
  let usage = 0;
  for (const m of metrics.values()) usage += m.value;
  const average = Math.trunc(usage / metrics.size);
  return { ratio: average / target, average };
}

export interface ResourceCalculation {
  currentReplicas: number;
  pods: KObject[];
  /** Usage per pod name (milli); pods without an entry are "missing". */
  metrics: Map<string, PodResourceMetric>;
  resource: string;
  container?: string;
  /** Percent of requests, or a raw per-pod average in milli-units. */
  target: { utilization: number } | { averageValue: number };
}

/**
 * GetResourceReplicas / GetRawResourceReplicas. Throws an Error with upstream's message when no
 * answer is possible (no pods, no usable metrics, missing requests).
 */
export function calculateResourceReplicas(c: ResourceCalculation, opts: CalculatorOptions): ResourceReplicasResult {
  const o: Required<CalculatorOptions> = {
    tolerance: DEFAULT_TOLERANCE,
    cpuInitializationPeriodMs: CPU_INITIALIZATION_PERIOD_MS,
    delayOfInitialReadinessStatusMs: DELAY_OF_INITIAL_READINESS_STATUS_MS,
    ...opts,
  };
  if (c.pods.length === 0) throw new Error('no pods returned by selector while calculating replica count');
  const known = new Set(c.pods.map(podName));
  const metrics = new Map([...c.metrics].filter(([name]) => known.has(name)));
  const g = groupPods(c.pods, metrics, c.resource, o);
  for (const name of [...g.ignored, ...g.unready]) metrics.delete(name);
  if (metrics.size === 0) throw new Error('did not receive metrics for targeted pods (pods might be unready)');

  const within = (r: number) => Math.abs(1 - r) <= o.tolerance;
  if ('utilization' in c.target) {
    const target = c.target.utilization;
    const requests = podRequests(c.pods, c.resource, c.container);
    const first = utilizationRatio(metrics, requests, target);
    const result = (replicas: number): ResourceReplicasResult => ({ replicas, utilization: first.utilization, rawAverage: first.rawAverage });
    const scaleUpWithUnready = g.unready.size > 0 && first.ratio > 1;
    if (!scaleUpWithUnready && g.missing.size === 0) {
      return result(within(first.ratio) ? c.currentReplicas : Math.ceil(first.ratio * g.readyPodCount));
    }
    if (g.missing.size > 0) {
      // Scale-down: a pod without metrics is assumed at (at least) the target; scale-up: idle.
      const fallback = Math.max(100, target);
      for (const name of g.missing) metrics.set(name, { value: first.ratio < 1 ? Math.trunc(((requests.get(name) ?? 0) * fallback) / 100) : 0 });
    }
    if (scaleUpWithUnready) for (const name of g.unready) metrics.set(name, { value: 0 });
    const second = utilizationRatio(metrics, requests, target);
    return result(settle(c.currentReplicas, first.ratio, second.ratio, metrics.size, within));
  }

  const target = c.target.averageValue;
  const first = usageRatio(metrics, target);
  const result = (replicas: number): ResourceReplicasResult => ({ replicas, rawAverage: first.average });
  const scaleUpWithUnready = g.unready.size > 0 && first.ratio > 1;
  if (!scaleUpWithUnready && g.missing.size === 0) {
    return result(within(first.ratio) ? c.currentReplicas : Math.ceil(first.ratio * g.readyPodCount));
  }
  if (g.missing.size > 0) for (const name of g.missing) metrics.set(name, { value: first.ratio < 1 ? target : 0 });
  if (scaleUpWithUnready) for (const name of g.unready) metrics.set(name, { value: 0 });
  const second = usageRatio(metrics, target);
  return result(settle(c.currentReplicas, first.ratio, second.ratio, metrics.size, within));
}

/** The second pass: keep the current count when the assumptions would flip the direction or the change is too small. */
function settle(current: number, ratio: number, newRatio: number, count: number, within: (r: number) => boolean): number {
  if (within(newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1)) return current;
  const replicas = Math.ceil(newRatio * count);
  if ((newRatio < 1 && replicas > current) || (newRatio > 1 && replicas < current)) return current;
  return replicas;
}
