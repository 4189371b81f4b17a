// ClusterRole aggregation (upstream's clusterrole-aggregation-controller): a ClusterRole with an
// `aggregationRule` gets, as its rules, the union of the rules of every other ClusterRole that one
// of its `clusterRoleSelectors` matches. That is how `admin`, `edit` and `view` are built, and how
// a CRD's author extends them: label a ClusterRole `rbac.authorization.k8s.io/aggregate-to-edit:
// "true"` and every editor gains its rules.
import { systemContext } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';
import { Informer } from '../client/informer.js';
import type { ApiClient, ResourceRef } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';
import { StatusError } from '../machinery/errors.js';
import { jsonEqual, type KObject } from '../machinery/object.js';
import { compileLabelSelector } from '../machinery/selectors.js';
import { RBAC_GROUP, type PolicyRule } from './rbac.js';

export const CLUSTER_ROLES: ResourceRef = { group: RBAC_GROUP, version: 'v1', resource: 'clusterroles' };
const MANAGER = 'clusterrole-aggregation-controller';

function selectorsOf(role: KObject): unknown[] {
  const agg = (role as { aggregationRule?: { clusterRoleSelectors?: unknown } }).aggregationRule;
  return Array.isArray(agg?.clusterRoleSelectors) ? agg!.clusterRoleSelectors : [];
}

export function isAggregated(role: KObject): boolean {
  const agg = (role as { aggregationRule?: unknown }).aggregationRule;
  return agg !== undefined && agg !== null;
}

/**
 * The rules an aggregated ClusterRole should hold: for each selector in order, the matching roles
 * by name, each rule once (the first occurrence wins the position).
 */
export function aggregateRules(target: KObject, all: Iterable<KObject>): PolicyRule[] {
  const roles = [...all].filter((r) => r.metadata.name !== target.metadata.name).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  const out: PolicyRule[] = [];
  const seen = new Set<string>();
  for (const sel of selectorsOf(target)) {
    const matches = compileLabelSelector(sel as never);
    for (const r of roles) {
      if (!matches(r.metadata.labels ?? {})) continue;
      for (const rule of ((r as { rules?: PolicyRule[] }).rules ?? [])) {
        const key = JSON.stringify(rule);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(rule);
      }
    }
  }
  return out;
}

export class ClusterRoleAggregationController {
  private roles: Informer;
  private queue: WorkQueue;
  private ctx = systemContext(MANAGER);

  constructor(
    private resources: Resources,
    client: ApiClient,
    private log: (s: string) => void = () => {},
  ) {
    this.roles = new Informer(client, CLUSTER_ROLES);
    this.queue = new WorkQueue((name) => this.sync(name), 1, 100, 10_000, (k, e) => this.log(`clusterrole aggregation ${k}: ${(e as Error).message}`));
    // Any change may change any aggregate (a label added, a rule edited): re-check them all.
    const all = () => {
      for (const r of this.roles.list()) if (isAggregated(r)) this.queue.add(r.metadata.name!);
    };
    this.roles.on({ onAdd: all, onUpdate: all, onDelete: all });
  }

  async start(): Promise<void> {
    await this.roles.start();
  }

  stop(): void {
    this.roles.stop();
    this.queue.stop();
  }

  private async sync(name: string): Promise<void> {
    const role = this.roles.get(undefined, name);
    if (!role || !isAggregated(role)) return;
    const rules = aggregateRules(role, this.roles.list());
    const current = (role as { rules?: unknown }).rules ?? [];
    if (jsonEqual(current, rules)) return;
    try {
      await this.resources.update(this.resources.spec(RBAC_GROUP, 'v1', 'clusterroles'), undefined, name, { ...role, rules }, this.ctx);
    } catch (e) {
      if (e instanceof StatusError && e.code === 404) return;
      throw e; // a conflict retries with the informer's newer copy
    }
  }
}
