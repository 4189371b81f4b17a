// Pod: defaults beyond the shared PodSpec ones, the update rule (a pod's spec is nearly frozen once
// created) and the `kubectl get pods` row, including the STATUS text upstream's printer derives.
import type { KObject } from '../../../machinery/object.js';
import { deepCopy, jsonEqual } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asNum, asObj, asStr, dig, setDefault, type Obj } from '../../common/shape.js';
import { ageColumn, column, nameColumn, sinceCell } from '../../common/table.js';
import { compareQuantities, parseQuantity } from '../../common/quantity.js';
import { defaultPodSpec, validatePodSpec } from './podspec.js';

function containersOf(spec: Obj | undefined, key = 'containers'): Obj[] {
  return asArr(spec?.[key])
    .map(asObj)
    .filter((c): c is Obj => c !== undefined);
}

/** Pod-only defaults (upstream SetDefaults_Pod plus what admission fills on every pod). */
function defaultPod(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  defaultPodSpec(spec);
  // A container that states only limits gets the same requests (so it lands in the QoS class it implies).
  for (const c of [...containersOf(spec), ...containersOf(spec, 'initContainers')]) {
    const res = asObj(c.resources);
    const limits = asObj(res?.limits);
    if (!res || !limits) continue;
    if (res.requests === undefined) res.requests = {};
    const requests = asObj(res.requests);
    if (!requests) continue;
    for (const [k, v] of Object.entries(limits)) setDefault(requests, k, v);
  }
  setDefault(spec, 'enableServiceLinks', true);
  setDefault(spec, 'priority', 0);
  setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
  // `serviceAccount` is the deprecated spelling; upstream keeps both in step.
  if (spec.serviceAccountName === undefined || spec.serviceAccountName === '')
    spec.serviceAccountName = typeof spec.serviceAccount === 'string' && spec.serviceAccount ? spec.serviceAccount : 'default';
  spec.serviceAccount = spec.serviceAccountName;
}

/** QoS class as upstream computes it from requests/limits of all (init) containers. */
export function podQOSClass(spec: unknown): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const s = asObj(spec);
  const all = [...containersOf(s), ...containersOf(s, 'initContainers')];
  let any = false;
  let guaranteed = all.length > 0;
  for (const c of all) {
    const requests = asObj(asObj(c.resources)?.requests) ?? {};
    const limits = asObj(asObj(c.resources)?.limits) ?? {};
    const tracked = (m: Obj) => Object.keys(m).filter((k) => k === 'cpu' || k === 'memory');
    if (tracked(requests).length || tracked(limits).length) any = true;
    for (const r of ['cpu', 'memory']) {
      if (limits[r] === undefined) guaranteed = false;
      else if (requests[r] !== undefined) {
        const req = parseQuantity(requests[r]);
        const lim = parseQuantity(limits[r]);
        if (!req || !lim || compareQuantities(req, lim) !== 0) guaranteed = false;
      }
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

const POD_UPDATE_FORBIDDEN =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

/** Upstream's pod update rule: copy the mutable fields from the new spec onto the old, then demand equality. */
function validatePodSpecUpdate(spec: unknown, oldSpec: unknown): FieldError[] {
  const errs: FieldError[] = [];
  const s = asObj(spec);
  const o = asObj(oldSpec);
  if (!s || !o) return errs;
  const oldDeadline = asNum(o.activeDeadlineSeconds);
  const newDeadline = s.activeDeadlineSeconds;
  if (oldDeadline !== undefined) {
    if (newDeadline === undefined || newDeadline === null)
      errs.push(fieldErr.invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
    else if (typeof newDeadline === 'number' && newDeadline > oldDeadline)
      errs.push(fieldErr.invalid('spec.activeDeadlineSeconds', newDeadline, 'must be less than or equal to previous value'));
  }
  const munged = deepCopy(s);
  for (const key of ['containers', 'initContainers']) {
    const now = asArr(munged[key]);
    const before = asArr(o[key]);
    if (now.length !== before.length) continue;
    now.forEach((c, i) => {
      const nc = asObj(c);
      const oc = asObj(before[i]);
      if (nc && oc) nc.image = oc.image;
    });
  }
  munged.activeDeadlineSeconds = o.activeDeadlineSeconds;
  // Tolerations may only grow: every old toleration must still be present.
  const newTols = asArr(s.tolerations);
  if (asArr(o.tolerations).every((t) => newTols.some((n) => jsonEqual(n, t)))) munged.tolerations = o.tolerations;
  const oldGrace = asNum(o.terminationGracePeriodSeconds);
  if (oldGrace !== undefined && oldGrace < 0 && s.terminationGracePeriodSeconds === 1) munged.terminationGracePeriodSeconds = o.terminationGracePeriodSeconds;
  // Scheduling gates may only be removed.
  const oldGates = asArr(o.schedulingGates);
  if (asArr(s.schedulingGates).every((g) => oldGates.some((og) => jsonEqual(og, g)))) munged.schedulingGates = o.schedulingGates;
  if (!jsonEqual(munged, o)) errs.push(fieldErr.forbidden('spec', POD_UPDATE_FORBIDDEN));
  return errs;
}

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'];

function validatePodStatus(obj: KObject): FieldError[] {
  const status = obj.status;
  if (status === undefined || status === null) return [];
  if (!asObj(status)) return [fieldErr.invalid('status', status, 'must be a map')];
  const phase = (status as Obj).phase;
  if (phase !== undefined && phase !== '' && !PHASES.includes(phase as string)) return [fieldErr.notSupported('status.phase', phase, PHASES)];
  return [];
}

// ---------------------------------------------------------------------------------------------
// Table

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: Obj;
  lastState?: Obj;
}

function statuses(v: unknown): ContainerStatus[] {
  return asArr(v)
    .map(asObj)
    .filter((c): c is Obj => c !== undefined) as ContainerStatus[];
}

function terminatedAt(cs: ContainerStatus): number | undefined {
  const t = asStr(dig(cs.lastState, 'terminated', 'finishedAt'));
  const ms = t ? Date.parse(t) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** Waiting/terminated detail of a container state as upstream spells it in STATUS. */
function terminatedText(term: Obj, prefix: string): string {
  const reason = asStr(term.reason);
  if (reason) return prefix + reason;
  const signal = asNum(term.signal) ?? 0;
  return signal !== 0 ? `${prefix}Signal:${signal}` : `${prefix}ExitCode:${asNum(term.exitCode) ?? 0}`;
}

export interface PodSummary {
  ready: string;
  status: string;
  restarts: string;
}

/** READY, STATUS and RESTARTS of `kubectl get pods`, derived like upstream's printPod. */
export function summarizePod(pod: KObject, now: number): PodSummary {
  const spec = asObj(pod.spec);
  const status = asObj(pod.status) ?? {};
  const initSpecs = containersOf(spec, 'initContainers');
  const sidecars = new Set(initSpecs.filter((c) => c.restartPolicy === 'Always').map((c) => c.name));
  const total = containersOf(spec).length + sidecars.size;
  let ready = 0;
  let restarts = 0;
  let sidecarRestarts = 0;
  let lastRestart: number | undefined;
  let lastSidecarRestart: number | undefined;
  const later = (a: number | undefined, b: number | undefined) => (b !== undefined && (a === undefined || b > a) ? b : a);

  const phase = asStr(status.phase) ?? '';
  let reason = asStr(status.reason) || phase;
  const conditions = asArr(status.conditions).map(asObj).filter((c): c is Obj => c !== undefined);
  if (conditions.some((c) => c.type === 'PodScheduled' && c.reason === 'SchedulingGated')) reason = 'SchedulingGated';

  let initializing = false;
  const initStatuses = statuses(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    const count = asNum(cs.restartCount) ?? 0;
    restarts += count;
    lastRestart = later(lastRestart, terminatedAt(cs));
    const sidecar = sidecars.has(cs.name);
    if (sidecar) {
      sidecarRestarts += count;
      lastSidecarRestart = later(lastSidecarRestart, terminatedAt(cs));
    }
    const term = asObj(dig(cs.state, 'terminated'));
    const waiting = asObj(dig(cs.state, 'waiting'));
    if (term && (asNum(term.exitCode) ?? 0) === 0) continue;
    if (sidecar && cs.started === true) {
      if (cs.ready === true) ready++;
      continue;
    }
    if (term) reason = terminatedText(term, 'Init:');
    else if (waiting && asStr(waiting.reason) && waiting.reason !== 'PodInitializing') reason = `Init:${waiting.reason}`;
    else reason = `Init:${i}/${initSpecs.length}`;
    initializing = true;
    break;
  }

  const initializedTrue = conditions.some((c) => c.type === 'Initialized' && c.status === 'True');
  if (!initializing || initializedTrue) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const cstats = statuses(status.containerStatuses);
    // Walk backwards so the first container's state wins, as upstream does.
    for (let i = cstats.length - 1; i >= 0; i--) {
      const cs = cstats[i];
      restarts += asNum(cs.restartCount) ?? 0;
      lastRestart = later(lastRestart, terminatedAt(cs));
      const waiting = asObj(dig(cs.state, 'waiting'));
      const term = asObj(dig(cs.state, 'terminated'));
      if (waiting && asStr(waiting.reason)) reason = waiting.reason as string;
      else if (term) reason = terminatedText(term, '');
      else if (cs.ready === true && asObj(dig(cs.state, 'running'))) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning)
      reason = conditions.some((c) => c.type === 'Ready' && c.status === 'True') ? 'Running' : 'NotReady';
  }

  const deleting = !!asStr(dig(pod, 'metadata', 'deletionTimestamp'));
  if (deleting && status.reason === 'NodeLost') reason = 'Unknown';
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  const restartsText = restarts !== 0 && lastRestart !== undefined ? `${restarts} (${sinceCell(new Date(lastRestart).toISOString(), now)} ago)` : String(restarts);
  return { ready: `${ready}/${total}`, status: reason, restarts: restartsText };
}

function podIP(pod: KObject): string {
  return asStr(dig(asArr(dig(pod, 'status', 'podIPs'))[0], 'ip')) || asStr(dig(pod, 'status', 'podIP')) || '';
}

function readinessGatesCell(pod: KObject): string {
  const gates = asArr(dig(pod, 'spec', 'readinessGates'));
  if (gates.length === 0) return '<none>';
  const conditions = asArr(dig(pod, 'status', 'conditions')).map(asObj);
  const trueCount = gates.filter((g) => {
    const c = conditions.find((c) => c?.type === asStr(dig(g, 'conditionType')));
    return c?.status === 'True';
  }).length;
  return `${trueCount}/${gates.length}`;
}

const orNone = (v: string | undefined) => v || '<none>';

export const podKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'Pod',
  plural: 'pods',
  singular: 'pod',
  shortNames: ['po'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  defaults: defaultPod,
  prepareForCreate(obj) {
    obj.status = { phase: 'Pending', qosClass: podQOSClass(obj.spec) };
  },
  validate(obj, old) {
    const errs = validatePodSpec(obj.spec, 'spec');
    if (old) errs.push(...validatePodSpecUpdate(obj.spec, old.spec));
    return errs;
  },
  validateStatus: (obj) => validatePodStatus(obj),
  extraSubresources: [
    { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
    { name: 'binding', kind: 'Binding', verbs: ['create'] },
    { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
    { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
    { name: 'log', kind: 'Pod', verbs: ['get'] },
    { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
  ],
  // A pod on a node is stopped by its kubelet, which then finishes the deletion; an unscheduled
  // or finished pod has nothing to stop (upstream's CheckGracefulDelete).
  gracefulDeleteSeconds(obj, requested) {
    if (!asStr(dig(obj, 'spec', 'nodeName'))) return undefined;
    const phase = asStr(dig(obj, 'status', 'phase'));
    if (phase === 'Succeeded' || phase === 'Failed') return undefined;
    if (requested !== undefined) return requested;
    const spec = asNum(dig(obj, 'spec', 'terminationGracePeriodSeconds'));
    return spec === undefined ? 30 : spec;
  },
  table: [
    nameColumn,
    column('Ready', (o, now) => summarizePod(o, now).ready, { description: 'The aggregate readiness state of this pod for accepting traffic.' }),
    column('Status', (o, now) => summarizePod(o, now).status, { description: 'The aggregate status of the containers in this pod.' }),
    column('Restarts', (o, now) => summarizePod(o, now).restarts, {
      description: 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
    }),
    ageColumn,
    column('IP', (o) => orNone(podIP(o)), { wide: true, description: 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.' }),
    column('Node', (o) => orNone(asStr(dig(o, 'spec', 'nodeName'))), { wide: true, description: 'NodeName is a request to schedule this pod onto a specific node.' }),
    column('Nominated Node', (o) => orNone(asStr(dig(o, 'status', 'nominatedNodeName'))), {
      wide: true,
      description: 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.',
    }),
    column('Readiness Gates', readinessGatesCell, { wide: true, description: 'If specified, all readiness gates will be evaluated for pod readiness.' }),
  ],
  fieldSelectors: {
    'spec.nodeName': (o) => asStr(dig(o, 'spec', 'nodeName')) ?? '',
    'spec.restartPolicy': (o) => asStr(dig(o, 'spec', 'restartPolicy')) ?? '',
    'spec.schedulerName': (o) => asStr(dig(o, 'spec', 'schedulerName')) ?? '',
    'spec.serviceAccountName': (o) => asStr(dig(o, 'spec', 'serviceAccountName')) ?? '',
    'spec.hostNetwork': (o) => String(dig(o, 'spec', 'hostNetwork') === true),
    'status.phase': (o) => asStr(dig(o, 'status', 'phase')) ?? '',
    'status.podIP': (o) => podIP(o),
    'status.nominatedNodeName': (o) => asStr(dig(o, 'status', 'nominatedNodeName')) ?? '',
  },
};
