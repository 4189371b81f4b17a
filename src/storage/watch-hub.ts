// Watch fan-out and the bounded event history, shared by every backend.
//
// Why no event is lost or duplicated: backends call publish() synchronously inside the write,
// and watch() snapshots the history and registers the watcher in one synchronous step. Node runs
// one piece of JavaScript at a time, so no write can fall between the snapshot and the
// registration, and every event is either in the replay or arrives live — never both, because
// live delivery also requires revision > fromRevision.
//
// Delivery is asynchronous through a per-watcher queue drained in a microtask: the writer never
// runs watcher code, a watcher's exception is caught and reported (it keeps its stream), and the
// first events of a new watch reach the caller only after watch() has returned its handle.
import { errors, StoreError } from '../machinery/errors.js';
import type { WatchEvent, WatchHandle } from './store.js';

export const DEFAULT_HISTORY_WINDOW = 10_000;

export interface WatchHubOptions {
  /** Number of most recent revisions kept for watch replay (each revision is one event). */
  window?: number;
  /** Events to start with (oldest first, contiguous revisions), e.g. reloaded from disk. */
  history?: WatchEvent[];
  /** Revision up to which history is gone: a watch from below it is Expired. */
  compactedRevision?: number;
  /** Called when a watcher callback throws; defaults to a process warning. */
  onWatcherError?: (err: unknown, ev: WatchEvent) => void;
}

class Watcher {
  private queue: WatchEvent[] = [];
  private head = 0;
  private scheduled = false;
  stopped = false;

  constructor(
    readonly prefix: string,
    readonly fromRevision: number,
    private readonly onEvent: (ev: WatchEvent) => void,
    private readonly onError: (err: unknown, ev: WatchEvent) => void,
  ) {}

  enqueue(ev: WatchEvent): void {
    this.queue.push(ev);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.drain());
    }
  }

  private drain(): void {
    // Events enqueued by writes made from inside a callback are appended and delivered in this same loop.
    while (!this.stopped && this.head < this.queue.length) {
      const ev = this.queue[this.head++];
      try {
        this.onEvent(ev);
      } catch (err) {
        this.onError(err, ev);
      }
    }
    this.queue = [];
    this.head = 0;
    this.scheduled = false;
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
    this.head = 0;
  }
}

export class WatchHub {
  private readonly window: number;
  private events: WatchEvent[];
  private head = 0;
  private compacted: number;
  private readonly watchers = new Set<Watcher>();
  private readonly onError: (err: unknown, ev: WatchEvent) => void;

  constructor(opts: WatchHubOptions = {}) {
    this.window = opts.window ?? DEFAULT_HISTORY_WINDOW;
    if (!Number.isInteger(this.window) || this.window < 1) throw new RangeError(`history window must be a positive integer, got ${opts.window}`);
    this.events = [...(opts.history ?? [])];
    this.compacted = opts.compactedRevision ?? 0;
    this.onError =
      opts.onWatcherError ??
      ((err, ev) => process.emitWarning(`watch callback failed on ${ev.type} ${ev.key} @${ev.revision}: ${(err as Error)?.message ?? err}`));
    this.trim();
  }

  /** Oldest revision a watch may start from: every event after it is retained. */
  oldestRevision(): number {
    return this.compacted;
  }

  /** Records a committed change and hands it to matching watchers. Call in revision order. */
  publish(ev: WatchEvent): void {
    this.events.push(ev);
    this.trim();
    for (const w of this.watchers) {
      if (ev.revision > w.fromRevision && ev.key.startsWith(w.prefix)) w.enqueue(ev);
    }
  }

  watch(prefix: string, fromRevision: number, onEvent: (ev: WatchEvent) => void): WatchHandle {
    if (!Number.isSafeInteger(fromRevision) || fromRevision < 0) throw errors.badRequest(`invalid resource version: ${fromRevision}`);
    if (fromRevision !== 0 && fromRevision < this.compacted) {
      throw new StoreError('Expired', `too old resource version: ${fromRevision} (${this.compacted})`);
    }
    const w = new Watcher(prefix, fromRevision, onEvent, this.onError);
    if (fromRevision !== 0) {
      for (let i = this.firstIndexAfter(fromRevision); i < this.events.length; i++) {
        const ev = this.events[i];
        if (ev.key.startsWith(prefix)) w.enqueue(ev);
      }
    }
    this.watchers.add(w);
    return {
      stop: () => {
        w.stop();
        this.watchers.delete(w);
      },
    };
  }

  /** Stops every watcher (store shutdown). */
  close(): void {
    for (const w of this.watchers) w.stop();
    this.watchers.clear();
  }

  private firstIndexAfter(revision: number): number {
    let lo = this.head;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid].revision <= revision) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private trim(): void {
    const excess = this.events.length - this.head - this.window;
    if (excess > 0) {
      this.head += excess;
      this.compacted = this.events[this.head - 1].revision;
    }
    // Reclaim the dropped prefix now and then rather than shifting on every write.
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }
}
