// The EndpointSlice controller (upstream pkg/controller/endpointslice and the staging endpointslice
// reconciler): the backends of every Service with a selector as discovery.k8s.io/v1 EndpointSlices
// of at most 100 endpoints, one set per address type and per distinct port mapping (named
// targetPorts can resolve differently per pod). Updates keep churn low as upstream does: endpoints
// stay in the slice that holds them, changed ones are rewritten in place, new ones fill the slices
// already being written first, then the fullest unchanged slice they fit in, and only then new
// slices. A Service with no endpoints keeps one empty placeholder slice.
//
// The backends come from service-backends.ts, the one place that decides them.
import { isIPv4, isIPv6 } from 'node:net';
import { StatusError } from '../machinery/errors.js';
import { jsonEqual, type KObject } from '../machinery/object.js';
import { Informer, cacheKey } from '../client/informer.js';
import { R, type ApiClient } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';
import { asArr, asObj, asStr, dig, type Obj } from '../api/common/shape.js';
import { LABEL_ZONE, hasManagedBackends, podBackends, selectsPod, serviceAddressTypes, servicePorts, type PodBackend } from './service-backends.js';
import { LAST_CHANGE_TRIGGER_TIME, ServicePodIndex, TriggerTimeTracker, endpointsLabels, isControlPlaneService, rvNewer } from './endpoints.js';
import { rfc3339 } from '../machinery/time.js';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
export const MAX_ENDPOINTS_PER_SLICE = 100;
const EXPECTATION_TIMEOUT_MS = 10_000;

type AddressType = 'IPv4' | 'IPv6';

/** The endpoints of one address type and one port mapping. */
export interface DesiredSliceGroup {
  addressType: AddressType;
  ports: Obj[];
  /** endpoint key → endpoint */
  endpoints: Map<string, Obj>;
}

export interface SlicePlan {
  create: KObject[];
  update: KObject[];
  delete: KObject[];
}

function objs(v: unknown): Obj[] {
  return asArr(v)
    .map(asObj)
    .filter((x): x is Obj => x !== undefined);
}

function sortPorts(ports: Obj[]): Obj[] {
  return [...ports].sort((a, b) => String(a.name ?? '').localeCompare(String(b.name ?? '')) || Number(a.port) - Number(b.port));
}

/** Identity of a port mapping: what decides which slices an endpoint can live in. */
export function portMappingKey(addressType: string, ports: unknown): string {
  const norm = sortPorts(objs(ports)).map((p) => [asStr(p.name) ?? '', p.port ?? null, asStr(p.protocol) || 'TCP', asStr(p.appProtocol) ?? '']);
  return `${addressType}|${JSON.stringify(norm)}`;
}

/** Identity of an endpoint across updates (its conditions may change in place). */
export function endpointKey(ep: Obj): string {
  const ref = asObj(ep.targetRef);
  return `${asStr(ref?.namespace) ?? ''}/${asStr(ref?.name) ?? ''}/${asArr(ep.addresses).join(',')}`;
}

function sliceEndpoint(b: PodBackend, ip: string): Obj {
  const ep: Obj = { addresses: [ip], conditions: { ...b.conditions } };
  if (b.hostname) ep.hostname = b.hostname;
  if (b.nodeName) ep.nodeName = b.nodeName;
  if (b.zone) ep.zone = b.zone;
  ep.targetRef = { kind: 'Pod', namespace: b.targetRef.namespace, name: b.targetRef.name, uid: b.targetRef.uid };
  return ep;
}

/** Desired endpoints of a Service, grouped by address type and port mapping. */
export function desiredSliceGroups(svc: KObject, backends: PodBackend[]): Map<string, DesiredSliceGroup> {
  const groups = new Map<string, DesiredSliceGroup>();
  const sps = servicePorts(svc);
  for (const addressType of serviceAddressTypes(svc)) {
    for (const b of backends) {
      const ip = b.ips.find((a) => (addressType === 'IPv6' ? isIPv6(a) : isIPv4(a)));
      if (!ip) continue;
      const ports: Obj[] = [];
      for (const sp of sps) {
        const port = b.ports.get(sp.name);
        if (port === undefined) continue;
        const p: Obj = { name: sp.name, port, protocol: sp.protocol };
        if (sp.appProtocol) p.appProtocol = sp.appProtocol;
        ports.push(p);
      }
      const key = portMappingKey(addressType, ports);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { addressType, ports, endpoints: new Map() }));
      const ep = sliceEndpoint(b, ip);
      g.endpoints.set(endpointKey(ep), ep);
    }
  }
  return groups;
}

/** The labels of a Service's slices: its own (minus reserved keys), the headless marker, and ours. */
export function sliceLabels(svc: KObject): Record<string, string> {
  const labels = endpointsLabels(svc, [LABEL_SERVICE_NAME, LABEL_MANAGED_BY]);
  labels[LABEL_SERVICE_NAME] = svc.metadata.name!;
  labels[LABEL_MANAGED_BY] = CONTROLLER_NAME;
  return labels;
}

export function ownedBy(slice: KObject, svc: KObject): boolean {
  return (slice.metadata.ownerReferences ?? []).some((r) => r.kind === 'Service' && r.uid === svc.metadata.uid && r.controller === true);
}

function newSlice(svc: KObject, addressType: AddressType, ports: Obj[]): KObject {
  const name = svc.metadata.name!;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: `${name.length > 57 ? name.slice(0, 57) : name}-`,
      namespace: svc.metadata.namespace,
      labels: sliceLabels(svc),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    addressType,
    endpoints: [],
    ports: ports.map((p) => ({ ...p })),
  };
}

function isPlaceholder(slice: KObject, svc: KObject, addressType: string): boolean {
  return (
    slice.addressType === addressType &&
    asArr(slice.endpoints).length === 0 &&
    asArr(slice.ports).length === 0 &&
    ownedBy(slice, svc) &&
    jsonEqual(slice.metadata.labels ?? {}, sliceLabels(svc))
  );
}

/**
 * What to create, update and delete so that `existing` (this Service's managed slices) holds the
 * `desired` endpoints with the least churn. Pure; `triggerTime` (ms, 0 = none) is stamped on every
 * slice written.
 */
export function planEndpointSlices(svc: KObject, existing: KObject[], desired: Map<string, DesiredSliceGroup>, max = MAX_ENDPOINTS_PER_SLICE, triggerTime = 0): SlicePlan {
  const plan: SlicePlan = { create: [], update: [], delete: [] };
  const labels = sliceLabels(svc);
  const addressTypes = serviceAddressTypes(svc);
  const live = existing.filter((s) => !s.metadata.deletionTimestamp);
  // Slices of another owner (a Service of the same name before) or of an address type no longer served go.
  const byKey = new Map<string, KObject[]>();
  for (const s of live) {
    if (!ownedBy(s, svc) || !addressTypes.includes(s.addressType as AddressType)) {
      plan.delete.push(s);
      continue;
    }
    const k = portMappingKey(String(s.addressType), s.ports);
    let l = byKey.get(k);
    if (!l) byKey.set(k, (l = []));
    l.push(s);
  }
  for (const addressType of addressTypes) {
    const createdBefore = plan.create.length;
    const deletedBefore = plan.delete.length;
    let existingOfType = 0;
    const keys = new Set<string>();
    for (const [k, g] of desired) if (g.addressType === addressType) keys.add(k);
    for (const [k, l] of byKey)
      if (l[0].addressType === addressType) {
        keys.add(k);
        existingOfType += l.length;
      }
    for (const k of keys) {
      const g = desired.get(k);
      reconcileGroup(plan, svc, labels, byKey.get(k) ?? [], g?.addressType ?? addressType, g?.ports ?? [], new Map(g?.endpoints ?? []), max);
    }
    // A Service without endpoints keeps one empty slice, as upstream's placeholder.
    const deletedOfType = plan.delete.slice(deletedBefore).filter((s) => s.addressType === addressType && ownedBy(s, svc));
    if (existingOfType === deletedOfType.length && plan.create.length === createdBefore) {
      if (deletedOfType.length === 1 && isPlaceholder(deletedOfType[0], svc, addressType)) plan.delete.splice(plan.delete.indexOf(deletedOfType[0]), 1);
      else plan.create.push(newSlice(svc, addressType, []));
    }
  }
  for (const s of [...plan.create, ...plan.update]) {
    const ann = { ...(s.metadata.annotations ?? {}) };
    if (triggerTime) ann[LAST_CHANGE_TRIGGER_TIME] = rfc3339(triggerTime);
    else delete ann[LAST_CHANGE_TRIGGER_TIME];
    if (Object.keys(ann).length) s.metadata.annotations = ann;
    else delete s.metadata.annotations;
  }
  return plan;
}

function reconcileGroup(plan: SlicePlan, svc: KObject, labels: Record<string, string>, slices: KObject[], addressType: AddressType, ports: Obj[], want: Map<string, Obj>, max: number): void {
  const updating: KObject[] = [];
  const unchanged: KObject[] = [];
  // 1. Keep what is still wanted where it is; drop the rest.
  for (const slice of slices) {
    let changed = false;
    const kept: Obj[] = [];
    for (const ep of objs(slice.endpoints)) {
      const k = endpointKey(ep);
      const d = want.get(k);
      if (!d) {
        changed = true;
        continue;
      }
      if (!jsonEqual(d, ep)) changed = true;
      kept.push(d);
      want.delete(k);
    }
    const labelsChanged = !jsonEqual(slice.metadata.labels ?? {}, labels);
    const portsChanged = !jsonEqual(slice.ports ?? [], ports);
    if (kept.length === 0) plan.delete.push(slice);
    else if (changed || labelsChanged || portsChanged)
      updating.push({ ...slice, metadata: { ...slice.metadata, labels: { ...labels } }, endpoints: kept, ports: ports.map((p) => ({ ...p })) });
    else unchanged.push(slice);
  }
  // 2. New endpoints go first into slices that are written anyway, fullest first.
  updating.sort((a, b) => asArr(b.endpoints).length - asArr(a.endpoints).length);
  const next = () => {
    const [k, ep] = want.entries().next().value as [string, Obj];
    want.delete(k);
    return ep;
  };
  for (const s of updating) {
    const eps = s.endpoints as Obj[];
    while (want.size && eps.length < max) eps.push(next());
  }
  // 3. Then into the fullest unchanged slice they all fit in, else into new slices.
  while (want.size) {
    let target: KObject | undefined;
    if (want.size < max) {
      let best = -1;
      for (const s of unchanged) {
        const n = asArr(s.endpoints).length;
        if (n + want.size <= max && n > best) {
          best = n;
          target = s;
        }
      }
    }
    if (target) {
      unchanged.splice(unchanged.indexOf(target), 1);
      target = { ...target, metadata: { ...target.metadata }, endpoints: [...objs(target.endpoints)] };
      updating.push(target);
    } else {
      target = newSlice(svc, addressType, ports);
      plan.create.push(target);
    }
    const eps = target.endpoints as Obj[];
    while (want.size && eps.length < max) eps.push(next());
  }
  plan.update.push(...updating);
}

// ---------------------------------------------------------------------------------------------
// The controller

export interface EndpointSliceControllerOptions {
  maxEndpointsPerSlice?: number;
  workers?: number;
  log?: (s: string) => void;
}

export class EndpointSliceController {
  private services: Informer;
  private pods: Informer;
  private nodes: Informer;
  private slices: Informer;
  private index: ServicePodIndex;
  private queue: WorkQueue;
  private triggers = new TriggerTimeTracker();
  /** Managed slices by Service key, then name. */
  private byService = new Map<string, Map<string, KObject>>();
  /** Writes not yet seen by the slice informer: Service key → slice name → resourceVersion (null: deleted). */
  private expected = new Map<string, Map<string, { rv: string | null; at: number }>>();
  private max: number;
  private log: (s: string) => void;

  constructor(
    private client: ApiClient,
    opts: EndpointSliceControllerOptions = {},
  ) {
    this.max = opts.maxEndpointsPerSlice ?? MAX_ENDPOINTS_PER_SLICE;
    this.log = opts.log ?? (() => {});
    this.services = new Informer(client, R.services);
    this.pods = new Informer(client, R.pods);
    this.nodes = new Informer(client, R.nodes);
    this.slices = new Informer(client, R.endpointslices, { labelSelector: `${LABEL_MANAGED_BY}=${CONTROLLER_NAME}` });
    this.index = new ServicePodIndex(this.services);
    this.queue = new WorkQueue((k) => this.sync(k), opts.workers ?? 4, 50, 10_000, (k, e) => this.log(`endpointslices ${k}: ${(e as Error).message}`));
    const enqueue = (keys: string[]) => keys.forEach((k) => this.queue.add(k));
    this.services.on({
      onAdd: (s) => this.queue.add(cacheKey(s)),
      onUpdate: (s) => this.queue.add(cacheKey(s)),
      onDelete: (s) => this.queue.add(cacheKey(s)),
    });
    this.pods.on({
      onAdd: (p) => enqueue(this.index.podChanged(p, undefined)),
      onUpdate: (p, old) => enqueue(this.index.podChanged(p, old)),
      onDelete: (p) => enqueue(this.index.podChanged(p, undefined, true)),
    });
    this.slices.on({
      onAdd: (s) => this.sliceEvent(s, undefined, false),
      onUpdate: (s, old) => this.sliceEvent(s, old, false),
      onDelete: (s) => this.sliceEvent(s, undefined, true),
    });
    // Zones come from nodes, and pods on a node not yet known wait for it.
    const nodeChanged = (n: KObject, old?: KObject) => {
      if (old && old.metadata.labels?.[LABEL_ZONE] === n.metadata.labels?.[LABEL_ZONE]) return;
      for (const svc of this.services.list()) if (hasManagedBackends(svc)) this.queue.add(cacheKey(svc));
    };
    this.nodes.on({ onAdd: (n) => nodeChanged(n), onUpdate: nodeChanged, onDelete: (n) => nodeChanged(n) });
  }

  async start(): Promise<void> {
    await this.nodes.start();
    await this.pods.start();
    await this.slices.start();
    await this.services.start();
    // Slices whose Service is gone (the garbage collector would remove them too).
    for (const key of this.byService.keys()) if (!this.services.cache.has(key)) this.queue.add(key);
  }

  stop(): void {
    this.services.stop();
    this.pods.stop();
    this.nodes.stop();
    this.slices.stop();
    this.queue.stop();
  }

  /** Resolves when no work is queued (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private serviceKeyOf(slice: KObject): string | undefined {
    const svc = slice.metadata.labels?.[LABEL_SERVICE_NAME];
    return svc ? `${slice.metadata.namespace}/${svc}` : undefined;
  }

  private sliceEvent(s: KObject, old: KObject | undefined, deleted: boolean): void {
    const name = s.metadata.name!;
    const oldKey = old ? this.serviceKeyOf(old) : undefined;
    const key = this.serviceKeyOf(s);
    if (oldKey && oldKey !== key) this.byService.get(oldKey)?.delete(name);
    if (key) {
      let m = this.byService.get(key);
      if (!m) this.byService.set(key, (m = new Map()));
      if (deleted) m.delete(name);
      else m.set(name, s);
      if (m.size === 0) this.byService.delete(key);
    }
    // Expectations this event satisfies.
    for (const k of [key, oldKey]) {
      const exp = k ? this.expected.get(k) : undefined;
      const e = exp?.get(name);
      if (!exp || !e) continue;
      if (deleted ? true : e.rv !== null && !rvNewer(e.rv, s.metadata.resourceVersion)) exp.delete(name);
      if (exp.size === 0) this.expected.delete(k!);
    }
    if (key) this.queue.add(key);
    if (oldKey && oldKey !== key) this.queue.add(oldKey);
  }

  /** Whether the slice cache still lags behind our own writes (then the sync waits for it). */
  private stale(key: string): boolean {
    const exp = this.expected.get(key);
    if (!exp) return false;
    const now = Date.now();
    const cached = this.byService.get(key);
    for (const [name, e] of exp) {
      const c = cached?.get(name);
      const seen = e.rv === null ? !c : !!c && !rvNewer(e.rv, c.metadata.resourceVersion);
      if (seen || now - e.at > EXPECTATION_TIMEOUT_MS) exp.delete(name);
    }
    if (exp.size === 0) this.expected.delete(key);
    return exp.size > 0;
  }

  private expect(key: string, name: string, rv: string | null): void {
    let exp = this.expected.get(key);
    if (!exp) this.expected.set(key, (exp = new Map()));
    exp.set(name, { rv, at: Date.now() });
  }

  private async sync(key: string): Promise<void> {
    if (this.stale(key)) {
      this.queue.addAfter(key, 100);
      return;
    }
    const [ns, name] = key.split('/');
    const existing = [...(this.byService.get(key)?.values() ?? [])];
    const svc = isControlPlaneService(ns, name) ? undefined : this.services.get(ns, name);
    if (!svc || !hasManagedBackends(svc)) {
      if (!svc) this.triggers.forget(key);
      if (isControlPlaneService(ns, name)) return;
      // Gone, ExternalName or selector removed: our slices would only mislead the data plane.
      await this.apply(key, { create: [], update: [], delete: existing.filter((s) => !s.metadata.deletionTimestamp) });
      return;
    }
    let waitForNodes = false;
    const pods = this.index.podsIn(ns).filter((p) => {
      if (!selectsPod(svc, p)) return false;
      const node = asStr(dig(p, 'spec', 'nodeName'));
      if (node && !this.nodes.get(undefined, node)) {
        waitForNodes = true; // upstream leaves such pods out until their Node is known
        return false;
      }
      return true;
    });
    const zoneOf = (n: string) => this.nodes.get(undefined, n)?.metadata.labels?.[LABEL_ZONE];
    const backends = podBackends(svc, pods, { includeTerminating: true, zoneOf });
    const trigger = this.triggers.compute(svc, pods);
    const plan = planEndpointSlices(svc, existing, desiredSliceGroups(svc, backends), this.max, trigger);
    await this.apply(key, plan);
    if (waitForNodes) this.queue.addAfter(key, 1000);
  }

  /** Creates first, then updates, then deletes: traffic never sees a moment without the endpoints it keeps. */
  private async apply(key: string, plan: SlicePlan): Promise<void> {
    for (const s of plan.create) {
      const created = await this.client.create(R.endpointslices, s.metadata.namespace, s);
      this.expect(key, created.metadata.name!, created.metadata.resourceVersion ?? null);
    }
    for (const s of plan.update) {
      try {
        const updated = await this.client.update(R.endpointslices, s.metadata.namespace, s);
        this.expect(key, updated.metadata.name!, updated.metadata.resourceVersion ?? null);
      } catch (e) {
        if (e instanceof StatusError && e.code === 404) continue; // deleted meanwhile: its event resyncs
        throw e;
      }
    }
    for (const s of plan.delete) {
      try {
        await this.client.delete(R.endpointslices, s.metadata.namespace, s.metadata.name!, { preconditions: { uid: s.metadata.uid } });
      } catch (e) {
        if (!(e instanceof StatusError && (e.code === 404 || e.code === 409))) throw e;
      }
      this.expect(key, s.metadata.name!, null);
    }
  }
}
