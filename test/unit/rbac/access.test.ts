// RBAC, service-account tokens, access reviews, impersonation and the default roles, against an
// in-memory API (the same Resources and subresource handlers the HTTPS server uses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { systemContext, type RequestContext, type UserInfo } from '../../../src/apiserver/context.js';
import { StatusError } from '../../../src/machinery/errors.js';
import type { KObject } from '../../../src/machinery/object.js';
import { setupAuth, type AuthSystem } from '../../../src/auth/index.js';
import { ensureDefaultPolicy, defaultClusterRoles } from '../../../src/auth/default-policy.js';
import { ClusterRoleAggregationController, aggregateRules } from '../../../src/auth/aggregation.js';
import { impersonatedUser } from '../../../src/auth/impersonation.js';
import { TokenSigner, ServiceAccountTokenAuthenticator } from '../../../src/auth/tokens.js';
import type { Attributes } from '../../../src/auth/rbac.js';
import { startTestApi, type TestApi } from '../../support/in-memory-api.js';

const RBAC = 'rbac.authorization.k8s.io';
const newKeys = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

let t: TestApi;
let auth: AuthSystem;
let aggregation: ClusterRoleAggregationController;
const admin = systemContext('test');

before(async () => {
  t = await startTestApi();
  auth = await setupAuth(t.api.resources, t.api.handler.subresources, t.api.authn, { serviceAccountKeys: newKeys() });
  await ensureDefaultPolicy(t.api.resources);
  aggregation = new ClusterRoleAggregationController(t.api.resources, t.client('clusterrole-aggregation-controller'));
  await aggregation.start();
});

after(async () => {
  aggregation.stop();
  auth.stop();
  await t.close();
});

const spec = (group: string, plural: string) => t.api.resources.spec(group, 'v1', plural);
const settle = () => new Promise((r) => setImmediate(r));
async function eventually<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function create(group: string, plural: string, obj: KObject): Promise<KObject> {
  const out = await t.api.resources.create(spec(group, plural), obj.metadata.namespace, obj, admin);
  await settle();
  return out;
}

const res = (verb: string, resource: string, namespace?: string, extra: Partial<Attributes> = {}): Attributes => ({
  verb,
  resourceRequest: true,
  apiGroup: '',
  resource,
  namespace,
  ...extra,
});

async function requestToken(ns: string, sa: string, tokenSpec: Record<string, unknown> = {}): Promise<KObject> {
  return t.api.handler.subresources.createInProcess(spec('', 'serviceaccounts'), ns, sa, 'token', { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', metadata: {}, spec: tokenSpec }, admin);
}

test('a ServiceAccount bound to a pod-listing Role may list pods and is forbidden secrets, also through its token', async () => {
  await create('', 'namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  await create('', 'serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: 'shop' } });
  await create(RBAC, 'roles', {
    apiVersion: `${RBAC}/v1`,
    kind: 'Role',
    metadata: { name: 'pod-lister', namespace: 'shop' },
    rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods'] }],
  });
  await create(RBAC, 'rolebindings', {
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name: 'robot-lists-pods', namespace: 'shop' },
    roleRef: { apiGroup: RBAC, kind: 'Role', name: 'pod-lister' },
    subjects: [{ kind: 'ServiceAccount', name: 'robot', namespace: 'shop' }],
  });

  const robot: UserInfo = { name: 'system:serviceaccount:shop:robot', groups: ['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated'] };
  assert.ok(auth.authorizer.authorize(robot, res('list', 'pods', 'shop')).allowed);
  assert.equal(auth.authorizer.authorize(robot, res('get', 'secrets', 'shop', { name: 's' })).allowed, false);
  assert.equal(auth.authorizer.authorize(robot, res('list', 'pods', 'default')).allowed, false);
  assert.equal(auth.authorizer.authorize(robot, res('delete', 'pods', 'shop', { name: 'p' })).allowed, false);

  // The TokenRequest issues a JWT the API server's authenticator turns back into the robot.
  const tr = await requestToken('shop', 'robot');
  assert.equal(tr.kind, 'TokenRequest');
  assert.equal(tr.apiVersion, 'authentication.k8s.io/v1');
  const status = tr.status as { token: string; expirationTimestamp: string };
  assert.match(status.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const expiresInS = (Date.parse(status.expirationTimestamp) - Date.now()) / 1000;
  assert.ok(expiresInS > 3000 && expiresInS <= 3600, `default expiry is an hour, got ${expiresInS}s`);
  const claims = JSON.parse(Buffer.from(status.token.split('.')[1], 'base64url').toString());
  assert.equal(claims.sub, 'system:serviceaccount:shop:robot');
  assert.equal(claims['kubernetes.io'].namespace, 'shop');
  assert.equal(claims['kubernetes.io'].serviceaccount.name, 'robot');

  const user = t.api.authn.authenticateBearer(status.token);
  assert.ok(user);
  assert.equal(user.name, 'system:serviceaccount:shop:robot');
  assert.ok(user.groups.includes('system:serviceaccounts:shop') && user.groups.includes('system:authenticated'));
  assert.ok(auth.authorizer.authorize(user, res('list', 'pods', 'shop')).allowed);
  const denied = auth.authorizer.authorize(user, res('get', 'secrets', 'shop', { name: 's' }));
  assert.equal(denied.allowed, false);

  // TokenReview (registered by the API) knows the token too.
  const review = await t.api.handler.subresources.review(spec('authentication.k8s.io', 'tokenreviews'), undefined, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: status.token } }, admin);
  assert.equal((review.status as { authenticated: boolean }).authenticated, true);
});

test('tokens: expired, tampered, foreign, wrong audience and deleted-account tokens are rejected; bound tokens die with their pod', async () => {
  await create('', 'serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'temp', namespace: 'shop' } });
  const sa = await t.api.resources.get(spec('', 'serviceaccounts'), 'shop', 'temp');
  const authn = auth.tokenAuthenticator;
  const base = { namespace: 'shop', serviceAccount: { name: 'temp', uid: sa.metadata.uid! } };

  const good = auth.signer.issue(base).token;
  assert.equal(authn.authenticateToken(good)?.name, 'system:serviceaccount:shop:temp');

  const longAgo = Math.floor(Date.now() / 1000) - 7200;
  assert.equal(authn.authenticateToken(auth.signer.issue({ ...base, now: longAgo, expirationSeconds: 600 }).token), undefined, 'expired');

  const [h, p, s] = good.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  claims.sub = 'system:serviceaccount:kube-system:default';
  claims['kubernetes.io'].namespace = 'kube-system';
  claims['kubernetes.io'].serviceaccount.name = 'default';
  const forgedPayload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  assert.equal(authn.authenticateToken(`${h}.${forgedPayload}.${s}`), undefined, 'payload changed under the signature');
  const badSig = Buffer.from(s, 'base64url');
  badSig[5] ^= 0xff;
  assert.equal(authn.authenticateToken(`${h}.${p}.${badSig.toString('base64url')}`), undefined, 'signature changed');
  assert.equal(authn.authenticateToken('not-a-jwt'), undefined);

  const stranger = new TokenSigner(newKeys());
  assert.equal(authn.authenticateToken(stranger.issue(base).token), undefined, 'signed by another key');
  assert.equal(authn.authenticateToken(auth.signer.issue({ ...base, audiences: ['vault'] }).token), undefined, 'meant for another audience');

  // A TokenRequest below the 10-minute minimum is invalid.
  await assert.rejects(requestToken('shop', 'temp', { expirationSeconds: 60 }), (e: StatusError) => e.code === 422);
  await assert.rejects(requestToken('shop', 'missing'), (e: StatusError) => e.code === 404);

  // Bound to a pod: valid while the pod exists, with the pod in the user's extra.
  const pod = await create('', 'pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'worker', namespace: 'shop' },
    spec: { serviceAccountName: 'temp', containers: [{ name: 'c', image: 'busybox' }] },
  });
  const bound = await requestToken('shop', 'temp', { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'worker', uid: pod.metadata.uid } });
  const boundToken = (bound.status as { token: string }).token;
  const boundUser = authn.authenticateToken(boundToken);
  assert.deepEqual(boundUser?.extra?.['authentication.kubernetes.io/pod-name'], ['worker']);
  await assert.rejects(requestToken('shop', 'robot', { boundObjectRef: { kind: 'Pod', name: 'worker' } }), (e: StatusError) => e.code === 400, 'pod runs as another account');
  await assert.rejects(requestToken('shop', 'temp', { boundObjectRef: { kind: 'Pod', name: 'worker', uid: 'not-it' } }), (e: StatusError) => e.code === 409);

  await t.api.resources.delete(spec('', 'pods'), 'shop', 'worker', {}, admin);
  await eventually('bound token rejected after its pod is gone', () => authn.authenticateToken(boundToken) === undefined);

  await t.api.resources.delete(spec('', 'serviceaccounts'), 'shop', 'temp', {}, admin);
  await eventually('token rejected after its account is deleted', () => authn.authenticateToken(good) === undefined);
  // Recreated under the same name: the old token names the old uid.
  await create('', 'serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'temp', namespace: 'shop' } });
  assert.equal(authn.authenticateToken(good), undefined);
  // Without a lookup, only signature, issuer, audience and time count.
  assert.ok(new ServiceAccountTokenAuthenticator(auth.signer).authenticateToken(good));
});

test('SelfSubjectAccessReview answers `auth can-i create pods`, with and without --as', async () => {
  const ssar = (user: UserInfo, attrs: Record<string, unknown>) => {
    const ctx: RequestContext = { user, warnings: [] };
    return t.api.handler.subresources.review(spec('authorization.k8s.io', 'selfsubjectaccessreviews'), undefined, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: attrs },
    }, ctx);
  };
  const robot: UserInfo = { name: 'system:serviceaccount:shop:robot', groups: ['system:serviceaccounts', 'system:authenticated'] };
  const no = await ssar(robot, { namespace: 'shop', verb: 'create', group: '', version: '', resource: 'pods', subresource: '', name: '' });
  assert.equal((no.status as { allowed: boolean }).allowed, false);
  const yes = await ssar(robot, { namespace: 'shop', verb: 'list', resource: 'pods' });
  assert.deepEqual(yes.status, { allowed: true, reason: 'RBAC: allowed by RoleBinding "robot-lists-pods/shop" of Role "pod-lister" to ServiceAccount "robot/shop"' });

  const kubeAdmin: UserInfo = { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };
  assert.equal(((await ssar(kubeAdmin, { namespace: 'shop', verb: 'create', resource: 'pods' })).status as { allowed: boolean }).allowed, true);

  // kubectl auth can-i create pods --as=system:serviceaccount:shop:robot
  const as = impersonatedUser({ 'impersonate-user': 'system:serviceaccount:shop:robot' }, kubeAdmin, auth.authorizer);
  assert.equal(as.name, 'system:serviceaccount:shop:robot');
  assert.deepEqual(as.groups, ['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated']);
  assert.equal(((await ssar(as, { namespace: 'shop', verb: 'create', resource: 'pods' })).status as { allowed: boolean }).allowed, false);
  assert.equal(((await ssar(as, { namespace: 'shop', verb: 'list', resource: 'pods' })).status as { allowed: boolean }).allowed, true);

  // Impersonating needs the impersonate verb; --as-group alone is a bad request.
  const alice: UserInfo = { name: 'alice', groups: ['system:authenticated'] };
  assert.throws(
    () => impersonatedUser({ 'impersonate-user': 'bob' }, alice, auth.authorizer),
    (e: StatusError) => e.code === 403 && e.message === 'users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope',
  );
  assert.throws(() => impersonatedUser({ 'impersonate-group': 'devs' }, kubeAdmin, auth.authorizer), (e: StatusError) => e.code === 400);
  await create(RBAC, 'clusterroles', {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRole',
    metadata: { name: 'impersonate-bob' },
    rules: [{ verbs: ['impersonate'], apiGroups: [''], resources: ['users'], resourceNames: ['bob'] }],
  });
  await create(RBAC, 'clusterrolebindings', {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: 'alice-as-bob' },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'impersonate-bob' },
    subjects: [{ kind: 'User', apiGroup: RBAC, name: 'alice' }],
  });
  assert.deepEqual(impersonatedUser({ 'impersonate-user': 'bob' }, alice, auth.authorizer), { name: 'bob', groups: ['system:authenticated'] });
  assert.throws(() => impersonatedUser({ 'impersonate-user': 'bob', 'impersonate-group': 'system:masters' }, alice, auth.authorizer), (e: StatusError) => e.code === 403);

  // SubjectAccessReview and LocalSubjectAccessReview ask about someone else.
  const sar = await t.api.handler.subresources.review(spec('authorization.k8s.io', 'subjectaccessreviews'), undefined, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user: 'system:serviceaccount:shop:robot', resourceAttributes: { namespace: 'shop', verb: 'watch', resource: 'pods' } },
  }, { user: kubeAdmin, warnings: [] });
  assert.equal((sar.status as { allowed: boolean }).allowed, true);
  const lsar = await t.api.handler.subresources.review(spec('authorization.k8s.io', 'localsubjectaccessreviews'), 'shop', {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'LocalSubjectAccessReview',
    metadata: { namespace: 'shop' },
    spec: { user: 'system:serviceaccount:shop:robot', resourceAttributes: { namespace: 'shop', verb: 'get', resource: 'secrets' } },
  }, { user: kubeAdmin, warnings: [] });
  assert.equal((lsar.status as { allowed: boolean }).allowed, false);

  // kubectl auth can-i --list
  const ssrr = await t.api.handler.subresources.review(spec('authorization.k8s.io', 'selfsubjectrulesreviews'), undefined, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectRulesReview',
    spec: { namespace: 'shop' },
  }, { user: robot, warnings: [] });
  const rr = ssrr.status as { resourceRules: { resources: string[]; verbs: string[] }[]; nonResourceRules: { nonResourceURLs: string[] }[]; incomplete: boolean };
  assert.equal(rr.incomplete, false);
  assert.ok(rr.resourceRules.some((r) => r.resources.includes('pods') && r.verbs.includes('list')));
  assert.ok(rr.resourceRules.some((r) => r.resources.includes('selfsubjectaccessreviews')), 'system:basic-user applies to everyone authenticated');
  assert.ok(rr.nonResourceRules.some((r) => r.nonResourceURLs.includes('/api/*')), 'system:discovery applies to everyone authenticated');
});

test('ClusterRole aggregation fills admin, edit and view, and follows new labelled roles', async () => {
  const roleRules = (name: string) => (auth.index.clusterRole(name) as { rules?: { resources?: string[]; apiGroups?: string[] }[] } | undefined)?.rules ?? [];
  await eventually('view aggregated', () => roleRules('view').length > 0);
  await eventually('edit includes view', () => roleRules('edit').some((r) => r.resources?.includes('pods/log')));
  await eventually('admin includes edit', () => roleRules('admin').some((r) => r.resources?.includes('secrets')) && roleRules('admin').some((r) => r.resources?.includes('rolebindings')));

  // A CRD author extends view: edit and admin follow through the chain view → edit → admin.
  await create(RBAC, 'clusterroles', {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRole',
    metadata: { name: 'widgets-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } },
    rules: [{ verbs: ['get', 'list', 'watch'], apiGroups: ['example.com'], resources: ['widgets'] }],
  });
  for (const r of ['view', 'edit', 'admin']) await eventually(`${r} includes widgets`, () => roleRules(r).some((x) => x.resources?.includes('widgets')));

  // The pure computation: selectors in order, roles by name, each rule once, never itself.
  const target = { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name: 'agg' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] } };
  const rule = { verbs: ['get'], apiGroups: [''], resources: ['pods'] };
  const rules = aggregateRules(target, [
    target,
    { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name: 'b', labels: { x: 'y' } }, rules: [rule] },
    { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name: 'a', labels: { x: 'y' } }, rules: [rule, { ...rule, verbs: ['list'] }] },
    { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name: 'c', labels: { x: 'z' } }, rules: [{ ...rule, resources: ['secrets'] }] },
  ]);
  assert.deepEqual(rules, [rule, { ...rule, verbs: ['list'] }]);
});

test('default roles: view cannot read secrets, edit can; admin manages RoleBindings; defaults are idempotent', async () => {
  await eventually('edit aggregated', () => ((auth.index.clusterRole('edit') as { rules?: unknown[] }).rules ?? []).length > 0);
  for (const [user, role] of [['viewer', 'view'], ['editor', 'edit'], ['boss', 'admin']])
    await create(RBAC, 'rolebindings', {
      apiVersion: `${RBAC}/v1`,
      kind: 'RoleBinding',
      metadata: { name: `${user}-${role}`, namespace: 'shop' },
      roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'User', apiGroup: RBAC, name: user }],
    });
  const u = (name: string): UserInfo => ({ name, groups: ['system:authenticated'] });
  const can = (name: string, a: Attributes) => auth.authorizer.authorize(u(name), a).allowed;

  assert.ok(can('viewer', res('list', 'pods', 'shop')));
  assert.ok(can('viewer', res('get', 'pods', 'shop', { name: 'p', subresource: 'log' })));
  assert.ok(can('viewer', res('get', 'deployments', 'shop', { apiGroup: 'apps', name: 'd' })));
  assert.ok(can('viewer', res('get', 'namespaces', 'shop', { name: 'shop' })), 'a namespace binding lets one read that namespace');
  assert.equal(can('viewer', res('get', 'secrets', 'shop', { name: 's' })), false);
  assert.equal(can('viewer', res('list', 'secrets', 'shop')), false);
  assert.equal(can('viewer', res('create', 'pods', 'shop')), false);
  assert.equal(can('viewer', res('create', 'pods', 'shop', { name: 'p', subresource: 'exec' })), false);

  assert.ok(can('editor', res('get', 'secrets', 'shop', { name: 's' })));
  assert.ok(can('editor', res('create', 'secrets', 'shop')));
  assert.ok(can('editor', res('patch', 'deployments', 'shop', { apiGroup: 'apps', name: 'd' })));
  assert.ok(can('editor', res('create', 'pods', 'shop', { name: 'p', subresource: 'exec' })));
  assert.ok(can('editor', res('create', 'serviceaccounts', 'shop', { name: 'robot', subresource: 'token' })));
  assert.equal(can('editor', res('create', 'rolebindings', 'shop', { apiGroup: RBAC })), false);
  assert.equal(can('editor', res('update', 'resourcequotas', 'shop', { name: 'q' })), false);
  assert.equal(can('editor', res('get', 'secrets', 'default', { name: 's' })), false, 'only in the bound namespace');

  assert.ok(can('boss', res('create', 'rolebindings', 'shop', { apiGroup: RBAC })));
  assert.equal(can('boss', res('create', 'clusterrolebindings', undefined, { apiGroup: RBAC })), false);

  // cluster-admin for system:masters exists as a binding too; anyone authenticated may discover.
  assert.ok(defaultClusterRoles().some((r) => r.metadata.name === 'cluster-admin'));
  assert.ok(auth.authorizer.authorize(u('nobody'), { verb: 'get', resourceRequest: false, path: '/apis/apps/v1' }).allowed);
  assert.equal(auth.authorizer.authorize(u('nobody'), { verb: 'get', resourceRequest: false, path: '/metrics' }).allowed, false);
  assert.ok(auth.authorizer.authorize({ name: 'system:anonymous', groups: ['system:unauthenticated'] }, res('get', 'configmaps', 'kube-public', { name: 'cluster-info' })).allowed);

  const before = (await t.api.resources.list(spec(RBAC, 'clusterroles'), undefined)).items.length;
  await ensureDefaultPolicy(t.api.resources);
  assert.equal((await t.api.resources.list(spec(RBAC, 'clusterroles'), undefined)).items.length, before);
  // Aggregated rules survive a second bootstrap.
  await settle();
  assert.ok(((auth.index.clusterRole('view') as { rules?: unknown[] }).rules ?? []).length > 0);
});

test('no escalation: a namespace admin grants only what it holds, unless it may bind/escalate', async () => {
  const { rbacEscalationAdmission } = await import('../../../src/auth/escalation.js');
  t.api.resources.use(rbacEscalationAdmission(auth.authorizer));
  const boss: RequestContext = { user: { name: 'boss', groups: ['system:authenticated'] }, warnings: [] };
  const write = (plural: string, obj: KObject) => t.api.resources.create(spec(RBAC, plural), obj.metadata.namespace, obj, boss);
  const forbiddenErr = (e: StatusError) => e.code === 403 && /forbidden/.test(e.message);

  await write('roles', {
    apiVersion: `${RBAC}/v1`,
    kind: 'Role',
    metadata: { name: 'pods-rw', namespace: 'shop' },
    rules: [
      { verbs: ['get', 'create'], apiGroups: [''], resources: ['pods'] },
      { verbs: ['get'], apiGroups: [''], resources: ['pods/log'] },
    ],
  });
  // admin may read logs but not create on pods/log.
  await assert.rejects(
    write('roles', { apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { name: 'logs-w', namespace: 'shop' }, rules: [{ verbs: ['create'], apiGroups: [''], resources: ['pods/log'] }] }),
    (e: StatusError) => e.code === 403 && e.message.includes('{APIGroups:[""], Resources:["pods/log"], Verbs:["create"]}'),
  );
  await assert.rejects(
    write('roles', { apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { name: 'nodes', namespace: 'shop' }, rules: [{ verbs: ['get'], apiGroups: [''], resources: ['nodes'] }] }),
    (e: StatusError) => forbiddenErr(e) && e.message.includes('attempting to grant RBAC permissions not currently held') && e.message.includes('nodes'),
  );
  await assert.rejects(
    write('roles', { apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { name: 'pods-all', namespace: 'shop' }, rules: [{ verbs: ['*'], apiGroups: [''], resources: ['pods'] }] }),
    forbiddenErr,
  );
  const binding = (name: string, role: string) => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name, namespace: 'shop' },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'User', apiGroup: RBAC, name: 'carol' }],
  });
  await write('rolebindings', binding('carol-view', 'view'));
  await assert.rejects(write('rolebindings', binding('carol-root', 'cluster-admin')), forbiddenErr);
  await assert.rejects(
    t.api.resources.create(spec(RBAC, 'clusterroles'), undefined, { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name: 'sneaky' }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: 'b' } }] } }, boss),
    forbiddenErr,
  );

  // The bind verb on a role lifts the check for bindings to it.
  await create(RBAC, 'roles', {
    apiVersion: `${RBAC}/v1`,
    kind: 'Role',
    metadata: { name: 'binder', namespace: 'shop' },
    rules: [{ verbs: ['bind'], apiGroups: [RBAC], resources: ['clusterroles'], resourceNames: ['cluster-admin'] }],
  });
  await create(RBAC, 'rolebindings', {
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name: 'boss-binds', namespace: 'shop' },
    roleRef: { apiGroup: RBAC, kind: 'Role', name: 'binder' },
    subjects: [{ kind: 'User', apiGroup: RBAC, name: 'boss' }],
  });
  await write('rolebindings', binding('carol-root', 'cluster-admin'));
});
