// The generic REST semantics of every kind: create, get, list, watch, update, patch, delete,
// with defaulting, validation, admission, optimistic concurrency, finalizers and managedFields.
// HTTP handlers and in-process controllers both call this one class (the "in-process
// transport"), so a controller sees exactly what kubectl sees.
import { randomUUID } from 'node:crypto';
import type { KindSpec } from '../api/types.js';
import type { Registry } from '../api/registry.js';
import { errors, StatusError, StoreError, type GroupResource } from '../machinery/errors.js';
import { deepCopy, isPlainObject, jsonEqual, apiVersionOf, type KObject } from '../machinery/object.js';
import { forgetJsonText } from '../machinery/json-text.js';
import type { Store, WatchEvent, WatchHandle } from '../storage/store.js';
import type { RequestContext } from './context.js';
import { listPrefix, objectKey } from './keys.js';
import { ReadCache } from './read-cache.js';
import { validateObjectMeta } from './metadata.js';
import { fieldErr, type FieldError } from '../machinery/validation.js';
import { applyPatch, updateManagedFields } from '../machinery/patch/index.js';
import type { SchemaSource } from './schemas.js';
import { compileListFilter, type ListSelectors } from './filters.js';
import { decodeError } from '../api/openapi/validate.js';
import { rfc3339 } from '../machinery/time.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

/** Writes to these subresources change only part of the object. */
export type WriteSubresource = 'status' | 'finalize';

/** Admission plugins mutate and/or reject writes after defaulting, before validation's verdict is final. */
export interface AdmissionPlugin {
  name: string;
  admit(op: Operation, spec: KindSpec, obj: KObject, old: KObject | undefined, ctx: RequestContext, svc: Resources): Promise<void>;
  /** Called after a successful delete (release allocations, etc.). */
  deleted?(spec: KindSpec, obj: KObject): void;
}

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ListOptions extends ListSelectors {
  limit?: number;
  continue?: string;
}

export interface ListOutcome {
  items: KObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface WatchOptions extends ListSelectors {
  /** Revision to start after; 0 or undefined = send current state as ADDED first. */
  resourceVersion?: string;
}

export interface ObjectEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KObject;
}

const MAX_CAS_RETRIES = 8;

let nowSecond = -1;
let nowText = '';

/** The current time as API timestamps spell it: RFC 3339 in whole seconds, UTC. */
export function now(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== nowSecond) {
    nowSecond = second;
    nowText = rfc3339(second * 1000);
  }
  return nowText;
}

export function groupResource(spec: KindSpec): GroupResource {
  return { group: spec.group, resource: spec.plural };
}

export class Resources {
  private admission: AdmissionPlugin[] = [];
  private caches = new Map<string, Promise<ReadCache>>();

  constructor(
    readonly store: Store,
    readonly registry: Registry,
    readonly schemas: SchemaSource,
  ) {}

  use(plugin: AdmissionPlugin): void {
    this.admission.push(plugin);
  }

  /**
   * A watch-fed in-memory copy of every object of a (small) resource, for lookups made on every
   * write. Objects are in storage form and shared: read them, never change them.
   */
  cached(spec: KindSpec): Promise<ReadCache> {
    const key = listPrefix(spec);
    let c = this.caches.get(key);
    if (!c) {
      c = ReadCache.start(this.store, spec);
      // A failed start (store closed) is not remembered: the next caller tries again.
      c.catch(() => this.caches.delete(key));
      this.caches.set(key, c);
    }
    return c;
  }

  /** The KindSpec for a resource, or 404 as upstream answers for unknown resources. */
  spec(group: string, version: string, plural: string): KindSpec {
    const s = this.registry.lookup(group, version, plural);
    if (!s) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource', { group: group || undefined, kind: plural });
    return s;
  }

  // ---- version conversion between request version and storage version ----

  private toStorage(spec: KindSpec, obj: KObject): KObject {
    if (!spec.storedAs) return obj;
    const out = spec.storedAs.toStorage(obj);
    out.apiVersion = apiVersionOf(spec.storedAs.group, spec.storedAs.version);
    return out;
  }

  private fromStorage(spec: KindSpec, obj: KObject): KObject {
    const out = spec.storedAs ? spec.storedAs.fromStorage(obj) : obj;
    const apiVersion = apiVersionOf(spec.group, spec.version);
    if (out.apiVersion !== apiVersion || out.kind !== spec.kind) {
      forgetJsonText(out);
      out.apiVersion = apiVersion;
      out.kind = spec.kind;
    }
    return out;
  }

  private mapStoreError(spec: KindSpec, name: string, e: unknown): never {
    if (e instanceof StoreError) {
      if (e.code === 'NotFound') throw errors.notFound(groupResource(spec), name);
      if (e.code === 'Exists') throw errors.alreadyExists(groupResource(spec), name);
      if (e.code === 'Conflict') throw errors.conflict(groupResource(spec), name);
      if (e.code === 'Expired') throw errors.gone(e.message);
    }
    throw e;
  }

  private requireNamespace(spec: KindSpec, namespace: string | undefined): string | undefined {
    if (!spec.namespaced) return undefined;
    if (!namespace) throw errors.badRequest('the namespace of the object is required for this resource');
    return namespace;
  }

  // ---- reads ----

  async get(spec: KindSpec, namespace: string | undefined, name: string): Promise<KObject> {
    const ns = this.requireNamespace(spec, namespace);
    const obj = await this.store.get(objectKey(spec, ns, name));
    if (!obj) throw errors.notFound(groupResource(spec), name);
    return this.fromStorage(spec, obj);
  }

  async tryGet(spec: KindSpec, namespace: string | undefined, name: string): Promise<KObject | undefined> {
    const obj = await this.store.get(objectKey(spec, spec.namespaced ? namespace : undefined, name));
    return obj ? this.fromStorage(spec, obj) : undefined;
  }

  async list(spec: KindSpec, namespace: string | undefined, opts: ListOptions = {}): Promise<ListOutcome> {
    const filter = compileListFilter(spec, opts);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : undefined;
    try {
      const res = await this.store.list(listPrefix(spec, spec.namespaced ? namespace : undefined), {
        limit,
        continue: opts.continue || undefined,
        filter: filter ?? undefined,
      });
      return {
        items: res.items.map((o) => this.fromStorage(spec, o)),
        resourceVersion: String(res.revision),
        continue: res.continue,
        remainingItemCount: res.remainingItemCount,
      };
    } catch (e) {
      return this.mapStoreError(spec, '', e);
    }
  }

  /**
   * Watch a resource. Events are delivered in revision order; with selectors, an object that stops
   * matching is reported DELETED and one that starts matching ADDED, as upstream's watch cache does.
   */
  async watch(
    spec: KindSpec,
    namespace: string | undefined,
    opts: WatchOptions,
    onEvent: (ev: ObjectEvent) => void,
    onRevision?: (revision: number) => void,
  ): Promise<WatchHandle> {
    const filter = compileListFilter(spec, opts) ?? (() => true);
    const prefix = listPrefix(spec, spec.namespaced ? namespace : undefined);
    let from = 0;
    const rv = opts.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== '0') {
      from = Number(rv);
      if (!Number.isSafeInteger(from) || from < 0) throw errors.badRequest(`invalid resource version: ${rv}`);
    }
    const deliver = (ev: WatchEvent) => {
      // Progress counts every change under the prefix, matching or not, so bookmarks can advance.
      onRevision?.(ev.revision);
      const nowMatch = ev.type !== 'DELETED' && filter(ev.object);
      const before = ev.prevObject ? filter(ev.prevObject) : false;
      let type: ObjectEvent['type'] | undefined;
      if (ev.type === 'DELETED') type = before || filter(ev.object) ? 'DELETED' : undefined;
      else if (ev.type === 'ADDED') type = nowMatch ? 'ADDED' : undefined;
      else if (nowMatch) type = before ? 'MODIFIED' : 'ADDED';
      else if (before) type = 'DELETED';
      if (!type) return;
      // Watch events are shared by every watcher of the change (and serialized once for all of
      // them): only a version conversion needs a private copy.
      onEvent({ type, object: spec.storedAs ? this.fromStorage(spec, deepCopy(ev.object)) : ev.object });
    };
    try {
      if (from === 0) {
        // "From now", preceded by the current state as ADDED events (what rv=0/unset promises).
        const snapshot = await this.store.list(prefix, { filter });
        for (const o of snapshot.items) onEvent({ type: 'ADDED', object: this.fromStorage(spec, o) });
        onRevision?.(snapshot.revision);
        return this.store.watch(prefix, snapshot.revision, deliver);
      }
      return this.store.watch(prefix, from, deliver);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'Expired')
        throw errors.gone(`too old resource version: ${from} (${this.store.oldestRevision()})`);
      throw e;
    }
  }

  // ---- writes ----

  /** Decoded body checks shared by create and update: an object whose apiVersion/kind fit the URL. */
  private checkBody(spec: KindSpec, body: unknown): KObject {
    if (!isPlainObject(body)) throw errors.badRequest('the body of the request must be a JSON or YAML object');
    const obj = body as KObject;
    const want = apiVersionOf(spec.group, spec.version);
    if (obj.apiVersion !== undefined && obj.apiVersion !== want)
      throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${want})`);
    if (obj.kind !== undefined && obj.kind !== spec.kind)
      throw errors.badRequest(`the kind in the data (${String(obj.kind)}) does not match the expected kind (${spec.kind})`);
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (!isPlainObject(obj.metadata)) throw errors.badRequest('metadata must be an object');
    obj.apiVersion = want;
    obj.kind = spec.kind;
    return obj;
  }

  /** Unknown-field handling and structural checks against the kind's schema. */
  private checkSchema(spec: KindSpec, obj: KObject, ctx: RequestContext): void {
    const s = this.schemas.schemaFor(spec);
    if (!s) return;
    const unknown = s.dropUnknownFields(obj);
    if (unknown.length) {
      const mode = ctx.fieldValidation ?? 'Warn';
      if (mode === 'Strict')
        throw errors.badRequest(`strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
      if (mode === 'Warn') for (const f of unknown) ctx.warnings.push(`unknown field "${f}"`);
    }
    // Go decodes null into "unset" for built-in types (`creationTimestamp: null` in a pod template,
    // `replicas: null`): drop them so stored objects, hashes and diffs agree with upstream.
    if (s.builtin) dropNulls(obj);
    const typeErrs = s.typeErrors(obj);
    if (typeErrs.length) {
      if (s.builtin) throw decodeError(spec.kind, apiVersionOf(spec.group, spec.version), typeErrs);
      throw errors.invalid({ group: spec.group, kind: spec.kind }, obj.metadata.name ?? '', typeErrs);
    }
  }

  private defaultAndValidate(spec: KindSpec, obj: KObject, old: KObject | undefined, errs: FieldError[]): void {
    const s = this.schemas.schemaFor(spec);
    s?.applyDefaults(obj);
    spec.defaults?.(obj);
    errs.push(...validateObjectMeta(spec, obj, old));
    errs.push(...(s?.validate(obj) ?? []));
    errs.push(...(spec.validate?.(obj, old) ?? []));
  }

  private async runAdmission(op: Operation, spec: KindSpec, obj: KObject, old: KObject | undefined, ctx: RequestContext) {
    for (const p of this.admission) await p.admit(op, spec, obj, old, ctx, this);
  }

  async create(spec: KindSpec, namespace: string | undefined, body: unknown, ctx: RequestContext): Promise<KObject> {
    if (spec.verbs && !spec.verbs.includes('create')) throw errors.methodNotAllowed();
    const obj = this.checkBody(spec, deepCopy(body));
    const meta = obj.metadata;
    if (spec.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && namespace !== undefined && meta.namespace !== namespace)
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = namespace ?? (meta.namespace || undefined);
      if (!meta.namespace) throw errors.badRequest('the namespace of the object is required for this resource');
    } else {
      delete meta.namespace;
    }
    this.checkSchema(spec, obj, ctx);
    if (!meta.name && meta.generateName && typeof meta.generateName === 'string') meta.name = generateName(meta.generateName);
    // Server-owned metadata: whatever the client sent is replaced.
    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    if (spec.generation) meta.generation = 1;
    else delete meta.generation;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (spec.prepareForCreate) spec.prepareForCreate(obj);
    else if (spec.subresources?.status) delete obj.status;

    const errs: FieldError[] = [];
    this.defaultAndValidate(spec, obj, undefined, errs);
    if (errs.length) throw errors.invalid({ group: spec.group, kind: spec.kind }, meta.name ?? '', errs);
    // A duplicate is AlreadyExists, not whatever an admission plugin would say about it (a
    // Service's clusterIP already taken — by itself). The store's create still decides races.
    if (await this.store.exists(objectKey(spec, meta.namespace, meta.name!))) throw errors.alreadyExists(groupResource(spec), meta.name!);
    await this.runAdmission('CREATE', spec, obj, undefined, ctx);

    this.trackFields(spec, undefined, obj, ctx);
    if (ctx.dryRun) return obj;
    const stored = this.toStorage(spec, obj);
    try {
      const saved = await this.store.create(objectKey(spec, meta.namespace, meta.name!), stored);
      return this.fromStorage(spec, saved);
    } catch (e) {
      // A failed write must not leak what admission reserved (cluster IPs, node ports).
      for (const p of this.admission) p.deleted?.(spec, obj);
      return this.mapStoreError(spec, meta.name!, e);
    }
  }

  private trackFields(spec: KindSpec, old: KObject | undefined, obj: KObject, ctx: RequestContext, subresource?: string) {
    const s = this.schemas.schemaFor(spec);
    updateManagedFields(old, obj, {
      manager: ctx.fieldManager || defaultManager(ctx),
      operation: 'Update',
      subresource,
      now: now(),
      apiVersion: apiVersionOf(spec.group, spec.version),
      schema: s?.schema,
      resolve: s?.resolve,
      ignoreStatus: !!spec.subresources?.status && subresource !== 'status',
    });
  }

  /**
   * PUT semantics. `subresource` is 'status' for /status writes (only status changes) or
   * undefined for the main resource (status changes ignored when the kind has a status subresource).
   */
  async update(
    spec: KindSpec,
    namespace: string | undefined,
    name: string,
    body: unknown,
    ctx: RequestContext,
    subresource?: WriteSubresource,
  ): Promise<KObject> {
    const obj = this.checkBody(spec, deepCopy(body));
    if (obj.metadata.name !== undefined && obj.metadata.name !== name)
      throw errors.badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`);
    if (spec.namespaced && obj.metadata.namespace && namespace && obj.metadata.namespace !== namespace)
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    this.checkSchema(spec, obj, ctx);
    const wanted = obj.metadata.resourceVersion;
    const current = await this.get(spec, namespace, name);
    if (wanted !== undefined && wanted !== '' && wanted !== current.metadata.resourceVersion)
      throw errors.conflict(groupResource(spec), name);
    return this.commitUpdate(spec, current, obj, ctx, subresource);
  }

  /** Shared tail of update and patch: merge server-owned state, validate, admit, CAS-write. */
  private async commitUpdate(
    spec: KindSpec,
    current: KObject,
    incoming: KObject,
    ctx: RequestContext,
    subresource?: WriteSubresource,
    /** Server-side apply already recorded field ownership on `incoming`. */
    appliedFields = false,
  ): Promise<KObject> {
    const name = current.metadata.name!;
    let obj: KObject;
    if (subresource === 'status') {
      // Only status (and nothing else) comes from the request.
      obj = deepCopy(current);
      if (incoming.status === undefined) delete obj.status;
      else obj.status = incoming.status;
    } else if (subresource === 'finalize') {
      // Namespaces: only spec.finalizers comes from the request.
      obj = deepCopy(current);
      const fin = isPlainObject(incoming.spec) ? incoming.spec.finalizers : undefined;
      obj.spec = { ...(isPlainObject(obj.spec) ? obj.spec : {}), finalizers: Array.isArray(fin) ? fin : [] };
    } else {
      obj = incoming;
      if (spec.subresources?.status) {
        if (current.status === undefined) delete obj.status;
        else obj.status = deepCopy(current.status);
      }
    }
    const m = obj.metadata;
    const cm = current.metadata;
    m.name = cm.name;
    m.namespace = cm.namespace;
    m.uid = cm.uid;
    m.creationTimestamp = cm.creationTimestamp;
    m.resourceVersion = cm.resourceVersion;
    m.generation = cm.generation;
    if (cm.deletionTimestamp) m.deletionTimestamp = cm.deletionTimestamp;
    else delete m.deletionTimestamp;
    if (cm.deletionGracePeriodSeconds !== undefined) m.deletionGracePeriodSeconds = cm.deletionGracePeriodSeconds;
    else delete m.deletionGracePeriodSeconds;
    if (subresource) {
      obj.metadata = deepCopy(cm);
      if (appliedFields) obj.metadata.managedFields = incoming.metadata.managedFields;
    }
    if (m.managedFields === undefined && cm.managedFields) m.managedFields = cm.managedFields;

    if (!subresource) spec.prepareForUpdate?.(obj, current);
    const errs: FieldError[] = [];
    if (subresource === 'status') {
      errs.push(...(spec.validateStatus?.(obj, current) ?? []));
    } else if (subresource === 'finalize') {
      // nothing beyond the shape enforced above
    } else {
      this.defaultAndValidate(spec, obj, current, errs);
      if (cm.deletionTimestamp) {
        // Terminating objects may drop finalizers but not gain new ones.
        const before = new Set(cm.finalizers ?? []);
        for (const f of m.finalizers ?? [])
          if (!before.has(f)) errs.push(fieldErr.forbidden('metadata.finalizers', 'no new finalizers can be added if the object is being deleted'));
      }
    }
    if (errs.length) throw errors.invalid({ group: spec.group, kind: spec.kind }, name, errs);
    await this.runAdmission('UPDATE', spec, obj, current, ctx);

    if (spec.generation && !jsonEqual(specPart(obj), specPart(current))) m.generation = (cm.generation ?? 1) + 1;
    if (!appliedFields) this.trackFields(spec, current, obj, ctx, subresource);
    if (jsonEqual(withoutVolatile(obj), withoutVolatile(current))) return current; // no-op: no new revision
    if (ctx.dryRun) return obj;

    const key = objectKey(spec, cm.namespace, name);
    const expected = Number(cm.resourceVersion);
    try {
      // Upstream's rule: only objects whose grace period is over (0) vanish when the last finalizer goes;
      // a pod still in its grace period waits for the kubelet's final DELETE.
      const graceOver = (cm.deletionGracePeriodSeconds ?? 0) === 0;
      if (m.deletionTimestamp && graceOver && (m.finalizers ?? []).length === 0 && !spec.finalization?.pending(obj)) {
        // The last finalizer is gone: the object's deletion completes now.
        const gone = await this.store.delete(key, expected);
        for (const p of this.admission) p.deleted?.(spec, gone);
        return this.fromStorage(spec, gone);
      }
      return this.fromStorage(spec, await this.store.update(key, this.toStorage(spec, obj), expected));
    } catch (e) {
      return this.mapStoreError(spec, name, e);
    }
  }

  /**
   * PATCH: read, apply the patch, write with the read revision as precondition; a concurrent
   * writer makes us re-read and re-apply (unless the patch itself pinned a resourceVersion).
   */
  async patch(
    spec: KindSpec,
    namespace: string | undefined,
    name: string,
    contentType: string,
    patchBody: unknown,
    ctx: RequestContext & { force?: boolean },
    subresource?: WriteSubresource,
  ): Promise<{ object: KObject; created: boolean }> {
    const isApply = contentType.split(';')[0].trim() === 'application/apply-patch+yaml';
    for (let attempt = 0; ; attempt++) {
      const current = await this.tryGet(spec, namespace, name);
      if (!current) {
        if (!isApply) throw errors.notFound(groupResource(spec), name);
        const created = await this.createByApply(spec, namespace, name, patchBody, ctx);
        return { object: created, created: true };
      }
      const s = this.schemas.schemaFor(spec);
      let patched: KObject;
      try {
        patched = applyPatch(contentType, current, patchBody, {
          schema: s?.builtin ? s.schema : undefined,
          resolve: s?.resolve,
          strategicAllowed: !!s?.builtin,
          manager: ctx.fieldManager || defaultManager(ctx),
          force: !!ctx.force,
          now: now(),
          apiVersion: apiVersionOf(spec.group, spec.version),
          ignoreStatus: !!spec.subresources?.status && subresource !== 'status',
          subresource,
        });
      } catch (e) {
        if (e instanceof StatusError) throw e;
        throw errors.badRequest(`unable to apply patch: ${(e as Error).message}`);
      }
      if (!isPlainObject(patched)) throw errors.badRequest('the patch produced a value that is not an object');
      patched.apiVersion = current.apiVersion;
      patched.kind = current.kind;
      if (!isPlainObject(patched.metadata)) throw errors.badRequest('the patch removed metadata');
      // Only a patch that itself names a resourceVersion is a precondition (and is not retried).
      const pinned = pinnedResourceVersion(patchBody);
      if (pinned !== undefined && patched.metadata.resourceVersion !== current.metadata.resourceVersion) throw errors.conflict(groupResource(spec), name);
      this.checkSchema(spec, patched, ctx);
      try {
        return { object: await this.commitUpdate(spec, current, patched, ctx, subresource, isApply), created: false };
      } catch (e) {
        const conflict = e instanceof StatusError && e.code === 409 && e.reason === 'Conflict';
        if (!conflict || pinned !== undefined || attempt >= MAX_CAS_RETRIES) throw e;
      }
    }
  }

  private async createByApply(spec: KindSpec, namespace: string | undefined, name: string, body: unknown, ctx: RequestContext & { force?: boolean }) {
    if (!isPlainObject(body)) throw errors.badRequest('the body of the request must be an object');
    const s = this.schemas.schemaFor(spec);
    const empty: KObject = { apiVersion: apiVersionOf(spec.group, spec.version), kind: spec.kind, metadata: { name, ...(spec.namespaced ? { namespace } : {}) } };
    const obj = applyPatch('application/apply-patch+yaml', empty, body, {
      schema: s?.builtin ? s.schema : undefined,
      resolve: s?.resolve,
      strategicAllowed: !!s?.builtin,
      manager: ctx.fieldManager || defaultManager(ctx),
      force: !!ctx.force,
      now: now(),
      apiVersion: apiVersionOf(spec.group, spec.version),
      ignoreStatus: !!spec.subresources?.status,
    });
    if (obj.metadata.name !== undefined && obj.metadata.name !== name)
      throw errors.badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`);
    const managed = obj.metadata.managedFields;
    const created = await this.create(spec, namespace, obj, { ...ctx, fieldManager: '\u0000apply' });
    // create() recorded an Update entry for a placeholder manager; the apply entry is the truth.
    if (managed && !ctx.dryRun) {
      created.metadata.managedFields = managed;
      const key = objectKey(spec, created.metadata.namespace, name);
      return this.fromStorage(spec, await this.store.update(key, this.toStorage(spec, created), Number(created.metadata.resourceVersion)));
    }
    if (managed) created.metadata.managedFields = managed;
    return created;
  }

  /**
   * DELETE. Objects with finalizers (or a Foreground/Orphan policy, which adds one) are marked with
   * a deletionTimestamp and removed when the last finalizer goes; the rest are removed at once.
   * Returns the deleted object, or the terminating one (with `pending: true`).
   */
  async delete(
    spec: KindSpec,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions,
    ctx: RequestContext,
  ): Promise<{ object: KObject; pending: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(spec, namespace, name);
      const m = current.metadata;
      if (opts.preconditions?.uid && opts.preconditions.uid !== m.uid)
        throw errors.conflict(groupResource(spec), name, `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${m.uid}`);
      if (opts.preconditions?.resourceVersion && opts.preconditions.resourceVersion !== m.resourceVersion)
        throw errors.conflict(
          groupResource(spec),
          name,
          `Precondition failed: ResourceVersion in precondition: ${opts.preconditions.resourceVersion}, ResourceVersion in object meta: ${m.resourceVersion}`,
        );
      await this.runAdmission('DELETE', spec, current, current, ctx);

      const finalizers = [...(m.finalizers ?? [])];
      const policy = opts.propagationPolicy;
      if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
      if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
      if ((policy === 'Background' || policy === undefined) && !m.deletionTimestamp) {
        // Background drops finalizers a previous Orphan/Foreground request added.
        removeItems(finalizers, ['orphan', 'foregroundDeletion'].filter((f) => !(m.finalizers ?? []).includes(f)));
      }
      const grace = m.deletionTimestamp ? undefined : spec.gracefulDeleteSeconds?.(current, opts.gracePeriodSeconds);
      // A pod already terminating stays so until its grace ends, unless forced with grace 0.
      const stillTerminating = !!m.deletionTimestamp && !!spec.gracefulDeleteSeconds && opts.gracePeriodSeconds !== 0;
      const graceful = (grace !== undefined && grace > 0) || stillTerminating;
      const key = objectKey(spec, m.namespace, name);
      try {
        const kindPending = !!spec.finalization?.pending(current);
        if (finalizers.length === 0 && !graceful && !kindPending) {
          if (ctx.dryRun) return { object: current, pending: false };
          const gone = await this.store.delete(key, Number(m.resourceVersion));
          for (const p of this.admission) p.deleted?.(spec, gone);
          return { object: this.fromStorage(spec, gone), pending: false };
        }
        const marked = deepCopy(current);
        marked.metadata.finalizers = finalizers.length ? finalizers : undefined;
        if (!marked.metadata.finalizers) delete marked.metadata.finalizers;
        if (!marked.metadata.deletionTimestamp) {
          const seconds = grace ?? 0;
          marked.metadata.deletionTimestamp = rfc3339(Date.now() + seconds * 1000);
          marked.metadata.deletionGracePeriodSeconds = seconds;
        }
        if (kindPending) spec.finalization!.mark(marked);
        if (jsonEqual(marked, current)) return { object: current, pending: true };
        if (ctx.dryRun) return { object: marked, pending: true };
        const saved = await this.store.update(key, this.toStorage(spec, marked), Number(m.resourceVersion));
        return { object: this.fromStorage(spec, saved), pending: true };
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Conflict' && attempt < MAX_CAS_RETRIES) continue;
        return this.mapStoreError(spec, name, e);
      }
    }
  }

  /**
   * A server-internal write that skips the update strategy (what upstream's subresource storage
   * does for pods/binding): read, mutate, compare-and-swap, retrying on conflicts. `mutate` may
   * throw a StatusError to refuse.
   */
  async guaranteedUpdate(spec: KindSpec, namespace: string | undefined, name: string, mutate: (obj: KObject) => void): Promise<KObject> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(spec, namespace, name);
      const next = deepCopy(current);
      mutate(next);
      const key = objectKey(spec, current.metadata.namespace, name);
      try {
        return this.fromStorage(spec, await this.store.update(key, this.toStorage(spec, next), Number(current.metadata.resourceVersion)));
      } catch (e) {
        if (e instanceof StoreError && e.code === 'Conflict' && attempt < MAX_CAS_RETRIES) continue;
        return this.mapStoreError(spec, name, e);
      }
    }
  }

  async deleteCollection(spec: KindSpec, namespace: string | undefined, listOpts: ListOptions, opts: DeleteOptions, ctx: RequestContext): Promise<KObject[]> {
    const { items } = await this.list(spec, namespace, { labelSelector: listOpts.labelSelector, fieldSelector: listOpts.fieldSelector });
    const out: KObject[] = [];
    for (const item of items) {
      try {
        out.push((await this.delete(spec, item.metadata.namespace, item.metadata.name!, opts, ctx)).object);
      } catch (e) {
        if (!(e instanceof StatusError && e.code === 404)) throw e;
      }
    }
    return out;
  }
}

function removeItems(list: string[], drop: string[]) {
  for (const d of drop) {
    const i = list.indexOf(d);
    if (i >= 0) list.splice(i, 1);
  }
}

function dropNulls(v: unknown): void {
  if (Array.isArray(v)) {
    for (const x of v) dropNulls(x);
  } else if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (x === null) delete v[k];
      else dropNulls(x);
    }
  }
}

/** The resourceVersion a patch body sets, if any (merge-style bodies or JSON patch operations). */
function pinnedResourceVersion(body: unknown): unknown {
  if (Array.isArray(body))
    return body.find((op) => isPlainObject(op) && op.path === '/metadata/resourceVersion' && op.op !== 'test' && op.op !== 'remove')?.value;
  return isPlainObject(body) && isPlainObject(body.metadata) ? body.metadata.resourceVersion : undefined;
}

/** Everything that is neither metadata nor status: what a generation counts changes of. */
function specPart(obj: KObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

function withoutVolatile(obj: KObject): KObject {
  const c: KObject = Object.assign({}, obj);
  c.metadata = Object.assign({}, obj.metadata);
  delete c.metadata.managedFields;
  delete c.metadata.resourceVersion;
  return c;
}

function defaultManager(ctx: RequestContext): string {
  return ctx.user.name.split(':').pop() || 'unknown';
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Upstream appends 5 characters from a consonant-digit alphabet (no vowels: no accidental words). */
export function generateName(base: string): string {
  const prefix = base.length > 58 ? base.slice(0, 58) : base;
  let s = '';
  for (let i = 0; i < 5; i++) s += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
  return prefix + s;
}
