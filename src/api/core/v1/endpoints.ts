// Endpoints: the addresses behind a Service, maintained by the endpoints controller.
import { isIP } from 'node:net';
import type { KObject } from '../../../machinery/object.js';
import { FieldError, checkName, fieldErr, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { isValidPort } from './podspec.js';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const SHOWN = 3;

function objs(v: unknown): Record<string, unknown>[] {
  return asArr(v)
    .map(asObj)
    .filter((x): x is Record<string, unknown> => x !== undefined);
}

const hostPort = (ip: string, port: unknown) => (ip.includes(':') ? `[${ip}]:${String(port)}` : `${ip}:${String(port)}`);

/** Ready addresses as `ip:port`, the first three shown and the rest counted: `a:80,b:80,c:80 + 2 more...`. */
export function endpointsCell(ep: KObject): string {
  const subsets = objs(ep.subsets);
  if (subsets.length === 0) return '<none>';
  const list: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addrs = objs(ss.addresses).map((a) => asStr(a.ip) ?? '');
    const ports = objs(ss.ports);
    // Headless services may have no ports: then the bare IPs are listed.
    const entries = ports.length === 0 ? [addrs] : ports.map((p) => addrs.map((ip) => hostPort(ip, p.port)));
    for (const group of entries) {
      count += group.length;
      for (const e of group) if (list.length < SHOWN) list.push(e);
    }
  }
  const text = list.join(',');
  if (count > SHOWN) return `${text} + ${count - SHOWN} more...`;
  return text || '<none>';
}

function validateEndpoints(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const subsets = obj.subsets;
  if (subsets === undefined || subsets === null) return errs;
  if (!Array.isArray(subsets)) return [fieldErr.invalid('subsets', subsets, 'must be a list of subsets')];
  subsets.forEach((raw, i) => {
    const f = `subsets[${i}]`;
    const ss = asObj(raw);
    if (!ss) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
    for (const key of ['addresses', 'notReadyAddresses']) {
      asArr(ss[key]).forEach((a, j) => {
        const ip = asObj(a)?.ip;
        if (ip === undefined || ip === '') errs.push(fieldErr.required(`${f}.${key}[${j}].ip`));
        else if (typeof ip !== 'string' || isIP(ip) === 0)
          errs.push(fieldErr.invalid(`${f}.${key}[${j}].ip`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
      });
    }
    const ports = asArr(ss.ports);
    ports.forEach((rp, j) => {
      const pf = `${f}.ports[${j}]`;
      const p = asObj(rp);
      if (!p) return void errs.push(fieldErr.invalid(pf, rp, 'must be a map'));
      const name = p.name;
      if (name === undefined || name === '') {
        if (ports.length > 1) errs.push(fieldErr.required(`${pf}.name`));
      } else if (typeof name !== 'string') errs.push(fieldErr.invalid(`${pf}.name`, name, 'must be a string'));
      else checkName(errs, `${pf}.name`, name, names.dns1123Label);
      if (!isValidPort(p.port)) errs.push(fieldErr.invalid(`${pf}.port`, p.port ?? 0, 'must be between 1 and 65535, inclusive'));
      if (p.protocol === undefined || p.protocol === '') errs.push(fieldErr.required(`${pf}.protocol`));
      else if (!PROTOCOLS.includes(p.protocol as string)) errs.push(fieldErr.notSupported(`${pf}.protocol`, p.protocol, PROTOCOLS));
    });
  });
  return errs;
}

export const endpointsKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'Endpoints',
  plural: 'endpoints',
  singular: 'endpoints',
  shortNames: ['ep'],
  namespaced: true,
  defaults(obj) {
    for (const ss of objs(obj.subsets)) for (const p of objs(ss.ports)) if (p.protocol === undefined) p.protocol = 'TCP';
  },
  validate: (obj) => validateEndpoints(obj),
  table: [nameColumn, column('Endpoints', endpointsCell, { description: 'Endpoints of the service' }), ageColumn],
};
