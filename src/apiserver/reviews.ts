// Review kinds: "who am I", "may I", "is this token valid". Authorization is not enforced yet
// (every authenticated user may do everything), so access reviews answer exactly that truth.
import type { Authenticator } from './authn.js';
import type { SubresourceHandlers } from './subresources.js';
import { isPlainObject } from '../machinery/object.js';

export function registerReviews(h: SubresourceHandlers, authn: Authenticator): void {
  const allowed = async () => ({ allowed: true, reason: 'skiff authorizes every authenticated user' });
  h.registerReview('authorization.k8s.io', 'SelfSubjectAccessReview', allowed);
  h.registerReview('authorization.k8s.io', 'SubjectAccessReview', allowed);
  h.registerReview('authorization.k8s.io', 'LocalSubjectAccessReview', allowed);
  h.registerReview('authorization.k8s.io', 'SelfSubjectRulesReview', async () => ({
    resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
    nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
    incomplete: false,
  }));
  h.registerReview('authentication.k8s.io', 'SelfSubjectReview', async (_body, ctx) => ({
    userInfo: { username: ctx.user.name, uid: ctx.user.uid, groups: ctx.user.groups, extra: ctx.user.extra },
  }));
  h.registerReview('authentication.k8s.io', 'TokenReview', async (body) => {
    const spec = isPlainObject(body.spec) ? body.spec : {};
    const token = typeof spec.token === 'string' ? spec.token : '';
    const user = authn.authenticateBearer(token);
    return user
      ? { authenticated: true, user: { username: user.name, uid: user.uid, groups: user.groups } }
      : { authenticated: false, error: 'invalid bearer token' };
  });
}
