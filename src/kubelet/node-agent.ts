// The node half of the kubelet: registers the Node (capacity from the real machine, addresses,
// conditions, node info), keeps its Lease renewed and its status fresh, runs the pods bound to
// it through the PodManager, and serves logs/exec/attach/port-forward/stats to the API server.
import os from 'node:os';
import { readFileSync, statfsSync, mkdirSync } from 'node:fs';
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { R, type ApiClient } from '../client/client.js';
import type { Runtime } from './runtime/types.js';
import { PodManager } from './pods/pod-manager.js';
import { KubeletServer, type KubeletTls } from './server.js';
import { KUBERNETES_VERSION } from '../controlplane/version.js';
import { rfc3339 } from '../machinery/time.js';

export interface NodeAgentOptions {
  client: ApiClient;
  nodeName: string;
  role: 'control-plane' | 'worker';
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  /**
   * The node's address (the kubelet listens here; NodePorts answer here later). Default: the
   * first address of the pod CIDR the control plane gives the node.
   */
  nodeIP?: string;
  /** Kubelet port (upstream 10250); 0 picks a free one. */
  kubeletPort: number;
  rootDir: string;
  runtime: Runtime;
  tls: KubeletTls;
  clusterDNS?: string[];
  log?: (line: string) => void;
}

const LEASE_SECONDS = 40;
const LEASE_RENEW_MS = 10_000;
const STATUS_REPORT_MS = 30_000;
const PODS_PER_NODE = 110;

/** 127.244.3.0/24 → 127.244.3.1 */
function firstAddress(cidr: string): string {
  const [ip] = cidr.split('/');
  const o = ip.split('.').map(Number);
  o[3] += 1;
  return o.join('.');
}

function micro(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function osImage(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1];
  } catch {
    // not Linux, or a minimal image
  }
  return `${os.type()} ${os.release()}`;
}

function readId(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

export class NodeAgent {
  private pods?: PodManager;
  private server?: KubeletServer;
  private timers: NodeJS.Timeout[] = [];
  private log: (line: string) => void;
  port = 0;
  nodeIP = '';

  constructor(private opts: NodeAgentOptions) {
    this.log = opts.log ?? (() => {});
  }

  get name(): string {
    return this.opts.nodeName;
  }

  async start(): Promise<void> {
    mkdirSync(this.opts.rootDir, { recursive: true });
    const node = await this.register();
    const podCIDR = (node.spec as { podCIDR?: string } | undefined)?.podCIDR;
    if (!podCIDR) throw new Error(`node ${this.opts.nodeName} has no pod CIDR`);
    this.nodeIP = this.opts.nodeIP ?? firstAddress(podCIDR);
    this.server = new KubeletServer({ runtime: this.opts.runtime, tls: this.opts.tls, nodeName: this.opts.nodeName, log: this.log });
    this.port = await this.server.listen(this.nodeIP, this.opts.kubeletPort);
    await this.reportStatus();
    this.pods = new PodManager({
      client: this.opts.client,
      runtime: this.opts.runtime,
      nodeName: this.opts.nodeName,
      podCIDR,
      rootDir: this.opts.rootDir,
      clusterDNS: this.opts.clusterDNS,
      log: this.log,
    });
    await this.pods.start();
    await this.renewLease();
    this.every(LEASE_RENEW_MS, () => this.renewLease());
    this.every(STATUS_REPORT_MS, () => this.reportStatus());
  }

  /**
   * Stop the agent. `stopPods` stops every container (stopping a cluster); without it the
   * containers keep running and a restarted kubelet adopts them.
   */
  async stop(stopPods: boolean): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.pods?.stop();
    if (stopPods) await this.pods?.stopAllPods();
    await this.server?.close();
    await this.opts.runtime.close();
  }

  private every(ms: number, fn: () => Promise<void>) {
    const t = setInterval(() => fn().catch((e) => this.log(`node ${this.opts.nodeName}: ${(e as Error).message}`)), ms);
    t.unref();
    this.timers.push(t);
  }

  private capacity(): Record<string, string> {
    let storage = 0;
    try {
      const fs = statfsSync(this.opts.rootDir);
      storage = fs.blocks * fs.bsize;
    } catch {
      storage = 0;
    }
    return {
      cpu: String(os.cpus().length),
      memory: `${Math.floor(os.totalmem() / 1024)}Ki`,
      pods: String(PODS_PER_NODE),
      'ephemeral-storage': `${Math.floor(storage / 1024)}Ki`,
    };
  }

  private status(): Record<string, unknown> {
    const now = rfc3339();
    const cond = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    const capacity = this.capacity();
    return {
      capacity,
      allocatable: capacity,
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        ...(this.nodeIP ? [{ type: 'InternalIP', address: this.nodeIP }] : []),
        { type: 'Hostname', address: this.opts.nodeName },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: this.port } },
      nodeInfo: {
        machineID: readId('/etc/machine-id'),
        systemUUID: readId('/sys/class/dmi/id/product_uuid') || readId('/etc/machine-id'),
        bootID: readId('/proc/sys/kernel/random/boot_id'),
        kernelVersion: os.release(),
        osImage: osImage(),
        containerRuntimeVersion: this.opts.runtime.version,
        kubeletVersion: KUBERNETES_VERSION.gitVersion,
        kubeProxyVersion: KUBERNETES_VERSION.gitVersion,
        operatingSystem: 'linux',
        architecture: KUBERNETES_VERSION.platform.split('/')[1] ?? os.arch(),
      },
    };
  }

  private labels(): Record<string, string> {
    const arch = KUBERNETES_VERSION.platform.split('/')[1] ?? os.arch();
    return {
      'beta.kubernetes.io/arch': arch,
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': arch,
      'kubernetes.io/hostname': this.opts.nodeName,
      'kubernetes.io/os': 'linux',
      ...(this.opts.role === 'control-plane' ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
      ...this.opts.labels,
    };
  }

  /** Create the Node, or (a restart) refresh labels and status of the existing one. */
  private async register(): Promise<KObject> {
    const c = this.opts.client;
    const node: KObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: this.opts.nodeName, labels: this.labels() },
      spec: this.opts.taints?.length ? { taints: this.opts.taints } : {},
      status: this.status(),
    };
    try {
      const created = await c.create(R.nodes, undefined, node);
      this.log(`node ${this.opts.nodeName} registered`);
      return created;
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) throw e;
    }
    const live = await c.get(R.nodes, undefined, this.opts.nodeName);
    live.metadata.labels = { ...live.metadata.labels, ...this.labels() };
    const updated = await c.update(R.nodes, undefined, live);
    updated.status = this.status();
    return c.update(R.nodes, undefined, updated, 'status');
  }

  private async reportStatus(): Promise<void> {
    const live = await this.opts.client.get(R.nodes, undefined, this.opts.nodeName);
    const fresh = this.status();
    // Keep transition times of conditions that did not change.
    const before = ((live.status as { conditions?: { type: string; status: string; lastTransitionTime?: string }[] })?.conditions ?? []);
    for (const cnd of fresh.conditions as { type: string; status: string; lastTransitionTime: string }[]) {
      const old = before.find((b) => b.type === cnd.type);
      if (old && old.status === cnd.status && old.lastTransitionTime) cnd.lastTransitionTime = old.lastTransitionTime;
    }
    live.status = { ...(live.status as object), ...fresh };
    await this.opts.client.update(R.nodes, undefined, live, 'status');
  }

  private async renewLease(): Promise<void> {
    const c = this.opts.client;
    const ns = 'kube-node-lease';
    try {
      const lease = await c.get(R.leases, ns, this.opts.nodeName);
      (lease.spec as Record<string, unknown>).renewTime = micro();
      (lease.spec as Record<string, unknown>).holderIdentity = this.opts.nodeName;
      await c.update(R.leases, ns, lease);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
      const node = await c.get(R.nodes, undefined, this.opts.nodeName);
      await c.create(R.leases, ns, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: this.opts.nodeName,
          namespace: ns,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.opts.nodeName, uid: node.metadata.uid! }],
        },
        spec: { holderIdentity: this.opts.nodeName, leaseDurationSeconds: LEASE_SECONDS, renewTime: micro() },
      });
    }
  }
}
