// Server-side printing: `kubectl get` asks for meta.k8s.io Tables and prints their cells verbatim.
import type { KindSpec, TableColumn } from '../api/types.js';
import type { KObject } from '../machinery/object.js';
import { ageColumn, nameColumn } from '../api/common/table.js';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const DEFAULT_COLUMNS: TableColumn[] = [nameColumn, ageColumn];

export function columnsOf(spec: KindSpec): TableColumn[] {
  return spec.table && spec.table.length ? spec.table : DEFAULT_COLUMNS;
}

export function columnDefinitions(spec: KindSpec) {
  return columnsOf(spec).map((c) => ({
    name: c.name,
    type: c.type,
    format: c.format ?? '',
    description: c.description ?? '',
    priority: c.priority ?? 0,
  }));
}

function rowObject(obj: KObject, include: IncludeObject): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export function tableRow(spec: KindSpec, obj: KObject, include: IncludeObject, now = Date.now()) {
  const cells = columnsOf(spec).map((c) => {
    try {
      const v = c.cell(obj, now);
      return v === undefined ? null : v;
    } catch {
      // A printer must never take a list down because one object is odd.
      return '<unknown>';
    }
  });
  const row: { cells: unknown[]; object?: unknown } = { cells };
  const o = rowObject(obj, include);
  if (o !== undefined) row.object = o;
  return row;
}

export function toTable(
  spec: KindSpec,
  items: KObject[],
  meta: { resourceVersion?: string; continue?: string; remainingItemCount?: number },
  include: IncludeObject,
  version: 'v1' | 'v1beta1',
  withColumns = true,
) {
  const now = Date.now();
  const metadata: Record<string, unknown> = {};
  if (meta.resourceVersion) metadata.resourceVersion = meta.resourceVersion;
  if (meta.continue) metadata.continue = meta.continue;
  if (meta.remainingItemCount !== undefined) metadata.remainingItemCount = meta.remainingItemCount;
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${version}`,
    metadata,
    columnDefinitions: withColumns ? columnDefinitions(spec) : null,
    rows: items.map((o) => tableRow(spec, o, include, now)),
  };
}
