// The control plane in one process (k3s-style): store, API server, and the controllers that
// belong to the control plane. Nodes (kubelets) join through the API like any other client.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { Registry } from '../api/registry.js';
import { builtinKinds } from '../api/builtin.js';
import type { ClusterPki } from '../cluster/pki.js';
import type { ClusterConfig } from '../cluster/config.js';
import { firstServiceIP } from '../cluster/config.js';
import { SqliteStore } from '../storage/sqlite.js';
import { MemoryStore } from '../storage/memory.js';
import type { Store } from '../storage/store.js';
import { Resources } from '../apiserver/resources.js';
import { Schemas } from '../apiserver/schemas.js';
import { Discovery } from '../apiserver/discovery.js';
import { OpenApiServer } from '../apiserver/openapi.js';
import { Authenticator } from '../apiserver/authn.js';
import { ApiHandler } from '../apiserver/handler.js';
import { listen } from '../apiserver/server.js';
import { namespaceLifecycle } from '../apiserver/admission/namespace-lifecycle.js';
import { ServiceAllocation } from '../apiserver/admission/service-allocation.js';
import { registerReviews } from '../apiserver/reviews.js';
import { NamespaceController } from '../controllers/namespace.js';
import { GarbageCollector } from '../controllers/garbage-collector.js';
import { CrdController } from '../controllers/crd.js';
import { NamespaceDefaultsController } from '../controllers/namespace-defaults.js';
import { bootstrap } from './bootstrap.js';
import { KUBERNETES_VERSION } from './version.js';

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
  const registry = new Registry();
  for (const k of builtinKinds()) registry.add(k);
  const schemas = new Schemas();
  const resources = new Resources(store, registry, schemas);
  const services = new ServiceAllocation(opts.cluster.networking.serviceSubnet);
  resources.use(namespaceLifecycle);
  resources.use(services);

  const staticTokens = new Map([[opts.pki.adminToken, { name: 'kubernetes-admin', groups: ['system:masters'] }]]);
  const authn = new Authenticator(staticTokens);
  let ready = false;
  const handler = new ApiHandler({
    resources,
    discovery: new Discovery(registry),
    openapi: new OpenApiServer(registry),
    authn,
    version: KUBERNETES_VERSION,
    ready: () => ready,
    serverAddress: `${opts.host}:${opts.port}`,
  });
  registerReviews(handler.subresources, authn);

  // Custom kinds must be registered before anything serves or collects garbage.
  const crds = new CrdController(resources, schemas, opts.log);
  await crds.start();
  await services.rebuild(resources);
  const server = await listen(handler, { cert: opts.pki.apiServer.cert, key: opts.pki.apiServer.key, ca: opts.pki.ca.cert }, opts.host, opts.port);
  await bootstrap(resources, {
    apiServerHost: opts.host,
    apiServerPort: server.port,
    kubernetesServiceIP: firstServiceIP(opts.cluster.networking.serviceSubnet),
  });
  const namespaces = new NamespaceController(resources, opts.log);
  const gc = new GarbageCollector(resources, opts.log);
  const namespaceDefaults = new NamespaceDefaultsController(resources, opts.pki.ca.cert, opts.log);
  await namespaces.start();
  await gc.start();
  await namespaceDefaults.start();
  ready = true;
  opts.log(`control plane "${opts.name}" ready on https://${opts.host}:${server.port} in ${Date.now() - started} ms`);

  return {
    port: server.port,
    resources,
    async close() {
      ready = false;
      namespaces.stop();
      gc.stop();
      namespaceDefaults.stop();
      crds.stop();
      await server.close();
      await store.close();
    },
  };
}
