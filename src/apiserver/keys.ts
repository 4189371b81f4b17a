// Where a kind's objects live in the store. Versions of one resource (autoscaling/v1 and v2 HPAs,
// core and events.k8s.io Events) share the storage group's key space.
import type { KindSpec } from '../api/types.js';

export function storageGroup(spec: KindSpec): string {
  return spec.storedAs ? spec.storedAs.group : spec.group;
}

export function resourcePrefix(spec: KindSpec): string {
  return `/${spec.plural}.${storageGroup(spec) || 'core'}/`;
}

/** Prefix for a list: all namespaces when namespace is undefined. */
export function listPrefix(spec: KindSpec, namespace?: string): string {
  const p = resourcePrefix(spec);
  return spec.namespaced && namespace ? `${p}${namespace}/` : p;
}

export function objectKey(spec: KindSpec, namespace: string | undefined, name: string): string {
  return spec.namespaced ? `${resourcePrefix(spec)}${namespace}/${name}` : `${resourcePrefix(spec)}${name}`;
}
