// Label and field selectors of a list/watch request, compiled once into one predicate.
import type { KindSpec } from '../api/types.js';
import { errors } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { compileFieldSelector, compileLabelSelectorString, fieldSelectorFields, parseFieldSelector } from '../machinery/selectors.js';

export interface ListSelectors {
  labelSelector?: string;
  fieldSelector?: string;
}

/** Fields every kind can be selected by. */
function metadataField(obj: KObject, field: string): string | undefined {
  if (field === 'metadata.name') return obj.metadata.name ?? '';
  if (field === 'metadata.namespace') return obj.metadata.namespace ?? '';
  return undefined;
}

/** A predicate, or undefined when there is nothing to filter. Unsupported fields → 400 as upstream. */
export function compileListFilter(spec: KindSpec, sel: ListSelectors): ((obj: KObject) => boolean) | undefined {
  const preds: ((obj: KObject) => boolean)[] = [];
  if (sel.labelSelector && sel.labelSelector.trim()) {
    const m = compileLabelSelectorString(sel.labelSelector);
    preds.push((o) => m(o.metadata.labels));
  }
  if (sel.fieldSelector && sel.fieldSelector.trim()) {
    const reqs = parseFieldSelector(sel.fieldSelector);
    const extra = spec.fieldSelectors ?? {};
    for (const f of fieldSelectorFields(reqs))
      if (f !== 'metadata.name' && f !== 'metadata.namespace' && !(f in extra))
        throw errors.badRequest(`field label not supported: ${f}`);
    const m = compileFieldSelector(reqs);
    preds.push((o) => m((f) => metadataField(o, f) ?? extra[f]?.(o) ?? ''));
  }
  if (preds.length === 0) return undefined;
  return (o) => preds.every((p) => p(o));
}
