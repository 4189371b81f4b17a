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
import { createApi } from './api.js';
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
  close(): Promise<void>;
}

export async function runControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const started = Date.now();
  let store: Store;
  if (opts.inMemory) store = new MemoryStore();
  else {
    const dataDir = path.join(opts.stateDir, 'data');
    mkdirSync(dataDir, { recursive: true });
    store = SqliteStore.open(path.join(dataDir, 'skiff.db'));
  }
  const tokens = new Map([[opts.pki.adminToken, { name: 'kubernetes-admin', groups: ['system:masters'] }]]);
  const api = createApi(store, { serviceSubnet: opts.cluster.networking.serviceSubnet, podSubnet: opts.cluster.networking.podSubnet, tokens, serverAddress: `${opts.host}:${opts.port}` });
  const { resources, schemas, services, handler } = api;

  // Custom kinds must be registered before anything serves or collects garbage.
  const client = api.client('system:kube-controller-manager');
  const crds = new CrdController(resources, client, schemas, opts.log);
  await crds.start();
  await services.rebuild(resources);
  await api.nodeIpam.rebuild(resources);
  const server = await listen(handler, { cert: opts.pki.apiServer.cert, key: opts.pki.apiServer.key, ca: opts.pki.ca.cert }, opts.host, opts.port);
  await bootstrap(resources, {
    apiServerHost: opts.host,
    apiServerPort: server.port,
    kubernetesServiceIP: firstServiceIP(opts.cluster.networking.serviceSubnet),
  });
  const namespaces = new NamespaceController(resources, client, opts.log);
  const gc = new GarbageCollector(resources, opts.log);
  const namespaceDefaults = new NamespaceDefaultsController(resources, client, opts.pki.ca.cert, opts.log);
  await namespaces.start();
  await gc.start();
  await namespaceDefaults.start();
  api.setReady(true);
  opts.log(`control plane "${opts.name}" ready on https://${opts.host}:${server.port} in ${Date.now() - started} ms`);

  return {
    port: server.port,
    resources,
    async close() {
      api.setReady(false);
      namespaces.stop();
      gc.stop();
      namespaceDefaults.stop();
      crds.stop();
      await server.close();
      await store.close();
    },
  };
}
