// The API half of the control plane, without a listener: registry, schemas, REST semantics,
// admission, authentication and the HTTP handler. `run.ts` puts it on a socket; tests use it
// in-process.
import { Registry } from '../api/registry.js';
import { builtinKinds } from '../api/builtin.js';
import type { Store } from '../storage/store.js';
import { Resources } from '../apiserver/resources.js';
import { Schemas } from '../apiserver/schemas.js';
import { Discovery } from '../apiserver/discovery.js';
import { OpenApiServer } from '../apiserver/openapi.js';
import { Authenticator } from '../apiserver/authn.js';
import { ApiHandler } from '../apiserver/handler.js';
import type { UserInfo } from '../apiserver/context.js';
import { namespaceLifecycle } from '../apiserver/admission/namespace-lifecycle.js';
import { ServiceAllocation } from '../apiserver/admission/service-allocation.js';
import { NodeIpam } from '../apiserver/admission/node-ipam.js';
import { defaultTolerationSeconds } from '../apiserver/admission/default-tolerations.js';
import { PodPresetAdmission } from '../apiserver/admission/pod-preset.js';
import { limitRanger } from '../apiserver/admission/limit-ranger.js';
import { PriorityAdmission } from '../apiserver/admission/priority.js';
import { ResourceQuotaAdmission } from '../apiserver/admission/resource-quota.js';
import { defaultStorageClassAdmission, storageObjectInUseProtection } from '../controllers/volume/index.js';
import { setupAuth, type AuthSystem } from '../auth/index.js';
import { rbacEscalationAdmission } from '../auth/escalation.js';
import { ensureDefaultPolicy } from '../auth/default-policy.js';
import { registerReviews } from '../apiserver/reviews.js';
import { registerPodSubresources } from '../apiserver/pod-subresources.js';
import { KubeletProxy, type KubeletClientCredentials } from '../apiserver/kubelet-proxy.js';
import { InProcessClient } from '../client/in-process.js';
import { KUBERNETES_VERSION } from './version.js';

export interface ApiOptions {
  serviceSubnet: string;
  podSubnet?: string;
  /** Static bearer tokens (the admin token, node join tokens). */
  tokens?: Map<string, UserInfo>;
  /** host:port advertised in legacy discovery. */
  serverAddress?: string;
  /**
   * 'minimal' leaves out the policy admission plugins (quota, limits, presets, priority, default
   * tolerations, storage class and protection) — for tests of those plugins one at a time.
   */
  admission?: 'default' | 'minimal';
  /** The client certificate the API server presents to kubelets (logs, exec, attach, port-forward). */
  kubeletClient?: KubeletClientCredentials;
}

export interface Api {
  registry: Registry;
  schemas: Schemas;
  resources: Resources;
  services: ServiceAllocation;
  nodeIpam: NodeIpam;
  authn: Authenticator;
  handler: ApiHandler;
  /** Relays exec/attach/port-forward upgrades to kubelets (when kubeletClient was given). */
  kubeletProxy?: KubeletProxy;
  /** A client for components hosted in this process, acting as `identity`. */
  client(identity: string): InProcessClient;
  setReady(ready: boolean): void;
}

export function createApi(store: Store, opts: ApiOptions): Api {
  const registry = new Registry();
  for (const k of builtinKinds()) registry.add(k);
  const schemas = new Schemas();
  const resources = new Resources(store, registry, schemas);
  const services = new ServiceAllocation(opts.serviceSubnet);
  resources.use(namespaceLifecycle);
  const policy = opts.admission !== 'minimal';
  if (policy) {
    resources.use(new PodPresetAdmission());
    resources.use(limitRanger);
    // Upstream ≥ 1.17 allows the system priority classes in any namespace.
    resources.use(new PriorityAdmission({ systemClassesOnlyInKubeSystem: false }));
    resources.use(defaultTolerationSeconds);
    resources.use(defaultStorageClassAdmission);
    resources.use(storageObjectInUseProtection);
  }
  resources.use(services);
  const nodeIpam = new NodeIpam(opts.podSubnet ?? '127.244.0.0/16');
  resources.use(nodeIpam);
  // Last: a write refused after quota admitted it would stay counted for a while.
  if (policy) resources.use(new ResourceQuotaAdmission());
  const authn = new Authenticator(opts.tokens ?? new Map());
  let ready = false;
  const handler = new ApiHandler({
    resources,
    discovery: new Discovery(registry),
    openapi: new OpenApiServer(registry),
    authn,
    version: KUBERNETES_VERSION,
    ready: () => ready,
    serverAddress: opts.serverAddress ?? '',
  });
  registerReviews(handler.subresources, authn);
  registerPodSubresources(handler.subresources, resources);
  const kubeletProxy = opts.kubeletClient ? new KubeletProxy(resources, authn, opts.kubeletClient) : undefined;
  kubeletProxy?.register(handler.subresources);
  return {
    registry,
    schemas,
    resources,
    services,
    nodeIpam,
    authn,
    handler,
    kubeletProxy,
    client: (identity) => new InProcessClient(resources, identity, handler.subresources),
    setReady: (r) => (ready = r),
  };
}

/**
 * Authentication of service-account tokens, RBAC on every request (HTTP and kubelet streams),
 * impersonation, TokenRequest, truthful access reviews and the default roles. In-process
 * components act as system:masters and are not subject to it.
 */
export async function enableAuth(api: Api, serviceAccountKeys: { publicKey: string; privateKey: string }): Promise<AuthSystem> {
  const auth = await setupAuth(api.resources, api.handler.subresources, api.authn, { serviceAccountKeys });
  api.resources.use(rbacEscalationAdmission(auth.authorizer));
  await ensureDefaultPolicy(api.resources);
  api.handler.setAuthorizer(auth.authorizer);
  api.kubeletProxy?.setAuthorizer(auth.authorizer);
  return auth;
}
