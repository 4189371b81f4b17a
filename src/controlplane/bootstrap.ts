// Objects every cluster starts with, written through the API like any client would (idempotent,
// so a restart just finds them): the system namespaces, the `kubernetes` Service and its
// endpoints, and the system priority classes.
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { systemContext } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';

export interface BootstrapOptions {
  apiServerHost: string;
  apiServerPort: number;
  kubernetesServiceIP: string;
  /** The cluster CA, published in kube-public/cluster-info for joining nodes (as kubeadm does). */
  caCert?: string;
}

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export async function bootstrap(r: Resources, o: BootstrapOptions): Promise<void> {
  const ctx = systemContext('skiff-bootstrap');
  const ensure = async (group: string, version: string, plural: string, obj: KObject, reconcile?: (live: KObject) => KObject | undefined) => {
    const spec = r.spec(group, version, plural);
    try {
      await r.create(spec, obj.metadata.namespace, obj, ctx);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) throw e;
      if (!reconcile) return;
      const live = await r.get(spec, obj.metadata.namespace, obj.metadata.name!);
      const next = reconcile(live);
      if (next) await r.update(spec, obj.metadata.namespace, obj.metadata.name!, next, ctx);
    }
  };

  for (const name of SYSTEM_NAMESPACES) await ensure('', 'v1', 'namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

  const port = { name: 'https', port: 443, protocol: 'TCP', targetPort: o.apiServerPort };
  await ensure(
    '',
    'v1',
    'services',
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', clusterIP: o.kubernetesServiceIP, ports: [port], sessionAffinity: 'None' },
    },
    (live) => {
      const spec = live.spec as { ports?: { targetPort?: unknown }[] };
      if (spec.ports?.[0]?.targetPort === o.apiServerPort) return undefined;
      return { ...live, spec: { ...(live.spec as object), ports: [port] } };
    },
  );
  const endpoints: KObject = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: o.apiServerHost }], ports: [{ name: 'https', port: o.apiServerPort, protocol: 'TCP' }] }],
  };
  await ensure('', 'v1', 'endpoints', endpoints, (live) => (JSON.stringify(live.subsets) === JSON.stringify(endpoints.subsets) ? undefined : { ...live, subsets: endpoints.subsets }));
  const slice: KObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [o.apiServerHost], conditions: { ready: true } }],
    ports: [{ name: 'https', port: o.apiServerPort, protocol: 'TCP' }],
  };
  await ensure('discovery.k8s.io', 'v1', 'endpointslices', slice, (live) =>
    JSON.stringify(live.ports) === JSON.stringify(slice.ports) ? undefined : { ...live, endpoints: slice.endpoints, ports: slice.ports },
  );

  for (const [name, value] of [
    ['system-node-critical', 2000001000],
    ['system-cluster-critical', 2000000000],
  ] as const)
    await ensure('scheduling.k8s.io', 'v1', 'priorityclasses', {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name },
      value,
      description: 'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.',
    });

  if (o.caCert) {
    // JSON is YAML: readers parse it as the kubeconfig document kubeadm publishes.
    const kubeconfig = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: '', cluster: { server: `https://${o.apiServerHost}:${o.apiServerPort}`, 'certificate-authority-data': Buffer.from(o.caCert).toString('base64') } }],
      contexts: [],
      users: [],
      preferences: {},
    });
    const info: KObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cluster-info', namespace: 'kube-public' }, data: { kubeconfig } };
    await ensure('', 'v1', 'configmaps', info, (live) => (JSON.stringify(live.data) === JSON.stringify(info.data) ? undefined : { ...live, data: info.data }));
  }
}
