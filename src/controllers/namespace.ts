// Namespace teardown: when a namespace is being deleted, delete everything in it, then release
// the namespace's `kubernetes` finalizer so the namespace itself goes.
import type { KindSpec } from '../api/types.js';
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { systemContext } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';
import { Informer } from '../client/informer.js';
import { R, type ApiClient } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';

const FINALIZER = 'kubernetes';
const RECHECK_MS = 500;

export class NamespaceController {
  private informer: Informer;
  private queue: WorkQueue;
  private ctx = systemContext('namespace-controller');

  constructor(private resources: Resources, client: ApiClient, private log: (s: string) => void = () => {}) {
    this.informer = new Informer(client, R.namespaces);
    this.queue = new WorkQueue((k) => this.sync(k), 2, 100, 10_000, (k, e) => this.log(`namespace ${k}: ${(e as Error).message}`));
    const enqueue = (o: KObject) => o.metadata.deletionTimestamp && this.queue.add(o.metadata.name!);
    this.informer.on({ onAdd: enqueue, onUpdate: enqueue });
  }

  async start(): Promise<void> {
    await this.informer.start();
  }

  stop(): void {
    this.informer.stop();
    this.queue.stop();
  }

  /** Namespaced kinds, one version per stored resource (versions share storage). */
  private namespacedKinds(): KindSpec[] {
    return this.resources.registry.all().filter((s) => s.namespaced && !s.virtual && !s.storedAs);
  }

  private async sync(name: string): Promise<void> {
    const ns = this.informer.get(undefined, name);
    if (!ns || !ns.metadata.deletionTimestamp) return;
    let remaining = 0;
    for (const spec of this.namespacedKinds()) {
      const { items } = await this.resources.list(spec, name);
      for (const item of items) {
        remaining++;
        if (item.metadata.deletionTimestamp) continue;
        try {
          await this.resources.delete(spec, name, item.metadata.name!, { propagationPolicy: 'Background' }, this.ctx);
        } catch (e) {
          if (!(e instanceof StatusError && (e.code === 404 || e.code === 409))) throw e;
        }
      }
    }
    if (remaining > 0) {
      // Some content is still finalizing (pods stopping, finalizers held by controllers).
      this.queue.addAfter(name, RECHECK_MS);
      return;
    }
    const fresh = await this.resources.tryGet(this.resources.spec('', 'v1', 'namespaces'), undefined, name);
    if (!fresh) return;
    const spec = (fresh.spec ?? {}) as { finalizers?: string[] };
    if (!(spec.finalizers ?? []).includes(FINALIZER)) return;
    const updated = structuredClone(fresh);
    (updated.spec as { finalizers?: string[] }).finalizers = spec.finalizers!.filter((f) => f !== FINALIZER);
    await this.resources.update(this.resources.spec('', 'v1', 'namespaces'), undefined, name, updated, this.ctx, 'finalize');
    this.log(`namespace ${name} deleted`);
  }
}
