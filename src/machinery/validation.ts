// Field errors and the name/label rules every kind shares. A kind's own validation lives in
// src/api/<group>/<version>/; it builds FieldErrors with these helpers and the API server turns
// them into one 422 `Invalid` Status whose causes name each field.

export type FieldErrorType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueDuplicate'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'InternalError';

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === undefined) return 'null';
  return JSON.stringify(v);
}

export class FieldError {
  constructor(
    readonly type: FieldErrorType,
    readonly field: string,
    readonly value?: unknown,
    readonly detail?: string,
    readonly supported?: string[],
  ) {}

  /** The text after `field: ` — what upstream puts in a cause's message. */
  message(): string {
    const d = this.detail ? `: ${this.detail}` : '';
    switch (this.type) {
      case 'FieldValueRequired':
        return `Required value${d}`;
      case 'FieldValueInvalid':
        return `Invalid value: ${show(this.value)}${d}`;
      case 'FieldValueNotSupported':
        return `Unsupported value: ${show(this.value)}${this.supported ? `: supported values: ${this.supported.map((s) => JSON.stringify(s)).join(', ')}` : d}`;
      case 'FieldValueDuplicate':
        return `Duplicate value: ${show(this.value)}`;
      case 'FieldValueForbidden':
        return `Forbidden${d}`;
      case 'FieldValueTooLong':
        return `Too long${d}`;
      case 'FieldValueTooMany':
        return `Too many: ${show(this.value)}${d}`;
      case 'FieldValueTypeInvalid':
        return `Invalid value: ${show(this.value)}${d}`;
      default:
        return `Internal error${d}`;
    }
  }

  toString(): string {
    return `${this.field}: ${this.message()}`;
  }

  toCause(): { reason: string; message: string; field: string } {
    return { reason: this.type, message: this.message(), field: this.field };
  }
}

export const fieldErr = {
  required: (field: string, detail?: string) => new FieldError('FieldValueRequired', field, undefined, detail),
  invalid: (field: string, value: unknown, detail?: string) => new FieldError('FieldValueInvalid', field, value, detail),
  notSupported: (field: string, value: unknown, supported: string[]) =>
    new FieldError('FieldValueNotSupported', field, value, undefined, supported),
  duplicate: (field: string, value: unknown) => new FieldError('FieldValueDuplicate', field, value),
  forbidden: (field: string, detail: string) => new FieldError('FieldValueForbidden', field, undefined, detail),
  tooLong: (field: string, max: number) => new FieldError('FieldValueTooLong', field, undefined, `may not be more than ${max} bytes`),
  tooMany: (field: string, n: number, max: number) => new FieldError('FieldValueTooMany', field, n, `must have at most ${max} items`),
  immutable: (field: string, value: unknown) => new FieldError('FieldValueInvalid', field, value, 'field is immutable'),
};

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Each returns a list of problems (empty = valid), phrased as upstream phrases them. */
export const names = {
  dns1123Label(v: string): string[] {
    const out: string[] = [];
    if (v.length > 63) out.push('must be no more than 63 characters');
    if (!DNS1123_LABEL.test(v))
      out.push(
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      );
    return out;
  },
  dns1123Subdomain(v: string): string[] {
    const out: string[] = [];
    if (v.length > 253) out.push('must be no more than 253 characters');
    if (!DNS1123_SUBDOMAIN.test(v))
      out.push(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      );
    return out;
  },
  dns1035Label(v: string): string[] {
    const out: string[] = [];
    if (v.length > 63) out.push('must be no more than 63 characters');
    if (!DNS1035_LABEL.test(v))
      out.push(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
      );
    return out;
  },
  /** Label and annotation keys: optional DNS subdomain prefix + '/' + name of at most 63 chars. */
  qualifiedName(v: string): string[] {
    const parts = v.split('/');
    let name = v;
    const out: string[] = [];
    if (parts.length === 2) {
      const [prefix, n] = parts;
      name = n;
      if (!prefix) out.push('prefix part must be non-empty');
      else for (const m of names.dns1123Subdomain(prefix)) out.push(`prefix part ${m}`);
    } else if (parts.length > 2) {
      return [
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
      ];
    }
    if (name.length === 0) out.push('name part must be non-empty');
    else if (name.length > 63) out.push('name part must be no more than 63 characters');
    if (name.length && !QUALIFIED_NAME.test(name))
      out.push(
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      );
    return out;
  },
  labelValue(v: string): string[] {
    const out: string[] = [];
    if (v.length > 63) out.push('must be no more than 63 characters');
    if (!LABEL_VALUE.test(v))
      out.push(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      );
    return out;
  },
  cIdentifier(v: string): string[] {
    return C_IDENTIFIER.test(v)
      ? []
      : ["a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')"];
  },
  envVarName(v: string): string[] {
    return ENV_VAR_NAME.test(v)
      ? []
      : ["a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"];
  },
  /** Path segment names (what most kinds accept): no '/', '%', '.' or '..'. */
  pathSegment(v: string): string[] {
    if (v === '.' || v === '..') return [`may not be '${v}'`];
    if (v.includes('/')) return [`may not contain '/'`];
    if (v.includes('%')) return [`may not contain '%'`];
    return [];
  },
};

export type NameValidator = (name: string) => string[];

/** Push one FieldError per problem a validator found. */
export function checkName(errs: FieldError[], field: string, value: string, fn: NameValidator): void {
  for (const m of fn(value)) errs.push(fieldErr.invalid(field, value, m));
}

/** Labels: keys are qualified names, values label values. */
export function validateLabels(labels: unknown, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (labels === undefined || labels === null) return errs;
  if (typeof labels !== 'object' || Array.isArray(labels)) return [fieldErr.invalid(field, labels, 'must be a map of string to string')];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    checkName(errs, field, k, names.qualifiedName);
    if (typeof v !== 'string') errs.push(fieldErr.invalid(`${field}[${k}]`, v, 'must be a string'));
    else checkName(errs, field, v, names.labelValue);
  }
  return errs;
}

const TOTAL_ANNOTATION_SIZE = 256 * 1024;

export function validateAnnotations(annotations: unknown, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (annotations === undefined || annotations === null) return errs;
  if (typeof annotations !== 'object' || Array.isArray(annotations))
    return [fieldErr.invalid(field, annotations, 'must be a map of string to string')];
  let size = 0;
  for (const [k, v] of Object.entries(annotations as Record<string, unknown>)) {
    checkName(errs, field, k.toLowerCase(), names.qualifiedName);
    if (typeof v !== 'string') errs.push(fieldErr.invalid(`${field}[${k}]`, v, 'must be a string'));
    else size += k.length + v.length;
  }
  if (size > TOTAL_ANNOTATION_SIZE) errs.push(fieldErr.tooLong(field, TOTAL_ANNOTATION_SIZE));
  return errs;
}
