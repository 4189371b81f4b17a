// The RBAC authorizer: "may this user do this verb on this resource (or path)?" answered from
// Roles, ClusterRoles and their bindings, the way upstream's plugin/pkg/auth/authorizer/rbac does:
// a request is allowed when any rule of any role bound to the user (cluster-wide through a
// ClusterRoleBinding, or in the request's namespace through a RoleBinding) covers it. Nothing is
// ever denied explicitly; "no rule matched" is the only refusal.
//
// The four RBAC resources are kept in an in-memory index fed by watches on the Resources class,
// so a decision never touches the store and a new binding counts as soon as its write commits.
import type { UserInfo } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';
import type { RequestInfo } from '../apiserver/request-info.js';
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import type { WatchHandle } from '../storage/store.js';

export const RBAC_GROUP = 'rbac.authorization.k8s.io';
/** Members of this group may do everything, before RBAC is even consulted (upstream's privileged-groups authorizer). */
export const SYSTEM_MASTERS = 'system:masters';

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Subject {
  kind: string;
  apiGroup?: string;
  name: string;
  namespace?: string;
}

/** What a request asks to do (upstream's authorizer.Attributes without the user). */
export interface Attributes {
  verb: string;
  /** true for /api and /apis object requests, false for any other path. */
  resourceRequest: boolean;
  namespace?: string;
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  name?: string;
  /** The request path, for non-resource requests. */
  path?: string;
}

export interface Decision {
  allowed: boolean;
  /** Why it was allowed ("RBAC: allowed by …"), or why the check could not be complete. */
  reason: string;
}

export interface Authorizer {
  authorize(user: UserInfo, attrs: Attributes): Decision;
}

export interface UserRules {
  resourceRules: { verbs: string[]; apiGroups: string[]; resources: string[]; resourceNames?: string[] }[];
  nonResourceRules: { verbs: string[]; nonResourceURLs: string[] }[];
  /** Problems met while collecting (a binding to a role that does not exist). */
  errors: string[];
}

// ---- rule matching (upstream rbac/v1 helpers) ----

const has = (list: string[] | undefined, v: string): boolean => !!list && (list.includes('*') || list.includes(v));

export function verbMatches(rule: PolicyRule, verb: string): boolean {
  return has(rule.verbs, verb);
}

export function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  return has(rule.apiGroups, group);
}

/**
 * `resource` is the combined "pods/log" form. A rule's "*" covers every resource and subresource;
 * "pods" covers only pods itself; "*\/log" covers the log subresource of anything.
 */
export function resourceMatches(rule: PolicyRule, combined: string, subresource: string | undefined): boolean {
  for (const r of rule.resources ?? []) {
    if (r === '*' || r === combined) return true;
    if (subresource && r === `*/${subresource}`) return true;
  }
  return false;
}

/** No resourceNames means any name; otherwise the request must name one of them (so list/create never match). */
export function resourceNameMatches(rule: PolicyRule, name: string | undefined): boolean {
  const names = rule.resourceNames ?? [];
  if (names.length === 0) return true;
  return !!name && names.includes(name);
}

/** "*" matches every path, "/apis/*" every path under /apis/, anything else exactly. */
export function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  for (const u of rule.nonResourceURLs ?? []) {
    if (u === '*' || u === path) return true;
    if (u.endsWith('*') && path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

export function ruleAllows(rule: PolicyRule, attrs: Attributes): boolean {
  if (!verbMatches(rule, attrs.verb)) return false;
  if (!attrs.resourceRequest) return nonResourceURLMatches(rule, attrs.path ?? '');
  const resource = attrs.resource ?? '';
  const combined = attrs.subresource ? `${resource}/${attrs.subresource}` : resource;
  return apiGroupMatches(rule, attrs.apiGroup ?? '') && resourceMatches(rule, combined, attrs.subresource) && resourceNameMatches(rule, attrs.name);
}

// ---- subjects ----

export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** `system:serviceaccount:<ns>:<name>` → [ns, name]. */
export function parseServiceAccountUsername(user: string): [string, string] | undefined {
  const prefix = 'system:serviceaccount:';
  if (!user.startsWith(prefix)) return undefined;
  const parts = user.slice(prefix.length).split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return [parts[0], parts[1]];
}

/** Does this binding subject name the user? A ServiceAccount subject without a namespace takes the binding's. */
export function subjectMatches(s: Subject, user: UserInfo, bindingNamespace: string): boolean {
  switch (s.kind) {
    case 'User':
      return user.name === s.name;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      if (!ns) return false;
      return user.name === serviceAccountUsername(ns, s.name);
    }
    default:
      return false;
  }
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === 'ServiceAccount') return `${s.kind} ${JSON.stringify(`${s.name}/${s.namespace || bindingNamespace}`)}`;
  return `${s.kind} ${JSON.stringify(s.name)}`;
}

// ---- the index ----

function rulesOf(role: KObject | undefined): PolicyRule[] {
  const rules = (role as { rules?: unknown } | undefined)?.rules;
  return Array.isArray(rules) ? (rules.filter((r) => r && typeof r === 'object') as PolicyRule[]) : [];
}

function subjectsOf(binding: KObject): Subject[] {
  const s = (binding as { subjects?: unknown }).subjects;
  return Array.isArray(s) ? (s.filter((x) => x && typeof x === 'object') as Subject[]) : [];
}

function roleRefOf(binding: KObject): { kind: string; name: string } {
  const r = (binding as { roleRef?: { kind?: string; name?: string } }).roleRef ?? {};
  return { kind: r.kind ?? '', name: r.name ?? '' };
}

type RbacKind = 'Role' | 'ClusterRole' | 'RoleBinding' | 'ClusterRoleBinding';
const PLURALS: Record<RbacKind, string> = { Role: 'roles', ClusterRole: 'clusterroles', RoleBinding: 'rolebindings', ClusterRoleBinding: 'clusterrolebindings' };

/** Roles and bindings by name (namespaced ones by namespace, then name). */
export class RbacIndex {
  readonly clusterRoles = new Map<string, KObject>();
  readonly clusterRoleBindings = new Map<string, KObject>();
  readonly roles = new Map<string, Map<string, KObject>>();
  readonly roleBindings = new Map<string, Map<string, KObject>>();
  private watches: WatchHandle[] = [];

  private table(kind: RbacKind): Map<string, KObject> | Map<string, Map<string, KObject>> {
    return kind === 'ClusterRole' ? this.clusterRoles : kind === 'ClusterRoleBinding' ? this.clusterRoleBindings : kind === 'Role' ? this.roles : this.roleBindings;
  }

  upsert(kind: RbacKind, obj: KObject): void {
    const name = obj.metadata.name!;
    if (kind === 'ClusterRole' || kind === 'ClusterRoleBinding') (this.table(kind) as Map<string, KObject>).set(name, obj);
    else {
      const t = this.table(kind) as Map<string, Map<string, KObject>>;
      const ns = obj.metadata.namespace ?? '';
      let m = t.get(ns);
      if (!m) t.set(ns, (m = new Map()));
      m.set(name, obj);
    }
  }

  remove(kind: RbacKind, obj: KObject): void {
    const name = obj.metadata.name!;
    if (kind === 'ClusterRole' || kind === 'ClusterRoleBinding') (this.table(kind) as Map<string, KObject>).delete(name);
    else {
      const t = this.table(kind) as Map<string, Map<string, KObject>>;
      const ns = obj.metadata.namespace ?? '';
      t.get(ns)?.delete(name);
      if (t.get(ns)?.size === 0) t.delete(ns);
    }
  }

  /** Add an object of any of the four kinds (by its `kind`). */
  add(obj: KObject): void {
    if (obj.kind && obj.kind in PLURALS) this.upsert(obj.kind as RbacKind, obj);
  }

  /** Fill the index from the API and follow it (current state first, then every change). */
  async start(resources: Resources): Promise<void> {
    for (const kind of Object.keys(PLURALS) as RbacKind[]) {
      const spec = resources.spec(RBAC_GROUP, 'v1', PLURALS[kind]);
      const h = await resources.watch(spec, undefined, {}, (ev) => {
        if (ev.type === 'DELETED') this.remove(kind, ev.object);
        else this.upsert(kind, ev.object);
      });
      this.watches.push(h);
    }
    // The snapshot of each watch arrives synchronously before watch() returns; live events follow in microtasks.
  }

  stop(): void {
    for (const w of this.watches) w.stop();
    this.watches = [];
  }

  clusterRole(name: string): KObject | undefined {
    return this.clusterRoles.get(name);
  }

  role(namespace: string, name: string): KObject | undefined {
    return this.roles.get(namespace)?.get(name);
  }
}

// ---- the authorizer ----

interface RuleSource {
  describe: () => string;
  rules: PolicyRule[];
}

export interface RbacAuthorizerOptions {
  /** Groups allowed everything without looking at RBAC; default ["system:masters"]. */
  privilegedGroups?: string[];
}

export class RbacAuthorizer implements Authorizer {
  private privileged: string[];

  constructor(
    readonly index: RbacIndex,
    opts: RbacAuthorizerOptions = {},
  ) {
    this.privileged = opts.privilegedGroups ?? [SYSTEM_MASTERS];
  }

  /** Rules granted to the user cluster-wide, then (when namespace is set) in that namespace. */
  private *sources(user: UserInfo, namespace: string | undefined, errors: string[]): Generator<RuleSource> {
    const crbs = [...this.index.clusterRoleBindings.values()].sort(byName);
    for (const b of crbs) {
      const subject = subjectsOf(b).find((s) => subjectMatches(s, user, ''));
      if (!subject) continue;
      const ref = roleRefOf(b);
      const role = ref.kind === 'ClusterRole' ? this.index.clusterRole(ref.name) : undefined;
      if (!role) {
        errors.push(`clusterrole.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`);
        continue;
      }
      yield {
        describe: () => `ClusterRoleBinding ${JSON.stringify(b.metadata.name)} of ClusterRole ${JSON.stringify(ref.name)} to ${describeSubject(subject, '')}`,
        rules: rulesOf(role),
      };
    }
    if (!namespace) return;
    const rbs = [...(this.index.roleBindings.get(namespace)?.values() ?? [])].sort(byName);
    for (const b of rbs) {
      const subject = subjectsOf(b).find((s) => subjectMatches(s, user, namespace));
      if (!subject) continue;
      const ref = roleRefOf(b);
      const role = ref.kind === 'ClusterRole' ? this.index.clusterRole(ref.name) : ref.kind === 'Role' ? this.index.role(namespace, ref.name) : undefined;
      if (!role) {
        errors.push(
          ref.kind === 'Role'
            ? `role.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`
            : `clusterrole.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`,
        );
        continue;
      }
      yield {
        describe: () =>
          `RoleBinding ${JSON.stringify(`${b.metadata.name}/${namespace}`)} of ${ref.kind} ${JSON.stringify(ref.name)} to ${describeSubject(subject, namespace)}`,
        rules: rulesOf(role),
      };
    }
  }

  authorize(user: UserInfo, attrs: Attributes): Decision {
    if (user.groups.some((g) => this.privileged.includes(g))) return { allowed: true, reason: '' };
    const errors: string[] = [];
    // Namespaced grants apply only to resource requests in a namespace.
    const ns = attrs.resourceRequest ? attrs.namespace || undefined : undefined;
    for (const src of this.sources(user, ns, errors)) {
      if (src.rules.some((r) => ruleAllows(r, attrs))) return { allowed: true, reason: `RBAC: allowed by ${src.describe()}` };
    }
    return { allowed: false, reason: errors.length ? `RBAC: [${errors.join(', ')}]` : '' };
  }

  /** Everything the user may do in `namespace` (for SelfSubjectRulesReview / `kubectl auth can-i --list`). */
  rulesFor(user: UserInfo, namespace: string | undefined): UserRules {
    const out: UserRules = { resourceRules: [], nonResourceRules: [], errors: [] };
    const rules: PolicyRule[] = [];
    if (user.groups.some((g) => this.privileged.includes(g)))
      rules.push({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, { verbs: ['*'], nonResourceURLs: ['*'] });
    for (const src of this.sources(user, namespace || undefined, out.errors)) rules.push(...src.rules);
    const seen = new Set<string>();
    for (const r of rules) {
      const key = JSON.stringify(r);
      if (seen.has(key)) continue;
      seen.add(key);
      if ((r.nonResourceURLs ?? []).length) out.nonResourceRules.push({ verbs: [...r.verbs], nonResourceURLs: [...r.nonResourceURLs!] });
      if ((r.resources ?? []).length) {
        const rr: UserRules['resourceRules'][number] = { verbs: [...r.verbs], apiGroups: [...(r.apiGroups ?? [])], resources: [...r.resources!] };
        if ((r.resourceNames ?? []).length) rr.resourceNames = [...r.resourceNames!];
        out.resourceRules.push(rr);
      }
    }
    return out;
  }
}

function byName(a: KObject, b: KObject): number {
  return (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

// ---- request attributes and the Forbidden answer ----

/**
 * The attributes of an HTTP request, from the handler's RequestInfo. As upstream, a request for a
 * namespace object (`/api/v1/namespaces/foo`) is "in" that namespace, so a RoleBinding there can
 * grant reading it.
 */
export function attributesFor(info: RequestInfo): Attributes {
  if (!info.isResourceRequest) return { verb: info.verb, resourceRequest: false, path: info.path };
  const attrs: Attributes = {
    verb: info.verb,
    resourceRequest: true,
    apiGroup: info.group,
    resource: info.resource,
    subresource: info.subresource || undefined,
    name: info.name,
    namespace: info.namespace,
  };
  if (info.resource === 'namespaces' && info.name && !info.namespace) attrs.namespace = info.name;
  return attrs;
}

/** Upstream's forbidden message: `User "u" cannot list resource "pods" in API group "" in the namespace "default"`. */
export function forbiddenMessage(user: UserInfo, attrs: Attributes): string {
  if (!attrs.resourceRequest) return `User ${JSON.stringify(user.name)} cannot ${attrs.verb} path ${JSON.stringify(attrs.path ?? '')}`;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource ?? '';
  const where = attrs.namespace ? `in the namespace ${JSON.stringify(attrs.namespace)}` : 'at the cluster scope';
  return `User ${JSON.stringify(user.name)} cannot ${attrs.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attrs.apiGroup ?? '')} ${where}`;
}

/** The 403 Status kubectl prints as `Error from server (Forbidden): pods is forbidden: User …`. */
export function forbidden(user: UserInfo, attrs: Attributes, reason = ''): StatusError {
  let msg = forbiddenMessage(user, attrs);
  if (reason) msg = `${msg}: ${reason}`;
  if (!attrs.resourceRequest || !attrs.resource) return new StatusError(403, 'Forbidden', `forbidden: ${msg}`, {});
  const qualified = attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource;
  const message = attrs.name ? `${qualified} ${JSON.stringify(attrs.name)} is forbidden: ${msg}` : `${qualified} is forbidden: ${msg}`;
  return new StatusError(403, 'Forbidden', message, { name: attrs.name, group: attrs.apiGroup || undefined, kind: attrs.resource });
}

/** Throws the Forbidden Status unless the user may; the one call the request path needs. */
export function requireAllowed(authz: Authorizer, user: UserInfo, attrs: Attributes): void {
  const d = authz.authorize(user, attrs);
  if (!d.allowed) throw forbidden(user, attrs, d.reason);
}
