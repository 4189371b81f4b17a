// In-memory copies of small, hot resources (namespaces, resource quotas), kept current by a store
// watch, for admission checks that would otherwise read storage on every write — what upstream's
// admission plugins do with informer listers. Like a lister, a cache may trail the store by the
// events still being delivered; callers fall back to a live read where a miss matters.
import type { KindSpec } from '../api/types.js';
import type { KObject } from '../machinery/object.js';
import type { Store, WatchHandle } from '../storage/store.js';
import { listPrefix } from './keys.js';

export class ReadCache {
  /** namespace ('' for cluster-scoped) → name → stored object (shared: never mutate). */
  private readonly byNamespace = new Map<string, Map<string, KObject>>();
  private handle?: WatchHandle;

  private constructor(
    private readonly store: Store,
    private readonly spec: KindSpec,
  ) {}

  /** A cache of every object of `spec`, filled before it is returned. */
  static async start(store: Store, spec: KindSpec): Promise<ReadCache> {
    const cache = new ReadCache(store, spec);
    const prefix = listPrefix(spec);
    const snapshot = await store.list(prefix);
    for (const o of snapshot.items) cache.put(o);
    cache.handle = store.watch(prefix, snapshot.revision, (ev) => {
      if (ev.type === 'DELETED') cache.remove(ev.object);
      else cache.put(ev.object);
    });
    return cache;
  }

  get(namespace: string | undefined, name: string): KObject | undefined {
    return this.byNamespace.get(this.spec.namespaced ? (namespace ?? '') : '')?.get(name);
  }

  /** Objects of one namespace (or all cluster-scoped ones). */
  list(namespace: string | undefined): KObject[] {
    const m = this.byNamespace.get(this.spec.namespaced ? (namespace ?? '') : '');
    return m ? [...m.values()] : [];
  }

  stop(): void {
    this.handle?.stop();
  }

  private put(o: KObject): void {
    const ns = this.spec.namespaced ? (o.metadata.namespace ?? '') : '';
    let m = this.byNamespace.get(ns);
    if (!m) this.byNamespace.set(ns, (m = new Map()));
    m.set(o.metadata.name ?? '', o);
  }

  private remove(o: KObject): void {
    const ns = this.spec.namespaced ? (o.metadata.namespace ?? '') : '';
    const m = this.byNamespace.get(ns);
    m?.delete(o.metadata.name ?? '');
    if (m?.size === 0) this.byNamespace.delete(ns);
  }
}
