// The default roles and bindings every cluster starts with (upstream's bootstrappolicy, plus the
// few kubeadm adds): cluster-admin for system:masters; discovery, public info and self-reviews
// for everyone; the aggregated user-facing roles admin ⊃ edit ⊃ view; and the roles of the
// system's own components (nodes, scheduler, kube-proxy, controller manager, DNS).
//
// Skiff differences, on purpose: the `system:node` role is bound to the `system:nodes` group
// (upstream leaves that binding empty because its Node authorizer restricts each kubelet to its
// own pods; Skiff has no Node authorizer yet, so a joined node gets the role's rules for all
// objects), and the in-process components act as members of system:masters.
import type { RequestContext } from '../apiserver/context.js';
import { systemContext } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';
import { StatusError } from '../machinery/errors.js';
import { deepCopy, jsonEqual, type KObject } from '../machinery/object.js';
import { RBAC_GROUP, type PolicyRule, type Subject } from './rbac.js';

export const AGGREGATE_TO_ADMIN = 'rbac.authorization.k8s.io/aggregate-to-admin';
export const AGGREGATE_TO_EDIT = 'rbac.authorization.k8s.io/aggregate-to-edit';
export const AGGREGATE_TO_VIEW = 'rbac.authorization.k8s.io/aggregate-to-view';
const BOOTSTRAP_LABEL = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
const AUTOUPDATE = { 'rbac.authorization.kubernetes.io/autoupdate': 'true' };

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];
const READ_WRITE = [...READ, ...WRITE];

const CORE = '';
const APPS = 'apps';
const AUTHN = 'authentication.k8s.io';
const AUTHZ = 'authorization.k8s.io';
const AUTOSCALING = 'autoscaling';
const BATCH = 'batch';
const CERTS = 'certificates.k8s.io';
const COORDINATION = 'coordination.k8s.io';
const DISCOVERY = 'discovery.k8s.io';
const EVENTS = 'events.k8s.io';
const EXTENSIONS = 'extensions';
const NETWORKING = 'networking.k8s.io';
const POLICY = 'policy';
const STORAGE = 'storage.k8s.io';

function rule(verbs: string[], groups: string[], resources: string[], resourceNames?: string[]): PolicyRule {
  const r: PolicyRule = { verbs: [...verbs], apiGroups: [...groups], resources: [...resources] };
  if (resourceNames?.length) r.resourceNames = [...resourceNames];
  return r;
}

function urls(verbs: string[], nonResourceURLs: string[]): PolicyRule {
  return { verbs: [...verbs], nonResourceURLs: [...nonResourceURLs] };
}

const eventsRule = rule(['create', 'update', 'patch'], [CORE, EVENTS], ['events']);

function clusterRole(name: string, rules: PolicyRule[], extra: { labels?: Record<string, string>; aggregateFrom?: string } = {}): KObject {
  const role: KObject = {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRole',
    metadata: { name, labels: { ...BOOTSTRAP_LABEL, ...(extra.labels ?? {}) }, annotations: { ...AUTOUPDATE } },
    rules,
  };
  if (extra.aggregateFrom) role.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [extra.aggregateFrom]: 'true' } }] };
  return role;
}

const user = (name: string): Subject => ({ kind: 'User', apiGroup: RBAC_GROUP, name });
const group = (name: string): Subject => ({ kind: 'Group', apiGroup: RBAC_GROUP, name });
const serviceAccount = (namespace: string, name: string): Subject => ({ kind: 'ServiceAccount', name, namespace });

function clusterRoleBinding(name: string, role: string, subjects: Subject[]): KObject {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: { ...BOOTSTRAP_LABEL }, annotations: { ...AUTOUPDATE } },
    roleRef: { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: role },
    subjects,
  };
}

/** What a kubelet needs: upstream's NodeRules, plus what Skiff's node agent also does (service proxy reads, event get). */
export function nodeRules(): PolicyRule[] {
  return [
    rule(['create'], [AUTHN], ['tokenreviews']),
    rule(['create'], [AUTHZ], ['subjectaccessreviews', 'localsubjectaccessreviews']),
    rule(READ, [CORE], ['services']),
    rule(['create', 'get', 'list', 'watch'], [CORE], ['nodes']),
    rule(['update', 'patch'], [CORE], ['nodes/status']),
    rule(['update', 'patch'], [CORE], ['nodes']),
    rule(['create', 'update', 'patch'], [CORE], ['events']),
    rule(READ, [CORE], ['pods']),
    rule(['create', 'delete'], [CORE], ['pods']),
    rule(['update', 'patch'], [CORE], ['pods/status']),
    rule(['create'], [CORE], ['pods/eviction']),
    rule(READ, [CORE], ['secrets', 'configmaps']),
    rule(['get'], [CORE], ['persistentvolumeclaims', 'persistentvolumes']),
    rule(['get'], [CORE], ['endpoints']),
    rule(['create', 'get', 'list', 'watch'], [CERTS], ['certificatesigningrequests']),
    rule(['get', 'create', 'update', 'patch', 'delete'], [COORDINATION], ['leases']),
    rule(['get'], [STORAGE], ['volumeattachments']),
    rule(['create'], [CORE], ['serviceaccounts/token']),
    rule(['get', 'update', 'patch'], [CORE], ['persistentvolumeclaims/status']),
    rule(['get', 'watch', 'list'], [STORAGE], ['csidrivers']),
    rule(['get', 'create', 'update', 'patch', 'delete'], [STORAGE], ['csinodes']),
    rule(['get', 'list', 'watch'], ['node.k8s.io'], ['runtimeclasses']),
    // Skiff: a node agent also runs the service proxy (kube-proxy's reads) and reads back its events to count repeats.
    rule(['list', 'watch'], [CORE], ['endpoints']),
    rule(READ, [DISCOVERY], ['endpointslices']),
    rule(['get'], [CORE], ['events']),
  ];
}

export function defaultClusterRoles(): KObject[] {
  return [
    clusterRole('cluster-admin', [rule(['*'], ['*'], ['*']), urls(['*'], ['*'])]),
    clusterRole('system:discovery', [
      urls(['get'], ['/livez', '/readyz', '/healthz', '/version', '/version/', '/openapi', '/openapi/*', '/api', '/api/*', '/apis', '/apis/*']),
    ]),
    clusterRole('system:public-info-viewer', [urls(['get'], ['/livez', '/readyz', '/healthz', '/version', '/version/'])]),
    clusterRole('system:basic-user', [
      rule(['create'], [AUTHZ], ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']),
      rule(['create'], [AUTHN], ['selfsubjectreviews']),
    ]),
    clusterRole('system:monitoring', [
      urls(['get'], ['/metrics', '/metrics/slis', '/livez', '/readyz', '/healthz', '/livez/*', '/readyz/*', '/healthz/*']),
    ]),
    clusterRole('system:service-account-issuer-discovery', [
      urls(['get'], ['/.well-known/openid-configuration', '/.well-known/openid-configuration/', '/openid/v1/jwks', '/openid/v1/jwks/']),
    ]),

    // The user-facing roles hold no rules of their own: the aggregation controller fills them
    // from every ClusterRole labelled for them (edit is labelled into admin, view into edit).
    clusterRole('admin', [], { aggregateFrom: AGGREGATE_TO_ADMIN }),
    clusterRole('edit', [], { aggregateFrom: AGGREGATE_TO_EDIT, labels: { [AGGREGATE_TO_ADMIN]: 'true' } }),
    clusterRole('view', [], { aggregateFrom: AGGREGATE_TO_VIEW, labels: { [AGGREGATE_TO_EDIT]: 'true' } }),
    clusterRole(
      'system:aggregate-to-admin',
      [rule(['create'], [AUTHZ], ['localsubjectaccessreviews']), rule(READ_WRITE, [RBAC_GROUP], ['roles', 'rolebindings'])],
      { labels: { [AGGREGATE_TO_ADMIN]: 'true' } },
    ),
    clusterRole(
      'system:aggregate-to-edit',
      [
        // Reading secrets and exec-like subresources is an escalation: edit has it, view does not.
        rule(READ, [CORE], ['pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward', 'secrets', 'services/proxy']),
        rule(['impersonate'], [CORE], ['serviceaccounts']),
        rule(WRITE, [CORE], ['pods', 'pods/attach', 'pods/proxy', 'pods/exec', 'pods/portforward']),
        rule(['create'], [CORE], ['pods/eviction']),
        rule(WRITE, [CORE], ['replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/proxy', 'persistentvolumeclaims', 'configmaps', 'secrets', 'events']),
        rule(['create'], [CORE], ['serviceaccounts/token']),
        rule(WRITE, [APPS], ['statefulsets', 'statefulsets/scale', 'daemonsets', 'deployments', 'deployments/scale', 'deployments/rollback', 'replicasets', 'replicasets/scale']),
        rule(WRITE, [AUTOSCALING], ['horizontalpodautoscalers']),
        rule(WRITE, [BATCH], ['jobs', 'cronjobs']),
        rule(WRITE, [EXTENSIONS], ['daemonsets', 'deployments', 'deployments/scale', 'deployments/rollback', 'ingresses', 'replicasets', 'replicasets/scale', 'replicationcontrollers/scale', 'networkpolicies']),
        rule(WRITE, [POLICY], ['poddisruptionbudgets']),
        rule(WRITE, [NETWORKING], ['networkpolicies', 'ingresses']),
      ],
      { labels: { [AGGREGATE_TO_EDIT]: 'true' } },
    ),
    clusterRole(
      'system:aggregate-to-view',
      [
        rule(READ, [CORE], ['pods', 'replicationcontrollers', 'replicationcontrollers/scale', 'serviceaccounts', 'services', 'services/status', 'endpoints', 'persistentvolumeclaims', 'persistentvolumeclaims/status', 'configmaps']),
        rule(READ, [CORE], ['limitranges', 'resourcequotas', 'bindings', 'events', 'pods/status', 'resourcequotas/status', 'namespaces/status', 'replicationcontrollers/status', 'pods/log']),
        // Reading namespaces through a RoleBinding means reading *this* namespace.
        rule(READ, [CORE], ['namespaces']),
        rule(READ, [DISCOVERY], ['endpointslices']),
        rule(READ, [APPS], ['controllerrevisions', 'statefulsets', 'statefulsets/status', 'statefulsets/scale', 'daemonsets', 'daemonsets/status', 'deployments', 'deployments/status', 'deployments/scale', 'replicasets', 'replicasets/status', 'replicasets/scale']),
        rule(READ, [AUTOSCALING], ['horizontalpodautoscalers', 'horizontalpodautoscalers/status']),
        rule(READ, [BATCH], ['jobs', 'cronjobs', 'cronjobs/status', 'jobs/status']),
        rule(READ, [EXTENSIONS], ['daemonsets', 'daemonsets/status', 'deployments', 'deployments/scale', 'deployments/status', 'ingresses', 'ingresses/status', 'replicasets', 'replicasets/scale', 'replicasets/status', 'replicationcontrollers/scale', 'networkpolicies']),
        rule(READ, [POLICY], ['poddisruptionbudgets', 'poddisruptionbudgets/status']),
        rule(READ, [NETWORKING], ['networkpolicies', 'ingresses', 'ingresses/status']),
      ],
      { labels: { [AGGREGATE_TO_VIEW]: 'true' } },
    ),
    // What metrics-server installs so that `kubectl top` works for view/edit/admin (Skiff serves metrics.k8s.io itself).
    clusterRole('system:aggregated-metrics-reader', [rule(READ, ['metrics.k8s.io'], ['pods', 'nodes'])], {
      labels: { [AGGREGATE_TO_VIEW]: 'true', [AGGREGATE_TO_EDIT]: 'true', [AGGREGATE_TO_ADMIN]: 'true' },
    }),

    clusterRole('system:node', nodeRules()),
    clusterRole('system:node-proxier', [
      rule(['list', 'watch'], [CORE], ['services', 'endpoints']),
      rule(['get', 'list', 'watch'], [CORE], ['nodes']),
      eventsRule,
      rule(['list', 'watch'], [DISCOVERY], ['endpointslices']),
    ]),
    clusterRole('system:node-bootstrapper', [rule(['create', 'get', 'list', 'watch'], [CERTS], ['certificatesigningrequests'])]),
    clusterRole('system:kubelet-api-admin', [
      rule(['get', 'list', 'watch'], [CORE], ['nodes']),
      rule(['proxy'], [CORE], ['nodes']),
      rule(['*'], [CORE], ['nodes/proxy', 'nodes/metrics', 'nodes/spec', 'nodes/stats', 'nodes/log']),
    ]),
    clusterRole('system:auth-delegator', [rule(['create'], [AUTHN], ['tokenreviews']), rule(['create'], [AUTHZ], ['subjectaccessreviews'])]),
    clusterRole('system:kube-scheduler', [
      eventsRule,
      rule(['create'], [COORDINATION], ['leases']),
      rule(['get', 'update'], [COORDINATION], ['leases'], ['kube-scheduler']),
      rule(['create'], [CORE], ['endpoints']),
      rule(['get', 'update'], [CORE], ['endpoints'], ['kube-scheduler']),
      rule(READ, [CORE], ['nodes']),
      rule(['get', 'list', 'watch', 'delete'], [CORE], ['pods']),
      rule(['create'], [CORE], ['bindings', 'pods/binding']),
      rule(['patch', 'update'], [CORE], ['pods/status']),
      rule(READ, [CORE], ['replicationcontrollers', 'services', 'namespaces', 'persistentvolumeclaims', 'persistentvolumes']),
      rule(READ, [APPS, EXTENSIONS], ['replicasets']),
      rule(READ, [APPS], ['statefulsets']),
      rule(READ, [POLICY], ['poddisruptionbudgets']),
      rule(['create'], [AUTHN], ['tokenreviews']),
      rule(['create'], [AUTHZ], ['subjectaccessreviews']),
      rule(READ, [STORAGE], ['csinodes', 'csidrivers', 'csistoragecapacities', 'storageclasses']),
      rule(READ, ['scheduling.k8s.io'], ['priorityclasses']),
    ]),
    clusterRole('system:kube-controller-manager', [
      eventsRule,
      rule(['create'], [COORDINATION], ['leases']),
      rule(['get', 'update'], [COORDINATION], ['leases'], ['kube-controller-manager']),
      rule(['create'], [CORE], ['secrets', 'serviceaccounts']),
      rule(['delete'], [CORE], ['secrets']),
      rule(['get'], [CORE], ['namespaces', 'secrets', 'serviceaccounts', 'configmaps']),
      rule(['update'], [CORE], ['secrets', 'serviceaccounts']),
      rule(['create'], [AUTHN], ['tokenreviews']),
      rule(['create'], [AUTHZ], ['subjectaccessreviews']),
      rule(['list', 'watch'], ['*'], ['*']),
      rule(['create'], [CORE], ['serviceaccounts/token']),
    ]),
    clusterRole('system:kube-dns', [rule(['list', 'watch'], [CORE], ['endpoints', 'services'])]),
    // kubeadm's CoreDNS role.
    clusterRole('system:coredns', [
      rule(['list', 'watch'], [CORE], ['endpoints', 'services', 'pods', 'namespaces']),
      rule(['list', 'watch'], [DISCOVERY], ['endpointslices']),
      rule(['get'], [CORE], ['nodes']),
    ]),
  ];
}

export function defaultClusterRoleBindings(): KObject[] {
  return [
    clusterRoleBinding('cluster-admin', 'cluster-admin', [group('system:masters')]),
    clusterRoleBinding('system:discovery', 'system:discovery', [group('system:authenticated')]),
    clusterRoleBinding('system:basic-user', 'system:basic-user', [group('system:authenticated')]),
    clusterRoleBinding('system:public-info-viewer', 'system:public-info-viewer', [group('system:authenticated'), group('system:unauthenticated')]),
    clusterRoleBinding('system:monitoring', 'system:monitoring', [group('system:monitoring')]),
    clusterRoleBinding('system:service-account-issuer-discovery', 'system:service-account-issuer-discovery', [group('system:serviceaccounts')]),
    clusterRoleBinding('system:node', 'system:node', [group('system:nodes')]),
    clusterRoleBinding('system:node-proxier', 'system:node-proxier', [user('system:kube-proxy')]),
    clusterRoleBinding('system:kube-scheduler', 'system:kube-scheduler', [user('system:kube-scheduler')]),
    clusterRoleBinding('system:kube-controller-manager', 'system:kube-controller-manager', [user('system:kube-controller-manager')]),
    clusterRoleBinding('system:kube-dns', 'system:kube-dns', [serviceAccount('kube-system', 'kube-dns')]),
    clusterRoleBinding('system:coredns', 'system:coredns', [serviceAccount('kube-system', 'coredns')]),
  ];
}

/** kubeadm's anonymous read of kube-public/cluster-info (what `skiff node join` reads before it trusts the server). */
export function defaultNamespacedPolicy(): KObject[] {
  const ns = 'kube-public';
  const name = 'kubeadm:bootstrap-signer-clusterinfo';
  return [
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'Role',
      metadata: { name, namespace: ns },
      rules: [rule(['get'], [CORE], ['configmaps'], ['cluster-info'])],
    },
    {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: 'RoleBinding',
      metadata: { name, namespace: ns },
      roleRef: { apiGroup: RBAC_GROUP, kind: 'Role', name },
      subjects: [user('system:anonymous')],
    },
  ];
}

const PLURAL: Record<string, string> = { ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings' };

/**
 * Create every default object that is missing; refresh the ones still marked
 * `rbac.authorization.kubernetes.io/autoupdate: "true"` whose rules (or subjects) differ from the
 * defaults (an upgrade). Aggregated roles keep the rules the controller computed. Idempotent; call
 * at every start, after the kinds are registered and before serving requests.
 */
export async function ensureDefaultPolicy(resources: Resources, ctx: RequestContext = systemContext('rbac-bootstrap')): Promise<void> {
  for (const want of [...defaultClusterRoles(), ...defaultClusterRoleBindings(), ...defaultNamespacedPolicy()]) {
    const kind = want.kind ?? '';
    const spec = resources.spec(RBAC_GROUP, 'v1', PLURAL[kind]);
    const ns = want.metadata.namespace;
    const name = want.metadata.name!;
    const have = await resources.tryGet(spec, ns, name);
    if (!have) {
      try {
        await resources.create(spec, ns, deepCopy(want), ctx);
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 409)) throw e;
      }
      continue;
    }
    if (have.metadata.annotations?.['rbac.authorization.kubernetes.io/autoupdate'] !== 'true') continue;
    const field = kind.endsWith('Binding') ? 'subjects' : 'rules';
    if (field === 'rules' && want.aggregationRule) {
      if (jsonEqual(have.aggregationRule, want.aggregationRule)) continue;
    } else if (jsonEqual(have[field], want[field])) continue;
    const next = deepCopy(have);
    if (field === 'rules' && want.aggregationRule) next.aggregationRule = deepCopy(want.aggregationRule);
    else next[field] = deepCopy(want[field]);
    next.metadata.labels = { ...(have.metadata.labels ?? {}), ...(want.metadata.labels ?? {}) };
    await resources.update(spec, ns, name, next, ctx);
  }
}
