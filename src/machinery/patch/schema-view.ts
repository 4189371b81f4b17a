// Read-only navigation of a kind's schema for the patch algorithms: which child schema a field
// has, and what its list/map extensions say. Extensions may sit beside a `$ref`/`allOf` wrapper
// (e.g. `{"allOf":[{"$ref":"...DeploymentStrategy"}],"x-kubernetes-patch-strategy":"retainKeys"}`),
// so they are read from the node as written first, then from the node it resolves to.
import type { SchemaNode, SchemaResolver } from '../schema.js';

/** How server-side apply treats a list: keyed elements, a set of scalars, or one atomic value. */
export type ListKind = { type: 'map'; keys: string[] } | { type: 'set' } | { type: 'atomic' };

export interface PatchMeta {
  merge: boolean;
  retainKeys: boolean;
  replace: boolean;
  mergeKey?: string;
}

export class SchemaView {
  private readonly resolved: SchemaNode;

  private constructor(
    private readonly raw: SchemaNode,
    private readonly resolver: SchemaResolver,
  ) {
    this.resolved = resolver(raw) ?? raw;
  }

  static of(node: SchemaNode | undefined, resolve?: SchemaResolver): SchemaView | undefined {
    if (!node || typeof node !== 'object') return undefined;
    return new SchemaView(node, resolve ?? ((n) => n));
  }

  ext(name: string): unknown {
    return this.raw[name] !== undefined ? this.raw[name] : this.resolved[name];
  }

  /** The schema of field `name`: a declared property, else the additionalProperties schema. */
  field(name: string): SchemaView | undefined {
    const props = this.resolved.properties;
    if (props && Object.prototype.hasOwnProperty.call(props, name)) return SchemaView.of(props[name], this.resolver);
    const ap = this.resolved.additionalProperties;
    return typeof ap === 'object' ? SchemaView.of(ap, this.resolver) : undefined;
  }

  /** True for struct fields (declared properties); false for keys of a free-form map. */
  declares(name: string): boolean {
    const props = this.resolved.properties;
    return !!props && Object.prototype.hasOwnProperty.call(props, name);
  }

  items(): SchemaView | undefined {
    return SchemaView.of(this.resolved.items, this.resolver);
  }

  /** The `default` declared for a field, used when a list-map element omits a key field. */
  fieldDefault(name: string): unknown {
    const f = this.field(name);
    return f?.ext('default');
  }

  get atomicMap(): boolean {
    return this.ext('x-kubernetes-map-type') === 'atomic';
  }

  /** Strategic-merge metadata (struct tags upstream): only patch-strategy/merge-key count. */
  patchMeta(): PatchMeta {
    const raw = this.ext('x-kubernetes-patch-strategy');
    const strategies = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : [];
    const mk = this.ext('x-kubernetes-patch-merge-key');
    return {
      merge: strategies.includes('merge'),
      retainKeys: strategies.includes('retainKeys'),
      replace: strategies.includes('replace'),
      mergeKey: typeof mk === 'string' && mk ? mk : undefined,
    };
  }

  /** List semantics for server-side apply: list-type first, then the patch strategy. */
  listKind(): ListKind {
    const lt = this.ext('x-kubernetes-list-type');
    const meta = this.patchMeta();
    if (lt === 'map') {
      const keys = this.ext('x-kubernetes-list-map-keys');
      const list = Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : meta.mergeKey ? [meta.mergeKey] : [];
      return list.length ? { type: 'map', keys: list } : { type: 'atomic' };
    }
    if (lt === 'set') return { type: 'set' };
    if (lt === 'atomic') return { type: 'atomic' };
    if (meta.merge) return meta.mergeKey ? { type: 'map', keys: [meta.mergeKey] } : { type: 'set' };
    return { type: 'atomic' };
  }
}

export function patchMetaOf(view: SchemaView | undefined): PatchMeta {
  return view ? view.patchMeta() : { merge: false, retainKeys: false, replace: false };
}
