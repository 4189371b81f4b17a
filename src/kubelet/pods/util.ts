// Small helpers shared by the pod lifecycle code: API time stamps, Go-style durations, container lists.
import type { KObject } from '../../machinery/object.js';
import { asArr, asObj, type Obj } from '../../api/common/shape.js';

import { rfc3339 } from '../../machinery/time.js';

export { rfc3339 };

/** A runtime time stamp (any RFC 3339) at the API's precision; undefined when absent or malformed. */
export function apiTime(t: string | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : rfc3339(ms);
}

/** Go's time.Duration.String() for whole milliseconds: 10s, 1m20s, 5m0s, 250ms. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sMs = ms % 60_000;
  const s = sMs % 1000 === 0 ? String(sMs / 1000) : String(sMs / 1000).replace(/0+$/, '');
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

export function containersOf(spec: unknown, key: 'containers' | 'initContainers'): Obj[] {
  return asArr(asObj(spec)?.[key])
    .map(asObj)
    .filter((c): c is Obj => c !== undefined);
}

/** A native sidecar: an init container that keeps running (`restartPolicy: Always`). */
export function isSidecar(c: Obj): boolean {
  return c.restartPolicy === 'Always';
}

/** `name_namespace(uid)`, how the kubelet names a pod in messages. */
export function podRef(pod: KObject): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

export function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
