// The one client interface every component uses, with two transports: in-process (the
// control plane's own controllers, in-process kubelets) and HTTPS (a node agent that joined
// from another process or machine). Splitting a component out changes the transport, never
// the component.
import type { KObject } from '../machinery/object.js';

export interface ResourceRef {
  group: string;
  version: string;
  /** Plural resource name, e.g. "pods". */
  resource: string;
}

export interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ClientWatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';
  object: KObject;
}

export interface ClientWatch {
  stop(): void;
}

export interface ClientDeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ApiClient {
  /** Who this client acts as (events, field managers). */
  readonly identity: string;
  get(r: ResourceRef, namespace: string | undefined, name: string): Promise<KObject>;
  list(r: ResourceRef, namespace?: string, opts?: Selectors & { limit?: number }): Promise<{ items: KObject[]; resourceVersion: string }>;
  /**
   * Events after resourceVersion (or the current state as ADDED when it is "0"/absent).
   * `onClose` fires when the stream ends for any reason other than stop() (server timeout, 410
   * Gone, connection loss); the caller re-lists or re-watches.
   */
  watch(
    r: ResourceRef,
    namespace: string | undefined,
    opts: Selectors & { resourceVersion?: string },
    onEvent: (ev: ClientWatchEvent) => void,
    onClose: (err?: Error) => void,
  ): Promise<ClientWatch>;
  create(r: ResourceRef, namespace: string | undefined, obj: KObject): Promise<KObject>;
  /** PUT; `subresource` "status" writes only status. */
  update(r: ResourceRef, namespace: string | undefined, obj: KObject, subresource?: 'status'): Promise<KObject>;
  patch(r: ResourceRef, namespace: string | undefined, name: string, contentType: string, body: unknown, subresource?: 'status'): Promise<KObject>;
  delete(r: ResourceRef, namespace: string | undefined, name: string, opts?: ClientDeleteOptions): Promise<void>;
  /** POST to a subresource: pods/binding, pods/eviction, serviceaccounts/token. */
  createSubresource(r: ResourceRef, namespace: string | undefined, name: string, subresource: string, body: KObject): Promise<KObject>;
}

/** The resources components touch most, spelled once. */
export const R = {
  pods: { group: '', version: 'v1', resource: 'pods' },
  nodes: { group: '', version: 'v1', resource: 'nodes' },
  namespaces: { group: '', version: 'v1', resource: 'namespaces' },
  services: { group: '', version: 'v1', resource: 'services' },
  endpoints: { group: '', version: 'v1', resource: 'endpoints' },
  events: { group: '', version: 'v1', resource: 'events' },
  configmaps: { group: '', version: 'v1', resource: 'configmaps' },
  secrets: { group: '', version: 'v1', resource: 'secrets' },
  serviceaccounts: { group: '', version: 'v1', resource: 'serviceaccounts' },
  persistentvolumeclaims: { group: '', version: 'v1', resource: 'persistentvolumeclaims' },
  persistentvolumes: { group: '', version: 'v1', resource: 'persistentvolumes' },
  replicasets: { group: 'apps', version: 'v1', resource: 'replicasets' },
  deployments: { group: 'apps', version: 'v1', resource: 'deployments' },
  statefulsets: { group: 'apps', version: 'v1', resource: 'statefulsets' },
  daemonsets: { group: 'apps', version: 'v1', resource: 'daemonsets' },
  controllerrevisions: { group: 'apps', version: 'v1', resource: 'controllerrevisions' },
  jobs: { group: 'batch', version: 'v1', resource: 'jobs' },
  cronjobs: { group: 'batch', version: 'v1', resource: 'cronjobs' },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' },
  leases: { group: 'coordination.k8s.io', version: 'v1', resource: 'leases' },
  priorityclasses: { group: 'scheduling.k8s.io', version: 'v1', resource: 'priorityclasses' },
  poddisruptionbudgets: { group: 'policy', version: 'v1', resource: 'poddisruptionbudgets' },
} satisfies Record<string, ResourceRef>;
