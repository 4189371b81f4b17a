// Garbage collection by ownerReferences, as upstream's garbage collector does it:
//  - a dependent whose owners are all gone is deleted (background cascading);
//  - an owner deleted with propagationPolicy=Orphan carries the `orphan` finalizer: its
//    dependents lose their ownerReference to it, then the finalizer is removed;
//  - an owner deleted with propagationPolicy=Foreground carries `foregroundDeletion`: its
//    dependents are deleted first, and the finalizer goes once none that blocks is left.
// It watches the whole store (like upstream's metadata informers on every resource) and keeps
// an index uid → object identity and owner uid → dependents.
import type { KindSpec } from '../api/types.js';
import { StatusError } from '../machinery/errors.js';
import type { KObject, OwnerReference } from '../machinery/object.js';
import { systemContext } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';
import { WorkQueue } from '../client/workqueue.js';
import type { WatchHandle } from '../storage/store.js';

interface Node {
  key: string; // store key
  spec: KindSpec;
  namespace?: string;
  name: string;
  uid: string;
  owners: OwnerReference[];
  deleting: boolean;
  finalizers: string[];
}

export class GarbageCollector {
  private byUid = new Map<string, Node>();
  private dependents = new Map<string, Set<string>>(); // owner uid → dependent uids
  private specsByStoragePrefix = new Map<string, KindSpec>();
  private queue: WorkQueue;
  private handle?: WatchHandle;
  private ctx = systemContext('garbage-collector');

  constructor(private resources: Resources, private log: (s: string) => void = () => {}) {
    this.queue = new WorkQueue((uid) => this.sync(uid), 4, 50, 10_000, (k, e) => this.log(`gc ${k}: ${(e as Error).message}`));
    resources.registry.on('changed', () => this.specsByStoragePrefix.clear());
  }

  async start(): Promise<void> {
    const { items, revision } = await this.resources.store.list('/');
    this.handle = this.resources.store.watch('/', revision, (ev) => {
      if (ev.type === 'DELETED') this.remove(ev.object);
      else this.upsert(ev.key, ev.object);
    });
    // Index everything first, then check: an owner listed later must not look absent.
    const keys = items.map((o) => this.keyOf(o));
    items.forEach((o, i) => keys[i] && this.upsert(keys[i]!, o, false));
    for (const n of this.byUid.values()) this.check(n);
  }

  stop(): void {
    this.handle?.stop();
    this.queue.stop();
  }

  /** Resolves once no work is queued (tests). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private specForKey(key: string): KindSpec | undefined {
    const resource = key.split('/')[1]; // "<plural>.<group>"
    if (!this.specsByStoragePrefix.size)
      for (const s of this.resources.registry.all())
        if (!s.storedAs && !s.virtual) this.specsByStoragePrefix.set(`${s.plural}.${s.group || 'core'}`, s);
    return this.specsByStoragePrefix.get(resource);
  }

  private keyOf(o: KObject): string | undefined {
    for (const s of this.resources.registry.all()) {
      if (s.storedAs || s.virtual) continue;
      const av = s.group ? `${s.group}/${s.version}` : s.version;
      if (av === o.apiVersion && s.kind === o.kind)
        return `/${s.plural}.${s.group || 'core'}/${s.namespaced ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
    }
    return undefined;
  }

  private upsert(key: string, o: KObject, check = true) {
    const spec = this.specForKey(key);
    const uid = o.metadata.uid;
    if (!spec || !uid) return;
    const prev = this.byUid.get(uid);
    for (const r of prev?.owners ?? []) this.dependents.get(r.uid)?.delete(uid);
    const node: Node = {
      key,
      spec,
      namespace: o.metadata.namespace,
      name: o.metadata.name!,
      uid,
      owners: Array.isArray(o.metadata.ownerReferences) ? o.metadata.ownerReferences : [],
      deleting: !!o.metadata.deletionTimestamp,
      finalizers: o.metadata.finalizers ?? [],
    };
    this.byUid.set(uid, node);
    for (const r of node.owners) {
      if (!this.dependents.has(r.uid)) this.dependents.set(r.uid, new Set());
      this.dependents.get(r.uid)!.add(uid);
    }
    if (check) this.check(node);
  }

  private remove(o: KObject) {
    const uid = o.metadata.uid;
    if (!uid) return;
    const node = this.byUid.get(uid);
    this.byUid.delete(uid);
    for (const r of node?.owners ?? []) {
      this.dependents.get(r.uid)?.delete(uid);
      // An owner waiting in foreground for its dependents may now be free to go.
      if (this.byUid.has(r.uid)) this.queue.add(r.uid);
    }
    for (const dep of this.dependents.get(uid) ?? []) this.queue.add(dep);
  }

  private check(n: Node) {
    if (n.owners.length) this.queue.add(n.uid);
    if (n.deleting && (n.finalizers.includes('orphan') || n.finalizers.includes('foregroundDeletion'))) this.queue.add(n.uid);
  }

  private async sync(uid: string): Promise<void> {
    const n = this.byUid.get(uid);
    if (!n) return;
    if (n.deleting && n.finalizers.includes('orphan')) return this.orphanDependents(n);
    if (n.deleting && n.finalizers.includes('foregroundDeletion')) return this.deleteDependentsFirst(n);
    if (!n.owners.length || n.deleting) return;
    // An owner counts as present only if an object with that uid exists (a same-named
    // replacement with another uid does not keep the dependent alive).
    const present = n.owners.filter((r) => this.byUid.has(r.uid));
    if (present.length === n.owners.length) return;
    if (present.length > 0) {
      await this.rewriteOwners(n, (refs) => refs.filter((r) => this.byUid.has(r.uid)));
      return;
    }
    // Owners in foreground deletion expect their dependents to go in foreground too.
    const foreground = n.owners.some((r) => r.blockOwnerDeletion && this.byUid.get(r.uid)?.finalizers.includes('foregroundDeletion'));
    await this.deleteNode(n, foreground ? 'Foreground' : 'Background');
  }

  private async deleteNode(n: Node, propagationPolicy: 'Background' | 'Foreground') {
    try {
      await this.resources.delete(n.spec, n.namespace, n.name, { propagationPolicy, preconditions: { uid: n.uid } }, this.ctx);
      this.log(`gc: deleted ${n.spec.kind} ${n.namespace ? `${n.namespace}/` : ''}${n.name}`);
    } catch (e) {
      if (!(e instanceof StatusError && (e.code === 404 || e.code === 409))) throw e;
    }
  }

  private async orphanDependents(owner: Node) {
    for (const dep of [...(this.dependents.get(owner.uid) ?? [])]) {
      const d = this.byUid.get(dep);
      if (d) await this.rewriteOwners(d, (refs) => refs.filter((r) => r.uid !== owner.uid));
    }
    await this.dropFinalizer(owner, 'orphan');
  }

  private async deleteDependentsFirst(owner: Node) {
    let blocking = 0;
    for (const dep of [...(this.dependents.get(owner.uid) ?? [])]) {
      const d = this.byUid.get(dep);
      if (!d) continue;
      if (d.owners.find((r) => r.uid === owner.uid)?.blockOwnerDeletion) blocking++;
      if (!d.deleting) await this.deleteNode(d, 'Foreground');
    }
    if (blocking === 0) await this.dropFinalizer(owner, 'foregroundDeletion');
  }

  private async rewriteOwners(n: Node, keep: (refs: OwnerReference[]) => OwnerReference[]) {
    for (let i = 0; i < 5; i++) {
      const cur = await this.resources.tryGet(n.spec, n.namespace, n.name);
      if (!cur || cur.metadata.uid !== n.uid) return;
      const refs = keep(cur.metadata.ownerReferences ?? []);
      if (refs.length === (cur.metadata.ownerReferences ?? []).length) return;
      cur.metadata.ownerReferences = refs.length ? refs : undefined;
      if (!refs.length) delete cur.metadata.ownerReferences;
      try {
        await this.resources.update(n.spec, n.namespace, n.name, cur, this.ctx);
        return;
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 409)) throw e;
      }
    }
  }

  private async dropFinalizer(n: Node, finalizer: string) {
    for (let i = 0; i < 5; i++) {
      const cur = await this.resources.tryGet(n.spec, n.namespace, n.name);
      if (!cur || cur.metadata.uid !== n.uid || !(cur.metadata.finalizers ?? []).includes(finalizer)) return;
      cur.metadata.finalizers = cur.metadata.finalizers!.filter((f) => f !== finalizer);
      try {
        await this.resources.update(n.spec, n.namespace, n.name, cur, this.ctx);
        return;
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 409)) throw e;
      }
    }
  }
}
