// The endpoints controller (upstream pkg/controller/endpoint): one core/v1 Endpoints per Service
// with a selector, named like it, listing the ready pod addresses in `addresses` and the others in
// `notReadyAddresses`, grouped by the ports they serve. Services without a selector keep the
// Endpoints their users write; ExternalName Services get none; the `kubernetes` Service in
// `default` belongs to the control plane. Writes happen only when the content changes.
//
// The backends come from service-backends.ts, the one place that decides them.
import { isIPv4, isIPv6 } from 'node:net';
import { StatusError } from '../machinery/errors.js';
import { jsonEqual, type KObject } from '../machinery/object.js';
import { Informer, cacheKey } from '../client/informer.js';
import { R, type ApiClient } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';
import { asArr, asObj, dig, type Obj } from '../api/common/shape.js';
import {
  compareIPs,
  hasManagedBackends,
  isHeadless,
  podBackendFingerprint,
  podBackends,
  podCondition,
  selectsPod,
  servicePorts,
  type PodBackend,
} from './service-backends.js';
import { rfc3339 } from '../machinery/time.js';

export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';
export const OVER_CAPACITY = 'endpoints.kubernetes.io/over-capacity';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
const LEADER_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';
/** Upstream truncates an Endpoints object past this many addresses (EndpointSlices have no limit). */
export const MAX_ENDPOINTS_ADDRESSES = 1000;

/** The Service the control plane itself keeps (its Endpoints list the API servers). */
export function isControlPlaneService(namespace: string | undefined, name: string | undefined): boolean {
  return namespace === 'default' && name === 'kubernetes';
}

// ---------------------------------------------------------------------------------------------
// Small shared pieces (also used by the EndpointSlice controller)

/** Whether resourceVersion `a` is newer than `b` (both from this API: integers). */
export function rvNewer(a: string | undefined, b: string | undefined): boolean {
  if (!a) return false;
  if (!b) return true;
  try {
    return BigInt(a) > BigInt(b);
  } catch {
    return false;
  }
}

const ms = (t: unknown): number => (typeof t === 'string' ? Date.parse(t) || 0 : 0);

/**
 * Upstream's TriggerTimeTracker: the time of the earliest change (a pod's Ready transition, or the
 * Service's creation) not yet reflected in the Endpoints — what latency SLIs read from
 * `endpoints.kubernetes.io/last-change-trigger-time`. 0 when nothing that counts changed.
 */
export class TriggerTimeTracker {
  private states = new Map<string, { pods: Map<string, number>; service: number }>();

  compute(svc: KObject, pods: KObject[]): number {
    const key = cacheKey(svc);
    const state = this.states.get(key);
    const podTimes = new Map<string, number>();
    let min = 0;
    for (const pod of pods) {
      const t = ms(podCondition(pod, 'Ready')?.lastTransitionTime);
      if (!t) continue;
      podTimes.set(pod.metadata.name!, t);
      if (t > (state?.pods.get(pod.metadata.name!) ?? 0)) min = min === 0 ? t : Math.min(min, t);
    }
    const svcTime = ms(svc.metadata.creationTimestamp);
    if (svcTime > (state?.service ?? 0)) min = min === 0 ? svcTime : Math.min(min, svcTime);
    this.states.set(key, { pods: podTimes, service: svcTime });
    return state ? min : svcTime;
  }

  forget(key: string): void {
    this.states.delete(key);
  }
}

/**
 * Services and pods by namespace, kept from informer events, answering "which services select this
 * pod" without scanning every pod in the cluster.
 */
export class ServicePodIndex {
  readonly pods = new Map<string, Map<string, KObject>>();
  private fingerprints = new Map<string, string>();

  constructor(private services: Informer) {}

  podsIn(namespace: string): KObject[] {
    return [...(this.pods.get(namespace)?.values() ?? [])];
  }

  /** Records a pod change; returns the keys of the Services to resync (old and new selections). */
  podChanged(pod: KObject, old: KObject | undefined, deleted = false): string[] {
    const ns = pod.metadata.namespace!;
    const key = cacheKey(pod);
    let m = this.pods.get(ns);
    if (!m) this.pods.set(ns, (m = new Map()));
    if (deleted) {
      m.delete(pod.metadata.name!);
      this.fingerprints.delete(key);
      if (m.size === 0) this.pods.delete(ns);
    } else {
      m.set(pod.metadata.name!, pod);
      const fp = podBackendFingerprint(pod);
      const before = this.fingerprints.get(key);
      this.fingerprints.set(key, fp);
      if (old && before === fp) return [];
    }
    const out = new Set<string>();
    for (const svc of this.services.list(ns)) {
      if (selectsPod(svc, pod) || (old && selectsPod(svc, old))) out.add(cacheKey(svc));
    }
    return [...out];
  }
}

// ---------------------------------------------------------------------------------------------
// Subsets

interface EndpointAddress extends Obj {
  ip: string;
}

function addressOf(b: PodBackend, ip: string): EndpointAddress {
  const a: EndpointAddress = { ip };
  if (b.hostname) a.hostname = b.hostname;
  if (b.nodeName) a.nodeName = b.nodeName;
  a.targetRef = { kind: 'Pod', namespace: b.targetRef.namespace, name: b.targetRef.name, uid: b.targetRef.uid };
  return a;
}

/** The address a pod is listed under: the one of the Service's (primary) IP family. */
function ipForService(svc: KObject, b: PodBackend): string | undefined {
  const fam = asArr(dig(svc, 'spec', 'ipFamilies'))[0] ?? 'IPv4';
  const match = b.ips.find((ip) => (fam === 'IPv6' ? isIPv6(ip) : isIPv4(ip)));
  // Headless services without families take the pod's primary IP (upstream does too).
  return match ?? (isHeadless(svc) && asArr(dig(svc, 'spec', 'ipFamilies')).length === 0 ? b.ip : undefined);
}

const addrOrder = (a: EndpointAddress, b: EndpointAddress) =>
  compareIPs(a.ip, b.ip) || String(dig(a, 'targetRef', 'uid') ?? '').localeCompare(String(dig(b, 'targetRef', 'uid') ?? ''));

/**
 * Upstream's subsets with RepackSubsets applied: addresses grouped by the exact set of ports they
 * serve (named targetPorts may resolve differently per pod), everything sorted, so equal content
 * always produces equal subsets.
 */
export function endpointSubsets(svc: KObject, backends: PodBackend[]): { subsets: Obj[]; truncated: boolean } {
  const sps = servicePorts(svc);
  // port (JSON) → address key → [address, ready]
  const byPort = new Map<string, Map<string, [EndpointAddress, boolean]>>();
  const add = (portKey: string, addr: EndpointAddress, ready: boolean) => {
    let m = byPort.get(portKey);
    if (!m) byPort.set(portKey, (m = new Map()));
    m.set(`${addr.ip}/${String(dig(addr, 'targetRef', 'uid'))}`, [addr, ready]);
  };
  for (const b of backends) {
    const ip = ipForService(svc, b);
    if (!ip) continue;
    const addr = addressOf(b, ip);
    if (sps.length === 0) {
      if (isHeadless(svc)) add('', addr, b.conditions.ready);
      continue;
    }
    for (const sp of sps) {
      const port = b.ports.get(sp.name);
      if (port === undefined) continue;
      const epp: Obj = {};
      if (sp.name) epp.name = sp.name;
      epp.port = port;
      epp.protocol = sp.protocol;
      if (sp.appProtocol) epp.appProtocol = sp.appProtocol;
      add(JSON.stringify(epp), addr, b.conditions.ready);
    }
  }
  // address set → ports
  const groups = new Map<string, { addrs: Map<string, [EndpointAddress, boolean]>; ports: Obj[] }>();
  for (const [portKey, addrs] of byPort) {
    const setKey = [...addrs.entries()]
      .map(([k, [, r]]) => `${k}/${r}`)
      .sort()
      .join(',');
    let g = groups.get(setKey);
    if (!g) groups.set(setKey, (g = { addrs, ports: [] }));
    if (portKey) g.ports.push(JSON.parse(portKey) as Obj);
  }
  let subsets: Obj[] = [];
  for (const g of groups.values()) {
    const ready = [...g.addrs.values()].filter(([, r]) => r).map(([a]) => a).sort(addrOrder);
    const notReady = [...g.addrs.values()].filter(([, r]) => !r).map(([a]) => a).sort(addrOrder);
    const ss: Obj = {};
    if (ready.length) ss.addresses = ready;
    if (notReady.length) ss.notReadyAddresses = notReady;
    if (g.ports.length)
      ss.ports = g.ports.sort((a, b) => String(a.name ?? '').localeCompare(String(b.name ?? '')) || Number(a.port) - Number(b.port) || String(a.protocol).localeCompare(String(b.protocol)));
    subsets.push(ss);
  }
  const first = (ss: Obj) => (asObj(asArr(ss.addresses)[0]) ?? asObj(asArr(ss.notReadyAddresses)[0]))?.ip as string;
  subsets.sort((a, b) => compareIPs(first(a), first(b)) || JSON.stringify(a.ports ?? []).localeCompare(JSON.stringify(b.ports ?? [])));
  // Over capacity: keep ready addresses first, up to the limit.
  let total = 0;
  for (const ss of subsets) total += asArr(ss.addresses).length + asArr(ss.notReadyAddresses).length;
  let truncated = false;
  if (total > MAX_ENDPOINTS_ADDRESSES) {
    truncated = true;
    let room = MAX_ENDPOINTS_ADDRESSES;
    for (const key of ['addresses', 'notReadyAddresses'])
      for (const ss of subsets) {
        const list = asArr(ss[key]);
        if (!list.length) continue;
        const kept = list.slice(0, Math.max(0, room));
        room -= kept.length;
        if (kept.length) ss[key] = kept;
        else delete ss[key];
      }
    subsets = subsets.filter((ss) => ss.addresses || ss.notReadyAddresses);
  }
  return { subsets, truncated };
}

/** The labels an Endpoints (or EndpointSlice) carries: the Service's, plus the headless marker. */
export function endpointsLabels(svc: KObject, drop: string[] = []): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) if (k !== LABEL_HEADLESS && !drop.includes(k)) labels[k] = v;
  if (isHeadless(svc)) labels[LABEL_HEADLESS] = '';
  return labels;
}

// ---------------------------------------------------------------------------------------------
// The controller

export interface EndpointsControllerOptions {
  workers?: number;
  log?: (s: string) => void;
}

export class EndpointsController {
  private services: Informer;
  private pods: Informer;
  private endpoints: Informer;
  private index: ServicePodIndex;
  private queue: WorkQueue;
  private triggers = new TriggerTimeTracker();
  /** What we last wrote, newer than the informer's copy until its watch catches up. */
  private written = new Map<string, KObject>();
  private log: (s: string) => void;

  constructor(
    private client: ApiClient,
    opts: EndpointsControllerOptions = {},
  ) {
    this.log = opts.log ?? (() => {});
    this.services = new Informer(client, R.services);
    this.pods = new Informer(client, R.pods);
    this.endpoints = new Informer(client, R.endpoints);
    this.index = new ServicePodIndex(this.services);
    this.queue = new WorkQueue((k) => this.sync(k), opts.workers ?? 4, 50, 10_000, (k, e) => this.log(`endpoints ${k}: ${(e as Error).message}`));
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
    // Someone else changed or removed an Endpoints object: put it back as the Service says.
    this.endpoints.on({
      onUpdate: (e) => this.queue.add(cacheKey(e)),
      onDelete: (e) => {
        const k = cacheKey(e);
        const mine = this.written.get(k);
        if (mine && !rvNewer(mine.metadata.resourceVersion, e.metadata.resourceVersion)) this.written.delete(k);
        this.queue.add(k);
      },
    });
  }

  async start(): Promise<void> {
    await this.pods.start();
    await this.endpoints.start();
    await this.services.start();
    // Leftover Endpoints whose Service is gone (deleted while the controller was down).
    for (const ep of this.endpoints.list()) {
      if (ep.metadata.annotations?.[LEADER_ANNOTATION] !== undefined) continue;
      if (!this.services.get(ep.metadata.namespace, ep.metadata.name!)) this.queue.add(cacheKey(ep));
    }
  }

  stop(): void {
    this.services.stop();
    this.pods.stop();
    this.endpoints.stop();
    this.queue.stop();
  }

  /** Resolves when no work is queued (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private current(key: string): KObject | undefined {
    const cached = this.endpoints.cache.get(key);
    const mine = this.written.get(key);
    if (mine && (!cached || rvNewer(mine.metadata.resourceVersion, cached.metadata.resourceVersion))) return mine;
    if (mine) this.written.delete(key);
    return cached;
  }

  private async sync(key: string): Promise<void> {
    const [ns, name] = key.split('/');
    if (isControlPlaneService(ns, name)) return;
    const svc = this.services.get(ns, name);
    if (!svc) {
      this.triggers.forget(key);
      const had = this.current(key);
      this.written.delete(key);
      if (!had) return;
      try {
        await this.client.delete(R.endpoints, ns, name);
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
      return;
    }
    if (!hasManagedBackends(svc)) return;

    const pods = this.index.podsIn(ns).filter((p) => selectsPod(svc, p));
    const publish = dig(svc, 'spec', 'publishNotReadyAddresses') === true;
    const backends = podBackends(svc, pods, { includeTerminating: publish });
    const { subsets, truncated } = endpointSubsets(svc, backends);
    const labels = endpointsLabels(svc);
    const trigger = this.triggers.compute(svc, pods);
    const current = this.current(key);

    if (current) {
      const sameSubsets = jsonEqual(asArr(current.subsets), subsets);
      const sameLabels = jsonEqual(current.metadata.labels ?? {}, labels);
      const capacityOk = (current.metadata.annotations?.[OVER_CAPACITY] === 'truncated') === truncated;
      if (sameSubsets && sameLabels && capacityOk) return;
    }
    const annotations: Record<string, string> = { ...(current?.metadata.annotations ?? {}) };
    if (trigger) annotations[LAST_CHANGE_TRIGGER_TIME] = rfc3339(trigger);
    else delete annotations[LAST_CHANGE_TRIGGER_TIME];
    if (truncated) annotations[OVER_CAPACITY] = 'truncated';
    else delete annotations[OVER_CAPACITY];
    const obj: KObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { ...(current?.metadata ?? {}), name, namespace: ns, labels, annotations },
    };
    if (Object.keys(annotations).length === 0) delete obj.metadata.annotations;
    if (subsets.length) obj.subsets = subsets;
    let written: KObject;
    try {
      written = current ? await this.client.update(R.endpoints, ns, obj) : await this.client.create(R.endpoints, ns, obj);
    } catch (e) {
      // A stale cache (409) or a racing user: the retry starts from fresh state.
      if (e instanceof StatusError && (e.code === 409 || e.code === 404)) this.written.delete(key);
      if (e instanceof StatusError && e.code === 404 && !current) return; // namespace going away
      throw e;
    }
    this.written.set(key, written);
  }
}
