// The registry of served kinds: built-in ones registered at start-up, CRD-defined ones added and
// removed while the server runs. Discovery, OpenAPI and REST routing all read it.
import { EventEmitter } from 'node:events';
import type { KindSpec } from './types.js';

export const DEFAULT_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export class Registry extends EventEmitter {
  constructor() {
    super();
    // Every in-process watch listens for its kind going away (a deleted CRD): many listeners are normal.
    this.setMaxListeners(0);
  }

  private byResource = new Map<string, KindSpec>(); // "group/version/plural"
  private byKind = new Map<string, KindSpec>(); // "group/version/Kind"

  add(spec: KindSpec): void {
    this.byResource.set(`${spec.group}/${spec.version}/${spec.plural}`, spec);
    this.byKind.set(`${spec.group}/${spec.version}/${spec.kind}`, spec);
    this.emit('changed');
  }

  remove(group: string, version: string, plural: string): void {
    const spec = this.byResource.get(`${group}/${version}/${plural}`);
    if (!spec) return;
    this.byResource.delete(`${group}/${version}/${plural}`);
    this.byKind.delete(`${group}/${version}/${spec.kind}`);
    this.emit('changed');
  }

  lookup(group: string, version: string, plural: string): KindSpec | undefined {
    return this.byResource.get(`${group}/${version}/${plural}`);
  }

  lookupKind(group: string, version: string, kind: string): KindSpec | undefined {
    return this.byKind.get(`${group}/${version}/${kind}`);
  }

  all(): KindSpec[] {
    return [...this.byResource.values()];
  }

  /** Groups with their versions in preference order; core group is ''. */
  groups(): Map<string, string[]> {
    const out = new Map<string, Map<string, number>>();
    for (const s of this.byResource.values()) {
      if (!out.has(s.group)) out.set(s.group, new Map());
      const vs = out.get(s.group)!;
      vs.set(s.version, Math.min(vs.get(s.version) ?? Infinity, s.versionPriority ?? 0));
    }
    const res = new Map<string, string[]>();
    for (const [g, vs] of [...out.entries()].sort(([a], [b]) => a.localeCompare(b)))
      res.set(g, [...vs.entries()].sort((a, b) => a[1] - b[1] || compareVersions(a[0], b[0])).map(([v]) => v));
    return res;
  }
}

/** Kubernetes version ordering: GA > beta > alpha, higher numbers first (v2 > v1 > v1beta2 > v1beta1 > v1alpha1). */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v] as const;
    const stage = m[2] === 'alpha' ? 2 : m[2] === 'beta' ? 1 : 0;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0), v] as const;
  };
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] as number) - (pb[i] as number);
  return a.localeCompare(b);
}
