// Label and field selectors, with upstream's grammar, validation, matching semantics and
// error phrasing (k8s.io/apimachinery/pkg/labels and pkg/fields). Every parse error is a 400
// BadRequest StatusError whose message is what upstream's parser would say.
import { errors } from './errors.js';
import { FieldError, fieldErr, names } from './validation.js';

// ---------------------------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------------------------

export type LabelOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Equals' | 'DoubleEquals' | 'NotEquals' | 'GreaterThan' | 'LessThan';

/** One parsed, validated term of a label selector. */
export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/** The API object form (metav1.LabelSelector). */
export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

/** Requirements that match no object at all (what a null LabelSelector means upstream). */
export const MATCH_NOTHING = null;

export type LabelRequirements = LabelRequirement[] | typeof MATCH_NOTHING;

function aggregate(errs: FieldError[]): string {
  return errs.length === 1 ? errs[0].toString() : `[${errs.map((e) => e.toString()).join(', ')}]`;
}

/** Validates one requirement as upstream's labels.NewRequirement does; returns problems (empty = valid). */
function requirementErrors(key: string, operator: LabelOperator, values: string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (typeof key !== 'string') return [fieldErr.invalid('key', key, 'must be a string')];
  if (!Array.isArray(values)) return [fieldErr.invalid('values', values, 'must be a list of strings')];
  const keyProblems = names.qualifiedName(key);
  if (keyProblems.length) errs.push(fieldErr.invalid('key', key, keyProblems.join('; ')));
  switch (operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) errs.push(fieldErr.invalid('values', values, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case 'Equals':
    case 'DoubleEquals':
    case 'NotEquals':
      if (values.length !== 1) errs.push(fieldErr.invalid('values', values, 'exact-match compatibility requires one single value'));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length !== 0) errs.push(fieldErr.invalid('values', values, 'values set must be empty for exists and does not exist'));
      break;
    case 'GreaterThan':
    case 'LessThan':
      if (values.length !== 1) errs.push(fieldErr.invalid('values', values, "for 'Gt', 'Lt' operators, exactly one value is required"));
      values.forEach((v, i) => {
        if (!/^[-+]?\d+$/.test(v)) errs.push(fieldErr.invalid(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
      break;
  }
  values.forEach((v, i) => {
    const problems = typeof v === 'string' ? names.labelValue(v) : ['must be a string'];
    if (problems.length) errs.push(fieldErr.invalid(`values[${i}]`, v, problems.join('; ')));
  });
  return errs;
}

// The lexer and parser follow upstream's labels/selector.go grammar:
//   selector    := requirement (',' requirement)*
//   requirement := ['!'] KEY | KEY op VALUE | KEY ('in'|'notin') '(' VALUE (',' VALUE)* ')'
type Tok = 'id' | '!' | '!=' | '=' | '==' | '>' | '<' | '(' | ')' | ',' | 'in' | 'notin' | 'eos' | 'error';

const SYMBOLS = new Set(['!', '!=', '=', '==', '>', '<', '(', ')', ',']);
const SPECIAL_CHARS = new Set(['=', '!', '(', ')', ',', '>', '<']);

interface Lexeme {
  tok: Tok;
  lit: string;
}

function lex(input: string): Lexeme[] {
  const out: Lexeme[] = [];
  let i = 0;
  while (true) {
    while (i < input.length && /\s/.test(input[i])) i++;
    if (i >= input.length) {
      out.push({ tok: 'eos', lit: '' });
      return out;
    }
    if (SPECIAL_CHARS.has(input[i])) {
      // Longest run of special characters that still forms a known symbol ("!=" but "=" + "(").
      let buf = '';
      let last: Lexeme | undefined;
      while (i < input.length && SPECIAL_CHARS.has(input[i])) {
        const next = buf + input[i];
        if (SYMBOLS.has(next)) {
          buf = next;
          last = { tok: next as Tok, lit: next };
          i++;
        } else if (last) {
          break;
        } else {
          buf = next;
          i++;
        }
      }
      out.push(last ?? { tok: 'error', lit: `error expected: keyword found '${buf}'` });
      continue;
    }
    let j = i;
    while (j < input.length && !/\s/.test(input[j]) && !SPECIAL_CHARS.has(input[j])) j++;
    const word = input.slice(i, j);
    i = j;
    out.push({ tok: word === 'in' || word === 'notin' ? word : 'id', lit: word });
  }
}

class LabelParser {
  private pos = 0;
  constructor(private readonly items: Lexeme[]) {}

  // In value position the keywords `in`/`notin` are ordinary identifiers, as upstream.
  private peek(values: boolean): Lexeme {
    const it = this.items[this.pos];
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'id', lit: it.lit } : it;
  }

  private next(values: boolean): Lexeme {
    const it = this.peek(values);
    if (this.pos < this.items.length - 1) this.pos++;
    return it;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    while (true) {
      const { tok, lit } = this.peek(true);
      if (tok === 'eos') return reqs;
      if (tok !== 'id' && tok !== '!') throw new Error(`found '${lit}', expected: !, identifier, or 'end of string'`);
      try {
        reqs.push(this.requirement());
      } catch (e) {
        throw new Error(`unable to parse requirement: ${(e as Error).message}`);
      }
      const sep = this.next(true);
      if (sep.tok === 'eos') return reqs;
      if (sep.tok !== ',') throw new Error(`found '${sep.lit}', expected: ',' or 'end of string'`);
      const after = this.peek(true);
      if (after.tok !== 'id' && after.tok !== '!') throw new Error(`found '${after.lit}', expected: identifier after ','`);
    }
  }

  private requirement(): LabelRequirement {
    let negated = false;
    let t = this.next(true);
    if (t.tok === '!') {
      negated = true;
      t = this.next(true);
    }
    if (t.tok !== 'id') throw new Error(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const keyProblems = names.qualifiedName(key);
    if (keyProblems.length) throw new Error(fieldErr.invalid('key', key, keyProblems.join('; ')).toString());
    const la = this.peek(true).tok;
    if (negated || la === 'eos' || la === ',') {
      return checked(key, negated ? 'DoesNotExist' : 'Exists', []);
    }
    const op = this.next(false);
    switch (op.tok) {
      case 'in':
        return checked(key, 'In', this.valueSet());
      case 'notin':
        return checked(key, 'NotIn', this.valueSet());
      case '=':
        return checked(key, 'Equals', this.exactValue());
      case '==':
        return checked(key, 'DoubleEquals', this.exactValue());
      case '!=':
        return checked(key, 'NotEquals', this.exactValue());
      case '>':
        return checked(key, 'GreaterThan', this.exactValue());
      case '<':
        return checked(key, 'LessThan', this.exactValue());
      default:
        throw new Error(`found '${op.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  private exactValue(): string[] {
    const la = this.peek(true);
    if (la.tok === 'eos' || la.tok === ',') return [''];
    const t = this.next(true);
    if (t.tok === 'id') return [t.lit];
    throw new Error(`found '${t.lit}', expected: identifier`);
  }

  /** `(a,b,,c)`: empty entries stand for the empty value, as upstream. Sorted, de-duplicated. */
  private valueSet(): string[] {
    const open = this.next(true);
    if (open.tok !== '(') throw new Error(`found '${open.lit}' expected: '('`);
    const values = new Set<string>();
    let expectValue = true;
    while (true) {
      const t = this.next(true);
      if (t.tok === ')') {
        if (expectValue) values.add('');
        break;
      }
      if (t.tok === ',') {
        if (expectValue) values.add('');
        expectValue = true;
        continue;
      }
      if (t.tok === 'id' && expectValue) {
        values.add(t.lit);
        expectValue = false;
        const la = this.peek(true);
        if (la.tok !== ',' && la.tok !== ')') throw new Error(`found '${la.lit}', expected: ',' or ')'`);
        continue;
      }
      throw new Error(`found '${t.lit}', expected: ',', ')' or identifier`);
    }
    return [...values].sort();
  }
}

function checked(key: string, operator: LabelOperator, values: string[]): LabelRequirement {
  const errs = requirementErrors(key, operator, values);
  if (errs.length) throw new Error(aggregate(errs));
  return { key, operator, values };
}

function byKey(reqs: LabelRequirement[]): LabelRequirement[] {
  return reqs.map((r, i) => ({ r, i })).sort((a, b) => (a.r.key < b.r.key ? -1 : a.r.key > b.r.key ? 1 : a.i - b.i)).map((x) => x.r);
}

/** Parses `?labelSelector=` syntax. The empty string yields [] (matches everything). Requirements are sorted by key. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (typeof selector !== 'string') throw errors.badRequest('label selector must be a string');
  try {
    return byKey(new LabelParser(lex(selector)).parse());
  } catch (e) {
    throw errors.badRequest((e as Error).message);
  }
}

const OBJECT_OPERATORS: Record<string, LabelOperator> = { In: 'In', NotIn: 'NotIn', Exists: 'Exists', DoesNotExist: 'DoesNotExist' };

/**
 * Converts the object form (metav1.LabelSelectorAsSelector): null/undefined → MATCH_NOTHING
 * (Go's nil pointer), `{}` → [] (matches everything). matchLabels become `key=value` terms.
 */
export function labelSelectorRequirements(sel: LabelSelector | null | undefined): LabelRequirements {
  if (sel === null || sel === undefined) return MATCH_NOTHING;
  if (typeof sel !== 'object' || Array.isArray(sel)) throw errors.badRequest('label selector must be an object');
  const reqs: LabelRequirement[] = [];
  try {
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) reqs.push(checked(k, 'Equals', [v]));
    for (const expr of sel.matchExpressions ?? []) {
      const op = OBJECT_OPERATORS[expr?.operator];
      if (!op) throw new Error(`${JSON.stringify(expr?.operator ?? '')} is not a valid label selector operator`);
      const values = expr.values ?? [];
      reqs.push(checked(expr.key, op, Array.isArray(values) ? [...values] : values));
    }
  } catch (e) {
    throw errors.badRequest((e as Error).message);
  }
  return byKey(reqs);
}

function requirementToString(r: LabelRequirement): string {
  const values = r.values.length > 1 ? [...r.values].sort().join(',') : (r.values[0] ?? '');
  switch (r.operator) {
    case 'Exists':
      return r.key;
    case 'DoesNotExist':
      return `!${r.key}`;
    case 'Equals':
      return `${r.key}=${values}`;
    case 'DoubleEquals':
      return `${r.key}==${values}`;
    case 'NotEquals':
      return `${r.key}!=${values}`;
    case 'GreaterThan':
      return `${r.key}>${values}`;
    case 'LessThan':
      return `${r.key}<${values}`;
    case 'In':
      return `${r.key} in (${values})`;
    case 'NotIn':
      return `${r.key} notin (${values})`;
  }
}

/** Canonical string form; '' for "everything". kubectl shows '' as `<none>` — that is the printer's job. */
export function labelRequirementsToString(reqs: LabelRequirement[]): string {
  return reqs.map(requirementToString).join(',');
}

/** The object form as kubectl prints it, e.g. `app=web,tier in (a,b)`. Throws 400 on an invalid selector. */
export function labelSelectorToString(sel: LabelSelector): string {
  const reqs = labelSelectorRequirements(sel);
  return reqs === MATCH_NOTHING ? '' : labelRequirementsToString(reqs);
}

function matchRequirement(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  const v = has ? labels[r.key] : undefined;
  switch (r.operator) {
    case 'In':
    case 'Equals':
    case 'DoubleEquals':
      return has && r.values.includes(v as string);
    case 'NotIn':
    case 'NotEquals':
      return !has || !r.values.includes(v as string);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'GreaterThan':
    case 'LessThan': {
      if (!has || !/^[-+]?\d+$/.test(v as string)) return false;
      const a = BigInt(v as string);
      const b = BigInt(r.values[0]);
      return r.operator === 'GreaterThan' ? a > b : a < b;
    }
  }
}

/** A matcher over an object's labels. [] matches everything, MATCH_NOTHING nothing. */
export function compileLabelRequirements(reqs: LabelRequirements): LabelMatcher {
  if (reqs === MATCH_NOTHING) return () => false;
  if (reqs.length === 0) return () => true;
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => matchRequirement(r, l));
  };
}

/** Parse-and-compile for `?labelSelector=`. */
export function compileLabelSelectorString(selector: string): LabelMatcher {
  return compileLabelRequirements(parseLabelSelector(selector));
}

/** Compile the object form: null/undefined match nothing, `{}` matches everything. */
export function compileLabelSelector(sel: LabelSelector | null | undefined): LabelMatcher {
  return compileLabelRequirements(labelSelectorRequirements(sel));
}

// ---------------------------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------------------------

export type FieldOperator = '=' | '==' | '!=';

export interface FieldRequirement {
  field: string;
  operator: FieldOperator;
  /** Unescaped value. */
  value: string;
}

export type FieldGetter = (field: string) => string | undefined;
export type FieldMatcher = (get: FieldGetter) => boolean;

/** Splits on commas not preceded by a backslash; escapes stay in the terms. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (escaped) escaped = false;
    else if (c === '\\') escaped = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

/** The first operator occurrence splits the term; the field name itself has no escaping (upstream). */
function splitTerm(term: string): { field: string; operator: FieldOperator; raw: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '='] as const) {
      if (term.startsWith(op, i)) return { field: term.slice(0, i), operator: op, raw: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** Values may contain `\\`, `\,` and `\=`; any other escape, or a bare `,`/`=`, is rejected (upstream). */
function unescapeValue(raw: string): string {
  let out = '';
  let escaped = false;
  for (const c of raw) {
    if (escaped) {
      if (c !== '\\' && c !== ',' && c !== '=') throw new Error(`invalid field selector: invalid escape sequence: \\${c}`);
      out += c;
      escaped = false;
    } else if (c === '\\') escaped = true;
    else if (c === ',' || c === '=') throw new Error(`invalid field selector: unescaped character in value: ${c}`);
    else out += c;
  }
  if (escaped) throw new Error('invalid field selector: invalid escape sequence: \\');
  return out;
}

function escapeValue(v: string): string {
  return v.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/** Parses `?fieldSelector=`; '' yields [] (everything). Terms are sorted as upstream sorts them. */
export function parseFieldSelector(selector: string): FieldRequirement[] {
  if (typeof selector !== 'string') throw errors.badRequest('field selector must be a string');
  const reqs: FieldRequirement[] = [];
  const terms = splitTerms(selector).sort();
  for (const term of terms) {
    if (term === '') continue;
    const parts = splitTerm(term);
    if (!parts) throw errors.badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    try {
      reqs.push({ field: parts.field, operator: parts.operator, value: unescapeValue(parts.raw) });
    } catch (e) {
      throw errors.badRequest((e as Error).message);
    }
  }
  return reqs;
}

/** Distinct field names, in selector order, so callers can reject unsupported ones. */
export function fieldSelectorFields(reqs: FieldRequirement[]): string[] {
  return [...new Set(reqs.map((r) => r.field))];
}

/** Missing fields read as '' (upstream's fields.Set semantics): `f=` matches them, `f!=x` too. */
export function compileFieldSelector(reqs: FieldRequirement[]): FieldMatcher {
  if (reqs.length === 0) return () => true;
  return (get) =>
    reqs.every((r) => {
      const v = get(r.field) ?? '';
      return r.operator === '!=' ? v !== r.value : v === r.value;
    });
}

export function fieldSelectorToString(reqs: FieldRequirement[]): string {
  return reqs.map((r) => `${r.field}${r.operator}${escapeValue(r.value)}`).join(',');
}
