// The resource quota controller (upstream pkg/controller/resourcequota): keeps every
// ResourceQuota's status.hard equal to spec.hard and status.used equal to what the namespace's
// objects use (the evaluators are admission's, so both agree), which is what `kubectl get quota`
// (`pods: 1/2`) and `kubectl describe quota` print. It watches quotas and, lazily, each resource a
// quota measures (core kinds and any `count/<resource>.<group>`), re-syncing a namespace when
// one of its objects changes, and every namespace periodically (pods past their grace period,
// kinds that could not be resolved yet).
import { StatusError } from '../machinery/errors.js';
import { jsonEqual, type KObject } from '../machinery/object.js';
import { Informer } from '../client/informer.js';
import type { ApiClient, ResourceRef } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';
import { asArr, asObj, asStr, dig } from '../api/common/shape.js';
import {
  formatResourceList,
  parseResourceList,
  quotaTarget,
  quotaUsage,
  type GroupResourceRef,
  type ResourceList,
} from '../apiserver/admission/resource-quota.js';

const COMPONENT = 'resourcequota-controller';
export const RESOURCE_QUOTAS: ResourceRef = { group: '', version: 'v1', resource: 'resourcequotas' };
const CRDS: ResourceRef = { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' };

/** Preferred versions of the built-in groups (a kind's objects are listed through these). */
const BUILTIN_VERSIONS: Record<string, string> = {
  '': 'v1',
  apps: 'v1',
  batch: 'v1',
  autoscaling: 'v2',
  'networking.k8s.io': 'v1',
  policy: 'v1',
  'rbac.authorization.k8s.io': 'v1',
  'storage.k8s.io': 'v1',
  'coordination.k8s.io': 'v1',
  'scheduling.k8s.io': 'v1',
  'discovery.k8s.io': 'v1',
  'events.k8s.io': 'v1',
  'settings.k8s.io': 'v1alpha1',
};

export interface ResourceQuotaControllerOptions {
  log?: (line: string) => void;
  /** Full re-sync period (default 30 s; upstream's is 5 min). */
  resyncMs?: number;
  /** Resolve the version to list a group's resource with (default: built-in table, then CRDs). */
  resolve?: (gr: GroupResourceRef) => Promise<ResourceRef | undefined>;
  now?: () => number;
}

const grKey = (gr: GroupResourceRef) => `${gr.resource}.${gr.group}`;

export class ResourceQuotaController {
  private quotas: Informer;
  private queue: WorkQueue;
  private trackers = new Map<string, { informer: Informer; ready: Promise<void> }>();
  private log: (line: string) => void;
  private resyncMs: number;
  private timer?: NodeJS.Timeout;
  private now: () => number;
  private resolveRef: (gr: GroupResourceRef) => Promise<ResourceRef | undefined>;
  private stopped = false;

  constructor(
    private client: ApiClient,
    opts: ResourceQuotaControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.resyncMs = opts.resyncMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    this.resolveRef = opts.resolve ?? ((gr) => this.defaultResolve(gr));
    this.quotas = new Informer(client, RESOURCE_QUOTAS);
    this.queue = new WorkQueue((ns) => this.sync(ns), 2, 100, 10_000, (k, e) => this.log(`${COMPONENT}: ${k}: ${(e as Error).message}`));
    const byNs = (q: KObject) => this.queue.add(q.metadata.namespace!);
    this.quotas.on({ onAdd: byNs, onUpdate: (q, old) => (jsonEqual(q.spec, old.spec) && jsonEqual(q.status, old.status) ? undefined : byNs(q)) });
  }

  async start(): Promise<void> {
    await this.quotas.start();
    for (const q of this.quotas.list()) this.queue.add(q.metadata.namespace!);
    this.timer = setInterval(() => {
      for (const ns of new Set(this.quotas.list().map((q) => q.metadata.namespace!))) this.queue.add(ns);
    }, this.resyncMs);
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.quotas.stop();
    for (const t of this.trackers.values()) t.informer.stop();
    this.queue.stop();
  }

  /** Resolves when no namespace waits to be synced (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async defaultResolve(gr: GroupResourceRef): Promise<ResourceRef | undefined> {
    const v = BUILTIN_VERSIONS[gr.group];
    if (v !== undefined) return { group: gr.group, version: v, resource: gr.resource };
    try {
      const crd = await this.client.get(CRDS, undefined, `${gr.resource}.${gr.group}`);
      const versions = asArr(dig(crd, 'spec', 'versions')).map(asObj);
      const pick = versions.find((x) => x?.storage === true && x.served !== false) ?? versions.find((x) => x?.served !== false);
      const name = asStr(pick?.name);
      return name ? { group: gr.group, version: name, resource: gr.resource } : undefined;
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return undefined;
      throw e;
    }
  }

  /** The informer for a measured resource (started on first use). */
  private async tracker(gr: GroupResourceRef): Promise<Informer | undefined> {
    const key = grKey(gr);
    let t = this.trackers.get(key);
    if (!t) {
      const ref = await this.resolveRef(gr);
      if (!ref || this.stopped) return undefined;
      t = this.trackers.get(key);
      if (!t) {
        const informer = new Informer(this.client, ref);
        const touch = (o: KObject) => {
          const ns = o.metadata.namespace;
          if (ns && this.quotas.list(ns).length) this.queue.add(ns);
        };
        informer.on({ onAdd: touch, onUpdate: touch, onDelete: touch });
        t = { informer, ready: informer.start() };
        this.trackers.set(key, t);
        t.ready.catch(() => this.trackers.delete(key));
      }
    }
    await t.ready;
    return t.informer;
  }

  private async sync(ns: string): Promise<void> {
    const now = this.now();
    for (const quota of this.quotas.list(ns)) {
      if (quota.metadata.deletionTimestamp) continue;
      const hard = parseResourceList(dig(quota, 'spec', 'hard'));
      const used: ResourceList = new Map();
      const byTarget = new Map<string, GroupResourceRef>();
      for (const name of hard.keys()) {
        const t = quotaTarget(name);
        if (t) byTarget.set(grKey(t), t);
      }
      for (const gr of byTarget.values()) {
        let informer: Informer | undefined;
        try {
          informer = await this.tracker(gr);
        } catch (e) {
          // A kind that cannot be listed counts as zero until the next re-sync.
          this.log(`${COMPONENT}: ${ns}: cannot watch ${grKey(gr)}: ${(e as Error).message}`);
        }
        for (const [n, q] of quotaUsage(quota, gr, informer?.list(ns) ?? [], now)) used.set(n, q);
      }
      for (const name of hard.keys()) if (!used.has(name)) used.set(name, { nanos: 0n, format: 'DecimalSI' });
      const status = { hard: formatResourceList(hard), used: formatResourceList(used) };
      if (jsonEqual(quota.status, status)) continue;
      try {
        await this.client.update(RESOURCE_QUOTAS, ns, { ...quota, status }, 'status');
      } catch (e) {
        if (e instanceof StatusError && e.code === 404) continue;
        if (e instanceof StatusError && e.code === 409) {
          this.queue.addAfter(ns, 50);
          continue;
        }
        throw e;
      }
    }
  }
}
