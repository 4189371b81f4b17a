// The one entry point the API server calls for PATCH: picks the algorithm from the request's
// media type. The match is on the exact media type (parameters such as `; charset=utf-8`
// ignored): `application/strategic-merge-patch+json` contains `merge-patch+json`, so a substring
// test would pick the wrong algorithm.
//
// json/merge/strategic return the patched object with managedFields untouched: the write path
// records the change with updateManagedFields like any update. Apply returns the object with its
// managedFields already settled (updateManagedFields leaves such an object alone).
import { yaml } from '../yaml.js';
import { errors } from '../errors.js';
import { isPlainObject, type KObject } from '../object.js';
import type { SchemaNode, SchemaResolver } from '../schema.js';
import { serverSideApply } from './apply.js';
import { jsonTypeName } from './guard.js';
import { applyJsonPatch, rejectedPatch } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic.js';
import { rfc3339 } from '../time.js';

export { applyJsonPatch } from './json-patch.js';
export { applyMergePatch } from './merge-patch.js';
export { applyStrategicMergePatch } from './strategic.js';
export { serverSideApply, BEFORE_FIRST_APPLY, type ApplyOptions } from './apply.js';
export { updateManagedFields, decodeManagedFields, encodeManagedFields, type UpdateManagedFieldsOptions, type Manager } from './managed-fields.js';
export { FieldSet, pathString } from './fieldpath.js';

export const PatchType = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export interface PatchContext {
  /** The kind's top-level schema (built-in kinds); drives strategic merge and apply. */
  schema?: SchemaNode;
  resolve?: SchemaResolver;
  /** Whether strategic merge patch is served; default: only when a schema is given. CRDs: false. */
  strategicAllowed?: boolean;
  // Server-side apply only.
  manager?: string;
  force?: boolean;
  /** RFC 3339; defaults to the current time. */
  now?: string;
  /** The request's group/version; defaults to the live object's. */
  apiVersion?: string;
  ignoreStatus?: boolean;
  subresource?: string;
}

/** The media type of a Content-Type header, lower-cased and without parameters. */
export function patchMediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * Applies a PATCH body to `live` (never mutated). `live` may be undefined only for apply, which
 * then creates. Failures are StatusErrors: 400/413/415/422 for bad input, 409 for apply conflicts.
 */
export function applyPatch(contentType: string, live: KObject | undefined, body: unknown, ctx: PatchContext = {}): KObject {
  const type = patchMediaType(contentType);
  try {
    switch (type) {
      case PatchType.json:
        return applyJsonPatch(requireLive(live), body);
      case PatchType.merge:
        return applyMergePatch(requireLive(live), body);
      case PatchType.strategic: {
        const allowed = ctx.strategicAllowed ?? !!ctx.schema;
        if (!allowed) throw errors.unsupportedMediaType(contentType);
        return applyStrategicMergePatch(requireLive(live), body, ctx.schema ?? {}, ctx.resolve);
      }
      case PatchType.apply: {
        const config = decodeApplyBody(body);
        return serverSideApply(live, config, {
          manager: ctx.manager ?? '',
          force: !!ctx.force,
          schema: ctx.schema,
          resolve: ctx.resolve,
          now: ctx.now ?? rfc3339(),
          apiVersion: ctx.apiVersion ?? live?.apiVersion ?? (typeof config.apiVersion === 'string' ? config.apiVersion : ''),
          ignoreStatus: ctx.ignoreStatus,
          subresource: ctx.subresource,
        });
      }
      default:
        throw errors.unsupportedMediaType(contentType);
    }
  } catch (e) {
    // Last line of defence against pathological live data: a stack overflow is the request's failure.
    if (e instanceof RangeError) throw rejectedPatch(e.message);
    throw e;
  }
}

function requireLive(live: KObject | undefined): KObject {
  if (!live) throw errors.internal('there is no object to patch');
  return live;
}

/** Apply bodies are YAML (JSON being YAML); callers may hand over the parsed value or the text. */
function decodeApplyBody(body: unknown): KObject {
  let value = body;
  if (body instanceof Uint8Array) value = new TextDecoder().decode(body);
  if (typeof value === 'string') {
    try {
      value = yaml().parse(value);
    } catch (e) {
      throw errors.badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
  }
  if (!isPlainObject(value)) throw errors.badRequest(`error decoding YAML: cannot unmarshal ${jsonTypeName(value)} into Go value of type map[string]interface {}`);
  return value as KObject;
}
