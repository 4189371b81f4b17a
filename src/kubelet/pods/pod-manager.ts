// The kubelet's pod lifecycle: watches the pods bound to this node (`spec.nodeName=<node>`) and
// runs each through its own serialized PodWorker (pod-worker.ts). On start it adopts what the
// runtime still runs — the sandboxes of pods still bound here keep their IPs and containers (no
// twins), the sandboxes of pods that are gone are stopped and removed.
import type { ApiClient } from '../../client/client.js';
import { R } from '../../client/client.js';
import { Informer } from '../../client/informer.js';
import type { KObject } from '../../machinery/object.js';
import type { ContainerStatus, Runtime, Sandbox } from '../runtime/types.js';
import { RestartBackoff, type BackoffOptions } from './backoff.js';
import { hostCapacity, type NodeCapacity } from './env.js';
import { PodEvents } from './events.js';
import { PodIPAllocator } from './ipam.js';
import { PodWorker, type WorkerContext } from './pod-worker.js';
import { errMessage } from './util.js';
import { removePodDir } from './volumes.js';

export interface PodManagerOptions {
  client: ApiClient;
  runtime: Runtime;
  nodeName: string;
  /** The node's pod CIDR; pod IPs are its host addresses from .2 on (.1 is the node's). */
  podCIDR: string;
  /** Where pod volumes live: `<rootDir>/pods/<uid>/volumes/<name>`. */
  rootDir: string;
  clusterDNS?: string[];
  clusterDomain?: string;
  /** The node's IP (status.hostIP); default: the first host address of the pod CIDR. */
  hostIP?: string;
  log?: (line: string) => void;
  /** Crash-loop back-off (default 10 s doubling to 300 s); tests shorten it. */
  backoff?: BackoffOptions;
  /** Milliseconds per probe second (initialDelaySeconds/periodSeconds; default 1000); tests shorten it. */
  probeSecondMs?: number;
  /** Every pod is re-synced this often even without a change (default 60 s). */
  resyncMs?: number;
  /** Node capacity used for resourceFieldRef limits that a container does not set (default: this machine). */
  capacity?: NodeCapacity;
}

function firstHost(cidr: string): string {
  const [ip] = cidr.split('/');
  const o = ip.split('.').map(Number);
  o[3] += 1;
  return o.join('.');
}

const FORGET_AFTER_MS = 5 * 60 * 1000;

export class PodManager {
  private workers = new Map<string, PodWorker>();
  private bySandbox = new Map<string, string>();
  private adoptable = new Map<string, Sandbox>();
  /** uid → when its worker finished: late watch events must not resurrect it. */
  private finishedAt = new Map<string, number>();
  private informer?: Informer;
  private ctx: WorkerContext;
  private exitHooked = false;
  private running = false;
  private resync?: NodeJS.Timeout;
  readonly events: PodEvents;
  readonly ipam: PodIPAllocator;

  constructor(private opts: PodManagerOptions) {
    const log = opts.log ?? (() => {});
    this.events = new PodEvents(opts.client, opts.nodeName, log);
    this.ipam = new PodIPAllocator(opts.podCIDR);
    this.ctx = {
      client: opts.client,
      runtime: opts.runtime,
      nodeName: opts.nodeName,
      hostIP: opts.hostIP ?? firstHost(opts.podCIDR),
      rootDir: opts.rootDir,
      clusterDNS: opts.clusterDNS ?? [],
      clusterDomain: opts.clusterDomain ?? 'cluster.local',
      events: this.events,
      ipam: this.ipam,
      backoff: new RestartBackoff(opts.backoff),
      capacity: opts.capacity ?? hostCapacity(),
      log,
      probeSecondMs: opts.probeSecondMs ?? 1000,
      volumeRefreshMs: 60_000,
      sandboxReady: (uid, sb) => this.bySandbox.set(sb.id, uid),
      sandboxGone: (_uid, sb) => this.bySandbox.delete(sb.id),
      finished: (uid) => {
        this.workers.delete(uid);
        this.finishedAt.set(uid, Date.now());
      },
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const rt = this.opts.runtime;
    if (!this.exitHooked) {
      this.exitHooked = true;
      rt.onExit((st) => this.onExit(st));
    }
    // What the runtime still has from before (a kubelet restart): hold their IPs first.
    for (const sb of await rt.listSandboxes()) {
      this.ipam.reserve(sb.config.ip);
      this.adoptable.set(sb.config.uid, sb);
      this.bySandbox.set(sb.id, sb.config.uid);
    }
    this.informer = new Informer(this.opts.client, R.pods, { fieldSelector: `spec.nodeName=${this.opts.nodeName}` }).on({
      onAdd: (p) => this.upsert(p),
      onUpdate: (p, old) => {
        if (old.metadata.uid !== p.metadata.uid) this.removed(old);
        this.upsert(p);
      },
      onDelete: (p) => this.removed(p),
    });
    await this.informer.start();
    // Sandboxes whose pods are no longer bound here.
    for (const [uid, sb] of [...this.adoptable]) {
      if (this.workers.has(uid)) continue;
      this.adoptable.delete(uid);
      await this.removeOrphan(sb);
    }
    const every = this.opts.resyncMs ?? 60_000;
    this.resync = setInterval(() => {
      for (const w of this.workers.values()) w.kick();
      const cutoff = Date.now() - FORGET_AFTER_MS;
      for (const [uid, t] of this.finishedAt) if (t < cutoff) this.finishedAt.delete(uid);
    }, every);
    this.resync.unref?.();
  }

  /** Stop watching and probing. Containers keep running (a restarted kubelet adopts them). */
  async stop(): Promise<void> {
    this.running = false;
    this.informer?.stop();
    this.informer = undefined;
    if (this.resync) clearInterval(this.resync);
    this.resync = undefined;
    for (const w of this.workers.values()) w.halt();
    await Promise.all([...this.workers.values()].map((w) => w.idle()));
    await this.events.flush();
  }

  /**
   * Stop every container on this node (stopping the cluster): each pod's containers get their
   * grace period (or `graceOverride` seconds), then its sandbox stops. Sandboxes stay, so the
   * next start adopts them and restarts containers as their restart policy says.
   */
  async stopAllPods(graceOverride?: number): Promise<void> {
    const workers = [...this.workers.values()];
    for (const w of workers) w.halt();
    await Promise.all(workers.map((w) => w.shutdown(graceOverride).catch((e) => this.ctx.log(`kubelet: stopping pod ${w.uid}: ${errMessage(e)}`))));
    const rt = this.opts.runtime;
    const handled = new Set(workers.map((w) => w.sandbox?.id).filter(Boolean));
    for (const sb of await rt.listSandboxes().catch(() => [] as Sandbox[])) {
      if (handled.has(sb.id)) continue;
      const running = (await rt.listContainers(sb.id).catch(() => [] as ContainerStatus[])).filter((c) => c.state === 'running');
      await Promise.all(running.map((c) => rt.stopContainer(c.id, graceOverride ?? 0).catch(() => {})));
      await rt.stopSandbox(sb.id).catch(() => {});
    }
    await this.events.flush();
  }

  /** The IP of a pod running here (undefined when it has no sandbox on this node). */
  podIP(podUid: string): string | undefined {
    return this.workers.get(podUid)?.ip ?? this.adoptable.get(podUid)?.config.ip;
  }

  /** The runtime id of a pod's container instance (the latest, or the one before with `previous`), for logs/exec. */
  containerId(podUid: string, containerName: string, previous = false): string | undefined {
    return this.workers.get(podUid)?.containerId(containerName, previous);
  }

  /** uids of the pods this manager currently runs. */
  podUids(): string[] {
    return [...this.workers.keys()];
  }

  /** Resolves when no pod is in the middle of a sync (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.idle()));
  }

  private upsert(pod: KObject): void {
    if (!this.running) return;
    const uid = pod.metadata.uid;
    if (!uid || this.finishedAt.has(uid)) return;
    let w = this.workers.get(uid);
    if (!w) {
      w = new PodWorker(this.ctx, pod, this.adoptable.get(uid));
      this.adoptable.delete(uid);
      this.workers.set(uid, w);
    } else w.update(pod);
    w.kick();
  }

  private removed(pod: KObject): void {
    const uid = pod.metadata.uid;
    if (!uid) return;
    const w = this.workers.get(uid);
    if (!w) return;
    w.markGone(pod);
    w.kick();
  }

  private onExit(st: ContainerStatus): void {
    if (!this.running) return;
    const uid = this.bySandbox.get(st.sandboxId);
    if (uid) this.workers.get(uid)?.containerExited(st);
  }

  private async removeOrphan(sb: Sandbox): Promise<void> {
    const rt = this.opts.runtime;
    try {
      await rt.stopSandbox(sb.id);
      await rt.removeSandbox(sb.id);
    } catch (e) {
      this.ctx.log(`kubelet: removing orphaned sandbox ${sb.id}: ${errMessage(e)}`);
    }
    this.bySandbox.delete(sb.id);
    this.ipam.release(sb.config.ip);
    await removePodDir(this.opts.rootDir, sb.config.uid).catch(() => {});
  }
}
