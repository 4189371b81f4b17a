// The one storage contract. Backends: memory (tests), SQLite (embedded default), etcd (later).
// Keys look like etcd's: `/<resource>.<group>/<namespace>/<name>` for namespaced objects and
// `/<resource>.<group>/<name>` for cluster-scoped ones (group `core` for the legacy group).
// Every write gets the next value of ONE store-wide revision counter; that number, as a
// string, is the object's metadata.resourceVersion.
import type { KObject } from '../machinery/object.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** Delivered asynchronously; one event object is shared by every watcher: never mutate it. */
export interface WatchEvent {
  type: WatchEventType;
  /** The object after the change (for DELETED: its last state, with the deletion's revision). */
  object: KObject;
  /** The object before the change (MODIFIED and DELETED), so filtered watchers can tell "stopped matching". */
  prevObject?: KObject;
  /** The revision of this change. */
  revision: number;
  key: string;
}

export interface ListOptions {
  /** Return at most this many items and a continue token when more remain. */
  limit?: number;
  /** Opaque token from a previous page. */
  continue?: string;
  /** Keep only objects for which this returns true (label/field selectors). Applied before `limit`. */
  filter?: (obj: KObject) => boolean;
}

export interface ListResult {
  items: KObject[];
  /** The store revision the list reflects; a watch started from it misses nothing. */
  revision: number;
  continue?: string;
  remainingItemCount?: number;
}

export interface WatchHandle {
  stop(): void;
}

export interface Store {
  /** Current object at key, or undefined. */
  get(key: string): Promise<KObject | undefined>;
  /** Whether an object is stored at key (a get that decodes nothing). */
  exists(key: string): Promise<boolean>;
  /** All objects under a key prefix, ordered by key. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /**
   * Fails with StoreError('Exists') when the key is taken. Returns the stored object
   * (resourceVersion set). The store takes `obj` over: the result may share nested values with
   * it, so the caller must not change `obj` afterwards (the stored state itself stays apart).
   */
  create(key: string, obj: KObject): Promise<KObject>;
  /**
   * Compare-and-swap: fails with StoreError('Conflict') when expectedRevision is given and differs
   * from the object's current revision, StoreError('NotFound') when absent. Takes `obj` over, as create.
   */
  update(key: string, obj: KObject, expectedRevision?: number): Promise<KObject>;
  /** Removes the key; returns the last state. Same precondition rules as update. */
  delete(key: string, expectedRevision?: number): Promise<KObject>;
  /**
   * Events under prefix with revision > fromRevision, delivered in revision order, then live ones.
   * fromRevision 0 means "from now" (the caller lists first). Throws StoreError('Expired') when
   * fromRevision is older than the retained history.
   */
  watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void): WatchHandle;
  /** Latest revision handed out. */
  currentRevision(): number;
  /** Oldest revision still watchable. */
  oldestRevision(): number;
  close(): Promise<void>;
}
