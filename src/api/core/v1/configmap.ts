// ConfigMap: string data and base64 binaryData under config-key names, 1 MiB in total, and
// frozen once `immutable: true`.
import type { KObject } from '../../../machinery/object.js';
import { jsonEqual } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';

/** Upper bound on a ConfigMap's or Secret's payload, as upstream. */
export const MAX_DATA_SIZE = 1024 * 1024;

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** Problems with a ConfigMap/Secret key (also a file name when mounted as a volume). */
export function configKeyProblems(key: string): string[] {
  const out: string[] = [];
  if (key.length > 253) out.push('must be no more than 253 characters');
  if (!CONFIG_KEY.test(key))
    out.push(
      "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    );
  if (key === '.') out.push("must not be '.'");
  else if (key === '..') out.push("must not be '..'");
  else if (key.startsWith('..')) out.push("must not start with '..'");
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Bytes encoded by a base64 string, or undefined when it is not valid (padded, standard alphabet) base64. */
export function base64Length(v: string): number | undefined {
  const s = v.replace(/[\r\n]/g, '');
  if (!BASE64.test(s)) return undefined;
  return (s.length / 4) * 3 - (s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0);
}

/** Keys of `data`/`binaryData`-style maps: validity, string values, duplicates across maps; returns the total bytes. */
export function validateDataMaps(errs: FieldError[], obj: KObject, maps: { field: string; base64: boolean }[]): number {
  let total = 0;
  const seen = new Set<string>();
  for (const { field, base64 } of maps) {
    const raw = obj[field];
    if (raw === undefined || raw === null) continue;
    const m = asObj(raw);
    if (!m) {
      errs.push(fieldErr.invalid(field, raw, 'must be a map of string to string'));
      continue;
    }
    for (const [key, value] of Object.entries(m)) {
      for (const msg of configKeyProblems(key)) errs.push(fieldErr.invalid(`${field}[${key}]`, key, msg));
      if (seen.has(key)) errs.push(fieldErr.invalid(field, key, 'duplicate of key present in data'));
      seen.add(key);
      if (typeof value !== 'string') {
        errs.push(fieldErr.invalid(`${field}[${key}]`, value, 'must be a string'));
        continue;
      }
      if (base64) {
        const n = base64Length(value);
        if (n === undefined) errs.push(fieldErr.invalid(`${field}[${key}]`, '<value omitted>', 'must be valid base64 data'));
        else total += key.length + n;
      } else {
        total += key.length + Buffer.byteLength(value);
      }
    }
  }
  return total;
}

/** With `immutable: true` on the stored object, neither the flag nor the payload may change. */
export function validateImmutableData(obj: KObject, old: KObject, fields: string[]): FieldError[] {
  if (old.immutable !== true) return [];
  const errs: FieldError[] = [];
  if (obj.immutable !== true) errs.push(fieldErr.forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) {
    if (!jsonEqual(obj[f] ?? {}, old[f] ?? {})) errs.push(fieldErr.forbidden(f, 'field is immutable when `immutable` is set'));
  }
  return errs;
}

function validateConfigMap(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const total = validateDataMaps(errs, obj, [
    { field: 'data', base64: false },
    { field: 'binaryData', base64: true },
  ]);
  if (total > MAX_DATA_SIZE) errs.push(fieldErr.tooLong('', MAX_DATA_SIZE));
  if (obj.immutable !== undefined && obj.immutable !== null && typeof obj.immutable !== 'boolean')
    errs.push(fieldErr.invalid('immutable', obj.immutable, 'must be a boolean'));
  if (old) errs.push(...validateImmutableData(obj, old, ['data', 'binaryData']));
  return errs;
}

const countKeys = (v: unknown) => Object.keys(asObj(v) ?? {}).length;

export const configMapKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  singular: 'configmap',
  shortNames: ['cm'],
  namespaced: true,
  validate: validateConfigMap,
  table: [
    nameColumn,
    column('Data', (o) => countKeys(o.data) + countKeys(o.binaryData), { type: 'integer', description: 'Number of data in configmap' }),
    ageColumn,
  ],
};
