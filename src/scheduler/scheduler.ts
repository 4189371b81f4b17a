// The scheduler: informers on nodes, pods and namespaces feed a cache (nodes with their bound
// and assumed pods) and a scheduling queue (pending pods of this scheduler). One loop pops the
// highest-priority pod, runs the framework over the cache synchronously, assumes the result and
// binds through pods/binding asynchronously — so the next pod is placed while the previous
// binding is in flight, and the assumption keeps it from double-booking capacity.
import { R, type ApiClient } from '../client/client.js';
import { Informer } from '../client/informer.js';
import { deepCopy, type KObject } from '../machinery/object.js';
import { SchedulerCache } from './cache.js';
import { PodEvents } from './events.js';
import { Framework, type Plugin, type ScheduleResult } from './framework.js';
import { nodeAffinity, nodeName, nodePorts, nodeUnschedulable, taintToleration } from './plugins/basic.js';
import { interPodAffinity } from './plugins/interpodaffinity.js';
import { balancedAllocation, nodeResourcesFit } from './plugins/noderesources.js';
import { podTopologySpread } from './plugins/podtopologyspread.js';
import { Preemption } from './plugins/preemption.js';
import { SchedulingQueue, type ClusterEvent, type QueuedPod } from './queue.js';

/** How long the scheduler places pods before yielding to the rest of the process. */
const SCHEDULING_SLICE_MS = 10;
import { asArr, asObj, PodInfo } from './types.js';
import { rfc3339 } from '../machinery/time.js';

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

/** Upstream's default plugin set, in its filter order. */
export function defaultPlugins(): Plugin[] {
  return [nodeUnschedulable, nodeName, taintToleration, nodeAffinity, nodePorts, nodeResourcesFit, podTopologySpread, interPodAffinity, balancedAllocation];
}

/** Upstream's default score weights (kube-scheduler v1 configuration). */
export const DEFAULT_WEIGHTS: Record<string, number> = {
  TaintToleration: 3,
  NodeAffinity: 2,
  NodeResourcesFit: 1,
  PodTopologySpread: 2,
  InterPodAffinity: 2,
  NodeResourcesBalancedAllocation: 1,
};

export interface SchedulerOptions {
  schedulerName?: string;
  log?: (msg: string) => void;
  /** Back-off after a failed attempt: initial (1 s) doubling up to max (10 s), as upstream. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Unschedulable pods are retried at least this often even without a cluster change (30 s). */
  unschedulableFlushMs?: number;
  /** Write Scheduled/FailedScheduling events (default true). */
  events?: boolean;
  /** Bindings in flight at once before the loop waits (default 256). */
  maxInFlightBindings?: number;
  plugins?: Plugin[];
  weights?: Record<string, number>;
  random?: () => number;
}

type Obj = Record<string, unknown>;

const isTerminal = (pod: KObject) => {
  const phase = asObj(pod.status)?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
};
const assignedNode = (pod: KObject) => (asObj(pod.spec)?.nodeName as string | undefined) || '';
const statusCode = (e: unknown) => (e && typeof e === 'object' ? (e as { code?: unknown }).code : undefined);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class Scheduler {
  readonly name: string;
  readonly cache = new SchedulerCache();
  readonly queue: SchedulingQueue;
  readonly framework: Framework;
  readonly stats = { bound: 0, failedAttempts: 0, bindErrors: 0 };
  readonly preemption: Preemption;
  private nodes: Informer;
  private pods: Informer;
  private namespaces: Informer;
  private events?: PodEvents;
  private running = false;
  private loop?: Promise<void>;
  private inflight = new Set<Promise<void>>();
  private busy = false;
  private log: (msg: string) => void;
  private maxInFlight: number;

  constructor(
    private client: ApiClient,
    opts: SchedulerOptions = {},
  ) {
    this.name = opts.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.log = opts.log ?? (() => {});
    this.maxInFlight = opts.maxInFlightBindings ?? 256;
    const plugins = opts.plugins ?? defaultPlugins();
    this.framework = new Framework(plugins, opts.weights ?? DEFAULT_WEIGHTS, opts.random);
    const byName = new Map(plugins.map((p) => [p.name, new Set<ClusterEvent>(p.events)]));
    this.queue = new SchedulingQueue({
      initialBackoffMs: opts.initialBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
      unschedulableFlushMs: opts.unschedulableFlushMs,
      relevant: (event, plugin) => byName.get(plugin)?.has(event) ?? true,
    });
    if (opts.events !== false) this.events = new PodEvents(client, this.name);
    this.nodes = new Informer(client, R.nodes).on({
      onAdd: (n) => this.onNode(n),
      onUpdate: (n, old) => this.onNode(n, old),
      onDelete: (n) => this.cache.removeNode(n.metadata.name!),
    });
    this.pods = new Informer(client, R.pods).on({
      onAdd: (p) => this.onPod(p),
      onUpdate: (p, old) => this.onPod(p, old),
      onDelete: (p) => this.onPodDelete(p),
    });
    this.namespaces = new Informer(client, R.namespaces);
    this.preemption = new Preemption(client, { schedulerName: this.name, framework: this.framework, pods: this.pods, nsLabels: this.nsLabels, events: this.events, log: this.log });
  }

  /** Lists and watches, then schedules until stop(). Resolves once the caches are synced. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.namespaces.start();
    await this.nodes.start();
    await this.pods.start();
    await this.preemption.start();
    this.loop = this.run();
  }

  stop(): void {
    this.running = false;
    this.queue.close();
    this.nodes.stop();
    this.pods.stop();
    this.namespaces.stop();
    this.preemption.stop();
  }

  /** Resolves when no pod is waiting to be tried and no binding is in flight (tests, benchmarks). */
  async idle(): Promise<void> {
    for (;;) {
      const { active, backoff } = this.queue.sizes;
      if (!active && !backoff && !this.inflight.size && !this.busy) return;
      if (this.inflight.size) await Promise.allSettled([...this.inflight]);
      else await new Promise((r) => setTimeout(r, 5));
    }
  }

  private nsLabels = (ns: string) => this.namespaces.get(undefined, ns)?.metadata.labels;

  // ------------------------------------------------------------------------------------------
  // Informer events

  private onNode(node: KObject, old?: KObject): void {
    this.cache.setNode(node);
    if (!old) return this.queue.moveAll('NodeAdd');
    const changed =
      !same(node.metadata.labels, old.metadata.labels) ||
      !same(asObj(node.spec)?.taints, asObj(old.spec)?.taints) ||
      asObj(node.spec)?.unschedulable !== asObj(old.spec)?.unschedulable ||
      !same(asObj(node.status)?.allocatable, asObj(old.status)?.allocatable);
    if (changed) this.queue.moveAll('NodeUpdate');
  }

  private responsible(pod: KObject): boolean {
    return ((asObj(pod.spec)?.schedulerName as string | undefined) || DEFAULT_SCHEDULER_NAME) === this.name;
  }

  /** Pending, ours, not going away, not gated. */
  private wantsScheduling(pod: KObject): boolean {
    return !assignedNode(pod) && !isTerminal(pod) && !pod.metadata.deletionTimestamp && this.responsible(pod) && !asArr(asObj(pod.spec)?.schedulingGates).length;
  }

  private onPod(pod: KObject, old?: KObject): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const node = assignedNode(pod);
    if (node) {
      this.queue.delete(key);
      if (isTerminal(pod)) {
        if (this.cache.removePod(key, pod.metadata.uid)) this.queue.moveAll('AssignedPodDelete');
        return;
      }
      const wasBound = !!old && !!assignedNode(old) && this.cache.has(key) && !this.cache.isAssumed(key);
      if (wasBound && same(old!.spec, pod.spec) && same(old!.metadata.labels, pod.metadata.labels) && !!old!.metadata.deletionTimestamp === !!pod.metadata.deletionTimestamp)
        return; // a status change: nothing the scheduler counts
      this.cache.addPod(new PodInfo(pod));
      this.queue.moveAll(wasBound ? 'AssignedPodUpdate' : 'AssignedPodAdd');
      return;
    }
    if (this.cache.isAssumed(key)) return; // our binding is in flight
    if (this.wantsScheduling(pod)) this.queue.update(new PodInfo(pod));
    else this.queue.delete(key);
  }

  private onPodDelete(pod: KObject): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.queue.delete(key);
    if (this.cache.removePod(key, pod.metadata.uid)) this.queue.moveAll('AssignedPodDelete');
  }

  // ------------------------------------------------------------------------------------------
  // Scheduling

  private async run(): Promise<void> {
    let turnStarted = Date.now();
    while (this.running) {
      const q = await this.queue.pop();
      if (!q || !this.running) return;
      this.busy = true;
      try {
        this.scheduleOne(q);
      } catch (e) {
        this.log(`scheduling ${q.info.key} failed: ${(e as Error).stack ?? e}`);
        this.queue.addBackoff(q);
      } finally {
        this.busy = false;
      }
      // Bound the bindings in flight, and let watch events and binding replies in every few
      // milliseconds — not after every pod: in a busy process each turn of the event loop is long.
      if (this.inflight.size >= this.maxInFlight) await Promise.race(this.inflight);
      else if (Date.now() - turnStarted >= SCHEDULING_SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        turnStarted = Date.now();
      }
    }
  }

  private scheduleOne(q: QueuedPod): void {
    const info = q.info;
    if (this.cache.has(info.key)) return; // already placed (assumed or bound)
    const res = this.framework.schedule(info, this.cache.nodeInfos(), this.nsLabels);
    if (!res.node) return this.failed(q, res);
    const assumed = info.assignedTo(res.node.name);
    this.cache.assume(assumed);
    this.bind(q, assumed);
  }

  private failed(q: QueuedPod, res: ScheduleResult): void {
    this.stats.failedAttempts++;
    // PostFilter: preemption may nominate a node (evicting lower-priority pods) and says so in the message.
    const message = this.preemption.postFilter(q.info, res, this.cache.nodeInfos());
    this.queue.addUnschedulable(q, res.rejectedBy ?? []);
    this.log(`unable to schedule ${q.info.key}: ${message}`);
    const pod = this.pods.get(q.info.namespace, q.info.name) ?? q.info.pod;
    void this.events?.record(pod, 'Warning', 'FailedScheduling', message);
    void this.setUnschedulable(pod, message);
  }

  private bind(q: QueuedPod, info: PodInfo): void {
    const { namespace, name, nodeName } = info;
    const body: KObject = {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name, namespace, uid: info.uid },
      target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
    };
    const p = this.client
      .createSubresource(R.pods, namespace, name, 'binding', body)
      .then(() => {
        this.stats.bound++;
        void this.events?.record(info.pod, 'Normal', 'Scheduled', `Successfully assigned ${namespace}/${name} to ${nodeName}`);
      })
      .catch((e: unknown) => {
        this.stats.bindErrors++;
        this.cache.forget(info.key);
        this.queue.moveAll('AssignedPodDelete');
        const code = statusCode(e);
        // Gone, or bound by someone else meanwhile (409): the watch tells the rest.
        if (code === 404 || code === 409) return;
        const msg = `Binding rejected: ${(e as Error).message ?? e}`;
        this.log(`${info.key}: ${msg}`);
        const cur = this.pods.get(namespace, name);
        if (!cur || !this.wantsScheduling(cur)) return;
        void this.events?.record(cur, 'Warning', 'FailedScheduling', msg);
        this.queue.addBackoff({ ...q, info: new PodInfo(cur) });
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** PodScheduled=False/Unschedulable with the same message, unless the pod already says so. */
  private async setUnschedulable(pod: KObject, message: string): Promise<void> {
    const now = rfc3339();
    let cur: KObject = deepCopy(pod);
    for (let attempt = 0; attempt < 5; attempt++) {
      if (assignedNode(cur)) return;
      const status = (asObj(cur.status) ?? (cur.status = {})) as Obj;
      const conditions = asArr(status.conditions) as Obj[];
      const existing = conditions.find((c) => c?.type === 'PodScheduled');
      if (existing?.status === 'False' && existing.reason === 'Unschedulable' && existing.message === message) return;
      const cond = {
        type: 'PodScheduled',
        status: 'False',
        lastProbeTime: null,
        lastTransitionTime: existing?.status === 'False' ? (existing.lastTransitionTime ?? now) : now,
        reason: 'Unschedulable',
        message,
      };
      status.conditions = existing ? conditions.map((c) => (c === existing ? cond : c)) : [...conditions, cond];
      try {
        await this.client.update(R.pods, cur.metadata.namespace, cur, 'status');
        return;
      } catch (e) {
        if (statusCode(e) !== 409) return;
        try {
          cur = await this.client.get(R.pods, cur.metadata.namespace, cur.metadata.name!);
        } catch {
          return;
        }
      }
    }
  }
}
