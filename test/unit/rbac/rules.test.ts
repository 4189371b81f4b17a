import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { UserInfo } from '../../../src/apiserver/context.js';
import { requestInfo } from '../../../src/apiserver/request-info.js';
import type { KObject } from '../../../src/machinery/object.js';
import {
  attributesFor,
  forbidden,
  nonResourceURLMatches,
  RbacAuthorizer,
  RbacIndex,
  resourceMatches,
  resourceNameMatches,
  ruleAllows,
  type Attributes,
  type PolicyRule,
} from '../../../src/auth/rbac.js';

const res = (verb: string, resource: string, extra: Partial<Attributes> = {}): Attributes => ({ verb, resourceRequest: true, apiGroup: '', resource, ...extra });
const path = (verb: string, p: string): Attributes => ({ verb, resourceRequest: false, path: p });

test('subresources: "pods" does not cover pods/log; "pods/log" and "*/log" do; "*" covers everything', () => {
  const pods: PolicyRule = { verbs: ['get'], apiGroups: [''], resources: ['pods'] };
  assert.ok(ruleAllows(pods, res('get', 'pods', { name: 'web' })));
  assert.ok(!ruleAllows(pods, res('get', 'pods', { name: 'web', subresource: 'log' })));
  assert.ok(ruleAllows({ ...pods, resources: ['pods/log'] }, res('get', 'pods', { name: 'web', subresource: 'log' })));
  assert.ok(!ruleAllows({ ...pods, resources: ['pods/log'] }, res('get', 'pods', { name: 'web' })));
  assert.ok(ruleAllows({ ...pods, resources: ['*/log'] }, res('get', 'pods', { subresource: 'log' })));
  assert.ok(!ruleAllows({ ...pods, resources: ['*/log'] }, res('get', 'pods')));
  assert.ok(!ruleAllows({ ...pods, resources: ['*/log'] }, res('get', 'pods', { subresource: 'exec' })));
  assert.ok(ruleAllows({ ...pods, resources: ['*'] }, res('get', 'pods', { subresource: 'status' })));
  assert.ok(resourceMatches({ verbs: [], resources: ['deployments/scale'] }, 'deployments/scale', 'scale'));
});

test('resourceNames restrict to named objects, so list and create never match them', () => {
  const r: PolicyRule = { verbs: ['get', 'list', 'create', 'update'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['app-config'] };
  assert.ok(ruleAllows(r, res('get', 'configmaps', { name: 'app-config' })));
  assert.ok(ruleAllows(r, res('update', 'configmaps', { name: 'app-config' })));
  assert.ok(!ruleAllows(r, res('get', 'configmaps', { name: 'other' })));
  assert.ok(!ruleAllows(r, res('list', 'configmaps')));
  assert.ok(!ruleAllows(r, res('create', 'configmaps')));
  assert.ok(resourceNameMatches({ verbs: [], resourceNames: [] }, undefined));
});

test('verbs, api groups and "*" wildcards', () => {
  const r: PolicyRule = { verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] };
  assert.ok(ruleAllows(r, res('get', 'deployments', { apiGroup: 'apps' })));
  assert.ok(!ruleAllows(r, res('get', 'deployments', { apiGroup: 'extensions' })));
  assert.ok(!ruleAllows(r, res('delete', 'deployments', { apiGroup: 'apps' })));
  assert.ok(ruleAllows({ ...r, verbs: ['*'] }, res('delete', 'deployments', { apiGroup: 'apps' })));
  assert.ok(ruleAllows({ ...r, apiGroups: ['*'] }, res('get', 'deployments', { apiGroup: 'extensions' })));
  // A resource rule never matches a path, and a path rule never matches a resource.
  assert.ok(!ruleAllows({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, path('get', '/healthz')));
  assert.ok(!ruleAllows({ verbs: ['*'], nonResourceURLs: ['*'] }, res('get', 'pods')));
});

test('nonResourceURLs: exact, trailing * prefix, and "*"', () => {
  const r: PolicyRule = { verbs: ['get'], nonResourceURLs: ['/healthz', '/apis/*'] };
  assert.ok(nonResourceURLMatches(r, '/healthz'));
  assert.ok(!nonResourceURLMatches(r, '/healthz/etcd'));
  assert.ok(nonResourceURLMatches(r, '/apis/apps/v1'));
  assert.ok(nonResourceURLMatches(r, '/apis/'));
  assert.ok(!nonResourceURLMatches(r, '/apis'));
  assert.ok(ruleAllows(r, path('get', '/healthz')));
  assert.ok(!ruleAllows(r, path('post', '/healthz')));
  assert.ok(nonResourceURLMatches({ verbs: ['get'], nonResourceURLs: ['*'] }, '/anything/at/all'));
});

const alice: UserInfo = { name: 'alice', groups: ['devs', 'system:authenticated'] };

function index(objs: KObject[]): RbacIndex {
  const i = new RbacIndex();
  for (const o of objs) i.add(o);
  return i;
}
const meta = (name: string, namespace?: string) => ({ name, ...(namespace ? { namespace } : {}) });

test('bindings: RoleBinding grants only in its namespace, ClusterRoleBinding everywhere; groups and missing roles', () => {
  const i = index([
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta('pod-reader', 'dev'), rules: [{ verbs: ['list'], apiGroups: [''], resources: ['pods'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta('read-pods', 'dev'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }],
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta('node-reader'), rules: [{ verbs: ['get'], apiGroups: [''], resources: ['nodes'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta('devs-read-nodes'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'node-reader' },
      subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'devs' }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta('dangling', 'prod'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'gone' },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }],
    },
  ]);
  const authz = new RbacAuthorizer(i);
  const d = authz.authorize(alice, res('list', 'pods', { namespace: 'dev' }));
  assert.deepEqual(d, { allowed: true, reason: 'RBAC: allowed by RoleBinding "read-pods/dev" of Role "pod-reader" to User "alice"' });
  assert.equal(authz.authorize(alice, res('list', 'pods', { namespace: 'other' })).allowed, false);
  assert.equal(authz.authorize(alice, res('list', 'pods')).allowed, false, 'a RoleBinding never grants cluster-wide');
  assert.ok(authz.authorize(alice, res('get', 'nodes', { name: 'n1' })).allowed);
  assert.equal(authz.authorize({ name: 'bob', groups: [] }, res('get', 'nodes', { name: 'n1' })).allowed, false);
  const prod = authz.authorize(alice, res('list', 'pods', { namespace: 'prod' }));
  assert.equal(prod.allowed, false);
  assert.match(prod.reason, /role.rbac.authorization.k8s.io "gone" not found/);
  // system:masters may do anything, with or without bindings.
  assert.ok(authz.authorize({ name: 'root', groups: ['system:masters'] }, res('delete', 'secrets', { namespace: 'x', name: 'y' })).allowed);
});

test('ServiceAccount subjects: namespace defaults to the RoleBinding namespace', () => {
  const i = index([
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta('reader'), rules: [{ verbs: ['get'], apiGroups: [''], resources: ['configmaps'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta('b', 'team'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'robot' }],
    },
  ]);
  const authz = new RbacAuthorizer(i);
  const robot = (ns: string): UserInfo => ({ name: `system:serviceaccount:${ns}:robot`, groups: ['system:serviceaccounts'] });
  assert.ok(authz.authorize(robot('team'), res('get', 'configmaps', { namespace: 'team', name: 'c' })).allowed);
  assert.equal(authz.authorize(robot('other'), res('get', 'configmaps', { namespace: 'team', name: 'c' })).allowed, false);
});

test('rulesFor lists resource and non-resource rules once each', () => {
  const i = index([
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta('r'), rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }, { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta('b1'), roleRef: { kind: 'ClusterRole', name: 'r' }, subjects: [{ kind: 'User', name: 'alice' }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta('b2'), roleRef: { kind: 'ClusterRole', name: 'r' }, subjects: [{ kind: 'Group', name: 'devs' }] },
  ]);
  const rules = new RbacAuthorizer(i).rulesFor(alice, 'default');
  assert.deepEqual(rules.nonResourceRules, [{ verbs: ['get'], nonResourceURLs: ['/healthz'] }]);
  assert.deepEqual(rules.resourceRules, [{ verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['a'] }]);
});

test('request attributes and upstream Forbidden messages', () => {
  const a = attributesFor(requestInfo('GET', '/api/v1/namespaces/default/pods/web/log', new URLSearchParams()));
  assert.deepEqual(a, { verb: 'get', resourceRequest: true, apiGroup: '', resource: 'pods', subresource: 'log', name: 'web', namespace: 'default' });
  const ns = attributesFor(requestInfo('GET', '/api/v1/namespaces/team', new URLSearchParams()));
  assert.equal(ns.namespace, 'team', 'a namespace is read "in" itself');
  assert.equal(attributesFor(requestInfo('GET', '/apis/apps/v1/deployments', new URLSearchParams({ watch: 'true' }))).verb, 'watch');
  assert.deepEqual(attributesFor(requestInfo('GET', '/healthz', new URLSearchParams())), { verb: 'get', resourceRequest: false, path: '/healthz' });

  const sa: UserInfo = { name: 'system:serviceaccount:default:robot', groups: [] };
  const e = forbidden(sa, res('list', 'secrets', { namespace: 'default' }));
  assert.equal(e.code, 403);
  assert.equal(e.message, 'secrets is forbidden: User "system:serviceaccount:default:robot" cannot list resource "secrets" in API group "" in the namespace "default"');
  assert.deepEqual(e.toStatus().details, { group: undefined, kind: 'secrets', name: undefined });
  assert.equal(
    forbidden(sa, res('get', 'deployments', { apiGroup: 'apps', name: 'web', subresource: 'scale' })).message,
    'deployments.apps "web" is forbidden: User "system:serviceaccount:default:robot" cannot get resource "deployments/scale" in API group "apps" at the cluster scope',
  );
  assert.equal(forbidden(sa, path('get', '/metrics')).message, 'forbidden: User "system:serviceaccount:default:robot" cannot get path "/metrics"');
});
