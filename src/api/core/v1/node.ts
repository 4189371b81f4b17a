// Node: cluster-scoped, status written by the (simulated) kubelet; the table derives STATUS from
// the Ready condition plus cordoning, and ROLES from node-role labels.
import { isIP } from 'node:net';
import type { KObject } from '../../../machinery/object.js';
import { FieldError, checkName, fieldErr, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { parseQuantity } from '../../common/quantity.js';

const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'PreferNoSchedule'];

/** `Ready` / `NotReady` / `Unknown`, plus `SchedulingDisabled` for cordoned nodes. */
export function nodeStatusCell(node: KObject): string {
  const ready = asArr(dig(node, 'status', 'conditions'))
    .map(asObj)
    .find((c) => c?.type === 'Ready');
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (dig(node, 'spec', 'unschedulable') === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

/** Roles from `node-role.kubernetes.io/<role>` label keys and the legacy `kubernetes.io/role` value, sorted. */
export function nodeRolesCell(node: KObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(asObj(dig(node, 'metadata', 'labels')) ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role) roles.add(role);
    } else if (k === 'kubernetes.io/role' && typeof v === 'string' && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(',') : '<none>';
}

function address(node: KObject, type: string): string {
  const a = asArr(dig(node, 'status', 'addresses'))
    .map(asObj)
    .find((x) => x?.type === type);
  return asStr(a?.address) || '<none>';
}

const nodeInfo = (node: KObject, key: string) => asStr(dig(node, 'status', 'nodeInfo', key)) ?? '';

function validateNodeSpec(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = obj.spec;
  if (spec === undefined || spec === null) return errs;
  const s = asObj(spec);
  if (!s) return [fieldErr.invalid('spec', spec, 'must be a map')];
  if (s.unschedulable !== undefined && typeof s.unschedulable !== 'boolean')
    errs.push(fieldErr.invalid('spec.unschedulable', s.unschedulable, 'must be a boolean'));
  const cidrs = s.podCIDRs !== undefined ? asArr(s.podCIDRs) : s.podCIDR !== undefined ? [s.podCIDR] : [];
  cidrs.forEach((c, i) => {
    const [ip, bits] = typeof c === 'string' ? c.split('/') : [];
    const max = isIP(ip ?? '') === 6 ? 128 : 32;
    if (!ip || !isIP(ip) || !/^\d+$/.test(bits ?? '') || Number(bits) > max)
      errs.push(fieldErr.invalid(s.podCIDRs !== undefined ? `spec.podCIDRs[${i}]` : 'spec.podCIDR', c, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'));
  });
  if (s.taints !== undefined && s.taints !== null) {
    if (!Array.isArray(s.taints)) errs.push(fieldErr.invalid('spec.taints', s.taints, 'must be a list of taints'));
    const seen = new Set<string>();
    asArr(s.taints).forEach((raw, i) => {
      const f = `spec.taints[${i}]`;
      const t = asObj(raw);
      if (!t) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
      const key = asStr(t.key);
      if (!key) errs.push(fieldErr.required(`${f}.key`));
      else checkName(errs, `${f}.key`, key, names.qualifiedName);
      if (typeof t.value === 'string' && t.value) checkName(errs, `${f}.value`, t.value, names.labelValue);
      if (t.effect === undefined || t.effect === '') errs.push(fieldErr.required(`${f}.effect`));
      else if (!TAINT_EFFECTS.includes(t.effect as string)) errs.push(fieldErr.notSupported(`${f}.effect`, t.effect, TAINT_EFFECTS));
      const id = `${key}:${String(t.effect)}`;
      if (seen.has(id)) errs.push(fieldErr.duplicate(f, `${key}=${String(t.value ?? '')}:${String(t.effect)}`));
      seen.add(id);
    });
  }
  return errs;
}

function validateNodeStatus(obj: KObject): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of ['capacity', 'allocatable']) {
    const list = asObj(dig(obj, 'status', k));
    for (const [name, q] of Object.entries(list ?? {}))
      if (!parseQuantity(q)) errs.push(fieldErr.invalid(`status.${k}[${name}]`, q, 'must be a valid quantity'));
  }
  asArr(dig(obj, 'status', 'addresses')).forEach((a, i) => {
    if (!asStr(dig(a, 'type'))) errs.push(fieldErr.required(`status.addresses[${i}].type`));
  });
  return errs;
}

export const nodeKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'Node',
  plural: 'nodes',
  singular: 'node',
  shortNames: ['no'],
  namespaced: false,
  subresources: { status: true },
  // Kubelets register their Node with its status filled in; keep it (upstream does too).
  prepareForCreate() {},
  defaults(obj) {
    // Allocatable defaults to capacity when the kubelet does not report reservations.
    const status = asObj(obj.status);
    if (status && asObj(status.capacity) && status.allocatable === undefined) status.allocatable = { ...(status.capacity as object) };
  },
  validate: (obj) => validateNodeSpec(obj),
  validateStatus: (obj) => validateNodeStatus(obj),
  table: [
    nameColumn,
    column('Status', nodeStatusCell, { description: 'The status of the node' }),
    column('Roles', nodeRolesCell, { description: 'The roles of the node' }),
    ageColumn,
    column('Version', (o) => nodeInfo(o, 'kubeletVersion'), { description: 'Kubelet Version reported by the node.' }),
    column('Internal-IP', (o) => address(o, 'InternalIP'), { wide: true, description: 'List of addresses reachable to the node. Queried from cloud provider, if available.' }),
    column('External-IP', (o) => address(o, 'ExternalIP'), { wide: true, description: 'List of addresses reachable to the node. Queried from cloud provider, if available.' }),
    column('OS-Image', (o) => nodeInfo(o, 'osImage') || '<unknown>', { wide: true, description: 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).' }),
    column('Kernel-Version', (o) => nodeInfo(o, 'kernelVersion') || '<unknown>', { wide: true, description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)." }),
    column('Container-Runtime', (o) => nodeInfo(o, 'containerRuntimeVersion') || '<unknown>', { wide: true, description: 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).' }),
  ],
  fieldSelectors: {
    'spec.unschedulable': (o) => String(dig(o, 'spec', 'unschedulable') === true),
  },
};
