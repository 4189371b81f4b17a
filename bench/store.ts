// Store throughput: creates/s (durable for SQLite: 32 in flight, so writes of one event-loop turn
// share a commit, as the API server's do; and one at a time, each its own commit), get/s and the
// time to list 10,000 objects, for both backends. The anchor is raw better-sqlite3 doing the same
// inserts (same pragmas, one autocommit INSERT per row) in the same run, so the ratio says how
// much the store layer costs on top of SQLite regardless of how fast this machine is today.
//   node dist/bench/store.js [count]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { KObject } from '../src/machinery/object.js';
import { MemoryStore } from '../src/storage/memory.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import type { Store } from '../src/storage/store.js';

const COUNT = Number(process.argv[2] ?? 10_000);

function configMap(i: number): KObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `cm-${i}`, namespace: 'default', labels: { app: 'bench', shard: String(i % 10) }, uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}` },
    data: { 'config.yaml': `replicas: ${i % 5}\nmode: fast\n`, owner: 'bench' },
  };
}

const keyOf = (i: number) => `/configmaps.core/default/cm-${String(i).padStart(6, '0')}`;

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

interface Result {
  creates: number;
  sequentialCreates: number;
  gets: number;
  listMs: number;
}

const IN_FLIGHT = 32;

async function measure(store: Store): Promise<Result> {
  let t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < COUNT) {
        const i = next++;
        await store.create(keyOf(i), configMap(i));
      }
    }),
  );
  const creates = rate(COUNT, performance.now() - t);
  // One at a time, in another namespace (not listed below).
  const sequential = Math.min(COUNT, 2000);
  t = performance.now();
  for (let i = 0; i < sequential; i++) await store.create(keyOf(i).replace('/default/', '/one-by-one/'), configMap(i));
  const sequentialCreates = rate(sequential, performance.now() - t);

  t = performance.now();
  for (let i = 0; i < COUNT; i++) await store.get(keyOf((i * 7919) % COUNT));
  const gets = rate(COUNT, performance.now() - t);

  t = performance.now();
  const listed = await store.list('/configmaps.core/default/');
  const listMs = performance.now() - t;
  if (listed.items.length !== COUNT) throw new Error(`listed ${listed.items.length}, expected ${COUNT}`);
  return { creates, sequentialCreates, gets, listMs };
}

function anchorInsertsPerSecond(path: string): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE objects (key TEXT PRIMARY KEY, revision INTEGER NOT NULL, value TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO objects (key, revision, value) VALUES (?, ?, ?)');
  const rows = Array.from({ length: COUNT }, (_, i) => JSON.stringify(configMap(i)));
  const t = performance.now();
  for (let i = 0; i < COUNT; i++) insert.run(keyOf(i), i + 1, rows[i]);
  const perSecond = rate(COUNT, performance.now() - t);
  db.close();
  return perSecond;
}

const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-store-'));
try {
  const anchor = anchorInsertsPerSecond(join(dir, 'anchor.db'));
  const memory = new MemoryStore();
  const mem = await measure(memory);
  await memory.close();
  const sqlite = SqliteStore.open(join(dir, 'store.db'));
  const sql = await measure(sqlite);
  await sqlite.close();

  const row = (name: string, r: Result) =>
    `${name.padEnd(8)} creates/s ${String(r.creates).padStart(8)}  (${(r.creates / anchor).toFixed(2)}x anchor; one at a time ${r.sequentialCreates})   gets/s ${String(r.gets).padStart(8)}   list ${COUNT}: ${r.listMs.toFixed(1)} ms`;
  console.log(`store bench, ${COUNT} small ConfigMaps`);
  console.log(`anchor   raw better-sqlite3 autocommit inserts/s ${anchor}`);
  console.log(row('memory', mem));
  console.log(row('sqlite', sql));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
