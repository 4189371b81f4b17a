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

// Views are immutable and walks ask for the same ones over and over: one view per (resolver, node).
const IDENTITY: SchemaResolver = (n) => n;
const views = new WeakMap<SchemaResolver, WeakMap<SchemaNode, SchemaView>>();

export class SchemaView {
  private readonly resolved: SchemaNode;
  private readonly fields = new Map<string, SchemaView | undefined>();
  private additional?: SchemaView | null;
  private itemsView?: SchemaView | null;
  private listKindMemo?: ListKind;

  private constructor(
    private readonly raw: SchemaNode,
    private readonly resolver: SchemaResolver,
  ) {
    this.resolved = resolver(raw) ?? raw;
  }

  static of(node: SchemaNode | undefined, resolve?: SchemaResolver): SchemaView | undefined {
    if (!node || typeof node !== 'object') return undefined;
    const resolver = resolve ?? IDENTITY;
    let byNode = views.get(resolver);
    if (!byNode) views.set(resolver, (byNode = new WeakMap()));
    let view = byNode.get(node);
    if (!view) byNode.set(node, (view = new SchemaView(node, resolver)));
    return view;
  }

  ext(name: string): unknown {
    return this.raw[name] !== undefined ? this.raw[name] : this.resolved[name];
  }

  /** The schema of field `name`: a declared property, else the additionalProperties schema. */
  field(name: string): SchemaView | undefined {
    // Declared properties are memoized (bounded by the schema); any other key shares one view.
    const props = this.resolved.properties;
    if (props && Object.prototype.hasOwnProperty.call(props, name)) {
      let view = this.fields.get(name);
      if (!view) this.fields.set(name, (view = SchemaView.of(props[name], this.resolver)));
      return view;
    }
    if (this.additional === undefined) {
      const ap = this.resolved.additionalProperties;
      this.additional = (typeof ap === 'object' ? SchemaView.of(ap, this.resolver) : undefined) ?? null;
    }
    return this.additional ?? undefined;
  }

  /** True for struct fields (declared properties); false for keys of a free-form map. */
  declares(name: string): boolean {
    const props = this.resolved.properties;
    return !!props && Object.prototype.hasOwnProperty.call(props, name);
  }

  items(): SchemaView | undefined {
    if (this.itemsView === undefined) this.itemsView = SchemaView.of(this.resolved.items, this.resolver) ?? null;
    return this.itemsView ?? undefined;
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
    return (this.listKindMemo ??= this.computeListKind());
  }

  private computeListKind(): ListKind {
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
