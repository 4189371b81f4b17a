// List+watch one kind into a local cache and tell handlers what changed. A watch that falls out
// of the store's history (410) re-lists, and the cache is reconciled against the fresh list.
import type { KindSpec } from '../api/types.js';
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import type { Resources } from '../apiserver/resources.js';
import type { WatchHandle } from '../storage/store.js';

export interface InformerHandlers {
  onAdd?(obj: KObject): void;
  onUpdate?(obj: KObject, old: KObject): void;
  onDelete?(obj: KObject): void;
}

export function cacheKey(obj: KObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name!;
}

export class Informer {
  readonly cache = new Map<string, KObject>();
  private handle?: WatchHandle;
  private stopped = false;
  private handlers: InformerHandlers[] = [];
  synced = false;

  constructor(
    private resources: Resources,
    readonly spec: KindSpec,
    private namespace?: string,
  ) {}

  on(h: InformerHandlers): this {
    this.handlers.push(h);
    return this;
  }

  get(namespace: string | undefined, name: string): KObject | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): KObject[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  async start(): Promise<void> {
    const { items, resourceVersion } = await this.resources.list(this.spec, this.namespace);
    const fresh = new Map(items.map((o) => [cacheKey(o), o]));
    for (const [k, old] of this.cache) if (!fresh.has(k)) this.emitDelete(k, old);
    for (const [k, o] of fresh) this.upsert(k, o);
    this.synced = true;
    if (this.stopped) return;
    this.handle = await this.resources.watch(this.spec, this.namespace, { resourceVersion }, (ev) => {
      const k = cacheKey(ev.object);
      if (ev.type === 'DELETED') this.emitDelete(k, ev.object);
      else this.upsert(k, ev.object);
    });
  }

  /** Called when the watch breaks (store history compacted): re-list. */
  async restart(): Promise<void> {
    this.handle?.stop();
    try {
      await this.start();
    } catch (e) {
      if (!(e instanceof StatusError)) throw e;
    }
  }

  stop(): void {
    this.stopped = true;
    this.handle?.stop();
  }

  private upsert(k: string, o: KObject) {
    const old = this.cache.get(k);
    this.cache.set(k, o);
    if (old && old.metadata.resourceVersion === o.metadata.resourceVersion) return;
    for (const h of this.handlers) (old ? h.onUpdate?.(o, old) : h.onAdd?.(o));
  }

  private emitDelete(k: string, o: KObject) {
    this.cache.delete(k);
    for (const h of this.handlers) h.onDelete?.(o);
  }
}
