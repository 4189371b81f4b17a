// Field checks shared by the non-core groups (label selectors, int-or-percent, number ranges, enums).
// They live here because apps/v1 is their first user; batch, policy, networking and autoscaling
// import them too. Every check tolerates any JSON type and reports a FieldError instead of throwing.
import { asArr, asObj, asStr } from '../../common/shape.js';
import { FieldError, checkName, fieldErr, names, validateLabels } from '../../../machinery/validation.js';

const SELECTOR_OPS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** metav1.LabelSelector: matchLabels as labels, matchExpressions with a valid key/operator/values. */
export function validateLabelSelector(sel: unknown, field: string): FieldError[] {
  if (sel === undefined || sel === null) return [];
  const s = asObj(sel);
  if (!s) return [fieldErr.invalid(field, sel, 'must be a label selector object')];
  const errs = validateLabels(s.matchLabels, `${field}.matchLabels`);
  if (s.matchExpressions !== undefined && s.matchExpressions !== null && !Array.isArray(s.matchExpressions))
    errs.push(fieldErr.invalid(`${field}.matchExpressions`, s.matchExpressions, 'must be a list'));
  asArr(s.matchExpressions).forEach((raw, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    const e = asObj(raw);
    if (!e) return errs.push(fieldErr.invalid(f, raw, 'must be an object'));
    const key = asStr(e.key);
    if (key === undefined || key === '') errs.push(fieldErr.required(`${f}.key`));
    else checkName(errs, `${f}.key`, key, names.qualifiedName);
    const op = asStr(e.operator);
    if (op === undefined || !SELECTOR_OPS.includes(op)) errs.push(fieldErr.notSupported(`${f}.operator`, e.operator, SELECTOR_OPS));
    const values = e.values;
    if (values !== undefined && values !== null && !Array.isArray(values)) errs.push(fieldErr.invalid(`${f}.values`, values, 'must be a list'));
    const n = asArr(values).length;
    if ((op === 'In' || op === 'NotIn') && n === 0)
      errs.push(fieldErr.required(`${f}.values`, 'must be specified when `operator` is \'In\' or \'NotIn\''));
    if ((op === 'Exists' || op === 'DoesNotExist') && n > 0)
      errs.push(fieldErr.forbidden(`${f}.values`, 'may not be specified when `operator` is \'Exists\' or \'DoesNotExist\''));
    asArr(values).forEach((v, j) => {
      if (typeof v !== 'string') errs.push(fieldErr.invalid(`${f}.values[${j}]`, v, 'must be a string'));
      else checkName(errs, `${f}.values[${j}]`, v, names.labelValue);
    });
  });
  return errs;
}

/** True when the selector has no requirements (selects everything). */
export function isEmptySelector(sel: unknown): boolean {
  const s = asObj(sel);
  if (!s) return true;
  return Object.keys(asObj(s.matchLabels) ?? {}).length === 0 && asArr(s.matchExpressions).length === 0;
}

/** Does a (valid) LabelSelector select this label set? Malformed selectors select nothing. */
export function selectorMatches(sel: unknown, labels: unknown): boolean {
  const s = asObj(sel);
  if (!s) return false;
  const l = asObj(labels) ?? {};
  for (const [k, v] of Object.entries(asObj(s.matchLabels) ?? {})) if (l[k] !== v) return false;
  for (const raw of asArr(s.matchExpressions)) {
    const e = asObj(raw);
    const key = asStr(e?.key);
    if (!e || key === undefined) return false;
    const has = Object.prototype.hasOwnProperty.call(l, key);
    const values = asArr(e.values);
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(l[key])) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** JSON integers only (a float or string in an int field is a type error upstream). */
export function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Optional integer field ≥ 0 (apivalidation.ValidateNonnegativeField). */
export function nonNegative(errs: FieldError[], v: unknown, field: string): void {
  if (v === undefined || v === null) return;
  if (!isInt(v)) errs.push(fieldErr.invalid(field, v, 'must be an integer'));
  else if (v < 0) errs.push(fieldErr.invalid(field, v, 'must be greater than or equal to 0'));
}

/** Optional integer field > 0. */
export function positive(errs: FieldError[], v: unknown, field: string): void {
  if (v === undefined || v === null) return;
  if (!isInt(v)) errs.push(fieldErr.invalid(field, v, 'must be an integer'));
  else if (v <= 0) errs.push(fieldErr.invalid(field, v, 'must be greater than zero'));
}

/** Optional string field restricted to a set of values. */
export function oneOf(errs: FieldError[], v: unknown, field: string, allowed: string[], required = false): void {
  if (v === undefined || v === null || v === '') {
    if (required) errs.push(fieldErr.required(field));
    return;
  }
  if (typeof v !== 'string' || !allowed.includes(v)) errs.push(fieldErr.notSupported(field, v, allowed));
}

/** Optional boolean field. */
export function isBoolField(errs: FieldError[], v: unknown, field: string): void {
  if (v !== undefined && v !== null && typeof v !== 'boolean') errs.push(fieldErr.invalid(field, v, 'must be a boolean'));
}

const PERCENT = /^[0-9]+%$/;

/** An IntOrString that must be a non-negative int or a percentage (e.g. maxSurge, minAvailable). */
export function validateIntOrPercent(errs: FieldError[], v: unknown, field: string): void {
  if (v === undefined || v === null) return;
  if (typeof v === 'string') {
    if (!PERCENT.test(v))
      errs.push(
        fieldErr.invalid(
          field,
          v,
          "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        ),
      );
  } else if (isInt(v)) {
    if (v < 0) errs.push(fieldErr.invalid(field, v, 'must be greater than or equal to 0'));
  } else errs.push(fieldErr.invalid(field, v, "must be an integer or percentage (e.g '5%')"));
}

/** Percent strings above 100% are meaningless for "how many may be unavailable". */
export function notMoreThan100Percent(errs: FieldError[], v: unknown, field: string): void {
  if (typeof v === 'string' && PERCENT.test(v) && Number(v.slice(0, -1)) > 100)
    errs.push(fieldErr.invalid(field, v, 'must not be greater than 100%'));
}

/** Whether an int-or-percent value is zero (`0` or `"0%"`); malformed values are not zero. */
export function isZeroIntOrPercent(v: unknown): boolean {
  if (v === 0) return true;
  return typeof v === 'string' && PERCENT.test(v) && Number(v.slice(0, -1)) === 0;
}

/** A required non-empty string field. */
export function requiredString(errs: FieldError[], v: unknown, field: string): v is string {
  if (v === undefined || v === null || v === '') {
    errs.push(fieldErr.required(field));
    return false;
  }
  if (typeof v !== 'string') {
    errs.push(fieldErr.invalid(field, v, 'must be a string'));
    return false;
  }
  return true;
}

/** An optional field that, when present, must be an object; returns it (or undefined). */
export function optionalObject(errs: FieldError[], v: unknown, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  const o = asObj(v);
  if (!o) errs.push(fieldErr.invalid(field, v, 'must be an object'));
  return o;
}

/** An optional field that, when present, must be a list; returns its items. */
export function optionalList(errs: FieldError[], v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) errs.push(fieldErr.invalid(field, v, 'must be a list'));
  return asArr(v);
}
