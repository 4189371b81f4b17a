// pods/binding (the scheduler's only write) and pods/eviction (drain's polite delete that a
// PodDisruptionBudget may refuse).
import { errors, StatusError } from '../machinery/errors.js';
import { isPlainObject, type KObject } from '../machinery/object.js';
import { compileLabelSelector } from '../machinery/selectors.js';
import { fieldErr } from '../machinery/validation.js';
import type { Resources } from './resources.js';
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

  h.registerCreate('', 'pods', 'eviction', async (spec, ns, name, body, ctx) => {
    const pod = await resources.get(spec, ns, name);
    const pdbSpec = resources.spec('policy', 'v1', 'poddisruptionbudgets');
    const { items } = await resources.list(pdbSpec, ns);
    const covering = items.filter((pdb) => compileLabelSelector((pdb.spec as { selector?: never })?.selector)(pod.metadata.labels));
    if (covering.length > 1)
      throw new StatusError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    // Pods that are not running yet (or any more) cannot disrupt anything.
    if (covering.length === 1 && phase === 'Running' && !pod.metadata.deletionTimestamp) {
      const allowed = (covering[0].status as { disruptionsAllowed?: number } | undefined)?.disruptionsAllowed ?? 0;
      if (allowed < 1)
        throw errors.tooManyRequests(`Cannot evict pod as it would violate the pod's disruption budget.`, 0);
    }
    const opts = isPlainObject(body.deleteOptions) ? (body.deleteOptions as { gracePeriodSeconds?: number }) : {};
    await resources.delete(spec, ns, name, { gracePeriodSeconds: typeof opts.gracePeriodSeconds === 'number' ? opts.gracePeriodSeconds : undefined }, ctx);
    return { object: success(), code: 201 };
  });
}

function success(): KObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } as unknown as KObject;
}
