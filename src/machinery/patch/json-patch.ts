// RFC 6902 JSON patch (`application/json-patch+json`), as `kubectl patch --type=json` and
// `kubectl rollout undo` send it.
//
// Error codes follow the upstream handler (apiserver endpoints/handlers/patch.go):
// * a body that does not decode as a list of operation objects → 400 BadRequest;
// * more than 10000 operations → 413;
// * anything that fails while applying (unknown op, bad or missing path, failed `test`, missing
//   `value`/`from`) → 422 with reason Invalid and upstream's fixed message "the server rejected our
//   request due to an error in our request". Upstream drops the underlying reason; we keep it as a
//   cause on field `patch`, which kubectl prints as "The request is invalid: patch: <reason>".
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { StatusError, errors } from '../errors.js';
import { deepCopy, isPlainObject, type KObject } from '../object.js';
import { assertDepth, jsonTypeName } from './guard.js';

export const MAX_JSON_PATCH_OPERATIONS = 10000;

export function rejectedPatch(reason: string): StatusError {
  return new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {
    causes: [{ reason: 'FieldValueInvalid', message: reason, field: 'patch' }],
  });
}

export function applyJsonPatch(live: KObject, body: unknown): KObject {
  if (!Array.isArray(body)) throw errors.badRequest(`json: cannot unmarshal ${jsonTypeName(body)} into Go value of type jsonpatch.Patch`);
  const bad = body.find((op) => !isPlainObject(op));
  if (bad !== undefined) throw errors.badRequest(`json: cannot unmarshal ${jsonTypeName(bad)} into Go value of type jsonpatch.Operation`);
  if (body.length > MAX_JSON_PATCH_OPERATIONS)
    throw errors.tooLarge(`The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${body.length}`);
  assertDepth(body, 'the patch');

  let result: unknown;
  try {
    // validateOperation=true checks each op against the document before applying it; the copy
    // is ours, so it may be mutated in place. Prototype-pollution paths stay banned.
    result = jsonpatch.applyPatch(deepCopy(live), deepCopy(body) as Operation[], true, true, true).newDocument;
  } catch (e) {
    throw rejectedPatch(describe(e));
  }
  if (!isPlainObject(result)) throw rejectedPatch('the patched document is not a JSON object');
  return result as KObject;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const op = (e as { operation?: { op?: unknown; path?: unknown } }).operation;
    const where = op && typeof op.op === 'string' ? ` (${op.op} ${typeof op.path === 'string' ? op.path : ''})`.replace(' )', ')') : '';
    // fast-json-patch appends the operation and the whole document to its message; keep the reason.
    return `${e.message.split('\n')[0]}${where}`;
  }
  return String(e);
}
