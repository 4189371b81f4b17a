// kube-proxy's job: watch Services, EndpointSlices (and Endpoints, for selectorless Services) and
// make every service port answer on its cluster IPs, on each node IP at its node port, and on its
// load-balancer ingress IPs, forwarding to usable backends.
//
// Modes: 'kernel' programs nftables (nftables.ts); 'userspace' relays in this process
// (userspace.ts); 'auto' (default) is kernel when running as root with a working nft, else
// userspace. In kernel mode, service ports whose algorithm needs live connection counts
// (lc, sed, nq) are still served by the userspace relay.
//
// Every change marks the state dirty; one sync at a time recomputes the whole desired state and
// hands it to the data planes. Kernel rewrites are rate-limited to one per `minSyncIntervalMs`
// (changes inside the window are batched); userspace-only syncs run at once.
import type { KObject } from '../machinery/object.js';
import { Informer, cacheKey } from '../client/informer.js';
import { R, type ApiClient } from '../client/client.js';
import { buildServicePorts, serviceBackends, type ProxyServicePort } from './model.js';
import { UserspaceProxy } from './userspace.js';
import { NftablesProxy, kernelCapable, openKernelProxy } from './nftables.js';

export type ProxyMode = 'auto' | 'kernel' | 'userspace';

export interface ServiceProxyOptions {
  /** NodePorts answer on each of these (loopback IPv4 only). */
  nodeIPs: string[];
  mode?: ProxyMode;
  /** The nft table this proxy owns (kernel mode). Default `skiff-proxy`; use `skiff-<cluster>`. */
  tableName?: string;
  /** That table opened ahead (openKernelProxy), so its nft run overlaps other start-up work. */
  kernel?: Promise<NftablesProxy | undefined>;
  log?: (line: string) => void;
  /** Kernel rule rewrites at most this often (ms, default 50). */
  minSyncIntervalMs?: number;
  /** UDP session idle expiry in the userspace relay (ms, default 30 000). */
  udpIdleTimeoutMs?: number;
}

const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
const RETRY_MS = 2000;

export class ServiceProxy {
  private log: (line: string) => void;
  private services: Informer;
  private slices: Informer;
  private endpoints: Informer;
  /** `ns/service` → slice cache keys. */
  private slicesBySvc = new Map<string, Set<string>>();
  private userspace: UserspaceProxy;
  private kernel?: NftablesProxy;
  private nodeIPs: string[];
  private requested: ProxyMode;
  private resolved: 'kernel' | 'userspace' = 'userspace';
  private minInterval: number;
  private dirty = false;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastKernelSync = 0;
  private started = false;
  private stopped = false;
  private current: ProxyServicePort[] = [];
  private badAlgorithms = new Set<string>();

  constructor(
    client: ApiClient,
    private opts: ServiceProxyOptions,
  ) {
    this.log = opts.log ?? (() => {});
    this.nodeIPs = [...opts.nodeIPs];
    this.requested = opts.mode ?? 'auto';
    this.minInterval = opts.minSyncIntervalMs ?? 50;
    this.userspace = new UserspaceProxy({ log: this.log, udpIdleTimeoutMs: opts.udpIdleTimeoutMs });
    this.services = new Informer(client, R.services);
    this.slices = new Informer(client, R.endpointslices);
    this.endpoints = new Informer(client, R.endpoints);
    const changed = () => this.markDirty();
    this.services.on({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.endpoints.on({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.slices.on({
      onAdd: (s) => this.indexSlice(s, undefined),
      onUpdate: (s, old) => this.indexSlice(s, old),
      onDelete: (s) => this.indexSlice(undefined, s),
    });
  }

  /** The data plane in use once started ('kernel' also relays lc/sed/nq ports in userspace). */
  get mode(): 'kernel' | 'userspace' {
    return this.resolved;
  }

  /** What was last programmed (diagnostics, tests). */
  snapshot(): ProxyServicePort[] {
    return this.current.map((p) => ({ ...p, endpoints: [...p.endpoints] }));
  }

  /** The userspace relay (its balancers and stats, for diagnostics and tests). */
  get relay(): UserspaceProxy {
    return this.userspace;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.requested !== 'userspace') {
      const kernel = await (this.opts.kernel ?? openKernelProxy(this.opts.tableName ?? 'skiff-proxy', this.log));
      if (kernel) {
        this.kernel = kernel;
        this.resolved = 'kernel';
      } else if (this.requested === 'kernel') {
        throw new Error('service proxy: kernel mode needs root and a working nft (nftables)');
      } else this.log('service proxy: nftables not usable here, using the userspace proxy');
    }
    await this.slices.start();
    await this.endpoints.start();
    await this.services.start();
    await this.flush();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.services.stop();
    this.slices.stop();
    this.endpoints.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
    await this.userspace.stop();
    await this.kernel?.stop();
  }

  /** NodePorts move to these addresses at the next sync. */
  setNodeIPs(ips: string[]): void {
    this.nodeIPs = [...ips];
    this.markDirty();
  }

  /** Applies whatever changed so far, now, and resolves when the data planes have it. */
  async flush(): Promise<void> {
    this.dirty = true;
    for (let i = 0; i < 10 && !this.stopped; i++) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      if (this.running) {
        await this.running;
        continue;
      }
      if (this.dirty) await this.runSync();
      return;
    }
  }

  private indexSlice(s: KObject | undefined, old: KObject | undefined): void {
    for (const o of [old, s]) {
      if (!o) continue;
      const svc = o.metadata.labels?.[LABEL_SERVICE_NAME];
      if (!svc) continue;
      const key = `${o.metadata.namespace}/${svc}`;
      let set = this.slicesBySvc.get(key);
      if (o === s) {
        if (!set) this.slicesBySvc.set(key, (set = new Set()));
        set.add(cacheKey(o));
      } else if (set && (!s || s.metadata.labels?.[LABEL_SERVICE_NAME] !== svc)) {
        set.delete(cacheKey(o));
        if (set.size === 0) this.slicesBySvc.delete(key);
      }
    }
    this.markDirty();
  }

  private markDirty(): void {
    this.dirty = true;
    if (!this.started || this.stopped || this.timer || this.running) return;
    const wait = this.kernel ? Math.max(0, this.lastKernelSync + this.minInterval - Date.now()) : 0;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runSync();
    }, wait);
  }

  private runSync(): Promise<void> {
    this.dirty = false;
    const p = this.sync()
      .catch((e) => {
        this.log(`service proxy: sync failed: ${(e as Error).message}`);
        this.scheduleRetry();
      })
      .finally(() => {
        this.running = undefined;
        if (this.dirty) this.markDirty();
      });
    this.running = p;
    return p;
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const t = setTimeout(() => this.markDirty(), RETRY_MS);
    t.unref();
  }

  private desired(): ProxyServicePort[] {
    const out: ProxyServicePort[] = [];
    for (const svc of this.services.list()) {
      const key = cacheKey(svc);
      const slices = [...(this.slicesBySvc.get(key) ?? [])].map((k) => this.slices.cache.get(k)).filter((s): s is KObject => !!s);
      const backends = serviceBackends(svc, slices, this.endpoints.cache.get(key));
      out.push(
        ...buildServicePorts(svc, backends, (v) => {
          if (this.badAlgorithms.has(`${key}=${v}`)) return;
          this.badAlgorithms.add(`${key}=${v}`);
          this.log(`service proxy: ${key}: unknown lb algorithm ${JSON.stringify(v)}, using rr`);
        }),
      );
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  private async sync(): Promise<void> {
    const ports = this.desired();
    this.current = ports;
    const kernelPorts = this.kernel ? ports.filter(kernelCapable) : [];
    const userPorts = this.kernel ? ports.filter((p) => !kernelCapable(p)) : ports;
    const failed = await this.userspace.apply(userPorts, this.nodeIPs);
    if (failed.length) this.scheduleRetry();
    if (this.kernel) {
      this.lastKernelSync = Date.now();
      await this.kernel.apply(kernelPorts, this.nodeIPs);
    }
  }
}
