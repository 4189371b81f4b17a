// Container logs for the process runtime.
//
// Design (why no per-container shim): a container's stdout and stderr are plain files
// (`<attempt>.stdout`, `<attempt>.stderr`) opened in append mode and handed to the process as
// fds. Writes to a regular file never block and never raise SIGPIPE, so a container keeps
// running when the kubelet is gone. One collector per runtime (per node) turns those raw files
// into the CRI log (`<attempt>.log`: `<RFC3339Nano> <stream> <F|P> <text>`): it watches each
// running container's directory (inotify through fs.watch, plus a slow sweep in case an event
// is missed), reads only the new bytes, and records how far it got in `<attempt>.pos`, so a new
// runtime instance (kubelet restart) carries on where the last one stopped. The cost per
// container is one directory watch and no process: a shell/awk pipeline would cost one or two
// processes per container, a Node shim ~40 MB each.
//
// Timestamp: the raw file's modification time when the collector reads it (nanosecond
// resolution) - the time of the last write, so lines read in the same pass share the stamp of
// the last of them. Lines written while no collector ran get the time of the last write before
// the collector came back: never later than the truth.
import { appendFileSync, closeSync, fstatSync, openSync, readFileSync, readSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { LogOptions } from '../types.js';

/** Lines longer than this are split into partial (P) records, as the CRI does. */
const MAX_LINE = 16 * 1024;
/** Bytes read per stream per pass (a chatty container cannot stall the kubelet's loop). */
const MAX_PASS = 4 * 1024 * 1024;

export function formatTimestamp(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const rest = (ns % 1_000_000n).toString().padStart(6, '0');
  return new Date(Number(ms)).toISOString().replace(/Z$/, `${rest}Z`);
}

/** Milliseconds since the epoch of a CRI timestamp (fraction beyond ms dropped). */
export function parseTimestampMs(ts: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return NaN;
  const frac = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  return Date.parse(`${m[1]}.${frac}${m[3]}`);
}

export interface CriLine {
  timestamp: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: Buffer;
}

export function parseCriLine(line: Buffer): CriLine | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = s1 < 0 ? -1 : line.indexOf(0x20, s1 + 1);
  const s3 = s2 < 0 ? -1 : line.indexOf(0x20, s2 + 1);
  if (s3 < 0) return undefined;
  const stream = line.toString('latin1', s1 + 1, s2);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  return {
    timestamp: line.toString('latin1', 0, s1),
    stream,
    partial: line.toString('latin1', s2 + 1, s3) === 'P',
    text: line.subarray(s3 + 1),
  };
}

/** Complete CRI records in `file` from byte `from`; `next` is where the first incomplete record starts. */
export function readCriRecords(file: string, from = 0): { records: CriLine[]; next: number } {
  let buf: Buffer;
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= from) return { records: [], next: from };
      buf = Buffer.allocUnsafe(size - from);
      buf = buf.subarray(0, readSync(fd, buf, 0, buf.length, from));
    } finally {
      closeSync(fd);
    }
  } catch {
    return { records: [], next: from };
  }
  const records: CriLine[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    const rec = parseCriLine(buf.subarray(start, nl));
    if (rec) records.push(rec);
    start = nl + 1;
  }
  return { records, next: from + start };
}

interface Tracked {
  id: string;
  dir: string;
  /** `<dir>/<attempt>` - the raw files, CRI log and position file share this prefix. */
  base: string;
  logPath: string;
  offsets: [number, number];
  listeners: Set<(ended: boolean) => void>;
}

export class LogCollector {
  private readonly tracked = new Map<string, Tracked>();
  private readonly watchers = new Map<string, { watcher: FSWatcher; ids: Set<string> }>();
  private readonly dirty = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly sweep: NodeJS.Timeout;
  private closed = false;

  constructor(sweepMs = 1000) {
    this.sweep = setInterval(() => this.drainAll(), sweepMs);
    this.sweep.unref();
  }

  /** Start collecting a running container's raw output (resumes from `<base>.pos` after a restart). */
  track(id: string, base: string, logPath: string): void {
    if (this.closed || this.tracked.has(id)) return;
    const dir = path.dirname(base);
    let offsets: [number, number] = [0, 0];
    try {
      const [a, b] = readFileSync(`${base}.pos`, 'utf8').trim().split(/\s+/).map(Number);
      if (Number.isFinite(a) && Number.isFinite(b)) offsets = [a!, b!];
    } catch {
      /* first run */
    }
    this.tracked.set(id, { id, dir, base, logPath, offsets, listeners: new Set() });
    let w = this.watchers.get(dir);
    if (!w) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.markDirDirty(dir));
        watcher.on('error', () => undefined);
        w = { watcher, ids: new Set() };
        this.watchers.set(dir, w);
      } catch {
        /* the sweep still collects */
      }
    }
    w?.ids.add(id);
    this.drain(id, false);
  }

  isTracked(id: string): boolean {
    return this.tracked.has(id);
  }

  /** Collect what is there now (so a `kubectl logs` right after a write sees it). */
  flush(id: string): void {
    this.drain(id, false);
  }

  /** The container exited: collect the rest (a trailing line without newline too) and stop. */
  finish(id: string): void {
    const t = this.tracked.get(id);
    if (!t) return;
    this.drain(id, true);
    this.tracked.delete(id);
    const w = this.watchers.get(t.dir);
    if (w) {
      w.ids.delete(id);
      if (w.ids.size === 0) {
        w.watcher.close();
        this.watchers.delete(t.dir);
      }
    }
    for (const l of t.listeners) l(true);
    t.listeners.clear();
  }

  /** Be told after every append (false) and once when the container's log ends (true). */
  subscribe(id: string, listener: (ended: boolean) => void): () => void {
    const t = this.tracked.get(id);
    if (!t) {
      queueMicrotask(() => listener(true));
      return () => undefined;
    }
    t.listeners.add(listener);
    return () => t.listeners.delete(listener);
  }

  /** Stop watching without finishing (the containers keep running; a new collector resumes). */
  close(): void {
    this.closed = true;
    clearInterval(this.sweep);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const id of this.tracked.keys()) this.drain(id, false);
    for (const w of this.watchers.values()) w.watcher.close();
    this.watchers.clear();
    for (const t of this.tracked.values()) for (const l of t.listeners) l(true);
    this.tracked.clear();
  }

  private markDirDirty(dir: string): void {
    const w = this.watchers.get(dir);
    if (!w) return;
    for (const id of w.ids) this.dirty.add(id);
    // Coalesce a burst of inotify events into one pass.
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      const ids = [...this.dirty];
      this.dirty.clear();
      for (const id of ids) this.drain(id, false);
    }, 5);
  }

  private drainAll(): void {
    for (const id of this.tracked.keys()) this.drain(id, false);
  }

  private drain(id: string, final: boolean): void {
    const t = this.tracked.get(id);
    if (!t) return;
    const out: Buffer[] = [];
    let more = false;
    for (const idx of [0, 1] as const) more = this.drainStream(t, idx, final, out) || more;
    if (out.length === 0) return;
    appendFileSync(t.logPath, Buffer.concat(out));
    writeFileSync(`${t.base}.pos`, `${t.offsets[0]} ${t.offsets[1]}\n`);
    for (const l of t.listeners) l(false);
    if (more) setImmediate(() => this.drain(id, final));
  }

  /** Appends CRI records for new complete lines of one stream; true when more is waiting. */
  private drainStream(t: Tracked, idx: 0 | 1, final: boolean, out: Buffer[]): boolean {
    const stream = idx === 0 ? 'stdout' : 'stderr';
    let fd: number;
    try {
      fd = openSync(`${t.base}.${stream}`, 'r');
    } catch {
      return false;
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      const size = Number(st.size);
      let off = t.offsets[idx];
      if (size < off) off = 0; // truncated by hand: start over
      if (size === off) return false;
      const len = Math.min(size - off, MAX_PASS);
      const buf = Buffer.allocUnsafe(len);
      const got = readSync(fd, buf, 0, len, off);
      const data = buf.subarray(0, got);
      const prefix = (tag: 'F' | 'P') => Buffer.from(`${formatTimestamp(st.mtimeNs)} ${stream} ${tag} `);
      let start = 0;
      for (;;) {
        const nl = data.indexOf(0x0a, start);
        const end = nl < 0 ? data.length : nl;
        if (end - start > MAX_LINE) {
          out.push(prefix('P'), data.subarray(start, start + MAX_LINE), Buffer.from('\n'));
          start += MAX_LINE;
          continue;
        }
        if (nl < 0) break;
        out.push(prefix('F'), data.subarray(start, nl), Buffer.from('\n'));
        start = nl + 1;
      }
      const atEnd = off + got >= size;
      if (final && atEnd && start < data.length) {
        out.push(prefix('F'), data.subarray(start), Buffer.from('\n'));
        start = data.length;
      }
      t.offsets[idx] = off + start;
      return !atEnd;
    } finally {
      closeSync(fd);
    }
  }
}

function formatRecord(r: CriLine, timestamps: boolean): Buffer {
  const nl = r.partial ? [] : [Buffer.from('\n')];
  return Buffer.concat(timestamps ? [Buffer.from(`${r.timestamp} `), r.text, ...nl] : [r.text, ...nl]);
}

/**
 * The log of one container instance as kubectl wants it: raw lines (timestamp prefix only when
 * asked), --tail, --since, limitBytes; with follow, new lines until the log ends or the signal aborts.
 */
export function readLog(
  logPath: string,
  opts: LogOptions,
  follow?: { collector: LogCollector; id: string },
  streams?: { filter: 'stdout' | 'stderr' },
): Readable {
  const readable = new Readable({ read() {} });
  let sent = 0;
  let done = false;
  let unsubscribe: () => void = () => undefined;
  const finish = () => {
    if (done) return;
    done = true;
    unsubscribe();
    opts.signal?.removeEventListener('abort', finish);
    readable.push(null);
  };
  const emit = (records: CriLine[]) => {
    for (const r of records) {
      if (done) return;
      if (streams && r.stream !== streams.filter) continue;
      if (opts.sinceTime !== undefined && parseTimestampMs(r.timestamp) < opts.sinceTime) continue;
      let chunk = formatRecord(r, opts.timestamps);
      if (opts.limitBytes !== undefined) {
        const left = opts.limitBytes - sent;
        if (chunk.length >= left) {
          if (left > 0) readable.push(chunk.subarray(0, left));
          sent += left;
          finish();
          return;
        }
      }
      sent += chunk.length;
      readable.push(chunk);
    }
  };
  const first = readCriRecords(logPath, 0);
  let offset = first.next;
  let initial = first.records;
  if (opts.tailLines !== undefined) initial = opts.tailLines <= 0 ? [] : initial.slice(-opts.tailLines);
  if (opts.signal?.aborted) {
    finish();
    return readable;
  }
  emit(initial);
  if (!opts.follow || !follow || !follow.collector.isTracked(follow.id) || done) {
    finish();
    return readable;
  }
  opts.signal?.addEventListener('abort', finish);
  const pull = (ended: boolean) => {
    if (done) return;
    const next = readCriRecords(logPath, offset);
    offset = next.next;
    emit(next.records);
    if (ended) finish();
  };
  const stop = follow.collector.subscribe(follow.id, pull);
  // A referenced timer: a reader waiting for lines keeps the process alive (the runtime's own
  // watchers do not), and it re-reads in case a notification was missed.
  const safety = setInterval(() => pull(false), 1000);
  unsubscribe = () => {
    stop();
    clearInterval(safety);
  };
  return readable;
}
