import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { StoreError } from '../../../src/machinery/errors.js';
import { SqliteStore } from '../../../src/storage/sqlite.js';
import { cm, key, record, settle, storeContract } from './store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'skiff-sqlite-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `store-${n++}.db`);

storeContract('SqliteStore', async (opts) => SqliteStore.open(freshPath(), opts));

describe('SqliteStore persistence', () => {
  it('finds objects, continues the revision and resumes watches after a restart', async () => {
    const path = freshPath();
    let s = SqliteStore.open(path);
    await s.create(key('a'), cm('a', { v: '1' }));
    await s.create(key('b'), cm('b'));
    await s.update(key('a'), cm('a', { v: '2' }), 1);
    await s.delete(key('b'));
    await s.close();

    s = SqliteStore.open(path);
    try {
      assert.equal(s.currentRevision(), 4);
      const a = await s.get(key('a'));
      assert.deepEqual(a?.data, { v: '2' });
      assert.equal(a?.metadata.resourceVersion, '3');
      assert.equal(await s.get(key('b')), undefined);
      assert.equal((await s.list('/configmaps.core/')).revision, 4);

      const w = record(s, '/configmaps.core/default/', 1);
      const c = await s.create(key('c'), cm('c'));
      assert.equal(c.metadata.resourceVersion, '5', 'the revision counter survived the restart');
      await settle();
      assert.deepEqual(
        w.events.map((e) => [e.type, e.key, e.revision]),
        [
          ['ADDED', key('b'), 2],
          ['MODIFIED', key('a'), 3],
          ['DELETED', key('b'), 4],
          ['ADDED', key('c'), 5],
        ],
      );
      assert.deepEqual(w.events[1].prevObject?.data, { v: '1' });
      assert.equal(w.events[2].object.metadata.resourceVersion, '4');
      assert.equal(w.events[2].prevObject?.metadata.resourceVersion, '2');
    } finally {
      await s.close();
    }
  });

  it('keeps the event log trimmed to the window and answers Expired past it after a restart', async () => {
    const path = freshPath();
    let s = SqliteStore.open(path, { historyWindow: 10 });
    for (let i = 0; i < 45; i++) await s.create(key(`o${i}`), cm(`o${i}`));
    await s.close();

    const raw = new Database(path, { readonly: true });
    const { n: logged } = raw.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number };
    raw.close();
    assert.ok(logged >= 10 && logged <= 11, `event log holds the window (+ one trim batch), got ${logged}`);

    s = SqliteStore.open(path, { historyWindow: 10 });
    try {
      assert.equal(s.oldestRevision(), 35);
      assert.throws(() => s.watch('', 34, () => {}), (e: unknown) => e instanceof StoreError && e.code === 'Expired');
      const w = record(s, '', 35);
      await settle();
      assert.deepEqual(w.events.map((e) => e.revision), [36, 37, 38, 39, 40, 41, 42, 43, 44, 45]);
    } finally {
      await s.close();
    }
  });

  it('refuses a second opener of the same file while the first is alive', async () => {
    const path = freshPath();
    const s = SqliteStore.open(path);
    try {
      assert.throws(() => SqliteStore.open(path), /in use by another process/);
    } finally {
      await s.close();
    }
    const again = SqliteStore.open(path);
    await again.close();
  });

  it('keeps every acknowledged write when the writer is killed with SIGKILL', async () => {
    const path = freshPath();
    const script = fileURLToPath(new URL('./fixtures/crash-writer.js', import.meta.url));
    const child = spawn(process.execPath, [script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const acked: string[] = [];
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() as string;
      acked.push(...lines);
      if (acked.length >= 500 && child.signalCode === null) child.kill('SIGKILL');
    });
    const signal = await exited;
    assert.equal(signal, 'SIGKILL', `writer must die by SIGKILL mid-stream (stderr: ${stderr})`);
    assert.ok(acked.length >= 500);

    const s = SqliteStore.open(path);
    try {
      const missing: string[] = [];
      for (const k of acked) if (!(await s.get(k))) missing.push(k);
      assert.deepEqual(missing, [], 'acknowledged keys lost after kill -9');
      assert.ok(s.currentRevision() >= acked.length);
      const next = await s.create(key('after-crash'), cm('after-crash'));
      assert.equal(Number(next.metadata.resourceVersion), s.currentRevision());
      assert.ok(Number(next.metadata.resourceVersion) > acked.length);
    } finally {
      await s.close();
    }
  });
});
