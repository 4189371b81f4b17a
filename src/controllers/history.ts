// ControllerRevision bookkeeping shared by the DaemonSet and StatefulSet controllers (upstream's
// pkg/controller/history): a revision is an immutable snapshot of the owner's pod template as a
// strategic-merge patch (`{"spec":{"template":{…,"$patch":"replace"}}}`, which `kubectl rollout
// undo` applies as it is), named `<owner>-<hash>` where the hash covers the data and the owner's
// collision count. Creating a revision whose name is taken by different data bumps the collision
// count; history beyond revisionHistoryLimit is pruned oldest first, never a live revision.
import { StatusError } from '../machinery/errors.js';
import { deepCopy, jsonEqual, type KObject, type OwnerReference } from '../machinery/object.js';
import { R, type ApiClient } from '../client/client.js';
import { computeHash } from './deployment/util.js';

/** The hash label on ControllerRevisions (and on StatefulSet/DaemonSet pods, the revision they run). */
export const CONTROLLER_REVISION_HASH = 'controller-revision-hash';
/** Upstream's ControllerRevisionHashLabel, set on every ControllerRevision. */
export const REVISION_HASH_LABEL = 'controller.kubernetes.io/hash';

type Obj = Record<string, unknown>;

/** The revision data for an owner: its pod template as a replacing strategic-merge patch. */
export function templatePatch(owner: KObject): Obj {
  const template = deepCopy(((owner.spec as Obj | undefined)?.template as Obj | undefined) ?? {});
  template.$patch = 'replace';
  return { spec: { template } };
}

/** The template a revision's data carries (the inverse of templatePatch). */
export function templateOfRevision(rev: KObject): Obj {
  const t = deepCopy((((rev.data as Obj | undefined)?.spec as Obj | undefined)?.template as Obj | undefined) ?? {});
  delete t.$patch;
  return t;
}

/** FNV-32a of the data (canonical JSON) and the collision count, safe-encoded (upstream's HashControllerRevision). */
export function hashRevisionData(data: unknown, collisionCount?: number): string {
  return computeHash((data ?? {}) as Obj, collisionCount);
}

/** `<prefix>-<hash>`, the prefix cut so the name stays a valid object name (upstream's ControllerRevisionName). */
export function revisionName(prefix: string, hash: string): string {
  const p = prefix.length > 223 ? prefix.slice(0, 223) : prefix;
  return `${p}-${hash}`;
}

export function revisionNumber(rev: KObject): number {
  return typeof rev.revision === 'number' ? rev.revision : 0;
}

function created(o: KObject): number {
  const t = Date.parse(o.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? 0 : t;
}

/** Oldest revision first: by revision number, then creation, then name. */
export function sortRevisions(revs: KObject[]): KObject[] {
  return [...revs].sort(
    (a, b) =>
      revisionNumber(a) - revisionNumber(b) || created(a) - created(b) || (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0),
  );
}

/** One more than the highest revision number (1 for none). */
export function nextRevisionNumber(revs: KObject[]): number {
  return revs.reduce((m, r) => Math.max(m, revisionNumber(r)), 0) + 1;
}

/** Same data (the hash label is only a shortcut upstream; data decides). */
export function equalRevision(a: KObject, b: KObject): boolean {
  return jsonEqual(a.data ?? null, b.data ?? null);
}

export function findEqualRevisions(revs: KObject[], needle: KObject): KObject[] {
  return revs.filter((r) => equalRevision(r, needle));
}

export interface NewRevisionOptions {
  owner: KObject;
  ownerRef: OwnerReference;
  data: Obj;
  revision: number;
  collisionCount?: number;
  /** Labels the revision carries besides the hash labels (upstream: the template's labels). */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A ControllerRevision (not yet created) named `<owner>-<hash>`, with the hash under both upstream labels. */
export function newRevision(o: NewRevisionOptions): KObject {
  const hash = hashRevisionData(o.data, o.collisionCount);
  const rev: KObject = {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: revisionName(o.owner.metadata.name!, hash),
      namespace: o.owner.metadata.namespace,
      labels: { ...(o.labels ?? {}), [CONTROLLER_REVISION_HASH]: hash, [REVISION_HASH_LABEL]: hash },
      ownerReferences: [{ ...o.ownerRef }],
    },
    data: deepCopy(o.data),
    revision: o.revision,
  };
  if (o.annotations && Object.keys(o.annotations).length) rev.metadata.annotations = { ...o.annotations };
  return rev;
}

/** The hash part of a revision (its hash label, or what follows the owner's name). */
export function revisionHash(rev: KObject): string {
  return rev.metadata.labels?.[REVISION_HASH_LABEL] ?? rev.metadata.labels?.[CONTROLLER_REVISION_HASH] ?? rev.metadata.name!.slice(rev.metadata.name!.lastIndexOf('-') + 1);
}

/**
 * Creates the revision built by `build(collisionCount)`. When its name is taken by a revision with
 * other data (a hash collision), the collision count goes up and the next name is tried; when it
 * is taken by the same data (ours, created by an earlier sync) that one is returned. Returns the
 * revision and the collision count it was created with.
 */
export async function createRevision(
  client: ApiClient,
  build: (collisionCount: number) => KObject,
  collisionCount: number,
): Promise<{ revision: KObject; collisionCount: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const rev = build(collisionCount);
    try {
      return { revision: await client.create(R.controllerrevisions, rev.metadata.namespace, rev), collisionCount };
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 409)) throw e;
      const existing = await client.get(R.controllerrevisions, rev.metadata.namespace, rev.metadata.name!);
      const sameOwner = (existing.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === rev.metadata.ownerReferences?.[0]?.uid);
      if (sameOwner && equalRevision(existing, rev)) return { revision: existing, collisionCount };
      collisionCount++;
    }
  }
  throw new Error('could not find a free ControllerRevision name');
}

/** Gives an existing revision a new number (a rollback to it makes it the newest). */
export async function updateRevisionNumber(client: ApiClient, rev: KObject, revision: number): Promise<KObject> {
  if (revisionNumber(rev) === revision) return rev;
  return client.patch(R.controllerrevisions, rev.metadata.namespace, rev.metadata.name!, 'application/merge-patch+json', { revision });
}

/**
 * Deletes the oldest revisions beyond `limit`, never one named in `live` (the revisions pods
 * still run, the current and update revisions). Returns the names deleted.
 */
export async function truncateHistory(client: ApiClient, revs: KObject[], live: Set<string>, limit: number): Promise<string[]> {
  const history = sortRevisions(revs).filter((r) => !live.has(r.metadata.name!));
  const excess = history.length - Math.max(0, limit);
  const deleted: string[] = [];
  for (const r of history.slice(0, Math.max(0, excess))) {
    try {
      await client.delete(R.controllerrevisions, r.metadata.namespace, r.metadata.name!);
      deleted.push(r.metadata.name!);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
    }
  }
  return deleted;
}

export function revisionHistoryLimit(owner: KObject): number {
  const n = (owner.spec as Obj | undefined)?.revisionHistoryLimit;
  return typeof n === 'number' ? n : 10;
}

export interface EnsureRevisionOptions {
  client: ApiClient;
  owner: KObject;
  ownerRef: OwnerReference;
  /** The owner's revisions (already claimed). */
  revisions: KObject[];
  /** Current status.collisionCount. */
  collisionCount: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface EnsuredRevision {
  /** The revision matching the owner's current template, newest by number. */
  update: KObject;
  /** The revisions after this step (with `update` in it). */
  revisions: KObject[];
  collisionCount: number;
  /** The template changed since the previous newest revision (created anew or an old one revived). */
  changed: boolean;
  /** The newest revision before this step, if any. */
  previous?: KObject;
}

/**
 * The revision of the owner's current template: an existing equal one (renumbered to be the newest
 * if it was not, as after a rollback) or a new one.
 */
export async function ensureUpdateRevision(o: EnsureRevisionOptions): Promise<EnsuredRevision> {
  const sorted = sortRevisions(o.revisions);
  const previous = sorted[sorted.length - 1];
  const next = nextRevisionNumber(sorted);
  const data = templatePatch(o.owner);
  const build = (cc: number) =>
    newRevision({ owner: o.owner, ownerRef: o.ownerRef, data, revision: next, collisionCount: cc, labels: o.labels, annotations: o.annotations });
  const equal = findEqualRevisions(sorted, build(o.collisionCount));
  if (equal.length) {
    const found = equal[equal.length - 1];
    if (found === previous) return { update: found, revisions: sorted, collisionCount: o.collisionCount, changed: false, previous };
    const renumbered = await updateRevisionNumber(o.client, found, next);
    return {
      update: renumbered,
      revisions: sorted.map((r) => (r.metadata.name === renumbered.metadata.name ? renumbered : r)),
      collisionCount: o.collisionCount,
      changed: true,
      previous,
    };
  }
  const { revision, collisionCount } = await createRevision(o.client, build, o.collisionCount);
  const revisions = sorted.filter((r) => r.metadata.name !== revision.metadata.name).concat(revision);
  return { update: revision, revisions, collisionCount, changed: true, previous };
}
