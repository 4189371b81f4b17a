// The cluster's DNS records (Kubernetes DNS-Based Service Discovery, schema 1.1.0), computed on
// each question from the current Services and EndpointSlices, so a change answers at once.
// Which endpoints back a Service comes from service-backends.ts only; DNS publishes the *ready*
// ones (publishNotReadyAddresses is already folded into `ready` by the EndpointSlice controller).
//
// Choices where the spec leaves room, following CoreDNS's kubernetes plugin:
//  - an endpoint without a hostname is named by its dashed IP (10-0-0-1, 2001-db8--1);
//  - endpoint names and PTRs exist for the endpoints of every Service, not only headless ones;
//  - SRV priority 0 and weight 100/N (each of N targets an equal share);
//  - pod records <a-b-c-d>.<ns>.pod.<zone> are answered for any well-formed address ("pods insecure");
//  - reverse names that are not ours are forwarded like any other name (CoreDNS's fallthrough).
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer, RecordType, SrvAnswer, SoaAnswer } from 'dns-packet';
import type { KObject } from '../machinery/object.js';
import { asArr, asStr, dig } from '../api/common/shape.js';
import { addressesFromSlices, backendsFromSlices, isHeadless, serviceType, servicePorts, type BackendAddress } from '../controllers/service-backends.js';

/** TTL of cluster records and of negative answers (CoreDNS's default). */
export const CLUSTER_TTL = 5;
export const SCHEMA_VERSION = '1.1.0';
const MAX_CNAME_CHAIN = 8;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface ZoneAnswer {
  rcode: number;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** An ExternalName target outside the cluster: the server may resolve it upstream and append the result. */
  chase?: { name: string; type: RecordType };
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Dashed form of an address, the name of an endpoint without a hostname and of a pod record. */
export function dashedIP(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

/** Canonical text of an IP (IPv6 fully expanded, lower case) so differently written forms compare equal. */
export function canonicalIP(ip: string): string | undefined {
  if (isIPv4(ip)) return ip.split('.').map(Number).join('.');
  if (!isIPv6(ip)) return undefined;
  let s = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + `${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** The address a reverse name stands for (d.c.b.a.in-addr.arpa, or 32 nibbles of ip6.arpa), if complete. */
export function reverseToIP(name: string): string | undefined {
  const labels = name.split('.');
  if (name.endsWith('.in-addr.arpa') && labels.length === 6) {
    const octets = labels.slice(0, 4).reverse();
    if (!octets.every((o) => /^\d{1,3}$/.test(o))) return undefined;
    const ip = octets.map(Number).join('.');
    return isIPv4(ip) ? ip : undefined;
  }
  if (name.endsWith('.ip6.arpa') && labels.length === 34) {
    const nibbles = labels.slice(0, 32).reverse();
    if (!nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(nibbles.slice(i, i + 4).join(''));
    return groups.join(':');
  }
  return undefined;
}

/** The cluster IPs of a Service (spec.clusterIPs, else spec.clusterIP), without "None". */
function clusterIPs(svc: KObject): string[] {
  const list = asArr(dig(svc, 'spec', 'clusterIPs')).filter((x): x is string => typeof x === 'string');
  const one = asStr(dig(svc, 'spec', 'clusterIP'));
  const all = list.length ? list : one ? [one] : [];
  return all.filter((ip) => isIPv4(ip) || isIPv6(ip));
}

function familyMatches(ip: string, type: RecordType | 'ANY'): boolean {
  return type === 'ANY' || (type === 'A' && isIPv4(ip)) || (type === 'AAAA' && isIPv6(ip));
}

function shuffled<T>(list: T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The records of one cluster domain over a live view of Services and EndpointSlices. Feed it
 * objects (the server wires informer events to the set/delete methods); ask it with `resolve`.
 */
export class ClusterZone {
  readonly zone: string;
  private services = new Map<string, KObject>();
  /** `<ns>/<service>` → slice key → slice. */
  private slices = new Map<string, Map<string, KObject>>();
  /** `<ns>/<slice>` → the `<ns>/<service>` it is filed under. */
  private sliceOwner = new Map<string, string>();
  private namespaces = new Map<string, number>();
  /** Canonical IP → PTR targets; rebuilt lazily after a change. */
  private reverse?: Map<string, string[]>;
  private serial = Math.floor(Date.now() / 1000) >>> 0;

  constructor(zone = 'cluster.local') {
    this.zone = zone.toLowerCase().replace(/\.$/, '');
  }

  // -------------------------------------------------------------------------------------------
  // Feeding

  setService(svc: KObject): void {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    if (!this.services.has(key)) this.namespaces.set(svc.metadata.namespace ?? '', (this.namespaces.get(svc.metadata.namespace ?? '') ?? 0) + 1);
    this.services.set(key, svc);
    this.changed();
  }

  deleteService(svc: KObject): void {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    if (!this.services.delete(key)) return;
    const ns = svc.metadata.namespace ?? '';
    const n = (this.namespaces.get(ns) ?? 1) - 1;
    if (n > 0) this.namespaces.set(ns, n);
    else this.namespaces.delete(ns);
    this.changed();
  }

  setSlice(slice: KObject): void {
    this.dropSlice(slice);
    const owner = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (owner) {
      const svcKey = `${slice.metadata.namespace}/${owner}`;
      let m = this.slices.get(svcKey);
      if (!m) this.slices.set(svcKey, (m = new Map()));
      m.set(slice.metadata.name ?? '', slice);
      this.sliceOwner.set(`${slice.metadata.namespace}/${slice.metadata.name}`, svcKey);
    }
    this.changed();
  }

  deleteSlice(slice: KObject): void {
    this.dropSlice(slice);
    this.changed();
  }

  /** Unindex a slice under the Service it was filed under (its service-name label may have changed since). */
  private dropSlice(slice: KObject): void {
    const key = `${slice.metadata.namespace}/${slice.metadata.name}`;
    const svcKey = this.sliceOwner.get(key);
    if (svcKey === undefined) return;
    this.sliceOwner.delete(key);
    const m = this.slices.get(svcKey);
    m?.delete(slice.metadata.name ?? '');
    if (m && m.size === 0) this.slices.delete(svcKey);
  }

  private changed(): void {
    this.reverse = undefined;
    this.serial = Math.max(this.serial + 1, Math.floor(Date.now() / 1000)) >>> 0;
  }

  // -------------------------------------------------------------------------------------------
  // Answering

  /** Whether a (lower-case, dot-less) name lies in this cluster domain. */
  inZone(name: string): boolean {
    return name === this.zone || name.endsWith(`.${this.zone}`);
  }

  /**
   * The answer for one question, or undefined when the name is not ours (the server forwards it).
   * `qname` is echoed as asked (resolvers may randomise its case); matching is case-insensitive.
   */
  resolve(qname: string, qtype: RecordType | 'ANY', depth = 0): ZoneAnswer | undefined {
    const name = qname.toLowerCase().replace(/\.$/, '');
    if (name.endsWith('.in-addr.arpa') || name.endsWith('.ip6.arpa')) return this.resolveReverse(qname, name, qtype);
    if (!this.inZone(name)) return undefined;
    const rel = name === this.zone ? [] : name.slice(0, -(this.zone.length + 1)).split('.');
    const last = rel[rel.length - 1];
    if (rel.length === 0) {
      if (qtype === 'SOA' || qtype === 'ANY') return this.ok([this.soa(qname)]);
      return this.nodata();
    }
    if (rel.length === 1 && last === 'dns-version') {
      if (qtype === 'TXT' || qtype === 'ANY') return this.ok([{ name: qname, type: 'TXT', ttl: CLUSTER_TTL, data: SCHEMA_VERSION }]);
      return this.nodata();
    }
    if (last === 'svc') return this.resolveSvc(qname, rel.slice(0, -1), qtype, depth);
    if (last === 'pod') return this.resolvePod(qname, rel.slice(0, -1), qtype);
    return this.nxdomain();
  }

  private resolveSvc(qname: string, rel: string[], qtype: RecordType | 'ANY', depth: number): ZoneAnswer {
    if (rel.length === 0) return this.nodata(); // svc.<zone>: an empty non-terminal
    const ns = rel[rel.length - 1];
    if (rel.length === 1) return this.namespaces.has(ns) ? this.nodata() : this.nxdomain();
    const svc = this.services.get(`${ns}/${rel[rel.length - 2]}`);
    if (!svc) return this.nxdomain();
    if (rel.length === 2) return this.serviceRecords(qname, svc, qtype, depth);
    if (rel.length === 3 && rel[0].startsWith('_')) {
      // _<proto>.<svc>: exists (with no records of its own) when a named port uses that protocol.
      const proto = rel[0].slice(1);
      return servicePorts(svc).some((p) => p.name && p.protocol.toLowerCase() === proto) ? this.nodata() : this.nxdomain();
    }
    if (rel.length === 3) return this.endpointRecords(qname, svc, rel[0], qtype);
    if (rel.length === 4 && rel[0].startsWith('_') && rel[1].startsWith('_')) return this.srvRecords(qname, svc, rel[0].slice(1), rel[1].slice(1), qtype);
    return this.nxdomain();
  }

  private serviceRecords(qname: string, svc: KObject, qtype: RecordType | 'ANY', depth: number): ZoneAnswer {
    if (serviceType(svc) === 'ExternalName') {
      const target = (asStr(dig(svc, 'spec', 'externalName')) ?? '').toLowerCase().replace(/\.$/, '');
      if (!target) return this.nodata();
      const cname: Answer = { name: qname, type: 'CNAME', ttl: CLUSTER_TTL, data: target };
      if (qtype === 'CNAME' || qtype === 'ANY') return this.ok([cname]);
      if (!this.inZone(target)) return qtype === 'A' || qtype === 'AAAA' ? { ...this.ok([cname]), chase: { name: target, type: qtype } } : this.ok([cname]);
      // An in-cluster target is ours to follow; a loop or an over-long chain stops at the CNAME.
      const next = depth < MAX_CNAME_CHAIN ? this.resolve(target, qtype, depth + 1) : undefined;
      if (!next) return this.ok([cname]);
      return { rcode: next.rcode, answers: [cname, ...next.answers], authorities: next.authorities, additionals: next.additionals, chase: next.chase };
    }
    if (isHeadless(svc)) {
      const ready = this.readyAddresses(svc);
      if (ready.length === 0) return this.nxdomain(); // the spec: a headless Service with no ready endpoint
      return this.addressAnswer(qname, shuffled(ready.map((a) => a.ip)), qtype);
    }
    return this.addressAnswer(qname, clusterIPs(svc), qtype);
  }

  private endpointRecords(qname: string, svc: KObject, label: string, qtype: RecordType | 'ANY'): ZoneAnswer {
    if (serviceType(svc) === 'ExternalName') return this.nxdomain();
    const ips = this.readyAddresses(svc)
      .filter((a) => this.endpointLabel(a) === label)
      .map((a) => a.ip);
    if (ips.length === 0) return this.nxdomain();
    return this.addressAnswer(qname, ips, qtype);
  }

  private srvRecords(qname: string, svc: KObject, portName: string, proto: string, qtype: RecordType | 'ANY'): ZoneAnswer {
    const ports = servicePorts(svc).filter((p) => p.name && p.name.toLowerCase() === portName && p.protocol.toLowerCase() === proto);
    if (ports.length === 0) return this.nxdomain(); // unnamed ports have no SRV record
    const ns = svc.metadata.namespace;
    const svcName = `${svc.metadata.name}.${ns}.svc.${this.zone}`;
    const targets: { port: number; target: string; ips: string[] }[] = [];
    if (serviceType(svc) === 'ExternalName') {
      const ext = (asStr(dig(svc, 'spec', 'externalName')) ?? '').toLowerCase().replace(/\.$/, '');
      if (!ext) return this.nxdomain();
      for (const p of ports) targets.push({ port: p.port, target: ext, ips: [] });
    } else if (isHeadless(svc)) {
      const byPort = backendsFromSlices(this.slicesOf(svc));
      for (const p of ports)
        for (const b of byPort.get(p.name) ?? [])
          if (b.ready && b.protocol === p.protocol) targets.push({ port: b.port, target: `${this.endpointLabel(b)}.${svcName}`, ips: [b.ip] });
      if (targets.length === 0) return this.nxdomain();
    } else {
      for (const p of ports) targets.push({ port: p.port, target: svcName, ips: clusterIPs(svc) });
    }
    if (qtype !== 'SRV' && qtype !== 'ANY') return this.nodata();
    const weight = Math.max(1, Math.floor(100 / targets.length));
    const answers: SrvAnswer[] = targets.map((t) => ({ name: qname, type: 'SRV', ttl: CLUSTER_TTL, data: { priority: 0, weight, port: t.port, target: t.target } }));
    const additionals: Answer[] = [];
    const glued = new Set<string>();
    for (const t of targets)
      for (const ip of t.ips) {
        const key = `${t.target} ${ip}`;
        if (glued.has(key)) continue;
        glued.add(key);
        additionals.push({ name: t.target, type: isIPv4(ip) ? 'A' : 'AAAA', ttl: CLUSTER_TTL, data: ip });
      }
    return { rcode: RCODE.NOERROR, answers, authorities: [], additionals };
  }

  private resolvePod(qname: string, rel: string[], qtype: RecordType | 'ANY'): ZoneAnswer {
    if (rel.length <= 1) return rel.length === 0 || this.namespaces.has(rel[0]) ? this.nodata() : this.nxdomain();
    if (rel.length !== 2) return this.nxdomain();
    const label = rel[0];
    const v4 = label.replace(/-/g, '.');
    const v6 = label.replace(/-/g, ':');
    const ip = /^\d{1,3}(-\d{1,3}){3}$/.test(label) && isIPv4(v4) ? v4 : label.includes('-') && isIPv6(v6) ? v6 : undefined;
    if (!ip) return this.nxdomain();
    return this.addressAnswer(qname, [ip], qtype);
  }

  private resolveReverse(qname: string, name: string, qtype: RecordType | 'ANY'): ZoneAnswer | undefined {
    const ip = reverseToIP(name);
    const canonical = ip && canonicalIP(ip);
    const targets = canonical ? this.reverseIndex().get(canonical) : undefined;
    if (!targets) return undefined;
    if (qtype !== 'PTR' && qtype !== 'ANY') return this.nodata();
    return this.ok(targets.map((t) => ({ name: qname, type: 'PTR', ttl: CLUSTER_TTL, data: t })));
  }

  private reverseIndex(): Map<string, string[]> {
    if (this.reverse) return this.reverse;
    const idx = new Map<string, string[]>();
    const add = (ip: string, target: string) => {
      const c = canonicalIP(ip);
      if (!c) return;
      const list = idx.get(c);
      if (!list) idx.set(c, [target]);
      else if (!list.includes(target)) list.push(target);
    };
    for (const svc of this.services.values()) {
      if (serviceType(svc) === 'ExternalName') continue;
      const fqdn = `${svc.metadata.name}.${svc.metadata.namespace}.svc.${this.zone}`;
      for (const ip of clusterIPs(svc)) add(ip, fqdn);
      for (const a of this.readyAddresses(svc)) add(a.ip, `${this.endpointLabel(a)}.${fqdn}`);
    }
    this.reverse = idx;
    return idx;
  }

  // -------------------------------------------------------------------------------------------
  // Helpers

  private slicesOf(svc: KObject): KObject[] {
    return [...(this.slices.get(`${svc.metadata.namespace}/${svc.metadata.name}`)?.values() ?? [])];
  }

  private readyAddresses(svc: KObject): BackendAddress[] {
    return addressesFromSlices(this.slicesOf(svc)).filter((a) => a.ready);
  }

  private endpointLabel(a: { ip: string; hostname?: string }): string {
    return (a.hostname ?? dashedIP(a.ip)).toLowerCase();
  }

  /** Address records of one family; none of that family (but some of another, or none at all) is NODATA. */
  private addressAnswer(qname: string, ips: string[], qtype: RecordType | 'ANY'): ZoneAnswer {
    const answers: Answer[] = ips.filter((ip) => familyMatches(ip, qtype)).map((ip) => ({ name: qname, type: isIPv4(ip) ? 'A' : 'AAAA', ttl: CLUSTER_TTL, data: ip }));
    return answers.length ? this.ok(answers) : this.nodata();
  }

  soa(name = this.zone): SoaAnswer {
    return {
      name,
      type: 'SOA',
      ttl: CLUSTER_TTL,
      data: { mname: `ns.dns.${this.zone}`, rname: `hostmaster.${this.zone}`, serial: this.serial, refresh: 7200, retry: 1800, expire: 86400, minimum: CLUSTER_TTL },
    };
  }

  private ok(answers: Answer[]): ZoneAnswer {
    return { rcode: RCODE.NOERROR, answers, authorities: [], additionals: [] };
  }

  private nodata(): ZoneAnswer {
    return { rcode: RCODE.NOERROR, answers: [], authorities: [this.soa()], additionals: [] };
  }

  private nxdomain(): ZoneAnswer {
    return { rcode: RCODE.NXDOMAIN, answers: [], authorities: [this.soa()], additionals: [] };
  }
}
