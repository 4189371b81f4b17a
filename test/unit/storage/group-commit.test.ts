// Group commit: writes made in one event-loop turn share a transaction, and each is acknowledged
// (and its watch event published) only once that transaction has committed. The KeyValueStore
// logic is driven through a journaling test backend whose commits can be made to fail; SQLite's
// use of it is checked against the database file itself.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StoreError } from '../../../src/machinery/errors.js';
import { type Change, KeyValueStore, type StoredRow } from '../../../src/storage/kv-store.js';
import { SqliteStore } from '../../../src/storage/sqlite.js';
import { cm, key, record, settle } from './store-contract.js';

/** Rows in a Map, with a journal so that a batch can be rolled back; counts commits. */
class JournalingStore extends KeyValueStore {
  readonly rows = new Map<string, StoredRow>();
  private before?: Map<string, StoredRow>;
  commits = 0;
  failNextCommit = false;

  constructor() {
    super(0, {});
  }

  protected override groupCommit(): boolean {
    return true;
  }
  protected override beginBatch(): void {
    this.before = new Map(this.rows);
  }
  protected override commitBatch(): void {
    if (this.failNextCommit) {
      this.failNextCommit = false;
      throw new Error('disk full');
    }
    this.commits++;
    this.before = undefined;
  }
  protected override rollbackBatch(): void {
    this.rows.clear();
    for (const [k, v] of this.before ?? []) this.rows.set(k, v);
    this.before = undefined;
  }
  protected read(k: string): StoredRow | undefined {
    return this.rows.get(k);
  }
  protected apply(c: Change): void {
    if (c.type === 'DELETED') this.rows.delete(c.key);
    else this.rows.set(c.key, { revision: c.revision, json: c.json! });
  }
  protected scan(prefix: string, afterKey: string | undefined, visit: (k: string, json: string) => boolean): void {
    for (const k of [...this.rows.keys()].sort()) {
      if (!k.startsWith(prefix) || (afterKey !== undefined && k <= afterKey)) continue;
      if (!visit(k, this.rows.get(k)!.json)) return;
    }
  }
  protected countAfter(prefix: string, afterKey: string): number {
    return [...this.rows.keys()].filter((k) => k.startsWith(prefix) && k > afterKey).length;
  }
  protected closeBackend(): void {}
}

describe('group commit (KeyValueStore)', () => {
  it('commits the writes of one turn together and acknowledges each only after the commit', async () => {
    const s = new JournalingStore();
    const w = record(s, '', 0);
    const acked: number[] = [];
    const writes = Array.from({ length: 20 }, (_, i) =>
      s.create(key(`o${i}`), cm(`o${i}`)).then((o) => {
        // An acknowledged write is committed, and watchers already have its event.
        assert.equal(s.commits, 1);
        assert.ok(w.events.some((e) => e.object.metadata.name === o.metadata.name));
        acked.push(Number(o.metadata.resourceVersion));
      }),
    );
    // Applied at once: reads in the same turn see every write, nothing is committed yet.
    assert.equal(s.currentRevision(), 20);
    assert.equal(await s.exists(key('o7')), true);
    assert.equal(s.commits, 0);
    assert.equal(w.events.length, 0, 'no event before the commit');
    await Promise.all(writes);
    assert.equal(s.commits, 1);
    assert.deepEqual(acked, Array.from({ length: 20 }, (_, i) => i + 1));
    // The next turn starts a new batch.
    await s.update(key('o1'), cm('o1', { v: '2' }));
    assert.equal(s.commits, 2);
    await s.close();
  });

  it('fails every write of a batch whose commit fails, and takes the revisions back', async () => {
    const s = new JournalingStore();
    await s.create(key('kept'), cm('kept'));
    const w = record(s, '', s.currentRevision());
    s.failNextCommit = true;
    const results = await Promise.allSettled([s.create(key('a'), cm('a')), s.update(key('kept'), cm('kept', { v: 'x' })), s.delete(key('kept'))]);
    for (const r of results) assert.equal(r.status, 'rejected');
    assert.equal(s.currentRevision(), 1, 'revision counter rolled back');
    assert.equal(await s.get(key('a')), undefined);
    assert.deepEqual((await s.get(key('kept')))?.data, {});
    await settle();
    assert.equal(w.events.length, 0, 'nothing of the failed batch was published');
    // Revisions continue gap-free from the last committed one.
    const next = await s.create(key('b'), cm('b'));
    assert.equal(next.metadata.resourceVersion, '2');
    await settle();
    assert.deepEqual(w.events.map((e) => [e.type, e.revision]), [['ADDED', 2]]);
    await s.close();
  });

  it('a write that fails on its own leaves the rest of its batch alone', async () => {
    const s = new JournalingStore();
    const [a, dup, b] = await Promise.allSettled([s.create(key('a'), cm('a')), s.create(key('a'), cm('a')), s.create(key('b'), cm('b'))]);
    assert.equal(a.status, 'fulfilled');
    assert.ok(dup.status === 'rejected' && dup.reason instanceof StoreError && dup.reason.code === 'Exists');
    assert.equal(b.status, 'fulfilled');
    assert.equal(s.commits, 1);
    assert.equal(s.currentRevision(), 2);
    await s.close();
  });

  it('"from now" starts after writes still committing, so their events are not delivered twice', async () => {
    const s = new JournalingStore();
    const pending = s.create(key('a'), cm('a'));
    const w = record(s, '', 0); // the caller's view of "now" already includes a
    await pending;
    await s.create(key('b'), cm('b'));
    await settle();
    assert.deepEqual(w.events.map((e) => e.object.metadata.name), ['b']);
    await s.close();
  });

  it('close() commits what is pending before the backend goes', async () => {
    const s = new JournalingStore();
    const p = s.create(key('a'), cm('a'));
    await s.close();
    await p;
    assert.equal(s.commits, 1);
  });
});

describe('group commit (SqliteStore)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-group-commit-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes of one turn land in the file together; a duplicate among them fails alone (its savepoint)', async () => {
    const path = join(dir, 'batch.db');
    const s = SqliteStore.open(path);
    const results = await Promise.allSettled([
      ...Array.from({ length: 50 }, (_, i) => s.create(key(`o${i}`), cm(`o${i}`, { i: String(i) }))),
      s.create(key('o3'), cm('o3')),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 50);
    assert.ok(results[50].status === 'rejected' && results[50].reason instanceof StoreError && results[50].reason.code === 'Exists');
    await s.close();
    const again = SqliteStore.open(path);
    try {
      assert.equal(again.currentRevision(), 50);
      assert.equal((await again.list('/configmaps.core/')).items.length, 50);
    } finally {
      await again.close();
    }
  });
});
