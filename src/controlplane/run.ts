// The control plane in one process (k3s-style): store, API server, and the controllers that
// belong to the control plane. Nodes (kubelets) join through the API like any other client.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import type { ClusterPki } from '../cluster/pki.js';
import type { ClusterConfig } from '../cluster/config.js';
import { firstServiceIP } from '../cluster/config.js';
import { SqliteStore } from '../storage/sqlite.js';
import { MemoryStore } from '../storage/memory.js';
import type { Store } from '../storage/store.js';
import { listen } from '../apiserver/server.js';
import { NamespaceController } from '../controllers/namespace.js';
import { GarbageCollector } from '../controllers/garbage-collector.js';
import { CrdController } from '../controllers/crd.js';
import { NamespaceDefaultsController } from '../controllers/namespace-defaults.js';
import { bootstrap } from './bootstrap.js';
import { createApi, enableAuth } from './api.js';
import { ClusterRoleAggregationController } from '../auth/aggregation.js';
import { defaultStorageClass } from '../controllers/volume/index.js';
import { StatusError } from '../machinery/errors.js';
import type { ApiClient } from '../client/client.js';
import { startControllers, startLocalNodes } from './components.js';
import { startClusterDns } from './cluster-dns.js';
import { prepareDataPlane, startDataPlane } from './data-plane.js';
import { HorizontalPodAutoscalerController, type PodMetric } from '../controllers/hpa/index.js';
import { loadOrCreateJoinToken } from '../cluster/join.js';
import { issuedCert } from '../cluster/pki-files.js';
import { MetricsSampler, nodeMetricsKind, podMetricsKind } from '../apiserver/metrics.js';
import type { Resources } from '../apiserver/resources.js';

export interface ControlPlaneOptions {
  name: string;
  stateDir: string;
  host: string;
  port: number;
  pki: ClusterPki;
  cluster: ClusterConfig;
  log: (line: string) => void;
  /** Tests: keep state in memory instead of SQLite. */
  inMemory?: boolean;
}

export interface ControlPlane {
  port: number;
  resources: Resources;
  /** Stops everything; `stopPods` (default true) also stops every container of the local nodes. */
  close(stopPods?: boolean): Promise<void>;
}

/** kind ships a default StorageClass `standard`; so does every Skiff cluster (left alone once it exists). */
async function ensureDefaultStorageClass(client: ApiClient): Promise<void> {
  try {
    await client.create({ group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses' }, undefined, defaultStorageClass());
  } catch (e) {
    if (!(e instanceof StatusError && e.code === 409)) throw e;
  }
}

export async function runControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const started = Date.now();
  // Its nft run takes a while and needs nothing from the API: it proceeds while the API starts.
  const dataPlaneWork = prepareDataPlane({ name: opts.name, log: opts.log });
  let store: Store;
  if (opts.inMemory) store = new MemoryStore();
  else {
    const dataDir = path.join(opts.stateDir, 'data');
    mkdirSync(dataDir, { recursive: true });
    store = SqliteStore.open(path.join(dataDir, 'skiff.db'));
  }
  const pkiDir = path.join(opts.stateDir, 'pki');
  const joinToken = loadOrCreateJoinToken(pkiDir);
  const tokens = new Map([
    [opts.pki.adminToken, { name: 'kubernetes-admin', groups: ['system:masters'] }],
    [joinToken, { name: `system:bootstrap:${joinToken.split('.')[0]}`, groups: ['system:bootstrappers', 'system:nodes'] }],
  ]);
  // The API server's identity towards kubelets (logs, exec, attach, port-forward, stats).
  const kubeletClient = await issuedCert(pkiDir, 'kube-apiserver-kubelet-client', async (pki) => pki.issueClientCert(opts.pki, 'kube-apiserver-kubelet-client', ['system:masters']));
  const api = createApi(store, {
    serviceSubnet: opts.cluster.networking.serviceSubnet,
    podSubnet: opts.cluster.networking.podSubnet,
    tokens,
    serverAddress: `${opts.host}:${opts.port}`,
    kubeletClient,
  });
  const { resources, schemas, services, handler } = api;

  // Custom kinds must be registered before anything serves or collects garbage.
  const client = api.client('system:kube-controller-manager');
  const crds = new CrdController(resources, client, schemas, opts.log);
  await crds.start();
  await services.rebuild(resources);
  await api.nodeIpam.rebuild(resources);
  const server = await listen(handler, { cert: opts.pki.apiServer.cert, key: opts.pki.apiServer.key, ca: opts.pki.ca.cert }, opts.host, opts.port, api.kubeletProxy?.upgrade);
  await bootstrap(resources, {
    apiServerHost: opts.host,
    apiServerPort: server.port,
    kubernetesServiceIP: firstServiceIP(opts.cluster.networking.serviceSubnet),
    caCert: opts.pki.ca.cert,
  });
  const auth = await enableAuth(api, opts.pki.serviceAccount);
  const aggregation = new ClusterRoleAggregationController(resources, client, opts.log);
  await aggregation.start();
  await ensureDefaultStorageClass(client);
  const namespaces = new NamespaceController(resources, client, opts.log);
  const gc = new GarbageCollector(resources, opts.log);
  const namespaceDefaults = new NamespaceDefaultsController(resources, client, opts.pki.ca.cert, opts.log);
  await namespaces.start();
  await gc.start();
  await namespaceDefaults.start();
  const controllers = await startControllers(api.client, { stateDir: opts.stateDir, log: opts.log });
  const metrics = new MetricsSampler(resources, kubeletClient);
  handler.registerComputed('metrics.k8s.io', 'v1beta1', 'nodes', metrics.nodes());
  handler.registerComputed('metrics.k8s.io', 'v1beta1', 'pods', metrics.pods());
  api.registry.add(nodeMetricsKind);
  api.registry.add(podMetricsKind);
  const podMetrics = metrics.pods();
  const hpa = new HorizontalPodAutoscalerController(api.client('system:controller:horizontal-pod-autoscaler'), {
    metrics: { podMetrics: (ns, selector) => podMetrics.list(ns, selector) as unknown as Promise<PodMetric[]> },
    log: opts.log,
  });
  await hpa.start();
  const clusterDns = await startClusterDns(api.client('system:serviceaccount:kube-system:coredns'), {
    stateDir: opts.stateDir,
    serviceSubnet: opts.cluster.networking.serviceSubnet,
    log: opts.log,
  });
  // Nodes register before the API reports ready, so `create cluster` can wait for them.
  const nodes = await startLocalNodes({
    clusterDNS: [clusterDns.address],
    nodes: opts.cluster.nodes,
    client: api.client,
    stateDir: opts.stateDir,
    tls: async (name) => ({ ...(await issuedCert(pkiDir, `kubelet-${name}`, (pki) => pki.issueServingCert(opts.pki, name, [name]))), ca: opts.pki.ca.cert }),
    log: opts.log,
  });
  const ingressCert = await issuedCert(pkiDir, 'ingress-default', (pki) => pki.createSelfSignedServingCert('Skiff Ingress Controller Fake Certificate', ['ingress.local']));
  const dataPlane = await startDataPlane({ name: opts.name, cluster: opts.cluster, agents: nodes.agents, client: api.client, ingressCert, log: opts.log, prepared: dataPlaneWork });
  metrics.start();
  api.setReady(true);
  opts.log(`control plane "${opts.name}" ready on https://${opts.host}:${server.port} in ${Date.now() - started} ms`);

  return {
    port: server.port,
    resources,
    async close(stopPods = true) {
      api.setReady(false);
      metrics.stop();
      hpa.stop();
      await dataPlane.stop();
      await nodes.stop(stopPods);
      await controllers.stop();
      await clusterDns.dns.stop();
      namespaces.stop();
      gc.stop();
      namespaceDefaults.stop();
      crds.stop();
      aggregation.stop();
      auth.stop();
      await server.close();
      await store.close();
    },
  };
}
