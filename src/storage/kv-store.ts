// Everything the backends have in common: the revision counter, preconditions, resourceVersion
// stamping, paging, event construction and watch fan-out. A backend supplies only synchronous
// row primitives (read, apply, scan, count); because each public operation runs its read and
// its write without yielding, every operation is atomic with respect to the others.
import { errors, StoreError } from '../machinery/errors.js';
import { isPlainObject, type KObject } from '../machinery/object.js';
import { decodeContinue, encodeContinue } from './continue-token.js';
import type { ListOptions, ListResult, Store, WatchEvent, WatchEventType, WatchHandle } from './store.js';
import { WatchHub, type WatchHubOptions } from './watch-hub.js';

export interface StoredRow {
  revision: number;
  /** The object as JSON text, metadata.resourceVersion included. */
  json: string;
}

/** One committed write, as a backend persists it. */
export interface Change {
  type: WatchEventType;
  key: string;
  revision: number;
  /** New state (ADDED, MODIFIED). */
  json?: string;
  /** State before (MODIFIED, DELETED). */
  prevJson?: string;
}

export interface StoreOptions {
  /** Revisions of history kept for watch replay (default 10,000). */
  historyWindow?: number;
  /** Where exceptions thrown by watch callbacks are reported. */
  onWatcherError?: WatchHubOptions['onWatcherError'];
}

/**
 * The watch event for a change. A DELETED event carries the last state stamped with the
 * deletion's revision (as upstream). Event objects are shared by all watchers: never mutate them.
 */
export function eventFromChange(c: Change): WatchEvent {
  const ev: WatchEvent = { type: c.type, key: c.key, revision: c.revision, object: undefined as unknown as KObject };
  if (c.type === 'DELETED') {
    const obj = JSON.parse(c.prevJson as string) as KObject;
    obj.metadata = { ...obj.metadata, resourceVersion: String(c.revision) };
    ev.object = obj;
  } else {
    ev.object = JSON.parse(c.json as string) as KObject;
  }
  if (c.prevJson !== undefined) ev.prevObject = JSON.parse(c.prevJson) as KObject;
  return ev;
}

/** Smallest string greater than every string that starts with prefix, when it is cheap and
 * valid for both JS (UTF-16) and SQLite (UTF-8 byte) order, i.e. the last char is ASCII. */
export function prefixEnd(prefix: string): string | undefined {
  if (!prefix) return undefined;
  const last = prefix.charCodeAt(prefix.length - 1);
  return last < 0x7f ? prefix.slice(0, -1) + String.fromCharCode(last + 1) : undefined;
}

function stamp(obj: KObject, revision: number): string {
  if (!isPlainObject(obj)) throw errors.badRequest('object must be a JSON object');
  if (obj.metadata !== undefined && !isPlainObject(obj.metadata)) throw errors.badRequest('metadata must be an object');
  try {
    return JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(revision) } });
  } catch (e) {
    throw errors.badRequest(`object cannot be encoded as JSON: ${(e as Error).message}`);
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw errors.badRequest('storage key must be a non-empty string');
}

function checkPrecondition(key: string, current: StoredRow | undefined, expectedRevision: number | undefined): StoredRow {
  if (expectedRevision !== undefined && (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0)) {
    throw errors.badRequest(`invalid resourceVersion precondition: ${expectedRevision}`);
  }
  if (!current) throw new StoreError('NotFound', `key ${key} not found`);
  if (expectedRevision !== undefined && current.revision !== expectedRevision) {
    throw new StoreError('Conflict', `key ${key}: expected revision ${expectedRevision}, found ${current.revision}`);
  }
  return current;
}

export abstract class KeyValueStore implements Store {
  protected readonly hub: WatchHub;
  private closed = false;

  protected constructor(
    protected revision: number,
    hubOptions: WatchHubOptions,
  ) {
    this.hub = new WatchHub(hubOptions);
  }

  /** Current row at key. */
  protected abstract read(key: string): StoredRow | undefined;
  /** Makes one change durable (object row and, where persisted, the event log) atomically; throws to abort. */
  protected abstract apply(change: Change): void;
  /** Visits rows under prefix in key order, starting after `afterKey` if given; stop when visit returns false. */
  protected abstract scan(prefix: string, afterKey: string | undefined, visit: (key: string, json: string) => boolean): void;
  /** Number of keys under prefix strictly after afterKey. */
  protected abstract countAfter(prefix: string, afterKey: string): number;
  protected abstract closeBackend(): void;

  async get(key: string): Promise<KObject | undefined> {
    this.ensureOpen();
    checkKey(key);
    const row = this.read(key);
    return row ? (JSON.parse(row.json) as KObject) : undefined;
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    this.ensureOpen();
    if (typeof prefix !== 'string') throw errors.badRequest('list prefix must be a string');
    const limit = opts.limit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) throw errors.badRequest(`invalid limit: ${opts.limit}`);
    let revision = this.revision;
    let after: string | undefined;
    if (opts.continue) {
      const token = decodeContinue(opts.continue, prefix);
      revision = token.revision;
      after = token.lastKey;
    }
    const filter = opts.filter;
    const items: KObject[] = [];
    let lastKey = '';
    let more = false;
    this.scan(prefix, after, (key, json) => {
      // Stop at the first further *matching* row, so a continue token always leads somewhere.
      if (limit && items.length === limit && !filter) {
        more = true;
        return false;
      }
      const obj = JSON.parse(json) as KObject;
      if (filter && !filter(obj)) return true;
      if (limit && items.length === limit) {
        more = true;
        return false;
      }
      items.push(obj);
      lastKey = key;
      return true;
    });
    const result: ListResult = { items, revision };
    if (more) {
      result.continue = encodeContinue({ revision, lastKey });
      // Upstream reports the remaining count only for unfiltered lists, where it is exact.
      if (!filter) result.remainingItemCount = this.countAfter(prefix, lastKey);
    }
    return result;
  }

  async create(key: string, obj: KObject): Promise<KObject> {
    this.ensureOpen();
    checkKey(key);
    if (this.read(key)) throw new StoreError('Exists', `key ${key} already exists`);
    const revision = this.revision + 1;
    const json = stamp(obj, revision);
    this.commit({ type: 'ADDED', key, revision, json });
    return JSON.parse(json) as KObject;
  }

  async update(key: string, obj: KObject, expectedRevision?: number): Promise<KObject> {
    this.ensureOpen();
    checkKey(key);
    const current = checkPrecondition(key, this.read(key), expectedRevision);
    const revision = this.revision + 1;
    const json = stamp(obj, revision);
    this.commit({ type: 'MODIFIED', key, revision, json, prevJson: current.json });
    return JSON.parse(json) as KObject;
  }

  /** Returns the last stored state, with the resourceVersion it had (the DELETED event carries the deletion's). */
  async delete(key: string, expectedRevision?: number): Promise<KObject> {
    this.ensureOpen();
    checkKey(key);
    const current = checkPrecondition(key, this.read(key), expectedRevision);
    this.commit({ type: 'DELETED', key, revision: this.revision + 1, prevJson: current.json });
    return JSON.parse(current.json) as KObject;
  }

  watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void): WatchHandle {
    this.ensureOpen();
    if (typeof prefix !== 'string') throw errors.badRequest('watch prefix must be a string');
    return this.hub.watch(prefix, fromRevision, onEvent);
  }

  currentRevision(): number {
    return this.revision;
  }

  oldestRevision(): number {
    return this.hub.oldestRevision();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.close();
    this.closeBackend();
  }

  private commit(change: Change): void {
    this.apply(change);
    // Only a committed change consumes its revision, so revisions stay gap-free.
    this.revision = change.revision;
    this.hub.publish(eventFromChange(change));
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreError('Closed', 'store is closed');
  }
}
