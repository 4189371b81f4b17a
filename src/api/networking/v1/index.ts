// networking.k8s.io/v1: Ingress, IngressClass, NetworkPolicy.
import { isIP, isIPv4 } from 'node:net';
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr, checkName, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig } from '../../common/shape.js';
import { ageColumn, column, nameColumn, selectorCell } from '../../common/table.js';
import { isInt, oneOf, optionalList, optionalObject, requiredString, validateLabelSelector } from '../../apps/v1/fields.js';

const WILDCARD_DNS = /^\*\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const PATH_TYPES = ['Exact', 'Prefix', 'ImplementationSpecific'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

/** A host may be a DNS subdomain, or a wildcard whose `*` is exactly the leftmost label. */
function validateHost(errs: FieldError[], host: unknown, field: string): void {
  if (host === undefined || host === null || host === '') return;
  if (typeof host !== 'string') return void errs.push(fieldErr.invalid(field, host, 'must be a string'));
  if (isIP(host)) errs.push(fieldErr.invalid(field, host, 'must be a DNS name, not an IP address'));
  if (host.includes('*')) {
    if (!WILDCARD_DNS.test(host) || host.length > 253)
      errs.push(
        fieldErr.invalid(
          field,
          host,
          "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
      );
  } else checkName(errs, field, host, names.dns1123Subdomain);
}

/** IANA service port names: ≤15 chars, lowercase alphanumerics and '-', at least one letter. */
function validatePortName(errs: FieldError[], name: string, field: string): void {
  if (name.length > 15) errs.push(fieldErr.invalid(field, name, 'must be no more than 15 characters'));
  if (!PORT_NAME.test(name)) errs.push(fieldErr.invalid(field, name, 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'));
  else if (name.includes('--')) errs.push(fieldErr.invalid(field, name, 'must not contain consecutive hyphens'));
  if (!/[a-z]/.test(name)) errs.push(fieldErr.invalid(field, name, 'must contain at least one letter (a-z)'));
}

function validatePortNum(errs: FieldError[], n: unknown, field: string): void {
  if (!isInt(n) || n < 1 || n > 65535) errs.push(fieldErr.invalid(field, n, 'must be between 1 and 65535, inclusive'));
}

function validateBackend(errs: FieldError[], raw: unknown, field: string): void {
  const b = asObj(raw);
  if (!b) return void errs.push(fieldErr.invalid(field, raw, 'must be an object'));
  const svc = optionalObject(errs, b.service, `${field}.service`);
  const res = optionalObject(errs, b.resource, `${field}.resource`);
  if (svc && res) return void errs.push(fieldErr.invalid(field, '', 'cannot set both resource and service backends'));
  if (res) {
    requiredString(errs, res.kind, `${field}.resource.kind`);
    requiredString(errs, res.name, `${field}.resource.name`);
    return;
  }
  if (!svc) return void errs.push(fieldErr.invalid(field, '', 'resource or service backend is required'));
  if (requiredString(errs, svc.name, `${field}.service.name`)) checkName(errs, `${field}.service.name`, svc.name as string, names.dns1035Label);
  const port = asObj(svc.port);
  const pf = `${field}.service.port`;
  const hasName = port?.name !== undefined && port.name !== null && port.name !== '';
  const hasNum = port?.number !== undefined && port.number !== null && port.number !== 0;
  if (hasName && hasNum) errs.push(fieldErr.invalid(pf, port, 'cannot set both port name & port number'));
  else if (hasName) {
    if (typeof port!.name !== 'string') errs.push(fieldErr.invalid(`${pf}.name`, port!.name, 'must be a string'));
    else validatePortName(errs, port!.name, `${pf}.name`);
  } else if (hasNum) validatePortNum(errs, port!.number, `${pf}.number`);
  else errs.push(fieldErr.required(pf, 'port name or number is required'));
}

const INVALID_PATH_PARTS = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];

function validatePath(errs: FieldError[], raw: unknown, field: string): void {
  const p = asObj(raw);
  if (!p) return void errs.push(fieldErr.invalid(field, raw, 'must be an object'));
  const type = p.pathType;
  // Upstream stops at a missing pathType: the path's meaning depends on it.
  if (type === undefined || type === null || type === '') return void errs.push(fieldErr.required(`${field}.pathType`, 'pathType must be specified'));
  oneOf(errs, type, `${field}.pathType`, PATH_TYPES);
  const path = p.path;
  if (path !== undefined && path !== null && typeof path !== 'string') errs.push(fieldErr.invalid(`${field}.path`, path, 'must be a string'));
  else if (type === 'Exact' || type === 'Prefix') {
    const s = (path as string | undefined) ?? '';
    if (!s.startsWith('/')) errs.push(fieldErr.invalid(`${field}.path`, s, 'must be an absolute path'));
    for (const bad of INVALID_PATH_PARTS) if (s.includes(bad)) errs.push(fieldErr.invalid(`${field}.path`, s, `must not contain '${bad}'`));
    for (const bad of INVALID_PATH_SUFFIXES) if (s.endsWith(bad)) errs.push(fieldErr.invalid(`${field}.path`, s, `cannot end with '${bad}'`));
  } else if (typeof path === 'string' && path !== '' && !path.startsWith('/'))
    errs.push(fieldErr.invalid(`${field}.path`, path, 'must be an absolute path'));
  if (p.backend === undefined || p.backend === null) errs.push(fieldErr.required(`${field}.backend`));
  else validateBackend(errs, p.backend, `${field}.backend`);
}

function validateIngress(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec') ?? {};
  const rules = optionalList(errs, spec.rules, 'spec.rules');
  if (rules.length === 0 && (spec.defaultBackend === undefined || spec.defaultBackend === null))
    errs.push(fieldErr.invalid('spec', spec, 'either `defaultBackend` or `rules` must be specified'));
  if (spec.defaultBackend !== undefined && spec.defaultBackend !== null) validateBackend(errs, spec.defaultBackend, 'spec.defaultBackend');
  rules.forEach((raw, i) => {
    const f = `spec.rules[${i}]`;
    const r = asObj(raw);
    if (!r) return errs.push(fieldErr.invalid(f, raw, 'must be an object'));
    validateHost(errs, r.host, `${f}.host`);
    const http = optionalObject(errs, r.http, `${f}.http`);
    if (!http) return;
    const paths = optionalList(errs, http.paths, `${f}.http.paths`);
    if (paths.length === 0) errs.push(fieldErr.required(`${f}.http.paths`));
    paths.forEach((p, j) => validatePath(errs, p, `${f}.http.paths[${j}]`));
  });
  optionalList(errs, spec.tls, 'spec.tls').forEach((raw, i) => {
    const t = asObj(raw);
    if (!t) return errs.push(fieldErr.invalid(`spec.tls[${i}]`, raw, 'must be an object'));
    optionalList(errs, t.hosts, `spec.tls[${i}].hosts`).forEach((h, j) => validateHost(errs, h, `spec.tls[${i}].hosts[${j}]`));
    if (t.secretName !== undefined && t.secretName !== null && t.secretName !== '') {
      if (typeof t.secretName !== 'string') errs.push(fieldErr.invalid(`spec.tls[${i}].secretName`, t.secretName, 'must be a string'));
      else checkName(errs, `spec.tls[${i}].secretName`, t.secretName, names.dns1123Subdomain);
    }
  });
  const cls = spec.ingressClassName;
  if (cls !== undefined && cls !== null) {
    if (typeof cls !== 'string') errs.push(fieldErr.invalid('spec.ingressClassName', cls, 'must be a string'));
    else checkName(errs, 'spec.ingressClassName', cls, names.dns1123Subdomain);
  }
  return errs;
}

/** printers.go formatHosts: up to three hosts, `*` when no rule names one. */
function hostsCell(obj: KObject): string {
  const rules = asArr(dig(obj, 'spec', 'rules'));
  const hosts: string[] = [];
  let more = false;
  for (const r of rules) {
    if (hosts.length === 3) more = true;
    const h = asStr(asObj(r)?.host);
    if (!more && h) hosts.push(h);
  }
  if (hosts.length === 0) return '*';
  return more ? `${hosts.join(',')} + ${rules.length - 3} more...` : hosts.join(',');
}

/** Load-balancer ingress points joined by commas; narrow output truncates past 16 characters. */
export function loadBalancerCell(obj: KObject, wide: boolean): string {
  const s = asArr(dig(obj, 'status', 'loadBalancer', 'ingress'))
    .map((i) => asStr(asObj(i)?.ip) || asStr(asObj(i)?.hostname) || '')
    .filter(Boolean)
    .join(',');
  return !wide && s.length > 16 ? `${s.slice(0, 13)}...` : s;
}

function defaultIngressClass(obj: KObject): void {
  const params = asObj(dig(obj, 'spec', 'parameters'));
  if (params && (params.scope === undefined || params.scope === null)) params.scope = 'Cluster';
}

function validateIngressClass(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec') ?? {};
  if (requiredString(errs, spec.controller, 'spec.controller') && (spec.controller as string).length > 250)
    errs.push(fieldErr.tooLong('spec.controller', 250));
  const params = optionalObject(errs, spec.parameters, 'spec.parameters');
  if (params) {
    requiredString(errs, params.kind, 'spec.parameters.kind');
    requiredString(errs, params.name, 'spec.parameters.name');
    oneOf(errs, params.scope, 'spec.parameters.scope', ['Cluster', 'Namespace'], true);
    const hasNs = params.namespace !== undefined && params.namespace !== null && params.namespace !== '';
    if (params.scope === 'Namespace' && !hasNs) errs.push(fieldErr.required('spec.parameters.namespace', '`parameters.scope` is set to "Namespace"'));
    if (params.scope === 'Cluster' && hasNs)
      errs.push(fieldErr.forbidden('spec.parameters.namespace', '`parameters.scope` is set to "Cluster"'));
  }
  // The controller decides which component owns the class; re-pointing it would orphan its Ingresses.
  if (old && spec.controller !== dig(old, 'spec', 'controller')) errs.push(fieldErr.immutable('spec.controller', spec.controller));
  return errs;
}

function defaultNetworkPolicy(obj: KObject): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  for (const dir of ['ingress', 'egress'])
    for (const rule of asArr(spec[dir]))
      for (const port of asArr(asObj(rule)?.ports)) {
        const p = asObj(port);
        if (p && (p.protocol === undefined || p.protocol === null)) p.protocol = 'TCP';
      }
  // v1 defaulting: Ingress always applies; Egress only when egress rules are given.
  if (spec.policyTypes === undefined || spec.policyTypes === null)
    spec.policyTypes = spec.egress !== undefined && spec.egress !== null ? ['Ingress', 'Egress'] : ['Ingress'];
}

function validatePeer(errs: FieldError[], raw: unknown, field: string): void {
  const p = asObj(raw);
  if (!p) return void errs.push(fieldErr.invalid(field, raw, 'must be an object'));
  const has = (k: string) => p[k] !== undefined && p[k] !== null;
  const n = ['podSelector', 'namespaceSelector', 'ipBlock'].filter(has).length;
  if (n === 0) errs.push(fieldErr.required(field, 'must specify a peer'));
  else if (has('ipBlock') && n > 1) errs.push(fieldErr.forbidden(field, 'may not specify both ipBlock and another peer'));
  errs.push(...validateLabelSelector(p.podSelector, `${field}.podSelector`));
  errs.push(...validateLabelSelector(p.namespaceSelector, `${field}.namespaceSelector`));
  const ip = optionalObject(errs, p.ipBlock, `${field}.ipBlock`);
  if (ip) {
    const cidr = ip.cidr;
    if (requiredString(errs, cidr, `${field}.ipBlock.cidr`) && !validCidr(cidr as string))
      errs.push(fieldErr.invalid(`${field}.ipBlock.cidr`, cidr, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
    optionalList(errs, ip.except, `${field}.ipBlock.except`).forEach((e, i) => {
      if (typeof e !== 'string' || !validCidr(e))
        errs.push(fieldErr.invalid(`${field}.ipBlock.except[${i}]`, e, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
    });
  }
}

function validCidr(s: string): boolean {
  const [addr, bits, ...rest] = s.split('/');
  if (rest.length || bits === undefined || !/^\d+$/.test(bits)) return false;
  const v = isIP(addr);
  return v !== 0 && Number(bits) <= (isIPv4(addr) ? 32 : 128);
}

function validateNetworkPolicy(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = optionalObject(errs, obj.spec, 'spec') ?? {};
  errs.push(...validateLabelSelector(spec.podSelector, 'spec.podSelector'));
  for (const [dir, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const)
    optionalList(errs, spec[dir], `spec.${dir}`).forEach((raw, i) => {
      const f = `spec.${dir}[${i}]`;
      const r = asObj(raw);
      if (!r) return errs.push(fieldErr.invalid(f, raw, 'must be an object'));
      optionalList(errs, r.ports, `${f}.ports`).forEach((pr, j) => {
        const pf = `${f}.ports[${j}]`;
        const p = asObj(pr);
        if (!p) return errs.push(fieldErr.invalid(pf, pr, 'must be an object'));
        oneOf(errs, p.protocol, `${pf}.protocol`, PROTOCOLS);
        if (typeof p.port === 'string') validatePortName(errs, p.port, `${pf}.port`);
        else if (p.port !== undefined && p.port !== null) validatePortNum(errs, p.port, `${pf}.port`);
        if (p.endPort !== undefined && p.endPort !== null) {
          if (!isInt(p.port)) errs.push(fieldErr.required(`${pf}.port`, 'must be specified when endPort is specified'));
          else if (!isInt(p.endPort) || p.endPort < p.port)
            errs.push(fieldErr.invalid(`${pf}.endPort`, p.endPort, 'must be greater than or equal to `port`'));
        }
      });
      optionalList(errs, r[peers], `${f}.${peers}`).forEach((peer, j) => validatePeer(errs, peer, `${f}.${peers}[${j}]`));
    });
  const types = optionalList(errs, spec.policyTypes, 'spec.policyTypes');
  types.forEach((t, i) => oneOf(errs, t, `spec.policyTypes[${i}]`, ['Ingress', 'Egress'], true));
  if (types.length > 2) errs.push(fieldErr.invalid('spec.policyTypes', types, 'may not specify more than two policyTypes'));
  return errs;
}

const group = 'networking.k8s.io';

export const networkingV1Kinds: KindSpec[] = [
  {
    group,
    version: 'v1',
    kind: 'Ingress',
  generation: true,
    plural: 'ingresses',
    singular: 'ingress',
    shortNames: ['ing'],
    namespaced: true,
    subresources: { status: true },
    validate: validateIngress,
    table: [
      nameColumn,
      column('Class', (obj) => asStr(dig(obj, 'spec', 'ingressClassName')) ?? '<none>'),
      column('Hosts', hostsCell),
      column('Address', (obj) => loadBalancerCell(obj, false)),
      column('Ports', (obj) => (asArr(dig(obj, 'spec', 'tls')).length > 0 ? '80, 443' : '80')),
      ageColumn,
    ],
  },
  {
    group,
    version: 'v1',
    kind: 'IngressClass',
    plural: 'ingressclasses',
    singular: 'ingressclass',
    namespaced: false,
    defaults: defaultIngressClass,
    validate: validateIngressClass,
    table: [
      nameColumn,
      column('Controller', (obj) => asStr(dig(obj, 'spec', 'controller')) ?? ''),
      column('Parameters', (obj) => {
        const p = asObj(dig(obj, 'spec', 'parameters'));
        if (!p) return '<none>';
        const g = asStr(p.apiGroup);
        return `${asStr(p.kind) ?? ''}${g ? `.${g}` : ''}/${asStr(p.name) ?? ''}`;
      }),
      ageColumn,
    ],
  },
  {
    group,
    version: 'v1',
    kind: 'NetworkPolicy',
  generation: true,
    plural: 'networkpolicies',
    singular: 'networkpolicy',
    shortNames: ['netpol'],
    namespaced: true,
    defaults: defaultNetworkPolicy,
    validate: validateNetworkPolicy,
    table: [nameColumn, column('Pod-Selector', (obj) => selectorCell(dig(obj, 'spec', 'podSelector') ?? {})), ageColumn],
  },
];
