// The Ingress routing table: which backend serves (host, path). Pure functions over Ingress
// objects, no I/O; the controller rebuilds the table whenever a served Ingress changes.
//
// Semantics (networking.k8s.io/v1, merged across Ingresses the way ingress-nginx does):
//  - A request's host (Host / :authority / SNI-independent, port stripped, lower-cased) selects one
//    "server": the exact host if some rule names it, else the wildcard `*.suffix` whose suffix
//    follows exactly one label of the host, else the catch-all server built from rules without a
//    host. Paths are then matched only within that server (no fall-through to another server).
//  - Within a server the longest matching path wins; at equal length Exact beats Prefix, and Prefix
//    beats ImplementationSpecific. Exact matches the path exactly (case-sensitive, no trailing-slash
//    folding). Prefix matches element-wise on `/`-separated segments, a trailing slash in the rule
//    being ignored: `/foo` and `/foo/` both match `/foo`, `/foo/`, `/foo/bar`, never `/foobar`.
//    ImplementationSpecific is treated as Prefix (documented choice).
//  - No path matches: the server's default backend (the `spec.defaultBackend` of the oldest
//    Ingress that contributes rules to that server), else the cluster-wide default (the oldest
//    served Ingress's `spec.defaultBackend`), else the controller answers 404.
//  - Conflicts (two Ingresses defining the same host + path + pathType, or two default backends)
//    are settled by age: the oldest Ingress (creationTimestamp, then namespace/name) wins; the
//    loser is reported by `conflicts`.
import type { KObject } from '../machinery/object.js';
import { asArr, asNum, asObj, asStr, dig, type Obj } from '../api/common/shape.js';

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export type BackendRef =
  | { kind: 'service'; namespace: string; name: string; port: number | string; ingress: string }
  | { kind: 'resource'; namespace: string; apiGroup: string; resourceKind: string; name: string; ingress: string };

export interface PathRule {
  path: string;
  /** The path as matched: Prefix rules without trailing slashes ("/" stays "/"). */
  match: string;
  type: PathType;
  backend: BackendRef;
}

export interface Server {
  /** '' for the catch-all server. */
  host: string;
  /** Sorted by precedence: longest first, Exact before Prefix before ImplementationSpecific. */
  paths: PathRule[];
  defaultBackend?: BackendRef;
}

export interface RouteTable {
  exact: Map<string, Server>;
  /** Keyed by the suffix after "*." (e.g. "foo.com" for "*.foo.com"). */
  wildcard: Map<string, Server>;
  catchAll: Server;
  /** The cluster-wide default backend (oldest served Ingress with spec.defaultBackend). */
  defaultBackend?: BackendRef;
  conflicts: string[];
}

const TYPE_RANK: Record<PathType, number> = { Exact: 0, Prefix: 1, ImplementationSpecific: 2 };

export function ingressKey(ing: KObject): string {
  return `${ing.metadata.namespace ?? ''}/${ing.metadata.name ?? ''}`;
}

/** Oldest first: creationTimestamp, then namespace/name. */
export function compareAge(a: KObject, b: KObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = ingressKey(a);
  const kb = ingressKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function readBackend(raw: unknown, ing: KObject): BackendRef | undefined {
  const b = asObj(raw);
  if (!b) return undefined;
  const namespace = ing.metadata.namespace ?? 'default';
  const ingress = ingressKey(ing);
  const svc = asObj(b.service);
  if (svc) {
    const name = asStr(svc.name);
    const port = asObj(svc.port);
    const p = asNum(port?.number) ?? asStr(port?.name);
    if (!name || p === undefined) return undefined;
    return { kind: 'service', namespace, name, port: p, ingress };
  }
  const res = asObj(b.resource);
  if (res) return { kind: 'resource', namespace, apiGroup: asStr(res.apiGroup) ?? '', resourceKind: asStr(res.kind) ?? '', name: asStr(res.name) ?? '', ingress };
  return undefined;
}

function normalizePathType(t: unknown): PathType {
  return t === 'Exact' || t === 'Prefix' ? t : 'ImplementationSpecific';
}

function matchForm(path: string, type: PathType): string {
  if (type === 'Exact') return path;
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function comparePaths(a: PathRule, b: PathRule): number {
  return b.match.length - a.match.length || TYPE_RANK[a.type] - TYPE_RANK[b.type];
}

/** Build the table from the served Ingresses (any order; age decides conflicts). */
export function buildRouteTable(ingresses: Iterable<KObject>): RouteTable {
  const sorted = [...ingresses].filter((i) => !i.metadata.deletionTimestamp).sort(compareAge);
  const table: RouteTable = { exact: new Map(), wildcard: new Map(), catchAll: { host: '', paths: [] }, conflicts: [] };
  const seen = new Map<string, string>(); // host \0 type \0 match -> winning ingress
  const serverFor = (host: string): Server => {
    if (host === '') return table.catchAll;
    const wild = host.startsWith('*.');
    const map = wild ? table.wildcard : table.exact;
    const key = wild ? host.slice(2) : host;
    let s = map.get(key);
    if (!s) map.set(key, (s = { host, paths: [] }));
    return s;
  };
  for (const ing of sorted) {
    const spec = asObj(ing.spec) ?? {};
    const key = ingressKey(ing);
    const def = readBackend(spec.defaultBackend, ing);
    if (def) {
      if (!table.defaultBackend) table.defaultBackend = def;
      else table.conflicts.push(`${key}: spec.defaultBackend ignored, ${table.defaultBackend.ingress} (older) already sets the default backend`);
    }
    for (const r of asArr(spec.rules)) {
      const rule = asObj(r) as Obj | undefined;
      if (!rule) continue;
      const host = (asStr(rule.host) ?? '').toLowerCase();
      const server = serverFor(host);
      if (def && !server.defaultBackend) server.defaultBackend = def;
      for (const p of asArr(dig(rule, 'http', 'paths'))) {
        const po = asObj(p);
        if (!po) continue;
        const backend = readBackend(po.backend, ing);
        if (!backend) continue;
        const type = normalizePathType(po.pathType);
        const path = asStr(po.path) || '/';
        const match = matchForm(path, type);
        const id = `${host}\0${type === 'Exact' ? 'E' : 'P'}\0${match}`;
        const owner = seen.get(id);
        if (owner !== undefined) {
          if (owner !== key) table.conflicts.push(`${key}: ${host || '*'}${path} (${type}) ignored, already routed by ${owner} (older)`);
          continue;
        }
        seen.set(id, key);
        server.paths.push({ path, match, type, backend });
      }
    }
  }
  const all = [table.catchAll, ...table.exact.values(), ...table.wildcard.values()];
  for (const s of all) s.paths.sort(comparePaths);
  return table;
}

/** Host header value → bare lower-case host name (port and IPv6 brackets removed, trailing dot dropped). */
export function normalizeHost(raw: string | undefined): string {
  if (!raw) return '';
  let h = raw.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.indexOf(':');
  if (colon >= 0 && h.indexOf(':', colon + 1) < 0) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

/** The server for a (normalized) host: exact, then single-label wildcard, then the catch-all. */
export function serverFor(table: RouteTable, host: string): Server {
  const exact = table.exact.get(host);
  if (exact) return exact;
  if (table.wildcard.size) {
    const dot = host.indexOf('.');
    if (dot > 0) {
      const w = table.wildcard.get(host.slice(dot + 1));
      if (w) return w;
    }
  }
  return table.catchAll;
}

export function pathMatches(rule: PathRule, path: string): boolean {
  if (rule.type === 'Exact') return path === rule.match;
  const m = rule.match;
  if (m === '/') return true;
  if (!path.startsWith(m)) return false;
  return path.length === m.length || path.charCodeAt(m.length) === 47; /* '/' */
}

/** The backend for a request, or undefined for the controller's own 404. `path` excludes the query. */
export function route(table: RouteTable, host: string, path: string): { backend?: BackendRef; rule?: PathRule; server: Server } {
  const server = serverFor(table, host);
  for (const rule of server.paths) if (pathMatches(rule, path)) return { backend: rule.backend, rule, server };
  return { backend: server.defaultBackend ?? table.defaultBackend, server };
}

/** Every host named by the table's rules (for diagnostics). */
export function hostsOf(table: RouteTable): string[] {
  return [...table.exact.keys(), ...[...table.wildcard.keys()].map((k) => `*.${k}`)];
}
