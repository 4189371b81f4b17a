// Service: defaults, validation (including the cluster-IP update rules) and the `kubectl get svc`
// row. Allocation of cluster IPs and node ports needs cluster state and lives in
// service-allocator.ts; prepareServiceUpdate() carries allocated values across updates.
import { isIP } from 'node:net';
import type { KObject } from '../../../machinery/object.js';
import { FieldError, checkName, fieldErr, names, validateLabels } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig, setDefault, type Obj } from '../../common/shape.js';
import { ageColumn, column, mapSelectorCell, nameColumn } from '../../common/table.js';
import { isValidPort, portNameProblems } from './podspec.js';

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'];
const IP_FAMILY_POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'];
const IP_FAMILIES = ['IPv4', 'IPv6'];
export const NODE_PORT_RANGE = { min: 30000, max: 32767 };

function typeOf(svc: KObject): string {
  return asStr(dig(svc, 'spec', 'type')) ?? 'ClusterIP';
}

function ports(svc: KObject): Obj[] {
  return asArr(dig(svc, 'spec', 'ports'))
    .map(asObj)
    .filter((p): p is Obj => p !== undefined);
}

/** Headless: the single cluster IP is the literal `None`. */
export function isHeadless(svc: KObject): boolean {
  const ips = asArr(dig(svc, 'spec', 'clusterIPs'));
  return ips.length === 1 ? ips[0] === 'None' : dig(svc, 'spec', 'clusterIP') === 'None';
}

/** Whether this Service gets an allocated cluster IP (not ExternalName, not headless). */
export function needsClusterIP(svc: KObject): boolean {
  return typeOf(svc) !== 'ExternalName' && !isHeadless(svc);
}

/** Whether its ports get node ports (NodePort, and LoadBalancer unless allocation was switched off). */
export function needsNodePorts(svc: KObject): boolean {
  const t = typeOf(svc);
  return t === 'NodePort' || (t === 'LoadBalancer' && dig(svc, 'spec', 'allocateLoadBalancerNodePorts') !== false);
}

function defaultService(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'ClientIP' && spec.sessionAffinityConfig === undefined)
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
  for (const p of ports(obj)) {
    setDefault(p, 'protocol', 'TCP');
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  // clusterIPs is the authoritative list; a lone clusterIP seeds it.
  if (typeof spec.clusterIP === 'string' && spec.clusterIP !== '' && (spec.clusterIPs === undefined || asArr(spec.clusterIPs).length === 0))
    spec.clusterIPs = [spec.clusterIP];
  const type = spec.type;
  if (type === 'ExternalName') return;
  setDefault(spec, 'ipFamilyPolicy', 'SingleStack');
  setDefault(spec, 'ipFamilies', ['IPv4']);
  setDefault(spec, 'internalTrafficPolicy', 'Cluster');
  if (type === 'NodePort' || type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
  if (type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
}

/**
 * Before validating an update (upstream does this in the Service REST strategy): keep the
 * allocated cluster IPs and node ports a client omitted, and drop fields the new type cannot have.
 * The API server should call it on every Service update, before defaults and validation.
 */
export function prepareServiceUpdate(obj: KObject, old: KObject): void {
  const spec = asObj(obj.spec);
  const oldSpec = asObj(old.spec);
  if (!spec || !oldSpec) return;
  const oldType = typeOf(old);
  const newType = typeOf(obj);
  if (needsClusterIP(old) && newType !== 'ExternalName') {
    if (spec.clusterIP === undefined || spec.clusterIP === '') spec.clusterIP = oldSpec.clusterIP;
    if (asArr(spec.clusterIPs).length === 0 && oldSpec.clusterIPs !== undefined) spec.clusterIPs = oldSpec.clusterIPs;
  }
  if (needsNodePorts(old) && needsNodePorts(obj)) {
    // Matched by port name, as upstream does; a node port the new spec already uses elsewhere is not reused.
    const byName = new Map(ports(old).map((p) => [asStr(p.name) ?? '', p.nodePort]));
    const inUse = new Set(ports(obj).map((p) => p.nodePort).filter((n) => typeof n === 'number' && n !== 0));
    for (const p of ports(obj)) {
      if (p.nodePort !== undefined && p.nodePort !== 0) continue;
      const prev = byName.get(asStr(p.name) ?? '');
      if (typeof prev === 'number' && prev !== 0 && !inUse.has(prev)) {
        p.nodePort = prev;
        inUse.add(prev);
      }
    }
  }
  if (newType === 'ExternalName' && oldType !== 'ExternalName') {
    // Switching to ExternalName releases the IP: clear it if the client left the old value in.
    if (spec.clusterIP === oldSpec.clusterIP) delete spec.clusterIP;
    delete spec.clusterIPs;
    delete spec.ipFamilies;
    delete spec.ipFamilyPolicy;
    delete spec.internalTrafficPolicy;
  }
  if (!needsNodePorts(obj) && needsNodePorts(old)) for (const p of ports(obj)) delete p.nodePort;
  if (newType !== 'NodePort' && newType !== 'LoadBalancer') delete spec.externalTrafficPolicy;
  if (newType !== 'LoadBalancer') delete spec.allocateLoadBalancerNodePorts;
}

function isIPAddress(v: unknown): v is string {
  return typeof v === 'string' && isIP(v) !== 0;
}

const IP_HINT = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';

function validatePorts(errs: FieldError[], svc: KObject, spec: Obj): void {
  const type = typeOf(svc);
  const raw = spec.ports;
  if (raw !== undefined && raw !== null && !Array.isArray(raw)) {
    errs.push(fieldErr.invalid('spec.ports', raw, 'must be a list of ports'));
    return;
  }
  const list = asArr(raw);
  if (list.length === 0 && type !== 'ExternalName' && !isHeadless(svc)) errs.push(fieldErr.required('spec.ports'));
  const seenNames = new Set<string>();
  const seenPorts = new Set<string>();
  const seenNodePorts = new Set<string>();
  list.forEach((item, i) => {
    const f = `spec.ports[${i}]`;
    const p = asObj(item);
    if (!p) return void errs.push(fieldErr.invalid(f, item, 'must be a map'));
    const name = p.name;
    if (name === undefined || name === '' || name === null) {
      if (list.length > 1) errs.push(fieldErr.required(`${f}.name`));
    } else if (typeof name !== 'string') errs.push(fieldErr.invalid(`${f}.name`, name, 'must be a string'));
    else {
      checkName(errs, `${f}.name`, name, names.dns1123Label);
      if (seenNames.has(name)) errs.push(fieldErr.duplicate(`${f}.name`, name));
      seenNames.add(name);
    }
    if (!isValidPort(p.port)) errs.push(fieldErr.invalid(`${f}.port`, p.port ?? 0, 'must be between 1 and 65535, inclusive'));
    const protocol = p.protocol;
    if (protocol === undefined || protocol === '') errs.push(fieldErr.required(`${f}.protocol`));
    else if (!PROTOCOLS.includes(protocol as string)) errs.push(fieldErr.notSupported(`${f}.protocol`, protocol, PROTOCOLS));
    const key = `${String(p.port)}/${String(protocol)}`;
    if (seenPorts.has(key)) errs.push(fieldErr.duplicate(f, { port: p.port, protocol }));
    seenPorts.add(key);
    const tp = p.targetPort;
    if (typeof tp === 'number') {
      if (!isValidPort(tp)) errs.push(fieldErr.invalid(`${f}.targetPort`, tp, 'must be between 1 and 65535, inclusive'));
    } else if (typeof tp === 'string') {
      for (const m of portNameProblems(tp)) errs.push(fieldErr.invalid(`${f}.targetPort`, tp, m));
    } else if (tp !== undefined && tp !== null) errs.push(fieldErr.invalid(`${f}.targetPort`, tp, 'must be an integer or a string'));
    const np = p.nodePort;
    if (np !== undefined && np !== null && np !== 0) {
      if (typeof np !== 'number' || !Number.isInteger(np)) errs.push(fieldErr.invalid(`${f}.nodePort`, np, 'must be an integer'));
      else if (type === 'ClusterIP' || type === 'ExternalName') errs.push(fieldErr.forbidden(`${f}.nodePort`, `may not be used when \`type\` is '${type}'`));
      else if (np < NODE_PORT_RANGE.min || np > NODE_PORT_RANGE.max)
        errs.push(
          fieldErr.invalid(`${f}.nodePort`, np, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`),
        );
      else {
        const nk = `${np}/${String(protocol)}`;
        if (seenNodePorts.has(nk)) errs.push(fieldErr.duplicate(`${f}.nodePort`, np));
        seenNodePorts.add(nk);
      }
    }
  });
}

function validateClusterIPs(errs: FieldError[], svc: KObject, spec: Obj): void {
  const type = typeOf(svc);
  const clusterIPs = spec.clusterIPs;
  if (clusterIPs !== undefined && clusterIPs !== null && !Array.isArray(clusterIPs)) {
    errs.push(fieldErr.invalid('spec.clusterIPs', clusterIPs, 'must be a list of IP addresses'));
    return;
  }
  const ips = asArr(clusterIPs);
  if (type === 'ExternalName') {
    if (ips.length > 0 || (spec.clusterIP !== undefined && spec.clusterIP !== ''))
      errs.push(fieldErr.forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    if (asArr(spec.ipFamilies).length > 0) errs.push(fieldErr.forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (spec.ipFamilyPolicy !== undefined && spec.ipFamilyPolicy !== null)
      errs.push(fieldErr.forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    return;
  }
  if (spec.clusterIP !== undefined && spec.clusterIP !== '' && ips.length > 0 && spec.clusterIP !== ips[0])
    errs.push(fieldErr.invalid('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  ips.forEach((ip, i) => {
    if (ip === 'None') {
      if (i > 0 || ips.length > 1) errs.push(fieldErr.invalid(`spec.clusterIPs[${i}]`, ip, "'None' must be the first and only value"));
    } else if (!isIPAddress(ip)) errs.push(fieldErr.invalid(`spec.clusterIPs[${i}]`, ip, IP_HINT));
  });
  if (isHeadless(svc) && (type === 'NodePort' || type === 'LoadBalancer'))
    errs.push(fieldErr.invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`));
  if (spec.ipFamilyPolicy !== undefined && !IP_FAMILY_POLICIES.includes(spec.ipFamilyPolicy as string))
    errs.push(fieldErr.notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, IP_FAMILY_POLICIES));
  const families = asArr(spec.ipFamilies);
  families.forEach((f, i) => {
    if (!IP_FAMILIES.includes(f as string)) errs.push(fieldErr.notSupported(`spec.ipFamilies[${i}]`, f, IP_FAMILIES));
  });
  if (families.length > 2 || (families.length === 2 && families[0] === families[1]))
    errs.push(fieldErr.invalid('spec.ipFamilies', families, 'may specify no more than one IP for each IP family'));
  if (families.length > 1 && spec.ipFamilyPolicy === 'SingleStack')
    errs.push(fieldErr.invalid('spec.ipFamilies', families, 'when multiple IP families are specified, IP family policy must be RequireDualStack or PreferDualStack'));
}

function validateServiceSpec(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [obj.spec === undefined ? fieldErr.required('spec') : fieldErr.invalid('spec', obj.spec, 'must be a map')];
  const type = spec.type;
  if (type === undefined || type === '') errs.push(fieldErr.required('spec.type'));
  else if (!TYPES.includes(type as string)) {
    errs.push(fieldErr.notSupported('spec.type', type, TYPES));
    return errs;
  }
  if (type === 'ExternalName') {
    const cname = typeof spec.externalName === 'string' ? spec.externalName.replace(/\.$/, '') : '';
    if (!cname) errs.push(fieldErr.required('spec.externalName'));
    else checkName(errs, 'spec.externalName', cname, names.dns1123Subdomain);
  }
  validatePorts(errs, obj, spec);
  validateClusterIPs(errs, obj, spec);
  if (spec.selector !== undefined) errs.push(...validateLabels(spec.selector, 'spec.selector'));
  if (spec.sessionAffinity !== undefined && !['ClientIP', 'None'].includes(spec.sessionAffinity as string))
    errs.push(fieldErr.notSupported('spec.sessionAffinity', spec.sessionAffinity, ['ClientIP', 'None']));
  const timeout = dig(spec, 'sessionAffinityConfig', 'clientIP', 'timeoutSeconds');
  if (timeout !== undefined) {
    if (spec.sessionAffinity !== 'ClientIP')
      errs.push(fieldErr.invalid('spec.sessionAffinityConfig', spec.sessionAffinityConfig, `must not be set when session affinity is ${String(spec.sessionAffinity)}`));
    else if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0 || timeout > 86400)
      errs.push(fieldErr.invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout, 'must be greater than 0 and less than 86400'));
  }
  if (spec.externalTrafficPolicy !== undefined && spec.externalTrafficPolicy !== '') {
    if (type !== 'NodePort' && type !== 'LoadBalancer')
      errs.push(fieldErr.invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"));
    else if (!TRAFFIC_POLICIES.includes(spec.externalTrafficPolicy as string))
      errs.push(fieldErr.notSupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, TRAFFIC_POLICIES));
  }
  if (spec.internalTrafficPolicy !== undefined && !TRAFFIC_POLICIES.includes(spec.internalTrafficPolicy as string))
    errs.push(fieldErr.notSupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, TRAFFIC_POLICIES));
  if (spec.externalIPs !== undefined && spec.externalIPs !== null) {
    if (!Array.isArray(spec.externalIPs)) errs.push(fieldErr.invalid('spec.externalIPs', spec.externalIPs, 'must be a list of IP addresses'));
    else spec.externalIPs.forEach((ip, i) => {
      if (!isIPAddress(ip)) errs.push(fieldErr.invalid(`spec.externalIPs[${i}]`, ip, IP_HINT));
    });
  }
  if (spec.loadBalancerClass !== undefined && spec.loadBalancerClass !== null && type !== 'LoadBalancer')
    errs.push(fieldErr.forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
  if (spec.allocateLoadBalancerNodePorts !== undefined && type !== 'LoadBalancer')
    errs.push(fieldErr.forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  return errs;
}

function stringList(v: unknown): string[] {
  return asArr(v).map((x) => String(x));
}

/** Upstream's update rule: cluster IPs may only be added or dropped at the end, never changed (ExternalName exempt). */
function validateServiceUpdate(obj: KObject, old: KObject): FieldError[] {
  const errs: FieldError[] = [];
  if (typeOf(obj) === 'ExternalName' || typeOf(old) === 'ExternalName') return errs;
  if (isHeadless(obj) && isHeadless(old)) return errs;
  const now = stringList(dig(obj, 'spec', 'clusterIPs'));
  const before = stringList(dig(old, 'spec', 'clusterIPs'));
  if (now.length === before.length) {
    if (before.some((ip, i) => ip !== now[i])) errs.push(fieldErr.invalid('spec.clusterIPs[0]', now, 'may not change once set'));
  } else if (now.length < before.length) {
    if (now.length === 0) errs.push(fieldErr.invalid('spec.clusterIPs[0]', now, 'primary clusterIP can not be unset'));
    else if (now[0] !== before[0]) errs.push(fieldErr.invalid('spec.clusterIPs[0]', now, 'may not change once set'));
  } else if (before.length > 0 && now[0] !== before[0]) {
    errs.push(fieldErr.invalid('spec.clusterIPs[0]', now, 'may not change once set'));
  }
  const lbOld = asStr(dig(old, 'spec', 'loadBalancerClass'));
  const lbNew = asStr(dig(obj, 'spec', 'loadBalancerClass'));
  if (typeOf(old) === 'LoadBalancer' && typeOf(obj) === 'LoadBalancer' && lbOld !== lbNew)
    errs.push(fieldErr.invalid('spec.loadBalancerClass', lbNew ?? null, 'may not change once set'));
  return errs;
}

function validateServiceStatus(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  asArr(dig(obj, 'status', 'loadBalancer', 'ingress')).forEach((ing, i) => {
    const ip = dig(ing, 'ip');
    if (ip !== undefined && ip !== '' && !isIPAddress(ip)) errs.push(fieldErr.invalid(`status.loadBalancer.ingress[${i}].ip`, ip, IP_HINT));
  });
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Table

/** `80/TCP`, `80:30080/TCP`, comma-joined; `<none>` without ports. */
export function servicePortsCell(svc: KObject): string {
  const text = ports(svc)
    .map((p) => {
      const np = typeof p.nodePort === 'number' && p.nodePort > 0 ? `:${p.nodePort}` : '';
      return `${String(p.port ?? 0)}${np}/${String(p.protocol ?? 'TCP')}`;
    })
    .join(',');
  return text || '<none>';
}

/** EXTERNAL-IP as upstream: external IPs, load-balancer ingress (`<pending>` until assigned), or the CNAME. */
export function serviceExternalIPCell(svc: KObject): string {
  const externalIPs = stringList(dig(svc, 'spec', 'externalIPs'));
  switch (typeOf(svc)) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      // Server-side tables are generated in wide mode, so upstream never elides long ingress lists here.
      const lb = asArr(dig(svc, 'status', 'loadBalancer', 'ingress'))
        .map((ing) => asStr(dig(ing, 'ip')) || asStr(dig(ing, 'hostname')) || '')
        .filter(Boolean)
        .join(',');
      const all = [...(lb ? lb.split(',') : []), ...externalIPs];
      return all.length ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return asStr(dig(svc, 'spec', 'externalName')) ?? '';
    default:
      return '<unknown>';
  }
}

export const serviceKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'Service',
  plural: 'services',
  singular: 'service',
  shortNames: ['svc'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  nameValidator: names.dns1035Label,
  defaults: defaultService,
  prepareForUpdate: prepareServiceUpdate,
  validate(obj, old) {
    const errs = validateServiceSpec(obj);
    if (old) errs.push(...validateServiceUpdate(obj, old));
    return errs;
  },
  validateStatus: (obj) => validateServiceStatus(obj),
  table: [
    nameColumn,
    column('Type', (o) => typeOf(o), { description: 'The type of the service.' }),
    column('Cluster-IP', (o) => asStr(dig(o, 'spec', 'clusterIP')) || '<none>', { description: 'The cluster IP of the service.' }),
    column('External-IP', (o) => serviceExternalIPCell(o), { description: 'The external IP of the service.' }),
    column('Port(s)', servicePortsCell, { description: 'The ports of the service.' }),
    ageColumn,
    column('Selector', (o) => mapSelectorCell(dig(o, 'spec', 'selector')), { wide: true, description: 'The selector of the service.' }),
  ],
};
