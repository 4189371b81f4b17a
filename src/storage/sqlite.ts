// The embedded default backend: one SQLite file via better-sqlite3 (synchronous, so each store
// operation's read and write happen without yielding — see kv-store.ts).
//
// Durability: journal_mode=WAL with synchronous=NORMAL. Every write is its own transaction;
// COMMIT appends the transaction's pages to the WAL file with write(2) before the call returns,
// but does not fsync. Data handed to the kernel survives the death of this process (kill -9, a
// crash, an OOM kill) and is replayed from the WAL on the next open; only an OS crash or power
// loss can drop the last few commits. That is the trade we want: full-fsync commits would cap
// us at the disk's flush rate, far below the API's write rate.
//
// One process owns the file: locking_mode=EXCLUSIVE keeps the write lock for the connection's
// life, so a second server on the same file fails at open instead of forking the revision
// counter. (It also lets SQLite skip the shared-memory WAL index.)
//
// Tables: `objects` (current state) and `events` (the change log, trimmed to the history
// window) so that after a restart watches can resume from any revision still in the window.
// The revision counter needs no table of its own: the newest event is never trimmed.
import Database from 'better-sqlite3';
import { StoreError } from '../machinery/errors.js';
import { type Change, KeyValueStore, eventFromChange, prefixEnd, type StoredRow, type StoreOptions } from './kv-store.js';
import type { WatchEvent, WatchEventType } from './store.js';
import { DEFAULT_HISTORY_WINDOW } from './watch-hub.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    value TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS events (
    revision INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    prev TEXT
  );
`;

interface EventRow {
  revision: number;
  type: WatchEventType;
  key: string;
  value: string | null;
  prev: string | null;
}

type Statement = Database.Statement<unknown[], unknown>;

export class SqliteStore extends KeyValueStore {
  private readonly stmt: Record<
    'get' | 'has' | 'insert' | 'update' | 'remove' | 'logEvent' | 'trimEvents' | 'scanFrom' | 'scanAfter' | 'countRange' | 'keysAfter',
    Statement
  >;
  private readonly applyTx: (c: Change) => void;
  /** Trim the event log every this many writes: cheap batches instead of a DELETE per write. */
  private readonly trimEvery: number;

  /**
   * Opens (creating if needed) the database at `path`. Throws if another process holds it.
   * `:memory:` works too (no durability, no WAL).
   */
  static open(path: string, opts: StoreOptions = {}): SqliteStore {
    const window = opts.historyWindow ?? DEFAULT_HISTORY_WINDOW;
    // No busy waiting: the only contender for the lock is another server, which should fail fast.
    const db = new Database(path, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && path !== ':memory:') throw new Error(`cannot enable WAL journal on ${path} (got ${String(mode)})`);
      db.pragma('synchronous = NORMAL');
      // BEGIN IMMEDIATE takes the write lock now; in exclusive mode it is then held until close.
      db.exec('BEGIN IMMEDIATE');
      db.exec(SCHEMA);
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version === 0) db.pragma(`user_version = ${SCHEMA_VERSION}`);
      else if (version !== SCHEMA_VERSION) throw new Error(`${path}: unsupported schema version ${version}`);
      db.exec('COMMIT');

      const revision = Math.max(
        (db.prepare('SELECT MAX(revision) AS r FROM events').get() as { r: number | null }).r ?? 0,
        (db.prepare('SELECT MAX(revision) AS r FROM objects').get() as { r: number | null }).r ?? 0,
      );
      const rows = db.prepare('SELECT revision, type, key, value, prev FROM events WHERE revision > ? ORDER BY revision').all(revision - window) as EventRow[];
      const history: WatchEvent[] = rows.map((r) =>
        eventFromChange({ type: r.type, key: r.key, revision: r.revision, json: r.value ?? undefined, prevJson: r.prev ?? undefined }),
      );
      // The log is a contiguous run of revisions; everything before its first entry is gone.
      const compactedRevision = history.length ? history[0].revision - 1 : revision;
      return new SqliteStore(db, revision, window, history, compactedRevision, opts);
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new Error(`${path} is in use by another process`);
      throw e;
    }
  }

  private constructor(
    private readonly db: Database.Database,
    revision: number,
    private readonly window: number,
    history: WatchEvent[],
    compactedRevision: number,
    opts: StoreOptions,
  ) {
    super(revision, { window, history, compactedRevision, onWatcherError: opts.onWatcherError });
    this.trimEvery = Math.max(1, Math.ceil(window / 10));
    this.stmt = {
      get: db.prepare('SELECT revision, value FROM objects WHERE key = ?'),
      has: db.prepare('SELECT 1 FROM objects WHERE key = ?').pluck(),
      insert: db.prepare('INSERT INTO objects (key, revision, value) VALUES (?, ?, ?)'),
      update: db.prepare('UPDATE objects SET revision = ?, value = ? WHERE key = ?'),
      remove: db.prepare('DELETE FROM objects WHERE key = ?'),
      logEvent: db.prepare('INSERT INTO events (revision, type, key, value, prev) VALUES (?, ?, ?, ?, ?)'),
      trimEvents: db.prepare('DELETE FROM events WHERE revision <= ?'),
      scanFrom: db.prepare('SELECT key, value FROM objects WHERE key >= ? ORDER BY key'),
      scanAfter: db.prepare('SELECT key, value FROM objects WHERE key > ? ORDER BY key'),
      countRange: db.prepare('SELECT COUNT(*) AS n FROM objects WHERE key > ? AND key < ?'),
      keysAfter: db.prepare('SELECT key FROM objects WHERE key > ? ORDER BY key'),
    };
    this.applyTx = db.transaction((c: Change) => {
      if (c.type === 'ADDED') this.stmt.insert.run(c.key, c.revision, c.json);
      else if (c.type === 'MODIFIED') this.stmt.update.run(c.revision, c.json, c.key);
      else this.stmt.remove.run(c.key);
      this.stmt.logEvent.run(c.revision, c.type, c.key, c.json ?? null, c.prevJson ?? null);
      if (c.revision % this.trimEvery === 0) this.stmt.trimEvents.run(c.revision - this.window);
    });
  }

  protected read(key: string): StoredRow | undefined {
    const row = this.stmt.get.get(key) as { revision: number; value: string } | undefined;
    return row ? { revision: row.revision, json: row.value } : undefined;
  }

  protected override has(key: string): boolean {
    return this.stmt.has.get(key) !== undefined;
  }

  // Writes of one event-loop turn share a transaction; applyTx runs nested in it as a savepoint,
  // so a failing write undoes only itself.
  protected override groupCommit(): boolean {
    return true;
  }

  protected override beginBatch(): void {
    this.db.exec('BEGIN');
  }

  protected override commitBatch(): void {
    this.db.exec('COMMIT');
  }

  protected override rollbackBatch(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  // The primary key refuses a taken key: no separate lookup before each insert.
  protected override refusesTakenKeys(): boolean {
    return true;
  }

  protected apply(c: Change): void {
    try {
      this.applyTx(c);
    } catch (e) {
      if (c.type === 'ADDED' && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new StoreError('Exists', `key ${c.key} already exists`);
      throw e;
    }
  }

  protected scan(prefix: string, afterKey: string | undefined, visit: (key: string, json: string) => boolean): void {
    const rows = afterKey === undefined ? this.stmt.scanFrom.iterate(prefix) : this.stmt.scanAfter.iterate(afterKey);
    // Leaving the loop early (return) closes the iterator and resets the statement.
    for (const row of rows as Iterable<{ key: string; value: string }>) {
      if (!row.key.startsWith(prefix) || !visit(row.key, row.value)) return;
    }
  }

  protected countAfter(prefix: string, afterKey: string): number {
    const end = prefixEnd(prefix);
    if (end !== undefined) return (this.stmt.countRange.get(afterKey, end) as { n: number }).n;
    let n = 0;
    for (const row of this.stmt.keysAfter.iterate(afterKey) as Iterable<{ key: string }>) {
      if (!row.key.startsWith(prefix)) break;
      n++;
    }
    return n;
  }

  protected closeBackend(): void {
    this.db.close();
  }
}
