// Upstream's NamespaceLifecycle admission: no content in a namespace that does not exist or is
// being torn down, and the system namespaces cannot be deleted.
import type { KindSpec } from '../../api/types.js';
import { errors, StatusError } from '../../machinery/errors.js';
import type { KObject } from '../../machinery/object.js';
import type { AdmissionPlugin, Operation, Resources } from '../resources.js';

const IMMORTAL = new Set(['default', 'kube-system', 'kube-public']);

export const namespaceLifecycle: AdmissionPlugin = {
  name: 'NamespaceLifecycle',
  async admit(op: Operation, spec: KindSpec, obj: KObject, _old, _ctx, svc: Resources) {
    if (spec.group === '' && spec.plural === 'namespaces') {
      if (op === 'DELETE' && IMMORTAL.has(obj.metadata.name!))
        throw errors.forbidden(`namespaces "${obj.metadata.name}" is forbidden: this namespace may not be deleted`);
      return;
    }
    if (op !== 'CREATE' || !spec.namespaced) return;
    const ns = obj.metadata.namespace!;
    const nsSpec = svc.spec('', 'v1', 'namespaces');
    // The cache answers nearly always; a namespace it has not seen yet may just have been created.
    const found = (await svc.cached(nsSpec)).get(undefined, ns) ?? (await svc.tryGet(nsSpec, undefined, ns));
    if (!found) throw errors.notFound({ group: '', resource: 'namespaces' }, ns);
    // Events about the teardown itself are still welcome (upstream exempts them too).
    if (found.metadata.deletionTimestamp && spec.kind !== 'Event') {
      const what = spec.group ? `${spec.plural}.${spec.group}` : spec.plural;
      throw new StatusError(
        403,
        'Forbidden',
        `${what} "${obj.metadata.name ?? ''}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
        { name: obj.metadata.name, group: spec.group || undefined, kind: spec.plural, causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }] },
      );
    }
  },
};
