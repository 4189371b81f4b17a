// The kubelet's Events about pods (what `kubectl describe pod` lists): core/v1 Events with
// source.component "kubelet" and source.host the node. Repeats of the same event within ten
// minutes are folded into one whose count grows, as client-go's recorder does. Best effort:
// an event that cannot be written never fails the action it describes.
import type { ApiClient } from '../../client/client.js';
import { R } from '../../client/client.js';
import type { KObject } from '../../machinery/object.js';
import { rfc3339 } from './util.js';

const FOLD_WINDOW_MS = 10 * 60 * 1000;
const MAX_REMEMBERED = 4096;

interface Seen {
  name: string;
  count: number;
  at: number;
}

export class PodEvents {
  private seen = new Map<string, Seen>();
  private chain = new Map<string, Promise<void>>();

  constructor(
    private client: ApiClient,
    private nodeName: string,
    private log: (s: string) => void = () => {},
  ) {}

  /** Record an event about a pod (fieldPath e.g. `spec.containers{app}`); never throws, never blocks the caller. */
  record(pod: KObject, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    const ns = pod.metadata.namespace || 'default';
    const key = [pod.metadata.uid, fieldPath ?? '', type, reason, message].join('\u0000');
    const prev = this.chain.get(key) ?? Promise.resolve();
    const next = prev
      .then(() => this.write(pod, ns, key, type, reason, message, fieldPath))
      .catch((e) => this.log(`event ${reason} for pod ${ns}/${pod.metadata.name}: ${e instanceof Error ? e.message : e}`))
      .finally(() => {
        if (this.chain.get(key) === next) this.chain.delete(key);
      });
    this.chain.set(key, next);
  }

  /** Resolves when every event recorded so far has been written (tests, orderly shutdown). */
  async flush(): Promise<void> {
    while (this.chain.size) await Promise.all([...this.chain.values()]);
  }

  private async write(pod: KObject, ns: string, key: string, type: string, reason: string, message: string, fieldPath?: string) {
    const t = rfc3339();
    const seen = this.seen.get(key);
    if (seen && Date.now() - seen.at < FOLD_WINDOW_MS) {
      try {
        const live = await this.client.get(R.events, ns, seen.name);
        seen.count++;
        seen.at = Date.now();
        await this.client.update(R.events, ns, { ...live, count: seen.count, lastTimestamp: t });
        return;
      } catch {
        this.seen.delete(key); // gone or conflicting: write a new one
      }
    }
    const name = `${pod.metadata.name}.${(Date.now() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`;
    const involvedObject: Record<string, unknown> = {
      kind: 'Pod',
      namespace: ns,
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      apiVersion: 'v1',
      resourceVersion: pod.metadata.resourceVersion,
    };
    if (fieldPath) involvedObject.fieldPath = fieldPath;
    await this.client.create(R.events, ns, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject,
      reason,
      message,
      type,
      source: { component: 'kubelet', host: this.nodeName },
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
      reportingComponent: 'kubelet',
      reportingInstance: this.nodeName,
    } as KObject);
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
    this.seen.set(key, { name, count: 1, at: Date.now() });
  }
}
