// Backend selection for the ingress: Service + port (number or name) → the ready pod endpoints
// (read from EndpointSlices through service-backends.ts, the one place for "which backends serve
// this Service port"), round robin among them. The ingress talks to pods directly, as
// ingress-nginx does, never through the ClusterIP. Results are cached per Service and dropped
// whenever the Service or one of its EndpointSlices changes, so endpoint changes apply to the very
// next request.
import type { KObject } from '../machinery/object.js';
import { asStr, dig } from '../api/common/shape.js';
import { backendsFromSlices, servicePorts, serviceType, usableBackends } from '../controllers/service-backends.js';
import type { BackendRef } from './routing.js';

export interface Endpoint {
  /** An IP, or a DNS name for ExternalName Services. */
  host: string;
  port: number;
  /** "host:port", the connection-pool key. */
  key: string;
}

/** A resolved backend: ready endpoints in round-robin order, or why there are none. */
export class Upstream {
  private next = 0;
  constructor(
    readonly name: string,
    readonly endpoints: Endpoint[],
    /** Set when there is no endpoint: the 503 explanation. */
    readonly error?: string,
  ) {}

  /** The next endpoint in round-robin order (undefined when there is none). */
  pick(): Endpoint | undefined {
    const n = this.endpoints.length;
    if (n === 0) return undefined;
    const e = this.endpoints[this.next % n];
    this.next = (this.next + 1) % n;
    return e;
  }

  /** How many endpoints one request may try when connecting fails (ingress-nginx tries up to 3). */
  get tries(): number {
    return Math.min(3, this.endpoints.length);
  }
}

export interface UpstreamSource {
  service(namespace: string, name: string): KObject | undefined;
  slices(namespace: string, name: string): Iterable<KObject>;
}

function endpoint(host: string, port: number): Endpoint {
  return { host, port, key: `${host}:${port}` };
}

export class Upstreams {
  private cache = new Map<string, Map<string, Upstream>>();

  constructor(private src: UpstreamSource) {}

  /** Forget what is known about one Service (its object or one of its slices changed). */
  invalidate(namespace: string, name: string): void {
    this.cache.delete(`${namespace}/${name}`);
  }

  invalidateAll(): void {
    this.cache.clear();
  }

  get(ref: Extract<BackendRef, { kind: 'service' }>): Upstream {
    const svcKey = `${ref.namespace}/${ref.name}`;
    let perPort = this.cache.get(svcKey);
    if (!perPort) this.cache.set(svcKey, (perPort = new Map()));
    const portKey = String(ref.port);
    let up = perPort.get(portKey);
    if (!up) perPort.set(portKey, (up = this.resolve(ref)));
    return up;
  }

  private resolve(ref: Extract<BackendRef, { kind: 'service' }>): Upstream {
    const label = `${ref.namespace}/${ref.name}:${ref.port}`;
    const svc = this.src.service(ref.namespace, ref.name);
    if (!svc) return new Upstream(label, [], `service ${ref.namespace}/${ref.name} not found`);
    if (serviceType(svc) === 'ExternalName') {
      const ext = asStr(dig(svc, 'spec', 'externalName'));
      if (!ext || typeof ref.port !== 'number') return new Upstream(label, [], `ExternalName service ${ref.namespace}/${ref.name} needs a port number`);
      return new Upstream(label, [endpoint(ext, ref.port)]);
    }
    const sp = servicePorts(svc).find((p) => (typeof ref.port === 'number' ? p.port === ref.port : p.name === ref.port));
    if (!sp) return new Upstream(label, [], `service ${ref.namespace}/${ref.name} has no port ${ref.port}`);
    if (sp.protocol !== 'TCP') return new Upstream(label, [], `service port ${ref.port} is ${sp.protocol}, not TCP`);
    const backends = backendsFromSlices(this.src.slices(ref.namespace, ref.name)).get(sp.name) ?? [];
    const usable = usableBackends(backends.filter((b) => b.protocol === 'TCP'));
    if (usable.length === 0) return new Upstream(label, [], `service ${ref.namespace}/${ref.name} has no ready endpoints`);
    return new Upstream(label, usable.map((b) => endpoint(b.ip, b.port)));
  }
}
