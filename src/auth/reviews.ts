// Access reviews answered by the authorizer, replacing the "everything is allowed" stubs:
//   SelfSubjectAccessReview   `kubectl auth can-i create pods [--as …]` — about the requester
//   SubjectAccessReview       about any user/groups (cluster-wide question)
//   LocalSubjectAccessReview  about any user, in the URL's namespace
//   SelfSubjectRulesReview    `kubectl auth can-i --list` — the requester's rules in a namespace
import type { UserInfo } from '../apiserver/context.js';
import type { SubresourceHandlers } from '../apiserver/subresources.js';
import { isPlainObject, type KObject } from '../machinery/object.js';
import type { Attributes, Authorizer, Decision, UserRules } from './rbac.js';

export interface ReviewAuthorizer extends Authorizer {
  /** Optional: lets SelfSubjectRulesReview list rules (RbacAuthorizer has it). */
  rulesFor?(user: UserInfo, namespace: string | undefined): UserRules;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** spec.resourceAttributes / spec.nonResourceAttributes → Attributes. */
export function reviewAttributes(spec: Record<string, unknown>): Attributes {
  const ra = isPlainObject(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
  if (ra) {
    const attrs: Attributes = {
      verb: str(ra.verb),
      resourceRequest: true,
      namespace: str(ra.namespace) || undefined,
      apiGroup: str(ra.group),
      resource: str(ra.resource),
      subresource: str(ra.subresource) || undefined,
      name: str(ra.name) || undefined,
    };
    return attrs;
  }
  const nra = isPlainObject(spec.nonResourceAttributes) ? spec.nonResourceAttributes : {};
  return { verb: str(nra.verb), resourceRequest: false, path: str(nra.path) };
}

function status(d: Decision): KObject['status'] {
  const s: Record<string, unknown> = { allowed: d.allowed };
  if (d.reason) s.reason = d.reason;
  return s;
}

/** The user a SubjectAccessReview asks about (spec.user, groups, uid, extra). */
function subjectOf(spec: Record<string, unknown>): UserInfo {
  const groups = Array.isArray(spec.groups) ? spec.groups.filter((g): g is string => typeof g === 'string') : [];
  const user: UserInfo = { name: str(spec.user), groups };
  if (str(spec.uid)) user.uid = str(spec.uid);
  if (isPlainObject(spec.extra)) {
    const extra: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(spec.extra)) if (Array.isArray(v)) extra[k] = v.filter((x): x is string => typeof x === 'string');
    user.extra = extra;
  }
  return user;
}

const specOf = (body: KObject): Record<string, unknown> => (isPlainObject(body.spec) ? body.spec : {});

export function registerAuthorizationReviews(h: SubresourceHandlers, authz: ReviewAuthorizer): void {
  const G = 'authorization.k8s.io';
  h.registerReview(G, 'SelfSubjectAccessReview', async (body, ctx) => status(authz.authorize(ctx.user, reviewAttributes(specOf(body)))));
  h.registerReview(G, 'SubjectAccessReview', async (body) => {
    const spec = specOf(body);
    return status(authz.authorize(subjectOf(spec), reviewAttributes(spec)));
  });
  h.registerReview(G, 'LocalSubjectAccessReview', async (body, _ctx, ns) => {
    const spec = specOf(body);
    const attrs = reviewAttributes(spec);
    // The URL's namespace is the question's namespace (validation already requires them to agree).
    if (attrs.resourceRequest && ns) attrs.namespace = ns;
    return status(authz.authorize(subjectOf(spec), attrs));
  });
  h.registerReview(G, 'SelfSubjectRulesReview', async (body, ctx) => {
    const namespace = str(specOf(body).namespace) || undefined;
    if (!authz.rulesFor) return { resourceRules: [], nonResourceRules: [], incomplete: true, evaluationError: 'the authorizer cannot list rules' };
    const rules = authz.rulesFor(ctx.user, namespace);
    const out: Record<string, unknown> = { resourceRules: rules.resourceRules, nonResourceRules: rules.nonResourceRules, incomplete: rules.errors.length > 0 };
    if (rules.errors.length) out.evaluationError = rules.errors.join(', ');
    return out;
  });
}
