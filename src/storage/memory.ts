// In-process store for tests and throwaway clusters. Objects are kept as JSON text, so nothing
// a caller does to a returned object can reach the stored state.
import { type Change, KeyValueStore, prefixEnd, type StoredRow, type StoreOptions } from './kv-store.js';

export class MemoryStore extends KeyValueStore {
  private readonly rows = new Map<string, StoredRow>();
  /** All keys, sorted, for ordered prefix scans. */
  private keys: string[] = [];

  constructor(opts: StoreOptions = {}) {
    super(0, { window: opts.historyWindow, onWatcherError: opts.onWatcherError });
  }

  protected read(key: string): StoredRow | undefined {
    return this.rows.get(key);
  }

  protected apply(c: Change): void {
    if (c.type === 'DELETED') {
      this.rows.delete(c.key);
      this.keys.splice(this.lowerBound(c.key), 1);
      return;
    }
    if (c.type === 'ADDED') this.keys.splice(this.lowerBound(c.key), 0, c.key);
    this.rows.set(c.key, { revision: c.revision, json: c.json as string });
  }

  protected scan(prefix: string, afterKey: string | undefined, visit: (key: string, json: string) => boolean): void {
    let i = afterKey === undefined ? this.lowerBound(prefix) : this.upperBound(afterKey);
    for (; i < this.keys.length && this.keys[i].startsWith(prefix); i++) {
      const key = this.keys[i];
      if (!visit(key, (this.rows.get(key) as StoredRow).json)) return;
    }
  }

  protected countAfter(prefix: string, afterKey: string): number {
    const start = this.upperBound(afterKey);
    const end = prefixEnd(prefix);
    if (end !== undefined) return this.lowerBound(end) - start;
    let n = 0;
    for (let i = start; i < this.keys.length && this.keys[i].startsWith(prefix); i++) n++;
    return n;
  }

  protected closeBackend(): void {
    this.rows.clear();
    this.keys = [];
  }

  /** Index of the first key >= k. */
  private lowerBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first key > k. */
  private upperBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] <= k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
