// The behavioural contract every Store backend must meet; memory.test.ts and sqlite.test.ts
// run it against their backend. Watch delivery is asynchronous (microtasks), so tests call
// settle() — one macrotask turn — after which every queued event has been delivered.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusError, StoreError } from '../../../src/machinery/errors.js';
import type { KObject } from '../../../src/machinery/object.js';
import type { StoreOptions } from '../../../src/storage/kv-store.js';
import type { Store, WatchEvent } from '../../../src/storage/store.js';

export type StoreFactory = (opts?: StoreOptions) => Promise<Store>;

export const settle = () => new Promise<void>((r) => setImmediate(r));

export function cm(name: string, data: Record<string, string> = {}, labels?: Record<string, string>): KObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', ...(labels ? { labels } : {}) }, data };
}

export const key = (name: string, ns = 'default') => `/configmaps.core/${ns}/${name}`;

export function record(store: Store, prefix: string, from: number): { events: WatchEvent[]; stop(): void } {
  const events: WatchEvent[] = [];
  const h = store.watch(prefix, from, (ev) => events.push(ev));
  return { events, stop: () => h.stop() };
}

/** Deterministic PRNG so a failing interleaving can be replayed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function rejectsWith(p: Promise<unknown>, code: StoreError['code']): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof StoreError && e.code === code);
}

async function rejectsBadRequest(p: Promise<unknown>, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof StatusError && e.code === 400 && (!message || message.test(e.message)));
}

export function storeContract(name: string, open: StoreFactory): void {
  describe(`${name}: Store contract`, () => {
    it('stamps one store-wide revision on every write and returns fresh copies', async () => {
      const s = await open();
      try {
        assert.equal(s.currentRevision(), 0);
        const input = cm('a', { k: 'v' });
        const a = await s.create(key('a'), input);
        assert.equal(a.metadata.resourceVersion, '1');
        assert.equal(input.metadata.resourceVersion, undefined, 'caller object left alone');
        const b = await s.create(key('b', 'other'), cm('b'));
        assert.equal(b.metadata.resourceVersion, '2');
        const a2 = await s.update(key('a'), { ...a, data: { k: 'w' } });
        assert.equal(a2.metadata.resourceVersion, '3');
        const gone = await s.delete(key('b', 'other'));
        assert.equal(gone.metadata.resourceVersion, '2', 'delete returns the last stored state');
        assert.equal(s.currentRevision(), 4);

        const got = (await s.get(key('a'))) as KObject;
        assert.deepEqual(got.data, { k: 'w' });
        (got.data as Record<string, string>).k = 'mutated';
        got.metadata.name = 'mutated';
        a2.metadata.name = 'mutated';
        const again = (await s.get(key('a'))) as KObject;
        assert.deepEqual(again.data, { k: 'w' });
        assert.equal(again.metadata.name, 'a');
        assert.equal(await s.get(key('b', 'other')), undefined);
      } finally {
        await s.close();
      }
    });

    it('enforces create-exists, not-found and compare-and-swap without consuming revisions on failure', async () => {
      const s = await open();
      try {
        const a = await s.create(key('a'), cm('a'));
        await rejectsWith(s.create(key('a'), cm('a')), 'Exists');
        await rejectsWith(s.update(key('nope'), cm('nope')), 'NotFound');
        await rejectsWith(s.delete(key('nope')), 'NotFound');
        await rejectsWith(s.update(key('a'), cm('a'), 99), 'Conflict');
        await rejectsWith(s.delete(key('a'), 99), 'Conflict');
        assert.equal(s.currentRevision(), 1, 'failed writes take no revision');

        const a2 = await s.update(key('a'), cm('a', { x: '1' }), Number(a.metadata.resourceVersion));
        assert.equal(a2.metadata.resourceVersion, '2');
        // The old revision is now stale: a second writer holding it loses.
        await rejectsWith(s.update(key('a'), cm('a', { x: 'lost' }), 1), 'Conflict');
        await s.update(key('a'), cm('a', { x: '2' })); // no precondition: last writer wins
        await rejectsWith(s.delete(key('a'), 2), 'Conflict');
        const last = await s.delete(key('a'), 3);
        assert.deepEqual(last.data, { x: '2' });
        await rejectsWith(s.delete(key('a')), 'NotFound');
      } finally {
        await s.close();
      }
    });

    it('rejects malformed input with 400 and never crashes', async () => {
      const s = await open();
      try {
        await rejectsBadRequest(s.create('', cm('a')));
        await rejectsBadRequest(s.create(key('x'), 'not an object' as unknown as KObject));
        await rejectsBadRequest(s.create(key('x'), { metadata: 5 } as unknown as KObject));
        const cyclic = cm('c') as KObject & { self?: unknown };
        cyclic.self = cyclic;
        await rejectsBadRequest(s.create(key('c'), cyclic), /cannot be encoded/);
        await rejectsBadRequest(s.list('/configmaps.core/', { limit: -1 }));
        assert.throws(() => s.watch('/', -1, () => {}), (e: unknown) => e instanceof StatusError && e.code === 400);
        assert.equal(s.currentRevision(), 0);
      } finally {
        await s.close();
      }
    });

    it('lists by prefix in key order without leaking neighbouring prefixes', async () => {
      const s = await open();
      try {
        for (const [n, ns] of [['b', 'ns'], ['a', 'ns'], ['c', 'ns2'], ['z', 'ns'], ['a', 'n']] as const) await s.create(key(n, ns), cm(n));
        await s.create('/secrets.core/ns/a', cm('secret'));
        const r = await s.list('/configmaps.core/ns/');
        assert.deepEqual(r.items.map((o) => o.metadata.name), ['a', 'b', 'z']);
        assert.equal(r.revision, 6);
        assert.equal(r.continue, undefined);
        const all = await s.list('/configmaps.core/');
        assert.deepEqual(all.items.map((o) => `${o.metadata.name}`), ['a', 'a', 'b', 'z', 'c']);
        // A prefix that is a whole key matches it.
        assert.equal((await s.list(key('a', 'ns'))).items.length, 1);
      } finally {
        await s.close();
      }
    });

    it('pages with limit, filter and continue tokens', async () => {
      const s = await open();
      try {
        for (let i = 0; i < 25; i++) await s.create(key(`cm-${String(i).padStart(2, '0')}`), cm(`cm-${i}`, {}, { parity: i % 2 ? 'odd' : 'even' }));
        await s.create(key('zz', 'other'), cm('zz', {}, { parity: 'even' })); // outside the prefix
        const prefix = '/configmaps.core/default/';

        // Unfiltered: exact remaining counts.
        const first = await s.list(prefix, { limit: 10 });
        assert.equal(first.items.length, 10);
        assert.equal(first.remainingItemCount, 15);
        assert.ok(first.continue);

        const even = (o: KObject) => o.metadata.labels?.parity === 'even';
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        const listRevision = s.currentRevision();
        do {
          const page = await s.list(prefix, { limit: 4, filter: even, continue: token });
          assert.ok(page.items.length <= 4);
          assert.ok(page.items.length > 0, 'a continue token never leads to an empty page');
          assert.equal(page.remainingItemCount, undefined, 'no count for filtered lists');
          assert.equal(page.revision, listRevision, 'pages report the first page revision');
          seen.push(...page.items.map((o) => o.metadata.name as string));
          token = page.continue;
          pages++;
          // A write between pages is reflected (continue reads current state) but must not break paging.
          if (pages === 1) await s.create(key('cm-99'), cm('cm-99', {}, { parity: 'even' }));
        } while (token);
        const expected = [...Array.from({ length: 25 }, (_, i) => i).filter((i) => i % 2 === 0).map((i) => `cm-${i}`), 'cm-99'];
        assert.deepEqual(seen, expected);
        assert.equal(pages, 4);

        const exact = await s.list(prefix, { limit: 26 });
        assert.equal(exact.items.length, 26);
        assert.equal(exact.continue, undefined, 'no token when nothing remains');
      } finally {
        await s.close();
      }
    });

    it('rejects continue tokens that are garbage or belong to another list', async () => {
      const s = await open();
      try {
        for (const n of ['a', 'b', 'c']) await s.create(key(n), cm(n));
        const page = await s.list('/configmaps.core/default/', { limit: 1 });
        assert.ok(page.continue);
        await rejectsBadRequest(s.list('/configmaps.core/default/', { continue: '%%%' }), /^continue key is not valid/);
        await rejectsBadRequest(s.list('/configmaps.core/default/', { continue: Buffer.from('{"x":1}').toString('base64url') }), /continue key is not valid/);
        await rejectsBadRequest(s.list('/configmaps.core/default/', { continue: 'bm90IGpzb24' }), /continue key is not valid/);
        await rejectsBadRequest(s.list('/secrets.core/default/', { continue: page.continue }), /does not belong/);
        const rest = await s.list('/configmaps.core/default/', { continue: page.continue });
        assert.deepEqual(rest.items.map((o) => o.metadata.name), ['b', 'c']);
      } finally {
        await s.close();
      }
    });

    it('replays history from a revision, then delivers live events with prevObject', async () => {
      const s = await open();
      try {
        await s.create(key('a'), cm('a', { v: '1' }));
        await s.create(key('b'), cm('b'));
        await s.create(key('x', 'elsewhere'), cm('x'));
        await s.update(key('a'), cm('a', { v: '2' }));
        const w = record(s, '/configmaps.core/default/', 1);
        assert.equal(w.events.length, 0, 'nothing is delivered before watch() returns');
        await s.delete(key('b'));
        await s.create(key('y', 'elsewhere'), cm('y'));
        await settle();
        assert.deepEqual(
          w.events.map((e) => [e.type, e.key, e.revision]),
          [
            ['ADDED', key('b'), 2],
            ['MODIFIED', key('a'), 4],
            ['DELETED', key('b'), 5],
          ],
        );
        const [, mod, del] = w.events;
        assert.deepEqual(mod.object.data, { v: '2' });
        assert.equal(mod.object.metadata.resourceVersion, '4');
        assert.deepEqual(mod.prevObject?.data, { v: '1' });
        assert.equal(mod.prevObject?.metadata.resourceVersion, '1');
        assert.equal(del.object.metadata.resourceVersion, '5', 'DELETED carries the deletion revision');
        assert.equal(del.prevObject?.metadata.resourceVersion, '2');
        assert.equal(w.events[0].prevObject, undefined);

        const live = record(s, '', 0);
        await s.update(key('a'), cm('a', { v: '3' }));
        await settle();
        assert.deepEqual(live.events.map((e) => e.revision), [7], 'fromRevision 0 = only live events');

        w.stop();
        await s.update(key('a'), cm('a', { v: '4' }));
        await settle();
        assert.equal(w.events.length, 4, 'stopped watchers get nothing more');
        live.stop();
      } finally {
        await s.close();
      }
    });

    it('delivers every event exactly once, in order, while writes race with watch()', async () => {
      const s = await open();
      try {
        const rand = rng(42);
        const reference = record(s, '', 0);
        const watchers: { prefix: string; after: number; events: WatchEvent[] }[] = [];
        const prefixes = ['', '/configmaps.core/a/', '/configmaps.core/b/'];
        const names = Array.from({ length: 12 }, (_, i) => `/configmaps.core/${i % 2 ? 'a' : 'b'}/o${i}`);
        const live = new Set<string>();
        const pending: Promise<unknown>[] = [];

        let writes = 0;
        const write = (): Promise<unknown> => {
          writes++;
          const k = names[Math.floor(rand() * names.length)];
          if (!live.has(k)) {
            live.add(k);
            return s.create(k, cm(k));
          }
          if (rand() < 0.3) {
            live.delete(k);
            return s.delete(k);
          }
          return s.update(k, cm(k, { r: String(rand()) }));
        };
        const startWatcher = () => {
          const cur = s.currentRevision();
          const from = rand() < 0.2 ? 0 : Math.max(0, cur - Math.floor(rand() * 20));
          const prefix = prefixes[Math.floor(rand() * prefixes.length)];
          // fromRevision 0 means "from now": the watcher must see exactly what comes after cur.
          watchers.push({ prefix, after: from === 0 ? cur : from, events: record(s, prefix, from).events });
        };

        const writer = (async () => {
          for (let i = 0; i < 600; i++) {
            // Mix awaited writes, un-awaited bursts and full event-loop turns.
            const r = rand();
            if (r < 0.5) await write();
            else if (r < 0.8) pending.push(write());
            else await settle();
          }
        })();
        const starter = (async () => {
          for (let i = 0; i < 60; i++) {
            startWatcher();
            if (rand() < 0.5) await settle();
            else await Promise.resolve();
          }
        })();
        await Promise.all([writer, starter]);
        await Promise.all(pending);
        await settle();

        const final = s.currentRevision();
        assert.ok(writes > 400);
        assert.equal(final, writes, 'every write succeeded and took one revision');
        assert.deepEqual(
          reference.events.map((e) => e.revision),
          Array.from({ length: final }, (_, i) => i + 1),
          'one event per revision, no gaps',
        );
        for (const w of watchers) {
          const expected = reference.events.filter((e) => e.revision > w.after && e.key.startsWith(w.prefix));
          assert.deepEqual(
            w.events.map((e) => e.revision),
            expected.map((e) => e.revision),
            `watcher on '${w.prefix}' after ${w.after}`,
          );
          assert.ok(w.events.every((e, i) => e === expected[i]), 'watchers share the one event object');
        }
      } finally {
        await s.close();
      }
    });

    it('answers Expired for revisions older than the history window', async () => {
      const s = await open({ historyWindow: 5 });
      try {
        for (let i = 0; i < 20; i++) await s.create(key(`o${i}`), cm(`o${i}`));
        assert.equal(s.oldestRevision(), 15);
        assert.throws(
          () => s.watch('', 14, () => {}),
          (e: unknown) => e instanceof StoreError && e.code === 'Expired' && /too old resource version: 14 \(15\)/.test(e.message),
        );
        const w = record(s, '', 15);
        await settle();
        assert.deepEqual(w.events.map((e) => e.revision), [16, 17, 18, 19, 20]);
        w.stop();
        // 0 is "from now", never expired.
        record(s, '', 0).stop();
      } finally {
        await s.close();
      }
    });

    it('keeps the writer and other watchers going when a watcher throws or stops itself', async () => {
      const failures: unknown[] = [];
      const s = await open({ onWatcherError: (err) => failures.push(err) });
      try {
        const thrownAt: number[] = [];
        s.watch('', 0, (ev) => {
          thrownAt.push(ev.revision);
          throw new Error('broken consumer');
        });
        const selfStopping: number[] = [];
        const h = s.watch('', 0, (ev) => {
          selfStopping.push(ev.revision);
          h.stop();
        });
        const healthy = record(s, '', 0);
        for (let i = 0; i < 5; i++) {
          const o = await s.create(key(`o${i}`), cm(`o${i}`));
          assert.equal(o.metadata.resourceVersion, String(i + 1));
        }
        await settle();
        assert.deepEqual(healthy.events.map((e) => e.revision), [1, 2, 3, 4, 5]);
        assert.deepEqual(thrownAt, [1, 2, 3, 4, 5], 'a throwing watcher keeps its stream');
        assert.equal(failures.length, 5);
        assert.deepEqual(selfStopping, [1]);
      } finally {
        await s.close();
      }
    });

    it('refuses work after close and stops its watchers', async () => {
      const s = await open();
      const w = record(s, '', 0);
      // Close in the same turn as the write: its queued event must not be delivered afterwards.
      const created = s.create(key('a'), cm('a'));
      const closed = s.close();
      await created;
      await closed;
      await settle();
      assert.equal(w.events.length, 0, 'undelivered events are dropped at close');
      await rejectsWith(s.get(key('a')), 'Closed');
      await rejectsWith(s.create(key('b'), cm('b')), 'Closed');
      assert.throws(() => s.watch('', 0, () => {}), (e: unknown) => e instanceof StoreError && e.code === 'Closed');
      await s.close(); // idempotent
    });
  });
}
