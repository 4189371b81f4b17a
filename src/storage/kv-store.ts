// Everything the backends have in common: the revision counter, preconditions, resourceVersion
// stamping, paging, event construction and watch fan-out. A backend supplies only synchronous
// row primitives (read, apply, scan, count); because each public operation runs its read and
// its write without yielding, every operation is atomic with respect to the others.
//
// Group commit: a backend whose commits cost I/O (SQLite) lets writes made in the same turn of
// the event loop share one transaction. Each write is applied at once (later reads and writes
// see it) but is acknowledged — its promise resolved and its watch event published — only when
// the shared transaction has committed, at the end of the turn. A failed commit rolls the whole
// group back, revision counter included, and every write in it fails.
import { errors, StoreError } from '../machinery/errors.js';
import { rememberJsonText } from '../machinery/json-text.js';
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
    obj.metadata = Object.assign({}, obj.metadata, { resourceVersion: String(c.revision) });
    ev.object = obj;
  } else {
    ev.object = JSON.parse(c.json as string) as KObject;
    rememberJsonText(ev.object, c.json as string);
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

/** `obj` at a revision: a shallow copy with metadata.resourceVersion set, and its JSON text. */
function stamp(obj: KObject, revision: number): { object: KObject; json: string } {
  if (!isPlainObject(obj)) throw errors.badRequest('object must be a JSON object');
  if (obj.metadata !== undefined && !isPlainObject(obj.metadata)) throw errors.badRequest('metadata must be an object');
  // Object.assign rather than spread: V8 builds spread copies slowly, and they stringify slower too.
  const object: KObject = Object.assign({}, obj);
  object.metadata = Object.assign({}, obj.metadata, { resourceVersion: String(revision) });
  try {
    const json = JSON.stringify(object);
    rememberJsonText(object, json);
    return { object, json };
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

interface Batch {
  /** Revision before the batch's first write: where a failed commit rolls back to. */
  startRevision: number;
  changes: Change[];
  committed: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

export abstract class KeyValueStore implements Store {
  protected readonly hub: WatchHub;
  private closed = false;
  private batch?: Batch;

  protected constructor(
    protected revision: number,
    hubOptions: WatchHubOptions,
  ) {
    this.hub = new WatchHub(hubOptions);
  }

  /** Current row at key. */
  protected abstract read(key: string): StoredRow | undefined;
  /** Whether a row exists at key; backends may answer without loading the value. */
  protected has(key: string): boolean {
    return this.read(key) !== undefined;
  }
  /** True when apply() itself refuses an ADDED change at a taken key, with StoreError('Exists'). */
  protected refusesTakenKeys(): boolean {
    return false;
  }
  /** Makes one change durable (object row and, where persisted, the event log) atomically; throws to abort. */
  protected abstract apply(change: Change): void;
  /** Visits rows under prefix in key order, starting after `afterKey` if given; stop when visit returns false. */
  protected abstract scan(prefix: string, afterKey: string | undefined, visit: (key: string, json: string) => boolean): void;
  /** Number of keys under prefix strictly after afterKey. */
  protected abstract countAfter(prefix: string, afterKey: string): number;
  protected abstract closeBackend(): void;
  /**
   * Group commit hooks. A backend that returns true from groupCommit() gets beginBatch() before
   * the first apply() of a turn, and commitBatch() (or rollbackBatch() after a failed commit) at
   * its end; apply() must then undo its own partial work when it throws (e.g. a savepoint).
   */
  protected groupCommit(): boolean {
    return false;
  }
  protected beginBatch(): void {}
  protected commitBatch(): void {}
  protected rollbackBatch(): void {}

  async get(key: string): Promise<KObject | undefined> {
    this.ensureOpen();
    checkKey(key);
    const row = this.read(key);
    if (!row) return undefined;
    const obj = JSON.parse(row.json) as KObject;
    rememberJsonText(obj, row.json);
    return obj;
  }

  async exists(key: string): Promise<boolean> {
    this.ensureOpen();
    checkKey(key);
    return this.has(key);
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
      rememberJsonText(obj, json);
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
    if (!this.refusesTakenKeys() && this.has(key)) throw new StoreError('Exists', `key ${key} already exists`);
    const revision = this.revision + 1;
    const { object, json } = stamp(obj, revision);
    await this.commit({ type: 'ADDED', key, revision, json });
    return object;
  }

  async update(key: string, obj: KObject, expectedRevision?: number): Promise<KObject> {
    this.ensureOpen();
    checkKey(key);
    const current = checkPrecondition(key, this.read(key), expectedRevision);
    const revision = this.revision + 1;
    const { object, json } = stamp(obj, revision);
    await this.commit({ type: 'MODIFIED', key, revision, json, prevJson: current.json });
    return object;
  }

  /** Returns the last stored state, with the resourceVersion it had (the DELETED event carries the deletion's). */
  async delete(key: string, expectedRevision?: number): Promise<KObject> {
    this.ensureOpen();
    checkKey(key);
    const current = checkPrecondition(key, this.read(key), expectedRevision);
    const durable = this.commit({ type: 'DELETED', key, revision: this.revision + 1, prevJson: current.json });
    const out = JSON.parse(current.json) as KObject;
    await durable;
    return out;
  }

  watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void): WatchHandle {
    this.ensureOpen();
    if (typeof prefix !== 'string') throw errors.badRequest('watch prefix must be a string');
    // "From now" is from the last applied write: events of a batch still committing are in the past.
    return this.hub.watch(prefix, fromRevision === 0 ? this.revision : fromRevision, onEvent);
  }

  currentRevision(): number {
    return this.revision;
  }

  oldestRevision(): number {
    return this.hub.oldestRevision();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush(); // what was written is acknowledged (or failed) before the backend goes
    this.closed = true;
    this.hub.close();
    this.closeBackend();
  }

  /** Applies a change; resolves once it is durable (at once for backends without group commit). */
  private commit(change: Change): Promise<void> | undefined {
    if (!this.groupCommit()) {
      this.apply(change);
      // Only an applied change consumes its revision, so revisions stay gap-free.
      this.revision = change.revision;
      this.hub.publish(eventFromChange(change));
      return undefined;
    }
    let batch = this.batch;
    if (!batch) {
      this.beginBatch();
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const committed = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A write whose commit failed rejects; nobody else may be listening yet.
      committed.catch(() => {});
      batch = this.batch = { startRevision: this.revision, changes: [], committed, resolve, reject };
      setImmediate(() => this.flush());
    }
    this.apply(change);
    this.revision = change.revision;
    batch.changes.push(change);
    return batch.committed;
  }

  /** Commits the open batch, then publishes its events and acknowledges its writes. */
  private flush(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = undefined;
    try {
      this.commitBatch();
    } catch (e) {
      try {
        this.rollbackBatch();
      } finally {
        this.revision = batch.startRevision;
        batch.reject(e);
      }
      return;
    }
    for (const c of batch.changes) this.hub.publish(eventFromChange(c));
    batch.resolve();
  }

  private ensureOpen(): void {
    if (this.closed) throw new StoreError('Closed', 'store is closed');
  }
}
