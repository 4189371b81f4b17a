// List+watch one resource into a local cache and tell handlers what changed. When the watch
// ends (server timeout, connection loss) it resumes from the last resourceVersion it saw; when
// that is too old (410 Gone) it re-lists and reconciles the cache against the fresh list.
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import type { ApiClient, ClientWatch, ResourceRef, Selectors } from './client.js';

export interface InformerHandlers {
  onAdd?(obj: KObject): void;
  onUpdate?(obj: KObject, old: KObject): void;
  onDelete?(obj: KObject): void;
}

export function cacheKey(obj: KObject): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name!;
}

const RETRY_MS = 500;

export class Informer {
  readonly cache = new Map<string, KObject>();
  private watch?: ClientWatch;
  private stopped = false;
  private handlers: InformerHandlers[] = [];
  private lastRV = '0';
  private retry?: NodeJS.Timeout;
  synced = false;

  constructor(
    private client: ApiClient,
    readonly ref: ResourceRef,
    private opts: Selectors & { namespace?: string } = {},
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
    await this.relist();
  }

  stop(): void {
    this.stopped = true;
    this.watch?.stop();
    if (this.retry) clearTimeout(this.retry);
  }

  private async relist(): Promise<void> {
    const sel = { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
    const { items, resourceVersion } = await this.client.list(this.ref, this.opts.namespace, sel);
    const fresh = new Map(items.map((o) => [cacheKey(o), o]));
    for (const [k, old] of this.cache) if (!fresh.has(k)) this.emitDelete(k, old);
    for (const [k, o] of fresh) this.upsert(k, o);
    this.lastRV = resourceVersion;
    this.synced = true;
    await this.rewatch();
  }

  private async rewatch(): Promise<void> {
    if (this.stopped) return;
    const sel = { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
    try {
      this.watch = await this.client.watch(
        this.ref,
        this.opts.namespace,
        { ...sel, resourceVersion: this.lastRV },
        (ev) => {
          if (ev.object?.metadata?.resourceVersion) this.lastRV = ev.object.metadata.resourceVersion;
          if (ev.type === 'BOOKMARK') return;
          const k = cacheKey(ev.object);
          if (ev.type === 'DELETED') this.emitDelete(k, ev.object);
          else this.upsert(k, ev.object);
        },
        (err) => this.recover(err),
      );
    } catch (e) {
      this.recover(e as Error);
    }
  }

  private recover(err?: Error): void {
    if (this.stopped) return;
    const gone = err instanceof StatusError && err.code === 410;
    this.retry = setTimeout(
      () => {
        (gone ? this.relist() : this.rewatch()).catch(() => this.recover());
      },
      gone ? 0 : RETRY_MS,
    );
    this.retry.unref?.();
  }

  private upsert(k: string, o: KObject) {
    const old = this.cache.get(k);
    this.cache.set(k, o);
    if (old && old.metadata.resourceVersion === o.metadata.resourceVersion) return;
    for (const h of this.handlers) (old ? h.onUpdate?.(o, old) : h.onAdd?.(o));
  }

  private emitDelete(k: string, o: KObject) {
    if (!this.cache.has(k)) return;
    this.cache.delete(k);
    for (const h of this.handlers) h.onDelete?.(o);
  }
}
