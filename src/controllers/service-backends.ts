// Which pods back a Service port, and which of them are ready: the one answer that the endpoints
// and EndpointSlice controllers write down, and that the service proxy, cluster DNS, the ingress
// and the mesh read back (architecture §5). Pure functions over API objects, no I/O.
//
// Semantics follow upstream (pkg/controller/util/endpoint, staging endpointslice utils):
//  - a pod is a candidate when it has an IP, is not terminal (Succeeded/Failed), and — unless the
//    caller includes terminating pods — has no deletionTimestamp;
//  - serving = pod Ready condition True (or the Service publishes not-ready addresses);
//    terminating = deletionTimestamp set; ready = serving && !terminating (publishNotReadyAddresses
//    makes every candidate ready);
//  - a named targetPort is resolved per pod from its containers' ports (name and protocol must
//    match), so two pods may serve one service port on different container ports;
//  - hostname is set when the pod names one and its subdomain is the Service (StatefulSet pods
//    under their headless Service).
import { isIPv4, isIPv6 } from 'node:net';
import type { KObject } from '../machinery/object.js';
import { asArr, asNum, asObj, asStr, dig, type Obj } from '../api/common/shape.js';
import { isHeadless } from '../api/core/v1/service.js';

export const LABEL_ZONE = 'topology.kubernetes.io/zone';

export interface ServicePortSpec {
  /** '' for the single unnamed port. */
  name: string;
  port: number;
  protocol: string;
  /** A number, or a container port name resolved per pod. */
  targetPort: number | string;
  appProtocol?: string;
  nodePort?: number;
}

export interface EndpointConditions {
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

export interface PodReference {
  kind: 'Pod';
  namespace: string;
  name: string;
  uid: string;
}

/** One pod behind a Service, with every service port it serves resolved. */
export interface PodBackend {
  /** The primary pod IP (status.podIP). */
  ip: string;
  /** All pod IPs (status.podIPs), primary first. */
  ips: string[];
  nodeName?: string;
  zone?: string;
  hostname?: string;
  targetRef: PodReference;
  conditions: EndpointConditions;
  /** Resolved target port per service port name; a port the pod cannot serve is absent. */
  ports: Map<string, number>;
}

/** One endpoint of one service port: what a data-plane component connects to. */
export interface Backend {
  ip: string;
  port: number;
  protocol: string;
  appProtocol?: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  zone?: string;
  hostname?: string;
  targetRef?: PodReference;
}

/** A backend address regardless of ports (DNS for headless services, which may have none). */
export interface BackendAddress {
  ip: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
  zone?: string;
  hostname?: string;
  targetRef?: PodReference;
}

export interface BackendOptions {
  /** Keep pods with a deletionTimestamp (as terminating). Default true (EndpointSlice semantics). */
  includeTerminating?: boolean;
  /** The zone of a node (topology.kubernetes.io/zone), for topology-aware consumers. */
  zoneOf?: (nodeName: string) => string | undefined;
}

function objs(v: unknown): Obj[] {
  return asArr(v)
    .map(asObj)
    .filter((x): x is Obj => x !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Services

export function serviceType(svc: KObject): string {
  return asStr(dig(svc, 'spec', 'type')) ?? 'ClusterIP';
}

/** The selector, or undefined when the Service has none (its Endpoints are user-managed). */
export function serviceSelector(svc: KObject): Record<string, string> | undefined {
  const sel = asObj(dig(svc, 'spec', 'selector'));
  if (!sel || Object.keys(sel).length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sel)) out[k] = String(v);
  return out;
}

/** Whether the endpoints controllers maintain this Service's backends (a selector, not ExternalName). */
export function hasManagedBackends(svc: KObject): boolean {
  return serviceType(svc) !== 'ExternalName' && serviceSelector(svc) !== undefined;
}

export function selectsPod(svc: KObject, pod: KObject): boolean {
  if (pod.metadata.namespace !== svc.metadata.namespace) return false;
  const sel = serviceSelector(svc);
  if (!sel) return false;
  const labels = pod.metadata.labels ?? {};
  for (const [k, v] of Object.entries(sel)) if (labels[k] !== v) return false;
  return true;
}

export function servicePorts(svc: KObject): ServicePortSpec[] {
  return objs(dig(svc, 'spec', 'ports')).map((p) => {
    const port = asNum(p.port) ?? 0;
    const tp = p.targetPort;
    const targetPort = typeof tp === 'number' && tp > 0 ? tp : typeof tp === 'string' && tp !== '' ? tp : port;
    const out: ServicePortSpec = { name: asStr(p.name) ?? '', port, protocol: asStr(p.protocol) || 'TCP', targetPort };
    const app = asStr(p.appProtocol);
    if (app) out.appProtocol = app;
    const np = asNum(p.nodePort);
    if (np) out.nodePort = np;
    return out;
  });
}

/** The IP families the Service's backends are published for (spec.ipFamilies, IPv4 by default). */
export function serviceAddressTypes(svc: KObject): ('IPv4' | 'IPv6')[] {
  const fams = asArr(dig(svc, 'spec', 'ipFamilies')).filter((f): f is 'IPv4' | 'IPv6' => f === 'IPv4' || f === 'IPv6');
  return fams.length ? [...new Set(fams)] : ['IPv4'];
}

export { isHeadless };

// ---------------------------------------------------------------------------------------------
// Pods

export function podIPs(pod: KObject): string[] {
  const out: string[] = [];
  const primary = asStr(dig(pod, 'status', 'podIP'));
  if (primary) out.push(primary);
  for (const p of objs(dig(pod, 'status', 'podIPs'))) {
    const ip = asStr(p.ip);
    if (ip && !out.includes(ip)) out.push(ip);
  }
  return out;
}

export function podCondition(pod: KObject, type: string): Obj | undefined {
  return objs(dig(pod, 'status', 'conditions')).find((c) => c.type === type);
}

/** Upstream podutil.IsPodReady: the Ready condition is True. */
export function isPodReady(pod: KObject): boolean {
  return podCondition(pod, 'Ready')?.status === 'True';
}

export function isPodTerminal(pod: KObject): boolean {
  const phase = dig(pod, 'status', 'phase');
  return phase === 'Succeeded' || phase === 'Failed';
}

export function isPodTerminating(pod: KObject): boolean {
  return !!pod.metadata.deletionTimestamp;
}

/** Upstream ShouldPodBeInEndpoints. */
export function shouldPodBeInEndpoints(pod: KObject, includeTerminating: boolean): boolean {
  if (podIPs(pod).length === 0) return false;
  if (isPodTerminal(pod)) return false;
  if (!includeTerminating && isPodTerminating(pod)) return false;
  return true;
}

/** Upstream FindPort: a numeric targetPort as is; a name looked up in the pod's container ports. */
export function resolveTargetPort(pod: KObject, sp: Pick<ServicePortSpec, 'targetPort' | 'protocol'>): number | undefined {
  const tp = sp.targetPort;
  if (typeof tp === 'number') return tp > 0 ? tp : undefined;
  const protocol = sp.protocol || 'TCP';
  const spec = asObj(pod.spec);
  // Regular containers, then native sidecars (init containers that keep running).
  const containers = [...objs(spec?.containers), ...objs(spec?.initContainers).filter((c) => c.restartPolicy === 'Always')];
  for (const c of containers)
    for (const p of objs(c.ports)) if (p.name === tp && (asStr(p.protocol) || 'TCP') === protocol) return asNum(p.containerPort);
  if (/^\d+$/.test(tp)) return Number(tp);
  return undefined;
}

/** Upstream ShouldSetHostname: the pod names a hostname and its subdomain is this Service. */
export function podHostname(pod: KObject, svc: KObject): string | undefined {
  const hostname = asStr(dig(pod, 'spec', 'hostname'));
  if (!hostname) return undefined;
  if (dig(pod, 'spec', 'subdomain') !== svc.metadata.name || pod.metadata.namespace !== svc.metadata.namespace) return undefined;
  return hostname;
}

export function endpointConditions(pod: KObject, svc: KObject): EndpointConditions {
  const publish = dig(svc, 'spec', 'publishNotReadyAddresses') === true;
  const serving = publish || isPodReady(pod);
  const terminating = isPodTerminating(pod);
  return { ready: publish || (serving && !terminating), serving, terminating };
}

export function podReference(pod: KObject): PodReference {
  return { kind: 'Pod', namespace: pod.metadata.namespace ?? '', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' };
}

/**
 * What about a pod matters to its Service's backends. Pod updates whose fingerprint did not change
 * (restart counts, container states...) need no endpoints work.
 */
export function podBackendFingerprint(pod: KObject): string {
  const spec = asObj(pod.spec);
  return JSON.stringify([
    pod.metadata.labels ?? {},
    podIPs(pod),
    isPodReady(pod),
    !!pod.metadata.deletionTimestamp,
    dig(pod, 'status', 'phase') ?? '',
    spec?.nodeName ?? '',
    spec?.hostname ?? '',
    spec?.subdomain ?? '',
    [...objs(spec?.containers), ...objs(spec?.initContainers)].map((c) => c.ports ?? []),
    podCondition(pod, 'Ready')?.lastTransitionTime ?? '',
  ]);
}

// ---------------------------------------------------------------------------------------------
// Service + pods → backends

/**
 * The pods that back `svc` among `pods` (any namespace; only the Service's own are considered),
 * each with its conditions and resolved ports, sorted by IP. Empty for Services without a
 * selector and ExternalName Services.
 */
export function podBackends(svc: KObject, pods: Iterable<KObject>, opts: BackendOptions = {}): PodBackend[] {
  if (!hasManagedBackends(svc)) return [];
  const includeTerminating = opts.includeTerminating ?? true;
  const publish = dig(svc, 'spec', 'publishNotReadyAddresses') === true;
  const sps = servicePorts(svc);
  const out: PodBackend[] = [];
  for (const pod of pods) {
    if (!selectsPod(svc, pod)) continue;
    if (!shouldPodBeInEndpoints(pod, includeTerminating || publish)) continue;
    const ips = podIPs(pod);
    const nodeName = asStr(dig(pod, 'spec', 'nodeName')) || undefined;
    const ports = new Map<string, number>();
    for (const sp of sps) {
      const p = resolveTargetPort(pod, sp);
      if (p !== undefined) ports.set(sp.name, p);
    }
    const b: PodBackend = { ip: ips[0], ips, targetRef: podReference(pod), conditions: endpointConditions(pod, svc), ports };
    if (nodeName) b.nodeName = nodeName;
    const zone = nodeName ? opts.zoneOf?.(nodeName) : undefined;
    if (zone) b.zone = zone;
    const hostname = podHostname(pod, svc);
    if (hostname) b.hostname = hostname;
    out.push(b);
  }
  return out.sort((a, b) => compareIPs(a.ip, b.ip) || a.targetRef.uid.localeCompare(b.targetRef.uid));
}

/** Per service port name, its endpoints computed from the pods (see podBackends). */
export function backendsByPort(svc: KObject, pods: Iterable<KObject>, opts: BackendOptions = {}): Map<string, Backend[]> {
  const pbs = podBackends(svc, pods, opts);
  const out = new Map<string, Backend[]>();
  for (const sp of servicePorts(svc)) {
    const list: Backend[] = [];
    for (const pb of pbs) {
      const port = pb.ports.get(sp.name);
      if (port === undefined) continue;
      const b: Backend = { ip: pb.ip, port, protocol: sp.protocol, ...pb.conditions, targetRef: pb.targetRef };
      if (sp.appProtocol) b.appProtocol = sp.appProtocol;
      if (pb.nodeName) b.nodeName = pb.nodeName;
      if (pb.zone) b.zone = pb.zone;
      if (pb.hostname) b.hostname = pb.hostname;
      list.push(b);
    }
    out.set(sp.name, list);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Readers: EndpointSlices / Endpoints → backends (for the proxy, DNS, ingress, mesh)

function sliceEndpointAddresses(slice: KObject): { ep: Obj; ip: string }[] {
  const type = slice.addressType;
  if (type !== 'IPv4' && type !== 'IPv6') return []; // FQDN slices carry no routable address
  const out: { ep: Obj; ip: string }[] = [];
  for (const ep of objs(slice.endpoints)) {
    for (const a of asArr(ep.addresses)) {
      if (typeof a !== 'string') continue;
      if ((type === 'IPv4' && !isIPv4(a)) || (type === 'IPv6' && !isIPv6(a))) continue;
      out.push({ ep, ip: a });
      break; // upstream consumers use the first address only
    }
  }
  return out;
}

/** Conditions as consumers read them: ready nil means ready, serving nil means "as ready", terminating nil false. */
function readConditions(ep: Obj): EndpointConditions {
  const c = asObj(ep.conditions) ?? {};
  const ready = c.ready === undefined || c.ready === null ? true : c.ready === true;
  const serving = c.serving === undefined || c.serving === null ? ready : c.serving === true;
  return { ready, serving, terminating: c.terminating === true };
}

function readRef(v: unknown): PodReference | undefined {
  const r = asObj(v);
  if (!r || r.kind !== 'Pod') return undefined;
  return { kind: 'Pod', namespace: asStr(r.namespace) ?? '', name: asStr(r.name) ?? '', uid: asStr(r.uid) ?? '' };
}

function addressOf(ep: Obj, ip: string): BackendAddress {
  const a: BackendAddress = { ip, ...readConditions(ep) };
  const nodeName = asStr(ep.nodeName);
  if (nodeName) a.nodeName = nodeName;
  const zone = asStr(ep.zone);
  if (zone) a.zone = zone;
  const hostname = asStr(ep.hostname);
  if (hostname) a.hostname = hostname;
  const ref = readRef(ep.targetRef);
  if (ref) a.targetRef = ref;
  return a;
}

/**
 * Per port name, the endpoints listed by one Service's EndpointSlices (pass the slices labelled
 * `kubernetes.io/service-name=<svc>` in its namespace). An endpoint listed twice (slices being
 * rebalanced) appears once, its first listing winning. Slices being deleted are ignored.
 */
export function backendsFromSlices(slices: Iterable<KObject>): Map<string, Backend[]> {
  const out = new Map<string, Backend[]>();
  const seen = new Set<string>();
  const ordered = [...slices].filter((s) => !s.metadata.deletionTimestamp).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const slice of ordered) {
    const addrs = sliceEndpointAddresses(slice);
    for (const p of objs(slice.ports)) {
      const name = asStr(p.name) ?? '';
      const port = asNum(p.port);
      if (port === undefined || port <= 0) continue;
      const protocol = asStr(p.protocol) || 'TCP';
      const app = asStr(p.appProtocol);
      let list = out.get(name);
      if (!list) out.set(name, (list = []));
      for (const { ep, ip } of addrs) {
        const key = `${name}\u0000${protocol}\u0000${ip}\u0000${port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const b: Backend = { ...addressOf(ep, ip), port, protocol };
        if (app) b.appProtocol = app;
        list.push(b);
      }
    }
  }
  for (const list of out.values()) list.sort((a, b) => compareIPs(a.ip, b.ip) || a.port - b.port);
  return out;
}

/** Every backend address of a Service's EndpointSlices, regardless of ports (DNS: headless A records, pod hostnames). */
export function addressesFromSlices(slices: Iterable<KObject>): BackendAddress[] {
  const seen = new Map<string, BackendAddress>();
  const ordered = [...slices].filter((s) => !s.metadata.deletionTimestamp).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const slice of ordered) for (const { ep, ip } of sliceEndpointAddresses(slice)) if (!seen.has(ip)) seen.set(ip, addressOf(ep, ip));
  return [...seen.values()].sort((a, b) => compareIPs(a.ip, b.ip));
}

/**
 * The same per-port view from a core/v1 Endpoints object (Services without a selector, whose
 * Endpoints a user writes and no EndpointSlice mirrors yet).
 */
export function backendsFromEndpoints(ep: KObject): Map<string, Backend[]> {
  const out = new Map<string, Backend[]>();
  for (const ss of objs(ep.subsets)) {
    const groups: [Obj[], boolean][] = [
      [objs(ss.addresses), true],
      [objs(ss.notReadyAddresses), false],
    ];
    for (const p of objs(ss.ports)) {
      const name = asStr(p.name) ?? '';
      const port = asNum(p.port);
      if (port === undefined) continue;
      let list = out.get(name);
      if (!list) out.set(name, (list = []));
      for (const [addrs, ready] of groups)
        for (const a of addrs) {
          const ip = asStr(a.ip);
          if (!ip) continue;
          const b: Backend = { ip, port, protocol: asStr(p.protocol) || 'TCP', ready, serving: ready, terminating: false };
          const app = asStr(p.appProtocol);
          if (app) b.appProtocol = app;
          const nodeName = asStr(a.nodeName);
          if (nodeName) b.nodeName = nodeName;
          const hostname = asStr(a.hostname);
          if (hostname) b.hostname = hostname;
          const ref = readRef(a.targetRef);
          if (ref) b.targetRef = ref;
          list.push(b);
        }
    }
  }
  for (const list of out.values()) list.sort((a, b) => compareIPs(a.ip, b.ip) || a.port - b.port);
  return out;
}

/**
 * The endpoints to send new traffic to, as kube-proxy chooses them: the ready ones; when none is
 * ready, the ones still serving while terminating (so in-flight rollouts drain instead of failing).
 */
export function usableBackends<T extends { ready: boolean; serving: boolean; terminating: boolean }>(list: readonly T[]): T[] {
  const ready = list.filter((b) => b.ready);
  if (ready.length) return ready;
  return list.filter((b) => b.serving && b.terminating);
}

/** Numeric order for IPv4, then textual. */
export function compareIPs(a: string, b: string): number {
  if (isIPv4(a) && isIPv4(b)) {
    const pa = a.split('.').map(Number);
    const pb = b.split('.').map(Number);
    for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
