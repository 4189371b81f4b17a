// discovery.k8s.io/v1: EndpointSlice, the backends of a Service in chunks of at most 1000 endpoints.
import { isIPv4, isIPv6 } from 'node:net';
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr, checkName, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { isInt, oneOf, optionalList, optionalObject } from '../../apps/v1/fields.js';

const ADDRESS_TYPES = ['IPv4', 'IPv6', 'FQDN'];
const MAX_ENDPOINTS = 1000;
const MAX_PORTS = 20000;
const MAX_ADDRESSES = 100;

function defaults(obj: KObject): void {
  for (const raw of asArr(obj.ports)) {
    const p = asObj(raw);
    if (!p) continue;
    if (p.name === undefined) p.name = '';
    if (p.protocol === undefined) p.protocol = 'TCP';
  }
}

function validateAddress(errs: FieldError[], addr: unknown, type: unknown, field: string): void {
  if (typeof addr !== 'string') return void errs.push(fieldErr.invalid(field, addr, 'must be a string'));
  if (type === 'IPv4' && !isIPv4(addr)) errs.push(fieldErr.invalid(field, addr, 'must be a valid IPv4 address'));
  else if (type === 'IPv6' && !isIPv6(addr)) errs.push(fieldErr.invalid(field, addr, 'must be a valid IPv6 address'));
  else if (type === 'FQDN') checkName(errs, field, addr, names.dns1123Subdomain);
}

function validate(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  oneOf(errs, obj.addressType, 'addressType', ADDRESS_TYPES, true);
  const endpoints = optionalList(errs, obj.endpoints, 'endpoints');
  if (endpoints.length > MAX_ENDPOINTS) errs.push(fieldErr.tooMany('endpoints', endpoints.length, MAX_ENDPOINTS));
  endpoints.forEach((raw, i) => {
    const f = `endpoints[${i}]`;
    const e = asObj(raw);
    if (!e) return errs.push(fieldErr.invalid(f, raw, 'must be an object'));
    const addrs = optionalList(errs, e.addresses, `${f}.addresses`);
    if (addrs.length === 0) errs.push(fieldErr.required(`${f}.addresses`, 'must contain at least 1 address'));
    else if (addrs.length > MAX_ADDRESSES) errs.push(fieldErr.tooMany(`${f}.addresses`, addrs.length, MAX_ADDRESSES));
    addrs.forEach((a, j) => validateAddress(errs, a, obj.addressType, `${f}.addresses[${j}]`));
    const cond = optionalObject(errs, e.conditions, `${f}.conditions`);
    for (const k of ['ready', 'serving', 'terminating'])
      if (cond && cond[k] !== undefined && cond[k] !== null && typeof cond[k] !== 'boolean')
        errs.push(fieldErr.invalid(`${f}.conditions.${k}`, cond[k], 'must be a boolean'));
    if (typeof e.nodeName === 'string' && e.nodeName !== '') checkName(errs, `${f}.nodeName`, e.nodeName, names.dns1123Subdomain);
    const hostname = e.hostname;
    if (typeof hostname === 'string') checkName(errs, `${f}.hostname`, hostname, names.dns1123Label);
  });
  const ports = optionalList(errs, obj.ports, 'ports');
  if (ports.length > MAX_PORTS) errs.push(fieldErr.tooMany('ports', ports.length, MAX_PORTS));
  const seen = new Set<string>();
  ports.forEach((raw, i) => {
    const f = `ports[${i}]`;
    const p = asObj(raw);
    if (!p) return errs.push(fieldErr.invalid(f, raw, 'must be an object'));
    const name = p.name ?? '';
    if (typeof name !== 'string') errs.push(fieldErr.invalid(`${f}.name`, name, 'must be a string'));
    else {
      if (name !== '') checkName(errs, `${f}.name`, name, names.dns1123Label);
      if (seen.has(name)) errs.push(fieldErr.duplicate(`${f}.name`, name));
      seen.add(name);
    }
    oneOf(errs, p.protocol, `${f}.protocol`, ['TCP', 'UDP', 'SCTP'], true);
    if (p.port !== undefined && p.port !== null && (!isInt(p.port) || p.port < 0 || p.port > 65535))
      errs.push(fieldErr.invalid(`${f}.port`, p.port, 'must be between 0 and 65535, inclusive'));
  });
  if (old && obj.addressType !== old.addressType) errs.push(fieldErr.immutable('addressType', obj.addressType));
  return errs;
}

/** Upstream shows at most three items, then "+ N more...", and `<unset>` for none. */
function listWithMore(items: string[], max = 3): string {
  if (items.length === 0) return '<unset>';
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

export const discoveryV1Kinds: KindSpec[] = [
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    plural: 'endpointslices',
    singular: 'endpointslice',
    namespaced: true,
    defaults,
    validate,
    table: [
      nameColumn,
      column('AddressType', (obj) => asStr(obj.addressType) ?? ''),
      column('Ports', (obj) =>
        listWithMore(
          asArr(obj.ports).map((raw) => {
            const p = asObj(raw);
            if (isInt(p?.port)) return String(p.port);
            return asStr(p?.name) || '*';
          }),
        ),
      ),
      column('Endpoints', (obj) =>
        listWithMore(asArr(obj.endpoints).flatMap((e) => asArr(asObj(e)?.addresses).map((a) => String(a)))),
      ),
      ageColumn,
    ],
  },
];
