// The Ingress controller: watches Ingresses, IngressClasses, Services, EndpointSlices and TLS
// Secrets, serves the Ingresses of its class on an HTTP and an HTTPS port of one address (plus
// optional extra listeners, e.g. kind-style extraPortMappings on the host), and writes that address
// into each served Ingress's status.loadBalancer.
//
// Which Ingresses it serves: `spec.ingressClassName` names its class (`className`, default
// "skiff") or an IngressClass whose spec.controller is `skiff.dev/ingress-controller`; an Ingress
// naming no class (neither spec.ingressClassName nor the legacy `kubernetes.io/ingress.class`
// annotation) is served when one of this controller's IngressClasses carries
// `ingressclass.kubernetes.io/is-default-class: "true"`.
//
// Binding: start() rejects with an IngressBindError (code EACCES / EADDRINUSE, the address and
// port in the message) when a port cannot be bound, after releasing everything it had bound. The
// recommended fallback for the integrator: retry with 8080/8443 (or 0 for any free port), and print
// the resulting URLs; status then carries the ports (status.loadBalancer.ingress[].ports).
import net from 'node:net';
import tls from 'node:tls';
import type { ApiClient, ResourceRef } from '../client/client.js';
import { Informer } from '../client/informer.js';
import type { KObject } from '../machinery/object.js';
import { asObj, asStr, dig } from '../api/common/shape.js';
import { CertStore, createDefaultCertificate } from './certs.js';
import type { CertKeyPair } from '../cluster/pki-files.js';
import { H2Engine } from './h2.js';
import { Http1Engine, type Decision, type ListenerInfo } from './http1.js';
import { buildRouteTable, ingressKey, route, type RouteTable } from './routing.js';
import { Upstreams } from './upstreams.js';

export const CONTROLLER_NAME = 'skiff.dev/ingress-controller';
export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export const INGRESSES: ResourceRef = { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses' };
export const INGRESS_CLASSES: ResourceRef = { group: 'networking.k8s.io', version: 'v1', resource: 'ingressclasses' };
const SERVICES: ResourceRef = { group: '', version: 'v1', resource: 'services' };
const SECRETS: ResourceRef = { group: '', version: 'v1', resource: 'secrets' };
const SLICES: ResourceRef = { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' };

export interface ExtraListener {
  host: string;
  port: number;
  tls: boolean;
}

export interface IngressControllerOptions {
  /** The IP the controller serves on and writes into Ingress status. */
  address: string;
  /** The certificate for unknown SNI names; a fake self-signed one is made when absent. */
  defaultCertificate?: CertKeyPair;
  /** 80 in a cluster; 0 picks a free port. */
  httpPort: number;
  /** 443 in a cluster; 0 picks a free port. */
  httpsPort: number;
  /** The IngressClass name it answers to (default "skiff"). */
  className?: string;
  /** More listeners, e.g. kind extraPortMappings (127.0.0.1:80 on the host). */
  extraListeners?: ExtraListener[];
  log?: (msg: string) => void;
}

export class IngressBindError extends Error {
  constructor(
    readonly code: string,
    readonly host: string,
    readonly port: number,
    cause: Error,
  ) {
    super(
      `ingress controller cannot listen on ${host}:${port}: ${code}` +
        (code === 'EACCES' ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : code === 'EADDRINUSE' ? ' (another process holds the port)' : '') +
        `; retry with other ports (e.g. 8080/8443, or 0 for free ones)`,
    );
    this.name = 'IngressBindError';
    this.cause = cause;
  }
}

export class IngressController {
  readonly className: string;
  private ingresses: Informer;
  private classes: Informer;
  private services: Informer;
  private slices: Informer;
  private secrets: Informer;
  /** namespace/service → slice cache keys. */
  private slicesByService = new Map<string, Set<string>>();
  private table: RouteTable = buildRouteTable([]);
  private served = new Map<string, KObject>();
  readonly upstreams: Upstreams;
  private certs?: CertStore;
  private http1: Http1Engine;
  private h2: H2Engine;
  private servers: net.Server[] = [];
  private ports = { httpPort: 0, httpsPort: 0 };
  private statusQueue = new Set<string>();
  private statusRunning = false;
  private stopped = false;
  private lastConflicts = '';
  private log: (msg: string) => void;

  constructor(
    private client: ApiClient,
    private opts: IngressControllerOptions,
  ) {
    this.className = opts.className ?? 'skiff';
    this.log = opts.log ?? (() => {});
    this.ingresses = new Informer(client, INGRESSES);
    this.classes = new Informer(client, INGRESS_CLASSES);
    this.services = new Informer(client, SERVICES);
    this.slices = new Informer(client, SLICES);
    this.secrets = new Informer(client, SECRETS, { fieldSelector: 'type=kubernetes.io/tls' });
    this.upstreams = new Upstreams({
      service: (ns, name) => this.services.get(ns, name),
      slices: (ns, name) => {
        const keys = this.slicesByService.get(`${ns}/${name}`);
        const out: KObject[] = [];
        if (keys) for (const k of keys) {
          const s = this.slices.cache.get(k);
          if (s) out.push(s);
        }
        return out;
      },
    });
    const router = { decide: (host: string, path: string) => this.decide(host, path) };
    this.http1 = new Http1Engine(router, { log: this.log });
    this.h2 = new H2Engine(router, this.log);
  }

  // ------------------------------------------------------------------------------------------
  // Routing

  decide(host: string, path: string): Decision {
    const { backend } = route(this.table, host, path);
    if (!backend) return { status: 404, message: `no Ingress rule matches host "${host}" and path "${path}"` };
    if (backend.kind === 'resource')
      return {
        status: 503,
        message: `Ingress ${backend.ingress} routes to resource ${backend.apiGroup ? backend.apiGroup + '/' : ''}${backend.resourceKind} ${backend.name}; resource backends are not served by the skiff ingress controller`,
      };
    return { upstream: this.upstreams.get(backend) };
  }

  /** Whether this controller serves the Ingress (class filtering). */
  serves(ing: KObject): boolean {
    const cls = asStr(dig(ing, 'spec', 'ingressClassName')) ?? asStr(ing.metadata.annotations?.[LEGACY_CLASS_ANNOTATION]);
    if (cls) {
      if (cls === this.className) return true;
      return asStr(dig(this.classes.get(undefined, cls), 'spec', 'controller')) === CONTROLLER_NAME;
    }
    for (const c of this.classes.cache.values()) {
      if (c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] !== 'true') continue;
      if (c.metadata.name === this.className || asStr(dig(c, 'spec', 'controller')) === CONTROLLER_NAME) return true;
    }
    return false;
  }

  private rebuild(): void {
    const served = new Map<string, KObject>();
    for (const ing of this.ingresses.cache.values()) if (!ing.metadata.deletionTimestamp && this.serves(ing)) served.set(ingressKey(ing), ing);
    this.table = buildRouteTable(served.values());
    this.certs?.rebuild([...served.values()], (ns, name) => this.secrets.get(ns, name));
    const conflicts = [...this.table.conflicts, ...(this.certs?.errors ?? [])].join('\n');
    if (conflicts && conflicts !== this.lastConflicts) this.log(`ingress: ${conflicts}`);
    this.lastConflicts = conflicts;
    for (const [k, ing] of served) if (!this.statusMatches(ing)) this.statusQueue.add(k);
    // No longer served: take our address back out of the status.
    for (const [k, ing] of this.served) if (!served.has(k) && this.ingresses.cache.has(k) && this.hasOurStatus(ing)) this.statusQueue.add(k);
    this.served = served;
    void this.flushStatus();
  }

  /** The hosts and paths currently routed (for diagnostics and tests). */
  routes(): RouteTable {
    return this.table;
  }

  // ------------------------------------------------------------------------------------------
  // Status

  private desiredStatus(): Record<string, unknown>[] {
    const entry: Record<string, unknown> = { ip: this.opts.address };
    if (this.ports.httpPort !== 80 || this.ports.httpsPort !== 443) {
      entry.ports = [
        { port: this.ports.httpPort, protocol: 'TCP' },
        { port: this.ports.httpsPort, protocol: 'TCP' },
      ];
    }
    return [entry];
  }

  private statusMatches(ing: KObject): boolean {
    const cur = dig(ing, 'status', 'loadBalancer', 'ingress') ?? [];
    return JSON.stringify(cur) === JSON.stringify(this.desiredStatus());
  }

  private hasOurStatus(ing: KObject): boolean {
    const cur = dig(ing, 'status', 'loadBalancer', 'ingress');
    return Array.isArray(cur) && cur.some((e) => asObj(e)?.ip === this.opts.address);
  }

  private async flushStatus(): Promise<void> {
    if (this.statusRunning || this.stopped || this.ports.httpPort === 0) return;
    this.statusRunning = true;
    try {
      while (this.statusQueue.size && !this.stopped) {
        const k = this.statusQueue.values().next().value as string;
        this.statusQueue.delete(k);
        const ing = this.ingresses.cache.get(k);
        if (!ing) continue;
        const serve = this.served.has(k);
        if (serve && this.statusMatches(ing)) continue;
        if (!serve && !this.hasOurStatus(ing)) continue;
        const lb = serve ? this.desiredStatus() : [];
        try {
          await this.client.patch(INGRESSES, ing.metadata.namespace, ing.metadata.name!, 'application/merge-patch+json', { status: { loadBalancer: { ingress: lb } } }, 'status');
        } catch (e) {
          if ((e as { code?: number }).code !== 404) this.log(`ingress: status of ${k}: ${(e as Error).message}`);
        }
      }
    } finally {
      this.statusRunning = false;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle

  async start(): Promise<{ httpPort: number; httpsPort: number }> {
    const def = this.opts.defaultCertificate ?? (await createDefaultCertificate());
    this.certs = new CertStore(def);
    const rebuild = () => this.rebuild();
    this.ingresses.on({ onAdd: rebuild, onUpdate: rebuild, onDelete: rebuild });
    this.classes.on({ onAdd: rebuild, onUpdate: rebuild, onDelete: rebuild });
    this.secrets.on({ onAdd: rebuild, onUpdate: rebuild, onDelete: rebuild });
    const svcChanged = (o: KObject) => this.upstreams.invalidate(o.metadata.namespace ?? '', o.metadata.name ?? '');
    this.services.on({ onAdd: svcChanged, onUpdate: svcChanged, onDelete: svcChanged });
    this.slices.on({
      onAdd: (o) => this.sliceChanged(o, undefined, false),
      onUpdate: (o, old) => this.sliceChanged(o, old, false),
      onDelete: (o) => this.sliceChanged(o, undefined, true),
    });
    await Promise.all([this.classes.start(), this.services.start(), this.slices.start(), this.secrets.start()]);
    await this.ingresses.start();
    try {
      const host = this.opts.address;
      const http = await this.listen(host, this.opts.httpPort, false);
      const https = await this.listen(host, this.opts.httpsPort, true);
      this.ports = { httpPort: http, httpsPort: https };
      for (const l of this.opts.extraListeners ?? []) await this.listen(l.host, l.port, l.tls);
    } catch (e) {
      this.stop();
      throw e;
    }
    this.rebuild();
    this.log(`ingress: serving class ${this.className} on http://${this.opts.address}:${this.ports.httpPort} and https://${this.opts.address}:${this.ports.httpsPort}`);
    return { ...this.ports };
  }

  private sliceChanged(o: KObject, old: KObject | undefined, deleted: boolean): void {
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    const svcOf = (s: KObject | undefined) => {
      const n = s?.metadata.labels?.[SERVICE_NAME_LABEL];
      return n ? `${s!.metadata.namespace}/${n}` : undefined;
    };
    const before = svcOf(old);
    const now = deleted ? undefined : svcOf(o);
    for (const svc of [before, deleted ? svcOf(o) : undefined]) {
      if (!svc || svc === now) continue;
      const set = this.slicesByService.get(svc);
      set?.delete(key);
      if (set && set.size === 0) this.slicesByService.delete(svc);
      const [ns, name] = svc.split('/');
      this.upstreams.invalidate(ns, name);
    }
    if (now) {
      let set = this.slicesByService.get(now);
      if (!set) this.slicesByService.set(now, (set = new Set()));
      set.add(key);
      const [ns, name] = now.split('/');
      this.upstreams.invalidate(ns, name);
    }
  }

  private listen(host: string, port: number, secure: boolean): Promise<number> {
    let server: net.Server;
    let actual = port;
    if (secure) {
      server = tls.createServer({
        SNICallback: this.certs!.sniCallback,
        cert: this.certs!.defaultPair.cert,
        key: this.certs!.defaultPair.key,
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      server.on('secureConnection', (s: tls.TLSSocket) => this.onTls(s, actual));
      server.on('tlsClientError', () => {});
    } else {
      server = net.createServer({ noDelay: true });
      server.on('connection', (s) => this.http1.handle(s, { proto: 'http', port: actual }));
    }
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(new IngressBindError(err.code ?? 'ERROR', host, port, err));
      server.once('error', onError);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (err) => this.log(`ingress: listener ${host}:${port}: ${err.message}`));
        actual = (server.address() as net.AddressInfo).port;
        resolve(actual);
      });
    });
  }

  private onTls(s: tls.TLSSocket, port: number): void {
    const info: ListenerInfo = { proto: 'https', port };
    if (s.alpnProtocol === 'h2') this.h2.handle(s, info);
    else this.http1.handle(s, info);
  }

  stop(): void {
    this.stopped = true;
    for (const i of [this.ingresses, this.classes, this.services, this.slices, this.secrets]) i.stop();
    for (const s of this.servers) s.close();
    this.servers = [];
    this.http1.destroy();
    this.h2.destroy();
  }
}
