// Owner-reference helpers shared by the workload controllers: who controls an object, a
// controller reference to put on a dependent, and the claim step (upstream's
// ControllerRefManager): adopt orphans that match the owner's selector, release owned objects
// that no longer match, and leave alone whatever another controller owns.
import { StatusError } from '../machinery/errors.js';
import type { KObject, OwnerReference } from '../machinery/object.js';
import type { LabelMatcher } from '../machinery/selectors.js';
import type { ApiClient, ResourceRef } from '../client/client.js';

/** The ownerReference with controller=true, if any. */
export function getControllerOf(obj: KObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

export function isControlledBy(obj: KObject, owner: KObject): boolean {
  const ref = getControllerOf(obj);
  return !!ref && ref.uid === owner.metadata.uid;
}

/** A controller reference to `owner` (blockOwnerDeletion, as upstream's controllers set it). */
export function newControllerRef(owner: KObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/**
 * The owner an informer's cache names as `obj`'s controller, if it has that kind and the same
 * uid (a re-created owner of the same name is not the owner).
 */
export function resolveControllerRef(ref: OwnerReference | undefined, kind: string, lookup: (name: string) => KObject | undefined): KObject | undefined {
  if (!ref || ref.kind !== kind) return undefined;
  const owner = lookup(ref.name);
  return owner && owner.metadata.uid === ref.uid ? owner : undefined;
}

function isNotFound(e: unknown): boolean {
  return e instanceof StatusError && e.code === 404;
}

/** Adopt: add a controller reference with a strategic merge patch guarded by the dependent's uid. */
export async function adoptObject(client: ApiClient, r: ResourceRef, obj: KObject, ref: OwnerReference): Promise<KObject> {
  const body = { metadata: { ownerReferences: [ref], uid: obj.metadata.uid } };
  return client.patch(r, obj.metadata.namespace, obj.metadata.name!, 'application/strategic-merge-patch+json', body);
}

/** Release: drop the reference to `ownerUid`, guarded by the dependent's uid. Gone or changed is fine. */
export async function releaseObject(client: ApiClient, r: ResourceRef, obj: KObject, ownerUid: string): Promise<void> {
  const body = { metadata: { ownerReferences: [{ $patch: 'delete', uid: ownerUid }], uid: obj.metadata.uid } };
  try {
    await client.patch(r, obj.metadata.namespace, obj.metadata.name!, 'application/strategic-merge-patch+json', body);
  } catch (e) {
    // Deleted meanwhile, or the uid precondition failed (a new object under the same name).
    if (isNotFound(e) || (e instanceof StatusError && (e.code === 409 || e.code === 422))) return;
    throw e;
  }
}

export interface ClaimOptions {
  client: ApiClient;
  resource: ResourceRef;
  owner: KObject;
  ownerRef: OwnerReference;
  selector: LabelMatcher;
  /**
   * Checked once, lazily, before the first adoption: the owner must still exist with the same
   * uid and not be deleting (upstream re-reads it uncached).
   */
  canAdopt: () => Promise<boolean>;
}

/**
 * Returns the objects `owner` controls after adopting matching orphans and releasing owned
 * objects that no longer match. Objects being deleted are never adopted. Errors on one object
 * don't stop the others; the first is thrown at the end so the caller retries.
 */
export async function claimObjects(objs: KObject[], o: ClaimOptions): Promise<KObject[]> {
  const claimed: KObject[] = [];
  let adoptable: boolean | undefined;
  let firstErr: unknown;
  const ownerUid = o.owner.metadata.uid!;
  for (const obj of objs) {
    const ref = getControllerOf(obj);
    const matches = o.selector(obj.metadata.labels);
    try {
      if (ref) {
        if (ref.uid !== ownerUid) continue; // someone else's
        if (matches) {
          claimed.push(obj);
          continue;
        }
        // Owned but no longer selected: release, unless the owner is going away anyway.
        if (o.owner.metadata.deletionTimestamp) continue;
        await releaseObject(o.client, o.resource, obj, ownerUid);
        continue;
      }
      // An orphan.
      if (!matches || o.owner.metadata.deletionTimestamp || obj.metadata.deletionTimestamp) continue;
      if (adoptable === undefined) adoptable = await o.canAdopt();
      if (!adoptable) continue;
      claimed.push(await adoptObject(o.client, o.resource, obj, o.ownerRef));
    } catch (e) {
      if (isNotFound(e)) continue;
      firstErr ??= e;
    }
  }
  if (firstErr) throw firstErr;
  return claimed;
}

/** `canAdopt` for claimObjects: a fresh read of the owner, same uid, not deleting. */
export function freshOwnerCheck(client: ApiClient, r: ResourceRef, owner: KObject): () => Promise<boolean> {
  return async () => {
    try {
      const fresh = await client.get(r, owner.metadata.namespace, owner.metadata.name!);
      return fresh.metadata.uid === owner.metadata.uid && !fresh.metadata.deletionTimestamp;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  };
}
