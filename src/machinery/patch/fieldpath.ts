// Field sets: the unit of ownership in server-side apply, and their FieldsV1 wire encoding.
//
// A path is a list of path elements, each already in its FieldsV1 spelling:
//   f:<field name>            a field of an object
//   k:<compact JSON object>   an element of an associative (map-type) list, by its key fields
//   v:<compact JSON value>    an element of a set-type list, by its value
//   i:<index>                 an element of a list we cannot key (upstream uses it for atomic lists too)
// A FieldSet is a tree keyed by those elements; `member` marks the node itself as in the set
// (the `.` entry in FieldsV1).

/** Canonical compact JSON: object keys sorted, so equal values always spell the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export const pathElement = {
  field: (name: string) => `f:${name}`,
  key: (fields: Record<string, unknown>) => `k:${canonicalJson(fields)}`,
  value: (v: unknown) => `v:${canonicalJson(v)}`,
  index: (i: number) => `i:${i}`,
};

// Upstream orders path elements field < key < value < index, then lexically within a kind.
const KIND_ORDER: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

function compareElements(a: string, b: string): number {
  const ka = KIND_ORDER[a[0]] ?? 4;
  const kb = KIND_ORDER[b[0]] ?? 4;
  if (ka !== kb) return ka - kb;
  if (a[0] === 'i') return Number(a.slice(2)) - Number(b.slice(2));
  return a < b ? -1 : a > b ? 1 : 0;
}

export class FieldSet {
  member = false;
  readonly children = new Map<string, FieldSet>();

  /** The child node for a path element, created when missing. */
  child(pe: string): FieldSet {
    let c = this.children.get(pe);
    if (!c) {
      c = new FieldSet();
      this.children.set(pe, c);
    }
    return c;
  }

  insert(path: readonly string[]): void {
    this.node(path).member = true;
  }

  /** The node at `path`, created (with its ancestors) when missing. */
  node(path: readonly string[]): FieldSet {
    let node: FieldSet = this;
    for (const pe of path) node = node.child(pe);
    return node;
  }

  has(path: readonly string[]): boolean {
    let node: FieldSet | undefined = this;
    for (const pe of path) {
      node = node.children.get(pe);
      if (!node) return false;
    }
    return node.member;
  }

  /** The node at a path, if any part of the set lies at or below it. */
  at(path: readonly string[]): FieldSet | undefined {
    let node: FieldSet | undefined = this;
    for (const pe of path) {
      node = node?.children.get(pe);
      if (!node) return undefined;
    }
    return node;
  }

  isEmpty(): boolean {
    if (this.member) return false;
    for (const c of this.children.values()) if (!c.isEmpty()) return false;
    return true;
  }

  /** A deep copy. */
  clone(): FieldSet {
    const out = new FieldSet();
    out.member = this.member;
    for (const [pe, c] of this.children) out.children.set(pe, c.clone());
    return out;
  }

  union(other: FieldSet): FieldSet {
    // The union of two pruned sets is pruned: no empty node can appear.
    const out = new FieldSet();
    out.member = this.member || other.member;
    for (const [pe, c] of this.children) {
      const o = other.children.get(pe);
      out.children.set(pe, o ? c.union(o) : c.clone());
    }
    for (const [pe, c] of other.children) if (!this.children.has(pe)) out.children.set(pe, c.clone());
    return out;
  }

  /** Members of this set that are not members of `other` (membership is per node, not per subtree). */
  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    out.member = this.member && !other.member;
    for (const [pe, c] of this.children) out.children.set(pe, c.difference(other.children.get(pe) ?? EMPTY));
    return out.pruned();
  }

  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    out.member = this.member && other.member;
    for (const [pe, c] of this.children) {
      const o = other.children.get(pe);
      if (o) out.children.set(pe, c.intersection(o));
    }
    return out.pruned();
  }

  /** A copy without the node at `path` and everything below it. */
  withoutSubtree(path: readonly string[]): FieldSet {
    return this.clone().removeSubtree(path);
  }

  /** A copy without membership of exactly the node at `path` (its children stay). */
  withoutMember(path: readonly string[]): FieldSet {
    return this.clone().removeMember(path);
  }

  /** In place: drops the node at `path` and everything below it. */
  removeSubtree(path: readonly string[]): this {
    if (path.length === 0) {
      this.member = false;
      this.children.clear();
      return this;
    }
    this.at(path.slice(0, -1))?.children.delete(path[path.length - 1]);
    return this.pruned();
  }

  /** In place: drops membership of exactly the node at `path` (its children stay). */
  removeMember(path: readonly string[]): this {
    const node = this.at(path);
    if (node) node.member = false;
    return this.pruned();
  }

  /** Every member path, depth-first in upstream order. */
  paths(): string[][] {
    const out: string[][] = [];
    const walk = (node: FieldSet, prefix: string[]) => {
      if (node.member && prefix.length) out.push(prefix);
      for (const pe of [...node.children.keys()].sort(compareElements)) walk(node.children.get(pe)!, [...prefix, pe]);
    };
    walk(this, []);
    return out;
  }

  toFieldsV1(): Record<string, unknown> {
    return this.encode() ?? {};
  }

  /** FieldsV1 of this node, or undefined when nothing at or below it is a member. */
  private encode(): Record<string, unknown> | undefined {
    const out: Record<string, unknown> = {};
    let any = false;
    const keys = this.children.size > 1 ? [...this.children.keys()].sort(compareElements) : this.children.keys();
    const encoded: [string, Record<string, unknown>][] = [];
    for (const pe of keys) {
      const v = this.children.get(pe)!.encode();
      if (v !== undefined) encoded.push([pe, v]);
    }
    // A member leaf is `{}`; `.` marks membership only on a node that also has children.
    if (this.member && encoded.length) out['.'] = {};
    for (const [pe, v] of encoded) {
      out[pe] = v;
      any = true;
    }
    return any || this.member ? out : undefined;
  }

  /** Decodes FieldsV1 JSON; throws on anything that is not a tree of objects with valid keys. */
  static fromFieldsV1(v: unknown): FieldSet {
    const set = new FieldSet();
    const walk = (json: unknown, node: FieldSet, depth: number) => {
      if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('fieldsV1 entries must be objects');
      if (depth > 1000) throw new Error('fieldsV1 is nested too deeply');
      const entries = Object.entries(json as Record<string, unknown>);
      for (const [key, sub] of entries) {
        if (key === '.') {
          node.member = true;
          continue;
        }
        if (!/^[fkvi]:/.test(key)) throw new Error(`unknown fieldsV1 path element ${JSON.stringify(key)}`);
        const child = node.child(key);
        walk(sub, child, depth + 1);
        // `"f:x": {}` is a leaf member; a node with children is a member only through its `.` entry.
        if (typeof sub === 'object' && sub !== null && Object.keys(sub).length === 0) child.member = true;
      }
    };
    walk(v, set, 0);
    return set;
  }

  /** In place: drops children with no member at or below them. */
  pruned(): this {
    for (const [pe, c] of this.children) if (c.isEmpty()) this.children.delete(pe);
    return this;
  }
}

const EMPTY = new FieldSet();

/** Upstream's human spelling of a path: `.spec.containers[name="web"].image`, `[=value]`, `[3]`. */
export function pathString(path: readonly string[]): string {
  return path
    .map((pe) => {
      const body = pe.slice(2);
      switch (pe[0]) {
        case 'f':
          return `.${body}`;
        case 'k': {
          try {
            const fields = JSON.parse(body) as Record<string, unknown>;
            return `[${Object.entries(fields)
              .map(([k, v]) => `${k}=${canonicalJson(v)}`)
              .join(',')}]`;
          } catch {
            return `[${body}]`;
          }
        }
        case 'v':
          return `[=${body}]`;
        default:
          return `[${body}]`;
      }
    })
    .join('');
}
