// metrics.k8s.io/v1beta1 (what metrics-server serves and `kubectl top` and the HPA read): a
// sampler polls every node's kubelet /stats/summary, turns cumulative CPU time into rates over
// the window between two samples, and the API serves the latest window.
import https from 'node:https';
import type { KindSpec } from '../api/types.js';
import { errors } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { compileLabelSelectorString } from '../machinery/selectors.js';
import type { ComputedResource } from './handler.js';
import { kubeletAddress, type KubeletClientCredentials } from './kubelet-proxy.js';
import type { Resources } from './resources.js';
import { rfc3339 } from '../machinery/time.js';

export const SAMPLE_INTERVAL_MS = 5_000;

export const nodeMetricsKind: KindSpec = {
  group: 'metrics.k8s.io',
  version: 'v1beta1',
  kind: 'NodeMetrics',
  plural: 'nodes',
  singular: '',
  namespaced: false,
  verbs: ['get', 'list'],
};

export const podMetricsKind: KindSpec = {
  group: 'metrics.k8s.io',
  version: 'v1beta1',
  kind: 'PodMetrics',
  plural: 'pods',
  singular: '',
  namespaced: true,
  verbs: ['get', 'list'],
};

interface Summary {
  node: { nodeName: string; cpu?: { usageCoreNanoSeconds: number }; memory?: { workingSetBytes: number } };
  pods: {
    podRef: { name: string; namespace: string; uid: string };
    containers: { name: string; cpu: { usageCoreNanoSeconds: number }; memory: { workingSetBytes: number } }[];
  }[];
}

interface Sample {
  at: number;
  summary: Summary;
}

function cpuQuantity(nanoCores: number): string {
  return `${Math.max(0, Math.round(nanoCores))}n`;
}

function memQuantity(bytes: number): string {
  return `${Math.max(0, Math.round(bytes / 1024))}Ki`;
}

export class MetricsSampler {
  private previous = new Map<string, Sample>();
  private latest = new Map<string, { window: number; at: number; node: KObject; pods: KObject[] }>();
  private timer?: NodeJS.Timeout;

  constructor(
    private resources: Resources,
    private creds: KubeletClientCredentials,
  ) {}

  start(): void {
    const tick = () => this.sample().catch(() => {});
    tick();
    this.timer = setInterval(tick, SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private fetchSummary(host: string, port: number): Promise<Summary> {
    return new Promise((resolve, reject) => {
      const req = https.get({ host, port, path: '/stats/summary', cert: this.creds.cert, key: this.creds.key, rejectUnauthorized: false, agent: false, timeout: 4000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Summary);
          } catch (e) {
            reject(e);
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  }

  private async sample(): Promise<void> {
    const { items: nodes } = await this.resources.list(this.resources.spec('', 'v1', 'nodes'), undefined);
    const seen = new Set<string>();
    await Promise.all(
      nodes.map(async (node) => {
        const name = node.metadata.name!;
        seen.add(name);
        let addr;
        try {
          addr = kubeletAddress(node);
        } catch {
          return;
        }
        const summary = await this.fetchSummary(addr.host, addr.port).catch(() => undefined);
        if (!summary) return;
        const now = Date.now();
        const prev = this.previous.get(name);
        this.previous.set(name, { at: now, summary });
        if (prev) this.latest.set(name, this.rates(node, prev, { at: now, summary }));
      }),
    );
    for (const n of [...this.latest.keys()]) if (!seen.has(n)) this.latest.delete(n);
  }

  /** Rates between two samples of one node. */
  private rates(node: KObject, a: Sample, b: Sample) {
    const dt = (b.at - a.at) / 1000; // seconds; CPU ns per second = nanocores
    const ts = rfc3339(b.at);
    const window = `${Math.round(dt * 1000) / 1000}s`;
    const rate = (x: number, y: number) => (dt > 0 ? (y - x) / dt : 0);
    const nodeMetrics: KObject = {
      kind: 'NodeMetrics',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: { name: node.metadata.name, labels: node.metadata.labels, creationTimestamp: ts },
      timestamp: ts,
      window,
      usage: {
        cpu: cpuQuantity(rate(a.summary.node.cpu?.usageCoreNanoSeconds ?? 0, b.summary.node.cpu?.usageCoreNanoSeconds ?? 0)),
        memory: memQuantity(b.summary.node.memory?.workingSetBytes ?? 0),
      },
    };
    const pods: KObject[] = [];
    for (const p of b.summary.pods) {
      const before = a.summary.pods.find((x) => x.podRef.uid === p.podRef.uid);
      if (!before) continue;
      const containers = p.containers.map((c) => {
        const old = before.containers.find((x) => x.name === c.name);
        return {
          name: c.name,
          usage: { cpu: cpuQuantity(old ? rate(old.cpu.usageCoreNanoSeconds, c.cpu.usageCoreNanoSeconds) : 0), memory: memQuantity(c.memory.workingSetBytes) },
        };
      });
      pods.push({
        kind: 'PodMetrics',
        apiVersion: 'metrics.k8s.io/v1beta1',
        metadata: { name: p.podRef.name, namespace: p.podRef.namespace, creationTimestamp: ts },
        timestamp: ts,
        window,
        containers,
      });
    }
    return { window: dt, at: b.at, node: nodeMetrics, pods };
  }

  nodes(): ComputedResource {
    return {
      list: async (_ns, labelSelector) => {
        const match = labelSelector ? compileLabelSelectorString(labelSelector) : () => true;
        return [...this.latest.values()].map((l) => l.node).filter((n) => match(n.metadata.labels));
      },
      get: async (_ns, name) => {
        const l = this.latest.get(name);
        if (!l) throw errors.notFound({ group: 'metrics.k8s.io', resource: 'nodes' }, name);
        return l.node;
      },
    };
  }

  pods(): ComputedResource {
    const all = () => [...this.latest.values()].flatMap((l) => l.pods);
    return {
      list: async (ns, labelSelector) => {
        let items = all().filter((p) => ns === undefined || p.metadata.namespace === ns);
        if (labelSelector) {
          // Labels live on the pods themselves.
          const match = compileLabelSelectorString(labelSelector);
          const podSpec = this.resources.spec('', 'v1', 'pods');
          const { items: livePods } = await this.resources.list(podSpec, ns);
          const ok = new Set(livePods.filter((p) => match(p.metadata.labels)).map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
          items = items.filter((p) => ok.has(`${p.metadata.namespace}/${p.metadata.name}`));
        }
        return items;
      },
      get: async (ns, name) => {
        const p = all().find((x) => x.metadata.namespace === ns && x.metadata.name === name);
        if (!p) throw errors.notFound({ group: 'metrics.k8s.io', resource: 'pods' }, name);
        return p;
      },
    };
  }
}
