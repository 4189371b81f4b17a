// Building blocks for `kubectl get` tables shared by every kind: ages, the Name/Age columns,
// container/image cells and label-selector rendering, all formatted the way upstream's printers do.
import type { KObject } from '../../machinery/object.js';
import type { TableColumn } from '../types.js';
import { asArr, asObj, asStr, dig } from './shape.js';

/** apimachinery's HumanDuration: coarser units as durations grow (`45s`, `3m20s`, `5h2m`, `3d4h`, `2y5d`). */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '<invalid>';
  const seconds = Math.trunc(ms / 1000);
  // Up to 2s in the future is clock skew, shown as "0s"; beyond that the timestamp is nonsense.
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24);
    const d = days % 365;
    return d === 0 ? `${Math.trunc(days / 365)}y` : `${Math.trunc(days / 365)}y${d}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** Time since an RFC3339 timestamp, as printers show it; `<unknown>` when absent or unparsable. */
export function sinceCell(timestamp: unknown, now: number): string {
  if (typeof timestamp !== 'string' || timestamp === '') return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}

/** Age of an object from metadata.creationTimestamp. */
export function ageCell(obj: KObject, now: number): string {
  return sinceCell(dig(obj, 'metadata', 'creationTimestamp'), now);
}

export const nameColumn: TableColumn = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description:
    'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  priority: 0,
  cell: (obj) => asStr(dig(obj, 'metadata', 'name')) ?? '',
};

export const ageColumn: TableColumn = {
  name: 'Age',
  type: 'string',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata',
  priority: 0,
  cell: ageCell,
};

/** Shorthand for a column definition; `wide` marks a priority-1 (`-o wide`) column. */
export function column(
  name: string,
  cell: TableColumn['cell'],
  opts: { type?: TableColumn['type']; wide?: boolean; description?: string; format?: string } = {},
): TableColumn {
  return {
    name,
    type: opts.type ?? 'string',
    format: opts.format,
    description: opts.description ?? '',
    priority: opts.wide ? 1 : 0,
    cell,
  };
}

function containerList(podSpec: unknown): Record<string, unknown>[] {
  return asArr(dig(podSpec, 'containers'))
    .map(asObj)
    .filter((c): c is Record<string, unknown> => c !== undefined);
}

/** Comma-joined container names of a pod spec (workload CONTAINERS column). */
export function containersCell(podSpec: unknown): string {
  return containerList(podSpec)
    .map((c) => asStr(c.name) ?? '')
    .join(',');
}

/** Comma-joined container images of a pod spec (workload IMAGES column). */
export function imagesCell(podSpec: unknown): string {
  return containerList(podSpec)
    .map((c) => asStr(c.image) ?? '')
    .join(',');
}

const escape = (v: unknown) => (typeof v === 'string' ? v : String(v));

/**
 * A metav1.LabelSelector as upstream prints it: requirements sorted by key, `k=v`, `k in (a,b)`,
 * `k notin (a,b)`, `k`, `!k`; `<none>` for an empty or missing selector, `<error>` for a malformed one.
 */
export function selectorCell(labelSelector: unknown): string {
  if (labelSelector === undefined || labelSelector === null) return '<none>';
  const sel = asObj(labelSelector);
  if (!sel) return '<error>';
  const reqs: { key: string; text: string }[] = [];
  const ml = sel.matchLabels;
  if (ml !== undefined && ml !== null) {
    const m = asObj(ml);
    if (!m) return '<error>';
    for (const [k, v] of Object.entries(m)) reqs.push({ key: k, text: `${k}=${escape(v)}` });
  }
  const me = sel.matchExpressions;
  if (me !== undefined && me !== null) {
    if (!Array.isArray(me)) return '<error>';
    for (const raw of me) {
      const e = asObj(raw);
      const key = asStr(e?.key);
      if (!e || !key) return '<error>';
      const values = [...new Set(asArr(e.values).map(escape))].sort();
      switch (e.operator) {
        case 'In':
        case 'NotIn':
          if (values.length === 0) return '<error>';
          reqs.push({ key, text: `${key} ${e.operator === 'In' ? 'in' : 'notin'} (${values.join(',')})` });
          break;
        case 'Exists':
          reqs.push({ key, text: key });
          break;
        case 'DoesNotExist':
          reqs.push({ key, text: `!${key}` });
          break;
        default:
          return '<error>';
      }
    }
  }
  if (reqs.length === 0) return '<none>';
  // Stable sort by key only, as upstream's selector does (same-key requirements keep their order).
  reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return reqs.map((r) => r.text).join(',');
}

/** A plain `map[string]string` selector (Service spec.selector, nodeSelector): `a=b,c=d` sorted, or `<none>`. */
export function mapSelectorCell(selector: unknown): string {
  const m = asObj(selector);
  if (!m) return '<none>';
  const parts = Object.keys(m)
    .sort()
    .map((k) => `${k}=${escape(m[k])}`);
  return parts.length ? parts.join(',') : '<none>';
}
