// RBAC's no-escalation rule (upstream pkg/registry/rbac): nobody grants permissions they do not
// hold. Writing a Role/ClusterRole needs every one of its rules to be covered by the writer's own
// rules in that namespace (or the `escalate` verb on it); writing a binding needs the referenced
// role's rules (or the `bind` verb on that role). An aggregationRule needs full authority.
// system:masters is exempt, which covers the control plane's own writes (aggregation, bootstrap).
import type { AdmissionPlugin } from '../apiserver/resources.js';
import type { UserInfo } from '../apiserver/context.js';
import { StatusError } from '../machinery/errors.js';
import { jsonEqual, type KObject } from '../machinery/object.js';
import { RBAC_GROUP, SYSTEM_MASTERS, type PolicyRule, type RbacAuthorizer } from './rbac.js';

const list = (v: string[] | undefined) => v ?? [];

/** One verb on one resource (and name) of one group, or one verb on one URL. */
export function breakdownRule(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const g of list(rule.apiGroups))
    for (const r of list(rule.resources))
      for (const v of list(rule.verbs)) {
        if (list(rule.resourceNames).length) for (const n of rule.resourceNames!) out.push({ verbs: [v], apiGroups: [g], resources: [r], resourceNames: [n] });
        else out.push({ verbs: [v], apiGroups: [g], resources: [r] });
      }
  for (const u of list(rule.nonResourceURLs)) for (const v of list(rule.verbs)) out.push({ verbs: [v], nonResourceURLs: [u] });
  return out;
}

const coversAll = (owner: string[] | undefined, wanted: string[] | undefined) => list(owner).includes('*') || list(wanted).every((w) => list(owner).includes(w));

function resourceCovers(owner: string[] | undefined, wanted: string): boolean {
  const o = list(owner);
  if (o.includes('*') || o.includes(wanted)) return true;
  const slash = wanted.indexOf('/');
  return slash >= 0 && o.includes(`*${wanted.slice(slash)}`);
}

function urlCovers(owner: string[] | undefined, wanted: string): boolean {
  return list(owner).some((u) => u === '*' || u === wanted || (u.endsWith('*') && wanted.startsWith(u.replace(/\*+$/, ''))));
}

/** Does `owner` allow everything `wanted` (an atomic rule) allows? */
export function ruleCovers(owner: PolicyRule, wanted: PolicyRule): boolean {
  if (!coversAll(owner.verbs, wanted.verbs)) return false;
  if (list(wanted.nonResourceURLs).length) return list(wanted.nonResourceURLs).every((u) => urlCovers(owner.nonResourceURLs, u));
  if (!coversAll(owner.apiGroups, wanted.apiGroups)) return false;
  if (!list(wanted.resources).every((r) => resourceCovers(owner.resources, r))) return false;
  if (list(owner.resourceNames).length === 0) return true;
  return list(wanted.resourceNames).length > 0 && list(wanted.resourceNames).every((n) => owner.resourceNames!.includes(n));
}

/** The atomic rules of `wanted` that no rule of `owner` covers (empty: no escalation). */
export function uncoveredRules(owner: PolicyRule[], wanted: PolicyRule[]): PolicyRule[] {
  const missing: PolicyRule[] = [];
  for (const r of wanted) for (const atom of breakdownRule(r)) if (!owner.some((o) => ruleCovers(o, atom))) missing.push(atom);
  return missing;
}

function describeRule(r: PolicyRule): string {
  if (list(r.nonResourceURLs).length) return `{NonResourceURLs:${JSON.stringify(r.nonResourceURLs)}, Verbs:${JSON.stringify(r.verbs)}}`;
  const names = list(r.resourceNames).length ? `, ResourceNames:${JSON.stringify(r.resourceNames)}` : '';
  return `{APIGroups:${JSON.stringify(r.apiGroups)}, Resources:${JSON.stringify(r.resources)}${names}, Verbs:${JSON.stringify(r.verbs)}}`;
}

const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
  { verbs: ['*'], nonResourceURLs: ['*'] },
];

export function rbacEscalationAdmission(authz: RbacAuthorizer): AdmissionPlugin {
  const ownerRules = (user: UserInfo, ns: string | undefined): PolicyRule[] => {
    const r = authz.rulesFor(user, ns);
    return [...r.resourceRules, ...r.nonResourceRules.map((n) => ({ verbs: n.verbs, nonResourceURLs: n.nonResourceURLs }))];
  };
  const forbid = (plural: string, name: string, message: string) =>
    new StatusError(403, 'Forbidden', `${plural}.${RBAC_GROUP} ${JSON.stringify(name)} is forbidden: ${message}`, { name, group: RBAC_GROUP, kind: plural });
  const confirm = (user: UserInfo, ns: string | undefined, rules: PolicyRule[], plural: string, name: string) => {
    const missing = uncoveredRules(ownerRules(user, ns), rules);
    if (missing.length)
      throw forbid(
        plural,
        name,
        `user ${JSON.stringify(user.name)} (groups=${JSON.stringify(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.map(describeRule).join('\n')}`,
      );
  };
  const allowedVerb = (user: UserInfo, verb: string, plural: string, ns: string | undefined, name: string) =>
    authz.authorize(user, { verb, resourceRequest: true, apiGroup: RBAC_GROUP, resource: plural, namespace: ns, name }).allowed;

  return {
    name: 'RBACEscalation',
    async admit(op, spec, obj, old, ctx) {
      if (spec.group !== RBAC_GROUP || op === 'DELETE') return;
      const user = ctx.user;
      if (user.groups.includes(SYSTEM_MASTERS)) return;
      const ns = obj.metadata.namespace || undefined;
      const name = obj.metadata.name ?? '';
      const o = obj as KObject & { rules?: PolicyRule[]; aggregationRule?: unknown; roleRef?: { kind?: string; name?: string }; subjects?: unknown };
      if (spec.kind === 'Role' || spec.kind === 'ClusterRole') {
        if (old && jsonEqual(o.rules, (old as typeof o).rules) && jsonEqual(o.aggregationRule, (old as typeof o).aggregationRule)) return;
        if (allowedVerb(user, 'escalate', spec.plural, ns, name)) return;
        if (spec.kind === 'ClusterRole' && o.aggregationRule !== undefined && o.aggregationRule !== null) {
          if (uncoveredRules(ownerRules(user, undefined), FULL_AUTHORITY).length)
            throw forbid(spec.plural, name, 'must have cluster-admin privileges to use the aggregationRule');
          return;
        }
        confirm(user, ns, o.rules ?? [], spec.plural, name);
        return;
      }
      if (spec.kind === 'RoleBinding' || spec.kind === 'ClusterRoleBinding') {
        if (old && jsonEqual(o.roleRef, (old as typeof o).roleRef) && jsonEqual(o.subjects, (old as typeof o).subjects)) return;
        const refKind = o.roleRef?.kind ?? '';
        const refName = o.roleRef?.name ?? '';
        const refPlural = refKind === 'Role' ? 'roles' : 'clusterroles';
        if (allowedVerb(user, 'bind', refPlural, ns, refName)) return;
        const role = refKind === 'Role' ? authz.index.role(ns ?? '', refName) : authz.index.clusterRole(refName);
        // A binding to a role that does not exist yet grants nothing yet (upstream lets it through).
        confirm(user, ns, ((role as typeof o | undefined)?.rules ?? []) as PolicyRule[], spec.plural, name);
      }
    },
  };
}
