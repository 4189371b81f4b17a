// Impersonation (`kubectl --as=<user> --as-group=<group> --as-uid=<uid>`): the request names
// another user in `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and
// `Impersonate-Extra-<key>` headers, and the requester needs the `impersonate` verb on each thing
// it asks to become (users, groups, serviceaccounts in the core group; uids and userextras/<key>
// in authentication.k8s.io). When every check passes, the request continues as that user.
import type { IncomingHttpHeaders } from 'node:http';
import type { UserInfo } from '../apiserver/context.js';
import { errors } from '../machinery/errors.js';
import { forbidden, parseServiceAccountUsername, type Attributes, type Authorizer } from './rbac.js';

const USER = 'impersonate-user';
const GROUP = 'impersonate-group';
const UID = 'impersonate-uid';
const EXTRA_PREFIX = 'impersonate-extra-';

const AUTHENTICATED = 'system:authenticated';
const UNAUTHENTICATED = 'system:unauthenticated';
const ANONYMOUS = 'system:anonymous';

function values(headers: IncomingHttpHeaders, name: string): string[] {
  const v = headers[name];
  if (v === undefined) return [];
  // Node joins repeated headers with ", " except for a few; Impersonate-Group may legitimately repeat.
  const list = Array.isArray(v) ? v : name === USER || name === UID ? [v] : v.split(',');
  return list.map((s) => s.trim()).filter((s) => s !== '');
}

/** Does this request ask to impersonate anyone? */
export function wantsImpersonation(headers: IncomingHttpHeaders): boolean {
  return Object.keys(headers).some((h) => h === USER || h === GROUP || h === UID || h.startsWith(EXTRA_PREFIX));
}

/**
 * The user the request acts as: `user` itself when no Impersonate-* header is present, otherwise
 * the impersonated user after checking every `impersonate` permission. Throws 400 for headers that
 * name groups/uid/extra without a user, 403 (upstream's message) for a missing permission.
 */
export function impersonatedUser(headers: IncomingHttpHeaders, user: UserInfo, authz: Authorizer): UserInfo {
  if (!wantsImpersonation(headers)) return user;
  const name = values(headers, USER)[0] ?? '';
  const groups = values(headers, GROUP);
  const uid = values(headers, UID)[0];
  const extra: Record<string, string[]> = {};
  for (const h of Object.keys(headers)) {
    if (!h.startsWith(EXTRA_PREFIX)) continue;
    let key = h.slice(EXTRA_PREFIX.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      throw errors.badRequest(`invalid impersonation extra key ${JSON.stringify(key)}`);
    }
    extra[key.toLowerCase()] = values(headers, h);
  }
  if (!name) {
    const what = [...groups.map((g) => `Impersonate-Group: ${g}`), ...(uid ? [`Impersonate-Uid: ${uid}`] : []), ...Object.keys(extra).map((k) => `Impersonate-Extra-${k}`)];
    throw errors.badRequest(`requested [${what.join(' ')}] without impersonating a user`);
  }

  const check = (attrs: Attributes) => {
    const d = authz.authorize(user, attrs);
    if (!d.allowed) throw forbidden(user, attrs, d.reason);
  };
  const outGroups = [...groups];
  const sa = parseServiceAccountUsername(name);
  if (sa) {
    check({ verb: 'impersonate', resourceRequest: true, apiGroup: '', resource: 'serviceaccounts', namespace: sa[0], name: sa[1] });
    // A service account's groups come with its name, unless groups were named explicitly.
    if (groups.length === 0) outGroups.push('system:serviceaccounts', `system:serviceaccounts:${sa[0]}`);
  } else {
    check({ verb: 'impersonate', resourceRequest: true, apiGroup: '', resource: 'users', name });
  }
  for (const g of groups) check({ verb: 'impersonate', resourceRequest: true, apiGroup: '', resource: 'groups', name: g });
  if (uid) check({ verb: 'impersonate', resourceRequest: true, apiGroup: 'authentication.k8s.io', resource: 'uids', name: uid });
  for (const [k, vs] of Object.entries(extra))
    for (const v of vs) check({ verb: 'impersonate', resourceRequest: true, apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: k, name: v });

  if (name === ANONYMOUS) {
    if (!outGroups.includes(UNAUTHENTICATED)) outGroups.push(UNAUTHENTICATED);
  } else if (!outGroups.includes(AUTHENTICATED) && !outGroups.includes(UNAUTHENTICATED)) outGroups.push(AUTHENTICATED);

  const out: UserInfo = { name, groups: outGroups };
  if (uid) out.uid = uid;
  if (Object.keys(extra).length) out.extra = extra;
  return out;
}

/** Removes the Impersonate-* headers (after impersonatedUser, before relaying a request anywhere). */
export function stripImpersonationHeaders(headers: IncomingHttpHeaders): void {
  for (const h of Object.keys(headers)) if (h === USER || h === GROUP || h === UID || h.startsWith(EXTRA_PREFIX)) delete headers[h];
}
