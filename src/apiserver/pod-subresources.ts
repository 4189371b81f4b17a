// pods/binding (the scheduler's only write) and pods/eviction (drain's polite delete that a
// PodDisruptionBudget may refuse, following upstream's EvictionREST).
import { errors, StatusError } from '../machinery/errors.js';
import { isPlainObject, type KObject } from '../machinery/object.js';
import { compileLabelSelector, type LabelSelector } from '../machinery/selectors.js';
import { fieldErr } from '../machinery/validation.js';
import type { KindSpec } from '../api/types.js';
import { systemContext, type RequestContext } from './context.js';
import type { DeleteOptions, Resources } from './resources.js';
import { now } from './resources.js';
import type { SubresourceHandlers } from './subresources.js';

export function registerPodSubresources(h: SubresourceHandlers, resources: Resources): void {
  h.registerCreate('', 'pods', 'binding', async (spec, ns, name, body) => {
    const target = isPlainObject(body.target) ? body.target : undefined;
    const node = typeof target?.name === 'string' ? target.name : '';
    if (!node) throw errors.invalid({ group: '', kind: 'Binding' }, name, [fieldErr.required('target.name')]);
    if (target?.kind !== undefined && target.kind !== 'Node' && target.kind !== '')
      throw errors.invalid({ group: '', kind: 'Binding' }, name, [fieldErr.notSupported('target.kind', target.kind, ['Node'])]);
    await resources.guaranteedUpdate(spec, ns, name, (pod) => {
      const podSpec = pod.spec as { nodeName?: string };
      if (pod.metadata.deletionTimestamp) throw errors.conflict({ group: '', resource: 'pods' }, name, 'pod is being deleted, cannot be assigned to a host');
      if (podSpec.nodeName) throw errors.conflict({ group: '', resource: 'pods' }, name, `pod ${name} is already assigned to node "${podSpec.nodeName}"`);
      podSpec.nodeName = node;
      const status = (isPlainObject(pod.status) ? pod.status : (pod.status = {})) as { conditions?: Record<string, unknown>[] };
      const conditions = (status.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now() });
      status.conditions = conditions;
    });
    return { object: success(), code: 201 };
  });

  // pods/eviction, as upstream's EvictionREST: a pod that cannot disrupt anything (not running
  // yet, finished, or already terminating) is deleted outright; otherwise the one PDB covering it
  // must allow a disruption, which the eviction takes by writing the PDB's status (one fewer
  // disruptionsAllowed, the pod in disruptedPods) with a compare-and-swap before deleting the pod.
  // A refusal is 429 TooManyRequests, which kubectl drain retries every 5 s.
  h.registerCreate('', 'pods', 'eviction', async (spec, ns, name, body, ctx) => {
    const evName = body.metadata?.name;
    if (evName !== undefined && evName !== '' && evName !== name) throw errors.badRequest('name in URL does not match name in Eviction object');
    const raw = isPlainObject(body.deleteOptions) ? body.deleteOptions : {};
    const dryRunList = Array.isArray(raw.dryRun) ? raw.dryRun : [];
    for (const v of dryRunList) if (v !== 'All') throw errors.badRequest(`Invalid dryRun value: ${String(v)}`);
    const dryRun = !!ctx.dryRun || dryRunList.length > 0;
    const dctx: RequestContext = dryRun ? { ...ctx, dryRun: true } : ctx;
    const opts = deleteOptionsOf(raw);
    const rvPreconditionSet = !!opts.preconditions?.resourceVersion;

    // A pod that has already caused its disruption (or never will) needs no budget.
    let pod!: KObject;
    for (let attempt = 0; ; attempt++) {
      pod = await resources.get(spec, ns, name);
      if (!canIgnorePDB(pod)) break;
      const o = withPreconditions(opts);
      if (shouldEnforceResourceVersion(pod) && !rvPreconditionSet) o.preconditions = { ...o.preconditions, resourceVersion: pod.metadata.resourceVersion };
      try {
        await resources.delete(spec, ns, name, o, dctx);
        return { object: success(), code: 201 };
      } catch (e) {
        if (isConflict(e) && !rvPreconditionSet && attempt < EVICTION_RETRIES) continue;
        throw e;
      }
    }

    const pdbSpec = resources.spec('policy', 'v1', 'poddisruptionbudgets');
    const covering = (await resources.list(pdbSpec, ns)).items.filter((pdb) => coversPod(pdb, pod));
    if (covering.length > 1) throw new StatusError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    let pdbName = '';
    let guardWithResourceVersion = false;
    if (covering.length === 1) {
      let pdb = covering[0];
      pdbName = pdb.metadata.name!;
      const st = (isPlainObject(pdb.status) ? pdb.status : {}) as PdbStatus;
      const unhealthyPolicy = (pdb.spec as { unhealthyPodEvictionPolicy?: string } | undefined)?.unhealthyPodEvictionPolicy;
      const ready = podReady(pod);
      // An unready pod does not count as healthy: taking it away costs the budget nothing, as long
      // as it is still unready when it is deleted (the resourceVersion precondition).
      if (!ready && unhealthyPolicy === 'AlwaysAllow') guardWithResourceVersion = true;
      else if (!ready && (st.currentHealthy ?? 0) >= (st.desiredHealthy ?? 0) && (st.desiredHealthy ?? 0) > 0) guardWithResourceVersion = true;
      else {
        for (let attempt = 0; ; attempt++) {
          try {
            await checkAndDecrement(resources, pdbSpec, pdb, name, dryRun);
            break;
          } catch (e) {
            if (!isConflict(e)) throw e;
            if (attempt >= EVICTION_RETRIES)
              throw new StatusError(504, 'Timeout', `Timeout: couldn't update PodDisruptionBudget "${pdbName}" due to conflicts`, { retryAfterSeconds: 10 });
            pdb = await resources.get(pdbSpec, ns, pdbName);
          }
        }
      }
    }

    const o = withPreconditions(opts);
    if (guardWithResourceVersion) o.preconditions = { ...o.preconditions, resourceVersion: pod.metadata.resourceVersion };
    try {
      await markDisruptionTarget(resources, spec, ns, name, o, dryRun);
      await resources.delete(spec, ns, name, o, dctx);
    } catch (e) {
      // The unready pod became ready (or changed) meanwhile: let the client try again.
      if (isConflict(e) && guardWithResourceVersion && !rvPreconditionSet) throw stillProcessing(pdbName);
      throw e;
    }
    return { object: success(), code: 201 };
  });
}

const EVICTION_RETRIES = 20;
const MAX_DISRUPTED_PODS = 2000;

interface PdbStatus {
  observedGeneration?: number;
  disruptionsAllowed?: number;
  currentHealthy?: number;
  desiredHealthy?: number;
  expectedPods?: number;
  disruptedPods?: Record<string, string>;
  conditions?: Record<string, unknown>[];
}

const isConflict = (e: unknown) => e instanceof StatusError && e.code === 409;

function deleteOptionsOf(raw: Record<string, unknown>): DeleteOptions {
  const out: DeleteOptions = {};
  if (typeof raw.gracePeriodSeconds === 'number') out.gracePeriodSeconds = raw.gracePeriodSeconds;
  if (raw.propagationPolicy === 'Background' || raw.propagationPolicy === 'Foreground' || raw.propagationPolicy === 'Orphan') out.propagationPolicy = raw.propagationPolicy;
  if (raw.orphanDependents === true && !out.propagationPolicy) out.propagationPolicy = 'Orphan';
  if (isPlainObject(raw.preconditions)) {
    const p = raw.preconditions as { uid?: unknown; resourceVersion?: unknown };
    out.preconditions = {};
    if (typeof p.uid === 'string' && p.uid) out.preconditions.uid = p.uid;
    if (typeof p.resourceVersion === 'string' && p.resourceVersion) out.preconditions.resourceVersion = p.resourceVersion;
  }
  return out;
}

function withPreconditions(o: DeleteOptions): DeleteOptions {
  return { ...o, preconditions: o.preconditions ? { ...o.preconditions } : undefined };
}

function podPhase(pod: KObject): string | undefined {
  return (pod.status as { phase?: string } | undefined)?.phase;
}

function podReady(pod: KObject): boolean {
  const conds = (pod.status as { conditions?: { type?: string; status?: string }[] } | undefined)?.conditions;
  return Array.isArray(conds) && conds.some((c) => c?.type === 'Ready' && c.status === 'True');
}

/** Finished, not started, or already going: its disruption is not the eviction's doing. */
function canIgnorePDB(pod: KObject): boolean {
  const phase = podPhase(pod);
  return phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || !!pod.metadata.deletionTimestamp;
}

/** Guard a Pending pod's deletion against it becoming ready meanwhile. */
function shouldEnforceResourceVersion(pod: KObject): boolean {
  const phase = podPhase(pod);
  return !(phase === 'Succeeded' || phase === 'Failed' || pod.metadata.deletionTimestamp);
}

/** A policy/v1 PDB in the pod's namespace whose non-empty selector matches the pod. */
function coversPod(pdb: KObject, pod: KObject): boolean {
  if (pdb.metadata.namespace !== pod.metadata.namespace) return false;
  const sel = (pdb.spec as { selector?: LabelSelector | null } | undefined)?.selector;
  if (!sel || (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length)) return false; // matches nothing here, as upstream
  try {
    return compileLabelSelector(sel)(pod.metadata.labels);
  } catch {
    return false;
  }
}

function stillProcessing(pdbName: string): StatusError {
  return new StatusError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
    retryAfterSeconds: 10,
    causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${pdbName} is still being processed by the server.` }],
  });
}

/** Verify the budget allows one more disruption and take it, recording the pod in disruptedPods. */
async function checkAndDecrement(resources: Resources, pdbSpec: KindSpec, pdb: KObject, podName: string, dryRun: boolean): Promise<void> {
  const name = pdb.metadata.name!;
  const status: PdbStatus = { ...((isPlainObject(pdb.status) ? pdb.status : {}) as PdbStatus) };
  if ((status.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0)) throw stillProcessing(name);
  const allowed = status.disruptionsAllowed ?? 0;
  if (allowed < 0) throw errors.forbidden(`poddisruptionbudgets.policy "${name}" is forbidden: pdb disruptions allowed is negative`);
  if (Object.keys(status.disruptedPods ?? {}).length > MAX_DISRUPTED_PODS)
    throw errors.forbidden(`poddisruptionbudgets.policy "${name}" is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller`);
  if (allowed === 0)
    throw new StatusError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
      causes: [{ reason: 'DisruptionBudget', message: `The disruption budget ${name} needs ${status.desiredHealthy ?? 0} healthy pods and has ${status.currentHealthy ?? 0} currently` }],
    });
  status.disruptionsAllowed = allowed - 1;
  if (status.disruptionsAllowed === 0) {
    const conds = (status.conditions ?? []).filter((c) => c.type !== 'DisruptionAllowed');
    const old = (status.conditions ?? []).find((c) => c.type === 'DisruptionAllowed');
    const cond: Record<string, unknown> = {
      type: 'DisruptionAllowed',
      status: 'False',
      reason: 'InsufficientPods',
      message: '',
      lastTransitionTime: old && old.status === 'False' ? (old.lastTransitionTime ?? now()) : now(),
    };
    if (typeof status.observedGeneration === 'number') cond.observedGeneration = status.observedGeneration;
    status.conditions = old ? (status.conditions ?? []).map((c) => (c === old ? cond : c)) : [...conds, cond];
  }
  if (dryRun) return;
  status.disruptedPods = { ...(status.disruptedPods ?? {}), [podName]: now() };
  await resources.update(pdbSpec, pdb.metadata.namespace, name, { ...pdb, status }, systemContext('kube-apiserver'), 'status');
}

/**
 * Upstream (PodDisruptionConditions): the pod gets DisruptionTarget=True (EvictionByEvictionAPI)
 * before it is deleted; a resourceVersion precondition is checked against the pod as it is and
 * then moved to the version this write produces.
 */
async function markDisruptionTarget(resources: Resources, spec: KindSpec, ns: string | undefined, name: string, o: DeleteOptions, dryRun: boolean): Promise<void> {
  if (dryRun) return;
  const updated = await resources.guaranteedUpdate(spec, ns, name, (pod) => {
    const pre = o.preconditions;
    if (pre?.uid && pre.uid !== pod.metadata.uid)
      throw errors.conflict({ group: '', resource: 'pods' }, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${pod.metadata.uid}`);
    if (pre?.resourceVersion && pre.resourceVersion !== pod.metadata.resourceVersion)
      throw errors.conflict(
        { group: '', resource: 'pods' },
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${pod.metadata.resourceVersion}`,
      );
    const status = (isPlainObject(pod.status) ? pod.status : (pod.status = {})) as { conditions?: Record<string, unknown>[] };
    const conds = Array.isArray(status.conditions) ? status.conditions : [];
    const old = conds.find((c) => c?.type === 'DisruptionTarget');
    const cond = {
      type: 'DisruptionTarget',
      status: 'True',
      lastProbeTime: null,
      lastTransitionTime: old?.status === 'True' ? (old.lastTransitionTime ?? now()) : now(),
      reason: 'EvictionByEvictionAPI',
      message: 'Eviction API: evicting',
    };
    status.conditions = old ? conds.map((c) => (c === old ? cond : c)) : [...conds, cond];
  });
  if (o.preconditions?.resourceVersion) o.preconditions.resourceVersion = updated.metadata.resourceVersion;
}

function success(): KObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } as unknown as KObject;
}
