// Upstream's DefaultTolerationSeconds admission: every pod tolerates a not-ready or unreachable
// node for 300 s unless it says otherwise, so a brief node hiccup does not evict everything.
import type { KindSpec } from '../../api/types.js';
import { isPlainObject, type KObject } from '../../machinery/object.js';
import type { AdmissionPlugin, Operation } from '../resources.js';

const DEFAULT_SECONDS = 300;
const TAINTS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'];

interface Toleration {
  key?: string;
  operator?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export const defaultTolerationSeconds: AdmissionPlugin = {
  name: 'DefaultTolerationSeconds',
  async admit(op: Operation, spec: KindSpec, obj: KObject) {
    if (op !== 'CREATE' || spec.group !== '' || spec.plural !== 'pods' || !isPlainObject(obj.spec)) return;
    const podSpec = obj.spec as { tolerations?: Toleration[] };
    const tolerations = Array.isArray(podSpec.tolerations) ? podSpec.tolerations : [];
    for (const key of TAINTS) {
      // A toleration that already covers NoExecute for this key (or every key) wins.
      const covered = tolerations.some(
        (t) => isPlainObject(t) && (t.key === key || (!t.key && t.operator === 'Exists')) && (!t.effect || t.effect === 'NoExecute'),
      );
      if (!covered) tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: DEFAULT_SECONDS });
    }
    podSpec.tolerations = tolerations;
  },
};
