// Pod phase and conditions from container statuses, as upstream's kubelet computes them
// (kubelet_pods.go getPhase, status/generate.go).
import { asObj, asNum, asStr, type Obj } from '../../api/common/shape.js';
import { containersOf, isSidecar, rfc3339 } from './util.js';

export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

function byName(list: Obj[]): Map<string, Obj> {
  return new Map(list.map((s) => [s.name as string, s]));
}

const lastExit = (s: Obj) => asNum(asObj(asObj(s.lastState)?.terminated)?.exitCode);

/** The pod phase from its spec and container statuses (upstream getPhase). */
export function podPhase(spec: Obj, initStatuses: Obj[], statuses: Obj[], podIsTerminal = false): Phase {
  const policy = asStr(spec.restartPolicy) ?? 'Always';
  let pendingInit = 0;
  let failedInit = 0;
  const initByName = byName(initStatuses);
  for (const c of containersOf(spec, 'initContainers')) {
    const s = initByName.get(c.name as string);
    const state = asObj(s?.state) ?? {};
    if (isSidecar(c)) {
      if (!(asObj(state.running) && s?.started === true)) pendingInit++;
      continue;
    }
    if (!s) pendingInit++;
    else if (asObj(state.running)) pendingInit++;
    else if (asObj(state.terminated)) {
      if (asNum(asObj(state.terminated)!.exitCode) !== 0) failedInit++;
    } else if (asObj(state.waiting)) {
      const last = lastExit(s);
      if (last !== undefined) {
        if (last !== 0) failedInit++;
      } else pendingInit++;
    } else pendingInit++;
  }
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  const byN = byName(statuses);
  for (const c of containersOf(spec, 'containers')) {
    const s = byN.get(c.name as string);
    const state = asObj(s?.state) ?? {};
    if (!s) unknown++;
    else if (asObj(state.running)) running++;
    else if (asObj(state.terminated)) {
      stopped++;
      if (asNum(asObj(state.terminated)!.exitCode) === 0) succeeded++;
    } else if (asObj(state.waiting)) {
      if (lastExit(s) !== undefined) stopped++;
      else waiting++;
    } else unknown++;
  }
  if (failedInit > 0 && policy === 'Never') return 'Failed';
  if (pendingInit > 0 || waiting > 0) return 'Pending';
  if (running > 0 && unknown === 0) return 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (podIsTerminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (policy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (policy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

/** PodReadyToStartContainers, Initialized, Ready, ContainersReady (upstream generate.go). */
export function podConditions(spec: Obj, initStatuses: Obj[], statuses: Obj[], phase: Phase, sandboxReady: boolean, existing: Obj[]): Condition[] {
  const out: Condition[] = [];
  out.push({ type: 'PodReadyToStartContainers', status: sandboxReady ? 'True' : 'False' });

  // Initialized
  const inits = containersOf(spec, 'initContainers');
  const initByName = byName(initStatuses);
  const incomplete: string[] = [];
  const appStarted = statuses.some((s) => asObj(asObj(s.state)?.running) || asObj(asObj(s.state)?.terminated) || lastExit(s) !== undefined);
  for (const c of inits) {
    const s = initByName.get(c.name as string);
    const state = asObj(s?.state) ?? {};
    if (isSidecar(c)) {
      if (!(s?.started === true)) incomplete.push(c.name as string);
    } else if (!(asObj(state.terminated) && asNum(asObj(state.terminated)!.exitCode) === 0)) incomplete.push(c.name as string);
  }
  if (!incomplete.length || appStarted || phase === 'Succeeded' || (phase === 'Failed' && appStarted)) out.push({ type: 'Initialized', status: 'True' });
  else
    out.push({
      type: 'Initialized',
      status: 'False',
      reason: 'ContainersNotInitialized',
      message: `containers with incomplete status: [${incomplete.join(' ')}]`,
    });

  // ContainersReady / Ready
  let ready: Condition;
  if (phase === 'Succeeded') ready = { type: 'ContainersReady', status: 'False', reason: 'PodCompleted' };
  else {
    const unknown: string[] = [];
    const unready: string[] = [];
    const byN = byName(statuses);
    const check = (c: Obj, s: Obj | undefined) => {
      if (!s) unknown.push(c.name as string);
      else if (s.ready !== true) unready.push(c.name as string);
    };
    for (const c of inits) if (isSidecar(c)) check(c, initByName.get(c.name as string));
    for (const c of containersOf(spec, 'containers')) check(c, byN.get(c.name as string));
    const msgs: string[] = [];
    if (unknown.length) msgs.push(`containers with unknown status: [${unknown.join(' ')}]`);
    if (unready.length) msgs.push(`containers with unready status: [${unready.join(' ')}]`);
    ready = msgs.length ? { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: msgs.join(', ') } : { type: 'ContainersReady', status: 'True' };
  }
  let podReady: Condition = { ...ready, type: 'Ready' };
  if (podReady.status === 'True') {
    const missing: string[] = [];
    const gates = (Array.isArray(spec.readinessGates) ? spec.readinessGates : []).map(asObj).filter((g): g is Obj => !!g);
    for (const g of gates) {
      const t = asStr(g.conditionType);
      const c = existing.find((x) => x.type === t);
      if (!c) missing.push(`corresponding condition of pod readiness gate "${t}" does not exist.`);
      else if (c.status !== 'True') missing.push(`the status of pod readiness gate "${t}" is not "True", but ${String(c.status)}`);
    }
    if (missing.length) podReady = { type: 'Ready', status: 'False', reason: 'ReadinessGatesNotReady', message: missing.join(', ') };
  }
  out.push(podReady, ready);
  return out;
}

/** The conditions as stored: lastTransitionTime kept while a condition's status is unchanged; others' conditions preserved. */
export function mergeConditions(computed: Condition[], existing: Obj[]): Obj[] {
  const now = rfc3339();
  const result: Obj[] = [];
  const mine = new Set(computed.map((c) => c.type));
  for (const c of computed) {
    const old = existing.find((e) => e.type === c.type);
    const ltt = old && old.status === c.status && asStr(old.lastTransitionTime) ? old.lastTransitionTime : now;
    const cond: Obj = { type: c.type, status: c.status, lastProbeTime: null, lastTransitionTime: ltt };
    if (c.reason) cond.reason = c.reason;
    if (c.message) cond.message = c.message;
    result.push(cond);
  }
  const scheduled = existing.find((e) => e.type === 'PodScheduled');
  result.push(scheduled ?? { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now });
  for (const e of existing) if (!mine.has(e.type as string) && e.type !== 'PodScheduled') result.push(e);
  return result;
}
