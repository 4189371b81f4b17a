// Upstream's Priority admission (plugin/pkg/admission/priority):
//  - a new pod's spec.priorityClassName resolves to spec.priority and spec.preemptionPolicy from
//    the PriorityClass; without a name the globalDefault class (the lowest-valued one if several)
//    is used and named, or priority 0 when there is none; an unknown class is refused
//    (`no PriorityClass with name x was found`); a priority or preemption policy the client set
//    that disagrees with the class is refused;
//  - on update, a pod keeps the priority it was admitted with;
//  - the system classes (system-cluster-critical, system-node-critical) are for kube-system only
//    (the rule upstream applied from 1.11 to 1.16; later releases moved it to quota configuration);
//  - only one PriorityClass may be the global default.
import type { KindSpec } from '../../api/types.js';
import { asNum, asStr, dig } from '../../api/common/shape.js';
import { SYSTEM_PRIORITY_CLASSES } from '../../api/scheduling/v1/index.js';
import type { KObject } from '../../machinery/object.js';
import type { RequestContext } from '../context.js';
import type { AdmissionPlugin, Operation, Resources } from '../resources.js';
import { forbidden } from './limit-ranger.js';

const DEFAULT_PREEMPTION = 'PreemptLowerPriority';

export interface PriorityAdmissionOptions {
  /** Refuse pods of the system classes outside kube-system (default true). */
  systemClassesOnlyInKubeSystem?: boolean;
}

function classSpec(svc: Resources): KindSpec | undefined {
  return svc.registry.lookup('scheduling.k8s.io', 'v1', 'priorityclasses');
}

/** The global default class: the lowest-valued one when a race left several. */
export function defaultClass(classes: KObject[]): KObject | undefined {
  let best: KObject | undefined;
  for (const pc of classes) {
    if (pc.globalDefault !== true) continue;
    if (!best || (asNum(pc.value) ?? 0) < (asNum(best.value) ?? 0)) best = pc;
  }
  return best;
}

export class PriorityAdmission implements AdmissionPlugin {
  readonly name = 'Priority';
  private onlyKubeSystem: boolean;

  constructor(opts: PriorityAdmissionOptions = {}) {
    this.onlyKubeSystem = opts.systemClassesOnlyInKubeSystem ?? true;
  }

  async admit(op: Operation, spec: KindSpec, obj: KObject, old: KObject | undefined, _ctx: RequestContext, svc: Resources): Promise<void> {
    if (spec.group === '' && spec.plural === 'pods') {
      if (op === 'CREATE') await this.admitPod(spec, obj, svc);
      else if (op === 'UPDATE' && old) keepPriority(obj, old);
      return;
    }
    if (spec.group === 'scheduling.k8s.io' && spec.plural === 'priorityclasses' && (op === 'CREATE' || op === 'UPDATE') && obj.globalDefault === true) {
      const pcs = classSpec(svc);
      if (!pcs) return;
      const existing = defaultClass((await svc.list(pcs, undefined)).items.filter((pc) => pc.metadata.name !== obj.metadata.name));
      if (existing) throw forbidden(spec, obj, `PriorityClass ${existing.metadata.name} is already marked as default. Only one default can exist`);
    }
  }

  private async admitPod(spec: KindSpec, pod: KObject, svc: Resources): Promise<void> {
    const podSpec = (pod.spec ?? {}) as Record<string, unknown>;
    const pcs = classSpec(svc);
    if (!pcs) return;
    const name = asStr(podSpec.priorityClassName) ?? '';
    let priority = 0;
    let policy: string | undefined;
    if (!name) {
      const def = defaultClass((await svc.list(pcs, undefined)).items);
      if (def) {
        podSpec.priorityClassName = def.metadata.name;
        priority = asNum(def.value) ?? 0;
        policy = asStr(def.preemptionPolicy);
      }
    } else {
      const ns = pod.metadata.namespace ?? '';
      if (this.onlyKubeSystem && name in SYSTEM_PRIORITY_CLASSES && ns !== 'kube-system')
        throw forbidden(spec, pod, `pods with ${name} priorityClass is not permitted in ${ns} namespace`);
      const pc = await svc.tryGet(pcs, undefined, name);
      if (!pc) throw forbidden(spec, pod, `no PriorityClass with name ${name} was found`);
      priority = asNum(pc.value) ?? 0;
      policy = asStr(pc.preemptionPolicy);
    }
    // Pod defaulting fills priority 0 and PreemptLowerPriority before admission runs, so those
    // values cannot be told from a client's; anything else the client set must agree.
    const given = podSpec.priority;
    if (typeof given === 'number' && given !== 0 && given !== priority)
      throw forbidden(
        spec,
        pod,
        `the integer value of priority (${given}) must not be provided in pod spec; priority admission controller computed ${priority} from the given PriorityClass name`,
      );
    podSpec.priority = priority;
    if (policy) {
      const givenPolicy = asStr(podSpec.preemptionPolicy);
      if (givenPolicy && givenPolicy !== DEFAULT_PREEMPTION && givenPolicy !== policy)
        throw forbidden(
          spec,
          pod,
          `the string value of PreemptionPolicy (${givenPolicy}) must not be provided in pod spec; priority admission controller computed ${policy} from the given PriorityClass name`,
        );
      podSpec.preemptionPolicy = policy;
    }
    pod.spec = podSpec;
  }
}

/** An update carries the priority the pod was admitted with (clients rarely send it back). */
function keepPriority(obj: KObject, old: KObject): void {
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (!spec || typeof spec !== 'object') return;
  const oldPriority = dig(old, 'spec', 'priority');
  if (spec.priority === undefined && oldPriority !== undefined) spec.priority = oldPriority;
  const oldPolicy = dig(old, 'spec', 'preemptionPolicy');
  if (spec.preemptionPolicy === undefined && oldPolicy !== undefined) spec.preemptionPolicy = oldPolicy;
}
