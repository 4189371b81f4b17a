// What the service proxy programs, as plain data: one entry per Service port, with the frontend
// addresses it answers on (cluster IPs, node IPs at the node port, load-balancer ingress IPs,
// external IPs) and the backends new connections may go to. Built from API objects by pure
// functions; the userspace and kernel data planes only ever see this.
//
// The backends come from service-backends.ts (the one place that decides them): EndpointSlices
// for Services with a selector (and selectorless ones whose slices a user wrote), the core/v1
// Endpoints for selectorless Services otherwise; `usableBackends` picks the ones for new traffic.
import { isIPv4 } from 'node:net';
import type { KObject } from '../machinery/object.js';
import { asArr, asNum, asObj, asStr, dig } from '../api/common/shape.js';
import { backendsFromEndpoints, backendsFromSlices, isHeadless, servicePorts, serviceSelector, serviceType, usableBackends, type Backend } from '../controllers/service-backends.js';

/** The annotation choosing a Service's balancing algorithm (IPVS scheduler names). */
export const ALGORITHM_ANNOTATION = 'skiff.dev/lb-algorithm';
export const ALGORITHMS = ['rr', 'lc', 'dh', 'sh', 'sed', 'nq'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];
/** Upstream's default for sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_S = 10_800;

export type Protocol = 'TCP' | 'UDP';

export interface Endpoint {
  ip: string;
  port: number;
  /** Relative weight for sed/nq (EndpointSlices carry none: always 1 from the API). */
  weight?: number;
}

export interface ProxyServicePort {
  /** `namespace/name:portName/PROTOCOL` — stable identity across syncs. */
  key: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  port: number;
  nodePort?: number;
  clusterIPs: string[];
  /** status.loadBalancer.ingress[].ip */
  loadBalancerIPs: string[];
  externalIPs: string[];
  algorithm: Algorithm;
  /** Seconds; undefined when sessionAffinity is None. */
  affinityTimeoutS?: number;
  /** Usable backends for new connections, in a stable order (by IP, port). */
  endpoints: Endpoint[];
}

/** A (protocol, address, port) the proxy answers on, and which service port it belongs to. */
export interface Frontend {
  protocol: Protocol;
  ip: string;
  port: number;
  kind: 'clusterIP' | 'nodePort' | 'loadBalancer' | 'externalIP';
}

export function frontendKey(f: Pick<Frontend, 'protocol' | 'ip' | 'port'>): string {
  return `${f.protocol}/${f.ip}:${f.port}`;
}

/** Only loopback IPv4 addresses are ever programmed (the whole platform lives on 127.0.0.0/8). */
export function isLoopbackV4(ip: string): boolean {
  return isIPv4(ip) && ip.startsWith('127.');
}

export function parseAlgorithm(v: string | undefined): Algorithm | undefined {
  if (v === undefined || v === '') return 'rr';
  const a = v.trim().toLowerCase();
  return (ALGORITHMS as readonly string[]).includes(a) ? (a as Algorithm) : undefined;
}

export function serviceClusterIPs(svc: KObject): string[] {
  const ips = asArr(dig(svc, 'spec', 'clusterIPs')).filter((x): x is string => typeof x === 'string');
  const one = asStr(dig(svc, 'spec', 'clusterIP'));
  if (one && !ips.includes(one)) ips.unshift(one);
  return ips.filter((ip) => ip !== 'None' && isLoopbackV4(ip));
}

export function loadBalancerIPs(svc: KObject): string[] {
  if (serviceType(svc) !== 'LoadBalancer') return [];
  const out: string[] = [];
  for (const ing of asArr(dig(svc, 'status', 'loadBalancer', 'ingress'))) {
    const ip = asStr(asObj(ing)?.ip);
    // ipMode Proxy means the load balancer itself proxies: the node must not short-circuit it.
    if (ip && isLoopbackV4(ip) && asStr(asObj(ing)?.ipMode) !== 'Proxy' && !out.includes(ip)) out.push(ip);
  }
  return out;
}

export function affinityTimeout(svc: KObject): number | undefined {
  if (dig(svc, 'spec', 'sessionAffinity') !== 'ClientIP') return undefined;
  const t = asNum(dig(svc, 'spec', 'sessionAffinityConfig', 'clientIP', 'timeoutSeconds'));
  return t && t > 0 ? t : DEFAULT_AFFINITY_TIMEOUT_S;
}

/** Whether the proxy serves this Service at all (not ExternalName, not headless). */
export function isProxied(svc: KObject): boolean {
  const t = serviceType(svc);
  return t !== 'ExternalName' && !isHeadless(svc) && serviceClusterIPs(svc).length > 0;
}

/**
 * The backends of a Service per port name: its EndpointSlices; for a selectorless Service
 * without slices, its Endpoints object.
 */
export function serviceBackends(svc: KObject, slices: KObject[], endpoints: KObject | undefined): Map<string, Backend[]> {
  if (slices.length || serviceSelector(svc) !== undefined || !endpoints) return backendsFromSlices(slices);
  return backendsFromEndpoints(endpoints);
}

/**
 * The proxy's entries for one Service. `onBadAlgorithm` hears of an unknown annotation value
 * (the Service then uses rr).
 */
export function buildServicePorts(svc: KObject, backends: Map<string, Backend[]>, onBadAlgorithm?: (value: string) => void): ProxyServicePort[] {
  if (!isProxied(svc)) return [];
  const namespace = svc.metadata.namespace ?? 'default';
  const name = svc.metadata.name ?? '';
  const annotation = svc.metadata.annotations?.[ALGORITHM_ANNOTATION];
  let algorithm = parseAlgorithm(annotation);
  if (!algorithm) {
    onBadAlgorithm?.(annotation ?? '');
    algorithm = 'rr';
  }
  const clusterIPs = serviceClusterIPs(svc);
  const lbIPs = loadBalancerIPs(svc);
  const externalIPs = asArr(dig(svc, 'spec', 'externalIPs')).filter((x): x is string => typeof x === 'string' && isLoopbackV4(x));
  const affinityTimeoutS = affinityTimeout(svc);
  const type = serviceType(svc);
  const out: ProxyServicePort[] = [];
  for (const sp of servicePorts(svc)) {
    if (sp.protocol !== 'TCP' && sp.protocol !== 'UDP') continue; // SCTP: not on loopback sockets
    const list = (backends.get(sp.name) ?? []).filter((b) => (b.protocol || 'TCP') === sp.protocol && isLoopbackV4(b.ip));
    const endpoints = usableBackends(list).map((b) => ({ ip: b.ip, port: b.port }));
    const entry: ProxyServicePort = {
      key: `${namespace}/${name}:${sp.name}/${sp.protocol}`,
      namespace,
      name,
      portName: sp.name,
      protocol: sp.protocol,
      port: sp.port,
      clusterIPs,
      loadBalancerIPs: lbIPs,
      externalIPs,
      algorithm,
      endpoints,
    };
    if (sp.nodePort && (type === 'NodePort' || type === 'LoadBalancer')) entry.nodePort = sp.nodePort;
    if (affinityTimeoutS !== undefined) entry.affinityTimeoutS = affinityTimeoutS;
    out.push(entry);
  }
  return out;
}

/** Every address a service port answers on, given the node IPs. */
export function frontendsOf(sp: ProxyServicePort, nodeIPs: readonly string[]): Frontend[] {
  const out: Frontend[] = [];
  const seen = new Set<string>();
  const add = (ip: string, port: number, kind: Frontend['kind']) => {
    const f: Frontend = { protocol: sp.protocol, ip, port, kind };
    const k = frontendKey(f);
    if (seen.has(k)) return;
    seen.add(k);
    out.push(f);
  };
  for (const ip of sp.clusterIPs) add(ip, sp.port, 'clusterIP');
  if (sp.nodePort) for (const ip of nodeIPs) if (isLoopbackV4(ip)) add(ip, sp.nodePort, 'nodePort');
  for (const ip of sp.loadBalancerIPs) add(ip, sp.port, 'loadBalancer');
  for (const ip of sp.externalIPs) add(ip, sp.port, 'externalIP');
  return out;
}
