// Secret: base64 data (stringData is folded in on write), type-specific required keys, a fixed
// type, and the same `immutable` freeze as ConfigMaps.
import type { KObject } from '../../../machinery/object.js';
import { FieldError, fieldErr } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asObj, asStr, dig } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { MAX_DATA_SIZE, validateDataMaps, validateImmutableData } from './configmap.js';

/** Keys each well-known type must carry in `data` (all of them, unless noted in validateTyped). */
const REQUIRED_KEYS: Record<string, string[]> = {
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
};
const JSON_KEYS: Record<string, string> = {
  'kubernetes.io/dockercfg': '.dockercfg',
  'kubernetes.io/dockerconfigjson': '.dockerconfigjson',
};

/** stringData is write-only convenience: upstream merges it into data (base64) and never stores it. */
function defaultSecret(obj: KObject): void {
  if (obj.type === undefined || obj.type === '') obj.type = 'Opaque';
  const stringData = asObj(obj.stringData);
  if (!stringData) return;
  if (obj.data === undefined || obj.data === null) obj.data = {};
  const data = asObj(obj.data);
  if (!data) return;
  for (const [k, v] of Object.entries(stringData)) if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8').toString('base64');
  delete obj.stringData;
}

function validateTyped(errs: FieldError[], obj: KObject): void {
  const type = obj.type;
  const data = asObj(obj.data) ?? {};
  if (type === 'kubernetes.io/service-account-token') {
    if (!asStr(dig(obj, 'metadata', 'annotations', 'kubernetes.io/service-account.name')))
      errs.push(fieldErr.required('metadata.annotations[kubernetes.io/service-account.name]'));
    return;
  }
  if (type === 'kubernetes.io/basic-auth') {
    if (data.username === undefined && data.password === undefined) {
      errs.push(fieldErr.required('data[username]'));
      errs.push(fieldErr.required('data[password]'));
    }
    return;
  }
  for (const key of REQUIRED_KEYS[type as string] ?? []) if (data[key] === undefined) errs.push(fieldErr.required(`data[${key}]`));
  const jsonKey = JSON_KEYS[type as string];
  if (jsonKey && typeof data[jsonKey] === 'string') {
    try {
      JSON.parse(Buffer.from(data[jsonKey] as string, 'base64').toString('utf8'));
    } catch (e) {
      errs.push(fieldErr.invalid(`data[${jsonKey}]`, '<secret contents redacted>', (e as Error).message));
    }
  }
}

function validateSecret(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  if (typeof obj.type !== 'string') errs.push(fieldErr.invalid('type', obj.type, 'must be a string'));
  const total = validateDataMaps(errs, obj, [{ field: 'data', base64: true }]);
  if (total > MAX_DATA_SIZE) errs.push(fieldErr.tooLong('data', MAX_DATA_SIZE));
  if (obj.stringData !== undefined && obj.stringData !== null && !asObj(obj.stringData))
    errs.push(fieldErr.invalid('stringData', obj.stringData, 'must be a map of string to string'));
  validateTyped(errs, obj);
  if (obj.immutable !== undefined && obj.immutable !== null && typeof obj.immutable !== 'boolean')
    errs.push(fieldErr.invalid('immutable', obj.immutable, 'must be a boolean'));
  if (old) {
    if (obj.type !== old.type) errs.push(fieldErr.immutable('type', obj.type));
    errs.push(...validateImmutableData(obj, old, ['data']));
  }
  return errs;
}

export const secretKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'Secret',
  plural: 'secrets',
  singular: 'secret',
  namespaced: true,
  defaults: defaultSecret,
  validate: validateSecret,
  table: [
    nameColumn,
    column('Type', (o) => asStr(o.type) ?? '', { description: 'The type of the secret' }),
    column('Data', (o) => Object.keys(asObj(o.data) ?? {}).length, { type: 'integer', description: 'The number of data in the secret' }),
    ageColumn,
  ],
  fieldSelectors: {
    type: (o) => asStr(o.type) ?? '',
  },
};
