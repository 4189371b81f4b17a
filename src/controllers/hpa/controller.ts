// The HorizontalPodAutoscaler controller, as upstream's pkg/controller/podautoscaler/horizontal.go:
// every sync period, for each HPA (autoscaling/v2, the storage version; v1 objects convert to
// it), read the scale of its target (Deployment, ReplicaSet, StatefulSet, ReplicationController),
// compute the replica count each metric asks for (Resource and ContainerResource metrics from the
// resource metrics source: cpu/memory utilization of requests or average value), take the
// largest, stabilize and rate-limit it (spec.behavior, or the legacy rules), clamp it to
// min/maxReplicas, write it to the target and record the HPA's status (currentReplicas,
// desiredReplicas, currentMetrics, lastScaleTime, the AbleToScale/ScalingActive/ScalingLimited
// conditions) and events (SuccessfulRescale, FailedGetResourceMetric…). Pods/Object/External
// metrics need a custom or external metrics adapter, which Skiff does not have: they fail as
// upstream's do without one, so an HPA that also has a CPU metric still scales up on it.
import { StatusError } from '../../machinery/errors.js';
import { deepCopy, jsonEqual, parseApiVersion, type KObject } from '../../machinery/object.js';
import { labelSelectorToString, compileLabelSelectorString, type LabelSelector } from '../../machinery/selectors.js';
import { formatQuantity } from '../../api/common/quantity.js';
import { R, type ApiClient, type ResourceRef } from '../../client/client.js';
import { Informer, cacheKey } from '../../client/informer.js';
import { clientEventSink, errorMessage, type EventSink } from '../pod-control.js';
import { behaviorOf, ScalingHistory, type ConditionUpdate } from './behavior.js';
import {
  calculateResourceReplicas,
  milliValue,
  parseDurationMs,
  parseTime,
  DEFAULT_TOLERANCE,
  CPU_INITIALIZATION_PERIOD_MS,
  DELAY_OF_INITIAL_READINESS_STATUS_MS,
  type PodResourceMetric,
} from './replicas.js';
import { rfc3339 } from '../../machinery/time.js';
import { QueueController } from '../queue-controller.js';

/** A pod's resource usage as the metrics API serves it (metrics.k8s.io/v1beta1 PodMetrics). */
export interface PodMetric {
  metadata: { name?: string; namespace?: string };
  /** RFC 3339 time of the sample. */
  timestamp?: string;
  /** The sample's window as a Go duration ("5s"). */
  window?: string;
  containers: { name: string; usage: Record<string, string> }[];
}

/** Where resource metrics come from (the metrics API's sampler in the control plane). */
export interface PodMetricsSource {
  /** Metrics of the pods in `namespace` matching the label selector string (`a=b,c in (d)`). */
  podMetrics(namespace: string, selector: string): Promise<PodMetric[]>;
}

export interface HorizontalPodAutoscalerControllerOptions {
  metrics: PodMetricsSource;
  /** How often every HPA is reconciled (upstream --horizontal-pod-autoscaler-sync-period); default 15 s. */
  syncPeriodMs?: number;
  /** The clock (ms since epoch); default Date.now. */
  now?: () => number;
  log?: (line: string) => void;
  events?: EventSink;
  tolerance?: number;
  /** Used for HPAs without spec.behavior; default 5 min. */
  downscaleStabilizationMs?: number;
  cpuInitializationPeriodMs?: number;
  delayOfInitialReadinessStatusMs?: number;
  workers?: number;
  informers?: { pods?: Informer; hpas?: Informer };
}

export const HPA_RESOURCE: ResourceRef = { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers' };
const COMPONENT = 'horizontal-pod-autoscaler';

/** The kinds whose scale this controller can read and write, by API group and kind. */
const SCALABLE: Record<string, ResourceRef> = {
  'apps/Deployment': R.deployments,
  'apps/ReplicaSet': R.replicasets,
  'apps/StatefulSet': R.statefulsets,
  'extensions/Deployment': R.deployments,
  'extensions/ReplicaSet': R.replicasets,
  '/ReplicationController': { group: '', version: 'v1', resource: 'replicationcontrollers' },
};

type Obj = Record<string, unknown>;

interface Scale {
  ref: ResourceRef;
  specReplicas: number;
  statusReplicas: number;
  selector: string;
}

interface MetricOutcome {
  replicas: number;
  name: string;
  status: Obj;
}

/** An error computing one metric, with the condition upstream would set for it. */
class MetricError extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly conditionMessage: string,
  ) {
    super(message);
  }
}

function obj(v: unknown): Obj {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

function previousDesired(hpa: KObject): number {
  const d = obj(hpa.status).desiredReplicas;
  return typeof d === 'number' ? d : 0;
}

function milliQuantity(milli: number): string {
  return formatQuantity({ nanos: BigInt(Math.trunc(milli)) * 1_000_000n, format: 'DecimalSI' });
}

export class HorizontalPodAutoscalerController extends QueueController {
  readonly pods: Informer;
  readonly hpas: Informer;
  private events: EventSink;
  private now: () => number;
  private log: (line: string) => void;
  private history: ScalingHistory;
  private ticker?: NodeJS.Timeout;
  private metrics: PodMetricsSource;
  private syncPeriodMs: number;
  private calc: { tolerance: number; cpuInitializationPeriodMs: number; delayOfInitialReadinessStatusMs: number };

  constructor(
    private client: ApiClient,
    opts: HorizontalPodAutoscalerControllerOptions,
  ) {
    const syncPeriodMs = opts.syncPeriodMs ?? 15_000;
    super(COMPONENT, opts.log ?? (() => {}), { workers: opts.workers ?? 2, baseDelayMs: 100, maxDelayMs: syncPeriodMs });
    this.metrics = opts.metrics;
    this.syncPeriodMs = syncPeriodMs;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? (() => {});
    this.events = opts.events ?? clientEventSink(client, COMPONENT);
    this.history = new ScalingHistory(this.now, opts.downscaleStabilizationMs);
    this.calc = {
      tolerance: opts.tolerance ?? DEFAULT_TOLERANCE,
      cpuInitializationPeriodMs: opts.cpuInitializationPeriodMs ?? CPU_INITIALIZATION_PERIOD_MS,
      delayOfInitialReadinessStatusMs: opts.delayOfInitialReadinessStatusMs ?? DELAY_OF_INITIAL_READINESS_STATUS_MS,
    };
    this.pods = opts.informers?.pods ?? this.own(new Informer(client, R.pods));
    this.hpas = opts.informers?.hpas ?? this.own(new Informer(client, HPA_RESOURCE));
    this.hpas.on({
      onAdd: (h) => this.enqueue(h),
      // Our own status writes come back as updates: only a spec change is worth an early sync.
      onUpdate: (h, old) => {
        if (h.metadata.generation !== old.metadata.generation) this.enqueue(h);
      },
      onDelete: (h) => this.history.forget(cacheKey(h)),
    });
  }

  /** Every HPA now, and again every sync period (metrics change without any watch event). */
  protected queueAll(): void {
    for (const h of this.hpas.list()) this.enqueue(h);
    this.ticker = setInterval(() => {
      for (const h of this.hpas.list()) this.enqueue(h);
    }, this.syncPeriodMs);
    this.ticker.unref?.();
  }

  override stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    super.stop();
  }

  /** Reconciles every HPA now and resolves when done (what the sync period does; for tests). */
  async resync(): Promise<void> {
    for (const h of this.hpas.list()) this.queue.add(cacheKey(h));
    await this.queue.idle();
  }

  protected async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    const cached = this.hpas.get(ns, name);
    if (!cached) {
      this.history.forget(key);
      return;
    }
    if (cached.metadata.deletionTimestamp) return;
    const hpa = deepCopy(cached);
    const before = deepCopy(obj(hpa.status));
    let failure: unknown;
    try {
      await this.reconcile(key, hpa);
    } catch (e) {
      failure = e;
    }
    await this.writeStatus(hpa, before);
    // Failures are reported in status and events; the next sync period tries again.
    if (failure) this.log(`${COMPONENT}: ${key}: ${errorMessage(failure)}`);
  }

  private async writeStatus(hpa: KObject, before: Obj): Promise<void> {
    if (jsonEqual(before, hpa.status ?? {})) return;
    try {
      await this.client.update(HPA_RESOURCE, hpa.metadata.namespace, hpa, 'status');
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) {
        this.events(hpa, 'Warning', 'FailedUpdateStatus', errorMessage(e));
        throw e;
      }
      // Someone changed the HPA meanwhile: the status we computed still holds, on the fresh object.
      const fresh = await this.client.get(HPA_RESOURCE, hpa.metadata.namespace, hpa.metadata.name!);
      fresh.status = hpa.status;
      await this.client.update(HPA_RESOURCE, hpa.metadata.namespace, fresh, 'status');
    }
  }

  // --- conditions and status ------------------------------------------------------------------

  private setCondition(hpa: KObject, type: string, status: 'True' | 'False', reason: string, message: string): void {
    const st = this.status(hpa);
    const conds = (Array.isArray(st.conditions) ? st.conditions : []) as Obj[];
    const existing = conds.find((c) => c.type === type);
    const now = rfc3339(this.now());
    if (existing) {
      if (existing.status !== status) existing.lastTransitionTime = now;
      existing.status = status;
      existing.reason = reason;
      existing.message = message;
    } else conds.push({ type, status, lastTransitionTime: now, reason, message });
    st.conditions = conds;
  }

  private apply(hpa: KObject, c: ConditionUpdate): void {
    this.setCondition(hpa, c.type, c.status, c.reason, c.message);
  }

  private status(hpa: KObject): Obj {
    if (!hpa.status || typeof hpa.status !== 'object') hpa.status = {};
    return hpa.status as Obj;
  }

  /** setStatus: the counts and metrics of this sync; lastScaleTime when it rescaled. */
  private setStatus(hpa: KObject, current: number, desired: number, metrics: Obj[] | undefined, rescaled: boolean): void {
    const old = this.status(hpa);
    const st: Obj = { currentReplicas: current, desiredReplicas: desired };
    if (rescaled) st.lastScaleTime = rfc3339(this.now());
    else if (old.lastScaleTime) st.lastScaleTime = old.lastScaleTime;
    if (metrics && metrics.length) st.currentMetrics = metrics;
    if (old.conditions) st.conditions = old.conditions;
    if (old.observedGeneration !== undefined) st.observedGeneration = old.observedGeneration;
    hpa.status = st;
  }

  // --- the target's scale ---------------------------------------------------------------------

  private async getScale(hpa: KObject): Promise<Scale> {
    const ref = obj(obj(hpa.spec).scaleTargetRef);
    const kind = String(ref.kind ?? '');
    const name = String(ref.name ?? '');
    let target: ResourceRef | undefined;
    let group = '';
    if (typeof ref.apiVersion === 'string' && ref.apiVersion !== '') {
      group = parseApiVersion(ref.apiVersion).group;
      target = SCALABLE[`${group}/${kind}`];
    } else {
      target = Object.entries(SCALABLE).find(([k]) => k.endsWith(`/${kind}`))?.[1];
    }
    if (!target) throw new Error(`no matches for kind "${kind}" in group "${group}"`);
    const o = await this.client.get(target, hpa.metadata.namespace, name);
    const spec = obj(o.spec);
    const sel = spec.selector;
    let selector = '';
    if (sel && typeof sel === 'object') {
      // ReplicationController selectors are plain label maps; the others are LabelSelectors.
      const isMap = !('matchLabels' in sel) && !('matchExpressions' in sel) && Object.values(sel).every((v) => typeof v === 'string');
      selector = labelSelectorToString((isMap ? { matchLabels: sel } : sel) as LabelSelector);
    }
    return {
      ref: target,
      specReplicas: typeof spec.replicas === 'number' ? spec.replicas : 0,
      statusReplicas: typeof obj(o.status).replicas === 'number' ? (obj(o.status).replicas as number) : 0,
      selector,
    };
  }

  private async updateScale(hpa: KObject, scale: Scale, replicas: number): Promise<void> {
    const name = String(obj(obj(hpa.spec).scaleTargetRef).name ?? '');
    await this.client.patch(scale.ref, hpa.metadata.namespace, name, 'application/merge-patch+json', { spec: { replicas } });
  }

  // --- reconcile ------------------------------------------------------------------------------

  private async reconcile(key: string, hpa: KObject): Promise<void> {
    const spec = obj(hpa.spec);
    const ref = obj(spec.scaleTargetRef);
    const reference = `${ref.kind}/${ref.name}`;
    const minReplicas = typeof spec.minReplicas === 'number' ? spec.minReplicas : 1;
    const maxReplicas = typeof spec.maxReplicas === 'number' ? spec.maxReplicas : minReplicas;
    const behavior = behaviorOf(spec);

    let scale: Scale;
    try {
      scale = await this.getScale(hpa);
    } catch (e) {
      const msg = errorMessage(e);
      this.events(hpa, 'Warning', 'FailedGetScale', msg);
      this.setCondition(hpa, 'AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${msg}`);
      throw new Error(`failed to query scale subresource for ${reference}: ${msg}`);
    }
    this.setCondition(hpa, 'AbleToScale', 'True', 'SucceededGetScale', "the HPA controller was able to get the target's current scale");
    const current = scale.specReplicas;
    this.history.recordInitial(key, current);

    let desired = 0;
    let reason = '';
    let metricStatuses: Obj[] | undefined;
    if (current === 0 && minReplicas !== 0) {
      // Autoscaling is off while the target is scaled to zero.
      desired = 0;
      this.setCondition(hpa, 'ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero');
    } else if (current > maxReplicas) {
      reason = 'Current number of replicas above Spec.MaxReplicas';
      desired = maxReplicas;
    } else if (current < minReplicas) {
      reason = 'Current number of replicas below Spec.MinReplicas';
      desired = minReplicas;
    } else {
      const r = await this.computeReplicasForMetrics(hpa, scale);
      metricStatuses = r.statuses;
      if (r.replicas === -1) {
        this.events(hpa, 'Warning', 'FailedComputeMetricsReplicas', r.error!);
        this.setStatus(hpa, current, previousDesired(hpa), metricStatuses, false);
        throw new Error(`failed to compute desired number of replicas based on listed metrics for ${reference}: ${r.error}`);
      }
      if (r.error) this.log(`${COMPONENT}: ${key}: ${r.error}`);
      desired = r.replicas;
      if (desired > current) reason = `${r.metric} above target`;
      else if (desired < current) reason = 'All metrics below target';
      const n = this.history.normalize(key, { currentReplicas: current, desiredReplicas: desired, minReplicas, maxReplicas, behavior });
      for (const c of n.conditions) this.apply(hpa, c);
      desired = n.replicas;
    }

    const rescale = desired !== current;
    if (rescale) {
      try {
        await this.updateScale(hpa, scale, desired);
      } catch (e) {
        const msg = errorMessage(e);
        this.events(hpa, 'Warning', 'FailedRescale', `New size: ${desired}; reason: ${reason}; error: ${msg}`);
        this.setCondition(hpa, 'AbleToScale', 'False', 'FailedUpdateScale', `the HPA controller was unable to update the target scale: ${msg}`);
        this.setStatus(hpa, current, previousDesired(hpa), metricStatuses, false);
        throw new Error(`failed to rescale ${reference}: ${msg}`);
      }
      this.setCondition(hpa, 'AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desired}`);
      this.events(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desired}; reason: ${reason}`);
      this.history.recordScale(key, behavior, current, desired);
      this.log(`${COMPONENT}: successful rescale of ${key}, old size: ${current}, new size: ${desired}, reason: ${reason}`);
    } else desired = current;
    this.setStatus(hpa, current, desired, metricStatuses, rescale);
  }

  /** The largest proposal over all metrics; -1 (and the first error) when none can be trusted. */
  private async computeReplicasForMetrics(
    hpa: KObject,
    scale: Scale,
  ): Promise<{ replicas: number; metric: string; statuses?: Obj[]; error?: string }> {
    if (!scale.selector) {
      this.events(hpa, 'Warning', 'SelectorRequired', 'selector is required');
      this.setCondition(hpa, 'ScalingActive', 'False', 'InvalidSelector', "the HPA target's scale is missing a selector");
      return { replicas: -1, metric: '', error: 'selector is required' };
    }
    const specs = (Array.isArray(obj(hpa.spec).metrics) ? obj(hpa.spec).metrics : []) as Obj[];
    const statuses: Obj[] = specs.map(() => ({ type: '' }));
    let replicas = 0;
    let metric = '';
    let invalid = 0;
    let first: MetricError | undefined;
    for (let i = 0; i < specs.length; i++) {
      try {
        const r = await this.computeReplicasForMetric(hpa, specs[i], scale);
        statuses[i] = r.status;
        if (replicas === 0 || r.replicas > replicas) {
          replicas = r.replicas;
          metric = r.name;
        }
      } catch (e) {
        const err = e instanceof MetricError ? e : new MetricError(errorMessage(e), 'FailedGetResourceMetric', errorMessage(e));
        if (!first) first = err;
        invalid++;
      }
    }
    const error = first ? `invalid metrics (${invalid} invalid out of ${specs.length}), first error is: ${first.message}` : undefined;
    // All metrics failed, or some failed and the rest would scale down: do nothing.
    if (first && (invalid >= specs.length || replicas < scale.specReplicas)) {
      this.setCondition(hpa, 'ScalingActive', 'False', first.reason, first.conditionMessage);
      return { replicas: -1, metric: '', statuses, error };
    }
    if (specs.length === 0) {
      return { replicas: -1, metric: '', statuses, error: 'no metrics to compute the replica count from' };
    }
    this.setCondition(hpa, 'ScalingActive', 'True', 'ValidMetricFound', `the HPA was able to successfully calculate a replica count from ${metric}`);
    return { replicas, metric, statuses, error };
  }

  private unable(hpa: KObject, reason: string, inner: string, outer: string): MetricError {
    this.events(hpa, 'Warning', reason, inner);
    return new MetricError(outer, reason, `the HPA was unable to compute the replica count: ${inner}`);
  }

  private async computeReplicasForMetric(hpa: KObject, m: Obj, scale: Scale): Promise<MetricOutcome> {
    switch (m.type) {
      case 'Resource':
      case 'ContainerResource':
        return this.resourceMetric(hpa, m, scale);
      case 'Pods': {
        const name = String(obj(obj(m.pods).metric).name ?? '');
        const inner = `unable to get metric ${name}: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered`;
        throw this.unable(hpa, 'FailedGetPodsMetric', inner, `failed to get pods metric value: ${inner}`);
      }
      case 'Object': {
        const o = obj(m.object);
        const name = String(obj(o.metric).name ?? '');
        const d = obj(o.describedObject);
        const inner = `unable to get metric ${name}: ${d.kind} on ${hpa.metadata.namespace} ${d.name}/unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered`;
        throw this.unable(hpa, 'FailedGetObjectMetric', inner, `failed to get object metric value: ${inner}`);
      }
      case 'External': {
        const name = String(obj(obj(m.external).metric).name ?? '');
        const inner = `unable to get external metric ${hpa.metadata.namespace}/${name}/nil: unable to fetch metrics from external metrics API: no external metrics API (external.metrics.k8s.io) registered`;
        throw this.unable(hpa, 'FailedGetExternalMetric', inner, `failed to get ${name} external metric value: ${inner}`);
      }
      default: {
        const msg = `unknown metric source type "${String(m.type)}"`;
        throw this.unable(hpa, 'InvalidMetricSourceType', msg, msg);
      }
    }
  }

  private async resourceMetric(hpa: KObject, m: Obj, scale: Scale): Promise<MetricOutcome> {
    const isContainer = m.type === 'ContainerResource';
    const src = obj(isContainer ? m.containerResource : m.resource);
    const resource = String(src.name ?? '');
    const container = isContainer ? String(src.container ?? '') : undefined;
    const target = obj(src.target);
    const reason = isContainer ? 'FailedGetContainerResourceMetric' : 'FailedGetResourceMetric';
    const outer = (inner: string) =>
      isContainer ? `failed to get ${resource} container metric value: ${inner}` : `failed to get ${resource} resource metric value: ${inner}`;
    const ns = hpa.metadata.namespace!;

    const averageValue = target.averageValue !== undefined && target.averageValue !== null ? milliValue(target.averageValue) : undefined;
    const utilization = typeof target.averageUtilization === 'number' ? target.averageUtilization : undefined;
    if (averageValue === undefined && utilization === undefined) {
      const inner = 'invalid resource metric source: neither an average utilization target nor an average value (usage) target was set';
      throw this.unable(hpa, reason, inner, outer(inner));
    }
    const what = averageValue !== undefined ? 'usage' : 'utilization';
    let usage: Map<string, PodResourceMetric>;
    try {
      usage = await this.resourceUsage(ns, scale.selector, resource, container);
    } catch (e) {
      const inner = `failed to get ${resource} ${what}: unable to get metrics for resource ${resource}: ${errorMessage(e)}`;
      throw this.unable(hpa, reason, inner, outer(inner));
    }
    const match = compileLabelSelectorString(scale.selector);
    const pods = this.pods.list(ns).filter((p) => match(p.metadata.labels));
    let r;
    try {
      r = calculateResourceReplicas(
        {
          currentReplicas: scale.specReplicas,
          pods,
          metrics: usage,
          resource,
          container,
          target: averageValue !== undefined ? { averageValue } : { utilization: utilization! },
        },
        { now: this.now(), ...this.calc },
      );
    } catch (e) {
      const inner = `failed to get ${resource} ${what}: ${errorMessage(e)}`;
      throw this.unable(hpa, reason, inner, outer(inner));
    }
    const current: Obj = averageValue !== undefined ? {} : { averageUtilization: r.utilization };
    current.averageValue = milliQuantity(r.rawAverage);
    const key = isContainer ? 'containerResource' : 'resource';
    const suffix = averageValue !== undefined ? '' : ' utilization (percentage of request)';
    return {
      replicas: r.replicas,
      name: isContainer ? `${resource} container resource${suffix}` : `${resource} resource${suffix}`,
      status: { type: m.type, [key]: { name: resource, ...(isContainer ? { container } : {}), current } },
    };
  }

  /** GetResourceMetric: usage per pod (milli), summed over containers (or the one named). */
  private async resourceUsage(ns: string, selector: string, resource: string, container?: string): Promise<Map<string, PodResourceMetric>> {
    const items = await this.metrics.podMetrics(ns, selector);
    if (!items.length) throw new Error('no metrics returned from resource metrics API');
    const out = new Map<string, PodResourceMetric>();
    for (const pm of items) {
      const name = pm.metadata?.name;
      if (!name) continue;
      let sum = 0;
      let found = false;
      let missing = false;
      for (const c of pm.containers ?? []) {
        if (container && c.name !== container) continue;
        const v = milliValue(c.usage?.[resource]);
        if (Number.isNaN(v)) {
          missing = true;
          break;
        }
        sum += v;
        found = true;
      }
      if (missing || !found) continue;
      out.set(name, { value: sum, timestamp: parseTime(pm.timestamp), windowMs: parseDurationMs(pm.window) });
    }
    if (container && out.size === 0) throw new Error(`failed to get container metrics: container ${container} not present in metrics`);
    return out;
  }
}
