// `kubectl describe` and `kubectl get` for one object of every built-in kind the server serves (plus a
// CustomResourceDefinition and one of its objects), with the real kubectl 1.32: describe exits 0 and
// prints the upstream describer's lines; get prints the upstream column headers
// (/work/shared/docs/kubectl-wire.md §3.3, and upstream 1.32 printers for the other kinds); Events
// created for the objects show up in `get events` and in the objects' describe output.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, eventually } from './harness.js';

const NS = 'dtest';

interface Kind {
  /** What `kubectl describe/get` is given. */
  resource: string;
  name: string;
  namespaced: boolean;
  manifest: string;
  /** Lines the upstream describer prints for this object (besides `Name:`). */
  describe: RegExp[];
  /** The upstream `kubectl get` column headers. */
  header: string[];
}

const meta = (name: string, namespaced: boolean, extra = '') => `metadata: { name: ${name}${namespaced ? `, namespace: ${NS}` : ''}${extra} }`;

const KINDS: Kind[] = [
  {
    resource: 'namespace',
    name: NS,
    namespaced: false,
    manifest: `apiVersion: v1\nkind: Namespace\n${meta(NS, false, ', labels: { team: a }')}\n`,
    describe: [/^Labels:\s+kubernetes\.io\/metadata\.name=dtest$/m, /^Status:\s+Active$/m, /^Resource Quotas$/m, /^Resource Limits$/m],
    header: ['NAME', 'STATUS', 'AGE'],
  },
  {
    resource: 'node',
    name: 'node-a',
    namespaced: false,
    manifest: `apiVersion: v1\nkind: Node\n${meta('node-a', false, ', labels: { kubernetes.io/hostname: node-a, node-role.kubernetes.io/worker: "" }')}\nspec: { podCIDR: 10.244.1.0/24 }\n`,
    describe: [/^Roles:\s+worker$/m, /^Taints:\s+<none>$/m, /^Unschedulable:\s+false$/m, /^PodCIDR:\s+10\.244\.1\.0\/24$/m, /^Non-terminated Pods:\s+\(\d+ in total\)$/m],
    header: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
  },
  {
    resource: 'pod',
    name: 'pod-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: Pod\n${meta('pod-a', true, ', labels: { app: a }')}\nspec:\n  containers:\n  - { name: main, image: nginx:1.25, ports: [ { containerPort: 80 } ] }\n`,
    describe: [/^Namespace:\s+dtest$/m, /^Status:\s+(Pending|Running)$/m, /^Containers:\n\s+main:\n(\s+Container ID:.*\n)?\s+Image:\s+nginx:1\.25$/m, /^\s+Port:\s+80\/TCP$/m, /^QoS Class:\s+BestEffort$/m],
    header: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
  },
  {
    resource: 'replicaset',
    name: 'rs-a',
    namespaced: true,
    manifest: `apiVersion: apps/v1\nkind: ReplicaSet\n${meta('rs-a', true)}\nspec:\n  replicas: 2\n  selector: { matchLabels: { app: rs-a } }\n  template:\n    metadata: { labels: { app: rs-a } }\n    spec: { containers: [ { name: main, image: nginx:1.25 } ] }\n`,
    describe: [/^Selector:\s+app=rs-a$/m, /^Replicas:\s+\d+ current \/ 2 desired$/m, /^Pods Status:\s+\d+ Running \/ \d+ Waiting \/ \d+ Succeeded \/ \d+ Failed$/m, /^Pod Template:$/m],
    header: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
  },
  {
    resource: 'deployment',
    name: 'deploy-a',
    namespaced: true,
    manifest: `apiVersion: apps/v1\nkind: Deployment\n${meta('deploy-a', true)}\nspec:\n  replicas: 3\n  selector: { matchLabels: { app: deploy-a } }\n  template:\n    metadata: { labels: { app: deploy-a } }\n    spec: { containers: [ { name: main, image: nginx:1.25 } ] }\n`,
    describe: [
      /^Replicas:\s+3 desired \| \d+ updated \| \d+ total \| \d+ available \| \d+ unavailable$/m,
      /^StrategyType:\s+RollingUpdate$/m,
      /^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$/m,
      /^Selector:\s+app=deploy-a$/m,
    ],
    header: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
  },
  {
    resource: 'service',
    name: 'svc-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: Service\n${meta('svc-a', true)}\nspec:\n  selector: { app: a }\n  ports: [ { port: 80, targetPort: 8080 } ]\n`,
    describe: [/^Type:\s+ClusterIP$/m, /^IP:\s+\d+\.\d+\.\d+\.\d+$/m, /^Port:\s+<unset>\s+80\/TCP$/m, /^TargetPort:\s+8080\/TCP$/m, /^Session Affinity:\s+None$/m],
    header: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
  },
  {
    resource: 'endpoints',
    name: 'ep-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: Endpoints\n${meta('ep-a', true)}\nsubsets:\n- addresses: [ { ip: 10.0.0.1 } ]\n  ports: [ { port: 80 } ]\n`,
    describe: [/^Subsets:$/m, /^\s+Addresses:\s+10\.0\.0\.1$/m],
    header: ['NAME', 'ENDPOINTS', 'AGE'],
  },
  {
    resource: 'endpointslice',
    name: 'eps-a',
    namespaced: true,
    manifest: `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n${meta('eps-a', true, ', labels: { kubernetes.io/service-name: svc-a }')}\naddressType: IPv4\nendpoints: [ { addresses: [ 10.0.0.2 ] } ]\nports: [ { name: http, port: 80, protocol: TCP } ]\n`,
    describe: [/^AddressType:\s+IPv4$/m, /^\s+- Addresses:\s+10\.0\.0\.2$/m, /^\s+http\s+80\s+TCP$/m],
    header: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
  },
  {
    resource: 'ingressclass',
    name: 'ic-a',
    namespaced: false,
    manifest: `apiVersion: networking.k8s.io/v1\nkind: IngressClass\n${meta('ic-a', false)}\nspec: { controller: example.com/ingress }\n`,
    describe: [/^Controller:\s+example\.com\/ingress$/m],
    header: ['NAME', 'CONTROLLER', 'PARAMETERS', 'AGE'],
  },
  {
    resource: 'ingress',
    name: 'ing-a',
    namespaced: true,
    manifest: `apiVersion: networking.k8s.io/v1\nkind: Ingress\n${meta('ing-a', true)}\nspec:\n  ingressClassName: ic-a\n  rules:\n  - host: a.example.com\n    http:\n      paths:\n      - { path: /, pathType: Prefix, backend: { service: { name: svc-a, port: { number: 80 } } } }\n`,
    describe: [/^Ingress Class:\s+ic-a$/m, /^\s+a\.example\.com\s*$/m, /^\s+\/\s+svc-a:80 /m],
    header: ['NAME', 'CLASS', 'HOSTS', 'ADDRESS', 'PORTS', 'AGE'],
  },
  {
    resource: 'horizontalpodautoscaler',
    name: 'hpa-a',
    namespaced: true,
    manifest: `apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n${meta('hpa-a', true)}\nspec:\n  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: deploy-a }\n  minReplicas: 1\n  maxReplicas: 5\n  metrics:\n  - type: Resource\n    resource: { name: cpu, target: { type: Utilization, averageUtilization: 50 } }\n`,
    describe: [
      /^Reference:\s+Deployment\/deploy-a$/m,
      /^\s+resource cpu on pods\s+\(as a percentage of request\):\s+<unknown> \/ 50%$/m,
      /^Min replicas:\s+1$/m,
      /^Max replicas:\s+5$/m,
      /^Deployment pods:\s+\d+ current \/ \d+ desired$/m,
    ],
    header: ['NAME', 'REFERENCE', 'TARGETS', 'MINPODS', 'MAXPODS', 'REPLICAS', 'AGE'],
  },
  {
    resource: 'configmap',
    name: 'cm-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: ConfigMap\n${meta('cm-a', true)}\ndata: { k: v }\n`,
    describe: [/^Data\n====\nk:\n----\nv$/m, /^BinaryData\n====$/m],
    header: ['NAME', 'DATA', 'AGE'],
  },
  {
    resource: 'secret',
    name: 'secret-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: Secret\n${meta('secret-a', true)}\nstringData: { password: s3cret }\n`,
    describe: [/^Type:\s+Opaque$/m, /^password:\s+6 bytes$/m],
    header: ['NAME', 'TYPE', 'DATA', 'AGE'],
  },
  {
    resource: 'job',
    name: 'job-a',
    namespaced: true,
    manifest: `apiVersion: batch/v1\nkind: Job\n${meta('job-a', true)}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [ { name: main, image: busybox, command: [ "true" ] } ]\n`,
    describe: [/^Parallelism:\s+1$/m, /^Completions:\s+1$/m, /^Completion Mode:\s+NonIndexed$/m, /^Backoff Limit:\s+6$/m, /^Pods Statuses:\s+\d+ Active .*\/ \d+ Succeeded \/ \d+ Failed$/m],
    header: ['NAME', 'STATUS', 'COMPLETIONS', 'DURATION', 'AGE'],
  },
  {
    resource: 'cronjob',
    name: 'cj-a',
    namespaced: true,
    manifest: `apiVersion: batch/v1\nkind: CronJob\n${meta('cj-a', true)}\nspec:\n  schedule: "*/5 * * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers: [ { name: main, image: busybox } ]\n`,
    describe: [/^Schedule:\s+\*\/5 \* \* \* \*$/m, /^Concurrency Policy:\s+Allow$/m, /^Suspend:\s+False$/m, /^Successful Job History Limit:\s+3$/m, /^Failed Job History Limit:\s+1$/m],
    header: ['NAME', 'SCHEDULE', 'TIMEZONE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'AGE'],
  },
  {
    resource: 'resourcequota',
    name: 'quota-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: ResourceQuota\n${meta('quota-a', true)}\nspec: { hard: { pods: "10", requests.cpu: "4" } }\n`,
    describe: [/^Namespace:\s+dtest$/m, /^Resource\s+Used\s+Hard$/m],
    header: ['NAME', 'AGE', 'REQUEST', 'LIMIT'],
  },
  {
    resource: 'limitrange',
    name: 'lr-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: LimitRange\n${meta('lr-a', true)}\nspec:\n  limits:\n  - type: Container\n    default: { cpu: 500m }\n    defaultRequest: { cpu: 100m }\n`,
    describe: [/^Type\s+Resource\s+Min\s+Max\s+Default Request\s+Default Limit\s+Max Limit\/Request Ratio$/m, /^Container\s+cpu\s+-\s+-\s+100m\s+500m\s+-$/m],
    header: ['NAME', 'CREATED AT'],
  },
  {
    resource: 'poddisruptionbudget',
    name: 'pdb-a',
    namespaced: true,
    manifest: `apiVersion: policy/v1\nkind: PodDisruptionBudget\n${meta('pdb-a', true)}\nspec:\n  minAvailable: 1\n  selector: { matchLabels: { app: a } }\n`,
    describe: [/^Min available:\s+1$/m, /^Selector:\s+app=a$/m, /^\s+Allowed disruptions:\s+\d+$/m],
    header: ['NAME', 'MIN AVAILABLE', 'MAX UNAVAILABLE', 'ALLOWED DISRUPTIONS', 'AGE'],
  },
  {
    resource: 'daemonset',
    name: 'ds-a',
    namespaced: true,
    manifest: `apiVersion: apps/v1\nkind: DaemonSet\n${meta('ds-a', true)}\nspec:\n  selector: { matchLabels: { app: ds-a } }\n  template:\n    metadata: { labels: { app: ds-a } }\n    spec: { containers: [ { name: main, image: nginx:1.25 } ] }\n`,
    describe: [/^Selector:\s+app=ds-a$/m, /^Node-Selector:\s+<none>$/m, /^Desired Number of Nodes Scheduled: \d+$/m, /^Number of Nodes Misscheduled: \d+$/m],
    header: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'NODE SELECTOR', 'AGE'],
  },
  {
    resource: 'statefulset',
    name: 'sts-a',
    namespaced: true,
    manifest: `apiVersion: apps/v1\nkind: StatefulSet\n${meta('sts-a', true)}\nspec:\n  serviceName: svc-a\n  replicas: 2\n  selector: { matchLabels: { app: sts-a } }\n  template:\n    metadata: { labels: { app: sts-a } }\n    spec: { containers: [ { name: main, image: nginx:1.25 } ] }\n`,
    describe: [/^Replicas:\s+2 desired \| \d+ total$/m, /^Update Strategy:\s+RollingUpdate$/m, /^\s+Partition:\s+0$/m, /^Volume Claims:\s+<none>$/m],
    header: ['NAME', 'READY', 'AGE'],
  },
  {
    resource: 'storageclass',
    name: 'sc-a',
    namespaced: false,
    manifest: `apiVersion: storage.k8s.io/v1\nkind: StorageClass\n${meta('sc-a', false)}\nprovisioner: example.com/none\nreclaimPolicy: Delete\nvolumeBindingMode: WaitForFirstConsumer\n`,
    describe: [/^IsDefaultClass:\s+No$/m, /^Provisioner:\s+example\.com\/none$/m, /^ReclaimPolicy:\s+Delete$/m, /^VolumeBindingMode:\s+WaitForFirstConsumer$/m],
    header: ['NAME', 'PROVISIONER', 'RECLAIMPOLICY', 'VOLUMEBINDINGMODE', 'ALLOWVOLUMEEXPANSION', 'AGE'],
  },
  {
    resource: 'persistentvolume',
    name: 'pv-a',
    namespaced: false,
    manifest: `apiVersion: v1\nkind: PersistentVolume\n${meta('pv-a', false)}\nspec:\n  capacity: { storage: 1Gi }\n  accessModes: [ ReadWriteOnce ]\n  storageClassName: sc-a\n  hostPath: { path: /tmp/pv-a }\n`,
    describe: [/^StorageClass:\s+sc-a$/m, /^Reclaim Policy:\s+Retain$/m, /^Access Modes:\s+RWO$/m, /^Capacity:\s+1Gi$/m, /^\s+Type:\s+HostPath \(bare host directory volume\)$/m],
    header: ['NAME', 'CAPACITY', 'ACCESS MODES', 'RECLAIM POLICY', 'STATUS', 'CLAIM', 'STORAGECLASS', 'VOLUMEATTRIBUTESCLASS', 'REASON', 'AGE'],
  },
  {
    resource: 'persistentvolumeclaim',
    name: 'pvc-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: PersistentVolumeClaim\n${meta('pvc-a', true)}\nspec:\n  accessModes: [ ReadWriteOnce ]\n  storageClassName: sc-a\n  resources: { requests: { storage: 1Gi } }\n`,
    describe: [/^StorageClass:\s+sc-a$/m, /^Status:\s+Pending$/m, /^VolumeMode:\s+Filesystem$/m],
    header: ['NAME', 'STATUS', 'VOLUME', 'CAPACITY', 'ACCESS MODES', 'STORAGECLASS', 'VOLUMEATTRIBUTESCLASS', 'AGE'],
  },
  {
    resource: 'networkpolicy',
    name: 'np-a',
    namespaced: true,
    manifest: `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n${meta('np-a', true)}\nspec:\n  podSelector: { matchLabels: { app: a } }\n  policyTypes: [ Ingress ]\n  ingress:\n  - from: [ { podSelector: { matchLabels: { role: client } } } ]\n`,
    describe: [/^\s+PodSelector:\s+app=a$/m, /^\s+Allowing ingress traffic:$/m, /^\s+PodSelector: role=client$/m, /^\s+Policy Types: Ingress$/m],
    header: ['NAME', 'POD-SELECTOR', 'AGE'],
  },
  {
    resource: 'serviceaccount',
    name: 'sa-a',
    namespaced: true,
    manifest: `apiVersion: v1\nkind: ServiceAccount\n${meta('sa-a', true)}\n`,
    describe: [/^Image pull secrets:\s+<none>$/m, /^Mountable secrets:\s+<none>$/m, /^Tokens:\s+<none>$/m],
    header: ['NAME', 'SECRETS', 'AGE'],
  },
  {
    resource: 'role',
    name: 'role-a',
    namespaced: true,
    manifest: `apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n${meta('role-a', true)}\nrules:\n- { apiGroups: [ "" ], resources: [ pods ], verbs: [ get, list ] }\n`,
    describe: [/^PolicyRule:$/m, /^\s+Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs$/m, /^\s+pods\s+\[\]\s+\[\]\s+\[get list\]$/m],
    header: ['NAME', 'CREATED AT'],
  },
  {
    resource: 'clusterrole',
    name: 'cr-a',
    namespaced: false,
    manifest: `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n${meta('cr-a', false)}\nrules:\n- { apiGroups: [ apps ], resources: [ deployments ], verbs: [ get ] }\n`,
    describe: [/^PolicyRule:$/m, /^\s+deployments\.apps\s+\[\]\s+\[\]\s+\[get\]$/m],
    header: ['NAME', 'CREATED AT'],
  },
  {
    resource: 'rolebinding',
    name: 'rb-a',
    namespaced: true,
    manifest: `apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n${meta('rb-a', true)}\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: role-a }\nsubjects: [ { kind: ServiceAccount, name: sa-a, namespace: ${NS} } ]\n`,
    describe: [/^Role:\n\s+Kind:\s+Role\n\s+Name:\s+role-a$/m, /^\s+ServiceAccount\s+sa-a\s+dtest$/m],
    header: ['NAME', 'ROLE', 'AGE'],
  },
  {
    resource: 'clusterrolebinding',
    name: 'crb-a',
    namespaced: false,
    manifest: `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n${meta('crb-a', false)}\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr-a }\nsubjects: [ { kind: User, name: alice, apiGroup: rbac.authorization.k8s.io } ]\n`,
    describe: [/^Role:\n\s+Kind:\s+ClusterRole\n\s+Name:\s+cr-a$/m, /^\s+User\s+alice\s*$/m],
    header: ['NAME', 'ROLE', 'AGE'],
  },
  {
    resource: 'lease',
    name: 'lease-a',
    namespaced: true,
    manifest: `apiVersion: coordination.k8s.io/v1\nkind: Lease\n${meta('lease-a', true)}\nspec: { holderIdentity: me, leaseDurationSeconds: 15 }\n`,
    describe: [/^API Version:\s+coordination\.k8s\.io\/v1$/m, /^Kind:\s+Lease$/m, /^Spec:\n\s+Holder Identity:\s+me\n\s+Lease Duration Seconds:\s+15$/m],
    header: ['NAME', 'HOLDER', 'AGE'],
  },
  {
    resource: 'priorityclass',
    name: 'pc-a',
    namespaced: false,
    manifest: `apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\n${meta('pc-a', false)}\nvalue: 1000\ndescription: test priority\n`,
    describe: [/^Value:\s+1000$/m, /^GlobalDefault:\s+false$/m, /^PreemptionPolicy:\s+PreemptLowerPriority$/m, /^Description:\s+test priority$/m],
    header: ['NAME', 'VALUE', 'GLOBAL-DEFAULT', 'AGE', 'PREEMPTIONPOLICY'],
  },
  {
    resource: 'controllerrevision',
    name: 'crev-a',
    namespaced: true,
    manifest: `apiVersion: apps/v1\nkind: ControllerRevision\n${meta('crev-a', true)}\ndata: { spec: { template: { metadata: { labels: { app: sts-a } } } } }\nrevision: 1\n`,
    describe: [/^Kind:\s+ControllerRevision$/m, /^Revision:\s+1$/m, /^Data:\n\s+Spec:$/m],
    header: ['NAME', 'CONTROLLER', 'REVISION', 'AGE'],
  },
  {
    resource: 'customresourcedefinition',
    name: 'gadgets.example.com',
    namespaced: false,
    manifest: `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: gadgets.example.com }
spec:
  group: example.com
  scope: Namespaced
  names: { plural: gadgets, singular: gadget, kind: Gadget }
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: { type: object, properties: { size: { type: integer } } }
`,
    describe: [/^Kind:\s+CustomResourceDefinition$/m, /^\s+Group:\s+example\.com$/m, /^\s+Scope:\s+Namespaced$/m, /^\s+Plural:\s+gadgets$/m],
    header: ['NAME', 'CREATED AT'],
  },
];

/** Created after the CRD is established. */
const GADGET: Kind = {
  resource: 'gadget',
  name: 'gadget-a',
  namespaced: true,
  manifest: `apiVersion: example.com/v1\nkind: Gadget\n${meta('gadget-a', true)}\nspec: { size: 3 }\n`,
  describe: [/^API Version:\s+example\.com\/v1$/m, /^Kind:\s+Gadget$/m, /^Spec:\n\s+Size:\s+3$/m],
  header: ['NAME', 'AGE'],
};

/** Events for the objects above; created once their uids are known. */
const CORE_EVENT: Kind = {
  resource: 'event',
  name: 'deploy-a.scaled',
  namespaced: true,
  manifest: '',
  describe: [/^API Version:\s+v1$/m, /^Kind:\s+Event$/m, /^Involved Object:\n(\s+.*\n)*?\s+Kind:\s+Deployment$/m, /^Reason:\s+ScalingReplicaSet$/m, /^Message:\s+Scaled up replica set deploy-a-1 to 3$/m, /^Count:\s+1$/m],
  header: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
};
const EVENTS_V1_EVENT: Kind = {
  resource: 'events.v1.events.k8s.io',
  name: 'pod-a.tested',
  namespaced: true,
  manifest: '',
  describe: [/^API Version:\s+events\.k8s\.io\/v1$/m, /^Note:\s+Pod pod-a was checked$/m, /^Regarding:\n(\s+.*\n)*?\s+Kind:\s+Pod$/m, /^Reporting Controller:\s+example\.com\/checker$/m, /^Type:\s+Warning$/m],
  header: ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
};

let c: TestCluster;
const uids = new Map<string, string>();

before(async () => {
  c = await TestCluster.create('describe');
  const out = await c.k(['apply', '-f', '-'], { input: KINDS.map((k) => k.manifest).join('---\n') });
  assert.equal(out.trim().split('\n').filter((l) => / created$/.test(l)).length, KINDS.length, out);
  await c.k(['wait', '--for', 'condition=Established', '--timeout', '30s', 'crd/gadgets.example.com']);
  await eventually(async () => (await c.kubectl(['apply', '-f', '-'], { input: GADGET.manifest })).code === 0, 'the Gadget to be created');
  for (const r of ['deployment/deploy-a', 'pod/pod-a'])
    uids.set(r, (await c.k(['get', r, '-n', NS, '-o', 'jsonpath={.metadata.uid}'])).trim());
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const micro = new Date().toISOString().replace(/Z$/, '000Z');
  await c.k(['create', '-f', '-'], {
    input: `apiVersion: v1
kind: Event
metadata: { name: ${CORE_EVENT.name}, namespace: ${NS} }
involvedObject: { apiVersion: apps/v1, kind: Deployment, name: deploy-a, namespace: ${NS}, uid: ${uids.get('deployment/deploy-a')} }
reason: ScalingReplicaSet
message: Scaled up replica set deploy-a-1 to 3
type: Normal
source: { component: deployment-controller }
firstTimestamp: "${now}"
lastTimestamp: "${now}"
count: 1
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: { name: ${EVENTS_V1_EVENT.name}, namespace: ${NS} }
eventTime: "${micro}"
reportingController: example.com/checker
reportingInstance: checker-1
action: Check
reason: Checked
note: Pod pod-a was checked
type: Warning
regarding: { apiVersion: v1, kind: Pod, name: pod-a, namespace: ${NS}, uid: ${uids.get('pod/pod-a')} }
`,
  });
});
after(async () => {
  await c?.destroy();
});

const nsArgs = (k: Kind) => (k.namespaced ? ['-n', NS] : []);
const ALL = [...KINDS, GADGET, CORE_EVENT, EVENTS_V1_EVENT];

describe('kubectl describe <kind> <name>', { concurrency: 4 }, () => {
  for (const k of ALL)
    it(`${k.resource} ${k.name}`, async () => {
      const r = await c.kubectl(['describe', k.resource, k.name, ...nsArgs(k)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^Name:\\s+${k.name.replace(/\./g, '\\.')}$`, 'm'));
      for (const re of k.describe) assert.match(r.stdout, re);
    });

  it('horizontalpodautoscalers.v1.autoscaling hpa-a (the v2 object read through v1)', async () => {
    const r = await c.kubectl(['describe', 'horizontalpodautoscalers.v1.autoscaling', 'hpa-a', '-n', NS]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Name:\s+hpa-a$/m);
    assert.match(r.stdout, /^Reference:\s+Deployment\/deploy-a$/m);
    assert.match(r.stdout, /<unknown> \/ 50%$/m);
  });
});

describe('kubectl get <kind> <name>: upstream column headers', { concurrency: 4 }, () => {
  for (const k of ALL)
    it(`${k.resource}: ${k.header.join(' ')}`, async () => {
      const out = await c.k(['get', k.resource, k.name, ...nsArgs(k)]);
      const [head, ...rows] = out.trimEnd().split('\n');
      assert.deepEqual(head.trim().split(/\s{2,}/), k.header, out);
      assert.equal(rows.length, 1, out);
      if (k.header[0] === 'NAME') assert.ok(rows[0].startsWith(`${k.name} `), out);
    });
});

describe('Events', () => {
  it('kubectl get events lists the Events of both APIs with their objects', async () => {
    const out = await c.k(['get', 'events', '-n', NS]);
    const [head, ...rows] = out.trimEnd().split('\n');
    assert.deepEqual(head.trim().split(/\s{2,}/), ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    assert.ok(rows.some((l) => /^\S+\s+Normal\s+ScalingReplicaSet\s+deployment\/deploy-a\s+Scaled up replica set deploy-a-1 to 3$/.test(l)), out);
    assert.ok(rows.some((l) => /^\S+\s+Warning\s+Checked\s+pod\/pod-a\s+Pod pod-a was checked$/.test(l)), out);
    const all = await c.k(['get', 'events', '-A']);
    assert.match(all, /^NAMESPACE\s+LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
    assert.match(all, /^dtest\s+\S+\s+Warning\s+Checked\s+pod\/pod-a\s+/m);
    const wide = await c.k(['get', 'events', '-n', NS, '-o', 'wide']);
    assert.match(wide, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+SUBOBJECT\s+SOURCE\s+MESSAGE\s+FIRST SEEN\s+COUNT\s+NAME$/m);
    assert.match(wide, /deployment-controller\s+Scaled up replica set deploy-a-1 to 3\s+\S+\s+1\s+deploy-a\.scaled$/m);
    // The same Events through events.k8s.io/v1.
    const v1 = JSON.parse(await c.k(['get', 'events.v1.events.k8s.io', '-n', NS, '-o', 'json']));
    const core = v1.items.find((e: { metadata: { name: string } }) => e.metadata.name === CORE_EVENT.name);
    assert.ok(core, `${CORE_EVENT.name} listed through events.k8s.io/v1`);
    assert.equal(core.apiVersion, 'events.k8s.io/v1');
    assert.equal(core.regarding.kind, 'Deployment');
    assert.equal(core.note, 'Scaled up replica set deploy-a-1 to 3');
    // And selectable by the involved object, as describe selects them.
    const sel = await c.k(['get', 'events', '-n', NS, '--field-selector', `involvedObject.kind=Pod,involvedObject.uid=${uids.get('pod/pod-a')}`, '-o', 'name']);
    assert.ok(sel.trim().split('\n').includes(`event/${EVENTS_V1_EVENT.name}`), sel);
    assert.ok(!sel.includes(`event/${CORE_EVENT.name}`), sel);
  });

  it("describe shows an object's Events", async () => {
    const d = await c.k(['describe', 'deployment', 'deploy-a', '-n', NS]);
    assert.match(d, /^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n\s+----\s+------\s+----\s+----\s+-------\n/m);
    assert.match(d, /^\s+Normal\s+ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set deploy-a-1 to 3$/m);
    const p = await c.k(['describe', 'pod', 'pod-a', '-n', NS]);
    assert.match(p, /^\s+Warning\s+Checked\s+\S+\s+example\.com\/checker\S*\s+Pod pod-a was checked$/m);
    const s = await c.k(['describe', 'configmap', 'cm-a', '-n', NS]);
    assert.match(s, /^Events:\s+<none>$/m);
  });
});

describe('HorizontalPodAutoscaler versions', () => {
  it('kubectl get hpa reads autoscaling/v2', async () => {
    const r = await c.kubectl(['get', 'hpa', '-n', NS, '-v=6']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /GET https:\/\/\S+\/apis\/autoscaling\/v2\/namespaces\/dtest\/horizontalpodautoscalers\?limit=500 200 OK/);
    assert.match(r.stdout, /^hpa-a\s+Deployment\/deploy-a\s+cpu: <unknown>\/50%\s+1\s+5\s+\d+\s+\S+$/m);
    assert.equal((await c.k(['get', 'hpa', 'hpa-a', '-n', NS, '-o', 'jsonpath={.apiVersion}'])).trim(), 'autoscaling/v2');
  });

  it('the v2 HPA reads back through autoscaling/v1 with its CPU target', async () => {
    const h = JSON.parse(await c.k(['get', 'horizontalpodautoscalers.v1.autoscaling', 'hpa-a', '-n', NS, '-o', 'json']));
    assert.equal(h.apiVersion, 'autoscaling/v1');
    assert.deepEqual(h.spec, { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'deploy-a' }, minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 50 });
  });
});

describe('metadata.generation', () => {
  // Upstream only kinds whose registry strategy tracks spec changes (workloads, CRDs, custom
  // resources…) get metadata.generation; BeforeCreate does not set it, so ConfigMaps, Secrets,
  // Events, Leases, ControllerRevisions, Namespaces and Services have none, and the generic
  // describer prints no "Generation:" for Events, Leases and ControllerRevisions.
  it('is absent on kinds whose upstream strategy does not track it', async () => {
    const have: string[] = [];
    for (const r of ['configmap/cm-a', 'secret/secret-a', 'service/svc-a', 'lease/lease-a', 'controllerrevision/crev-a', `event/${CORE_EVENT.name}`, 'namespace/dtest']) {
      const g = await c.k(['get', r, ...(r.startsWith('namespace/') ? [] : ['-n', NS]), '-o', 'jsonpath={.metadata.generation}']);
      if (g.trim() !== '') have.push(`${r}: ${g.trim()}`);
    }
    assert.deepEqual(have, []);
    assert.doesNotMatch(await c.k(['describe', 'lease', 'lease-a', '-n', NS]), /^\s+Generation:/m);
  });

  it('is 1 on creation of kinds whose upstream strategy tracks it', async () => {
    for (const r of ['deployment/deploy-a', 'statefulset/sts-a', 'gadget/gadget-a'])
      assert.equal((await c.k(['get', r, '-n', NS, '-o', 'jsonpath={.metadata.generation}'])).trim(), '1', r);
    assert.equal((await c.k(['get', 'crd/gadgets.example.com', '-o', 'jsonpath={.metadata.generation}'])).trim(), '1');
  });
});
