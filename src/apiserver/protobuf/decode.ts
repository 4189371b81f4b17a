// Decodes `application/vnd.kubernetes.protobuf` request bodies (what kubectl >= 1.32's typed
// clients POST/PUT) into the JSON object the same client would have sent as JSON, so the rest of
// the API server only ever sees JSON-shaped objects.
//
// Body layout: magic "k8s\0", then runtime.Unknown {1 typeMeta{1 apiVersion, 2 kind}, 2 raw,
// 3 contentEncoding, 4 contentType}; `raw` is the object's own message (see schema.ts).
import { createRequire } from 'node:module';
import type { Reader } from 'protobufjs/minimal.js';
import { errors, StatusError } from '../../machinery/errors.js';
import type { KObject } from '../../machinery/object.js';
import { PROTO_PACKAGES } from './schema.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Protobuf = typeof import('protobufjs/minimal.js');
let protobuf: Protobuf | undefined;

/** A reader over `buf`. protobufjs loads with the first protobuf body: most servers never get one. */
function reader(buf: Uint8Array): Reader {
  protobuf ??= createRequire(import.meta.url)('protobufjs/minimal.js') as Protobuf;
  return protobuf.Reader.create(buf);
}

type Scalar = 'str' | 'i32' | 'i64' | 'bool' | 'bytes' | 'f64' | 'f32';
type Special = 'Time' | 'MicroTime' | 'Quantity' | 'IntOrString' | 'RawExtension' | 'FieldsV1' | 'ExtraValue';
const SCALARS = new Set<string>(['i32', 'i64', 'bool', 'bytes', 'f64', 'f32']);
const SPECIALS = new Set<string>(['Time', 'MicroTime', 'Quantity', 'IntOrString', 'RawExtension', 'FieldsV1', 'ExtraValue']);

type ValueType = { t: 'scalar'; s: Scalar } | { t: 'special'; s: Special } | { t: 'msg'; m: MessageSpec };

interface FieldSpec {
  num: number;
  json: string;
  type: ValueType;
  repeated: boolean;
  map: boolean;
  pointer: boolean;
  always: boolean;
  inline: boolean;
}

interface MessageSpec {
  name: string;
  fields: FieldSpec[];
  byNum: Map<number, FieldSpec>;
}

// ---------------------------------------------------------------------------------------------
// Schema compilation (once, at module load; a bad table is a programming error and throws).

const messages = new Map<string, MessageSpec>(); // "pkg.Name"
for (const [pkg, p] of Object.entries(PROTO_PACKAGES)) {
  for (const name of Object.keys(p.messages)) messages.set(`${pkg}.${name}`, { name: `${pkg}.${name}`, fields: [], byNum: new Map() });
}

function resolveMessage(ref: string, pkg: string): MessageSpec {
  const candidates = ref.includes('.') ? [ref] : [`${pkg}.${ref}`, `core.${ref}`, `meta.${ref}`];
  for (const c of candidates) {
    const m = messages.get(c);
    if (m) return m;
  }
  throw new Error(`protobuf schema: unknown message ${ref} (in package ${pkg})`);
}

function parseType(t: string, pkg: string): ValueType {
  if (t === '') return { t: 'scalar', s: 'str' };
  if (SCALARS.has(t)) return { t: 'scalar', s: t as Scalar };
  if (SPECIALS.has(t)) return { t: 'special', s: t as Special };
  return { t: 'msg', m: resolveMessage(t, pkg) };
}

for (const [pkg, p] of Object.entries(PROTO_PACKAGES)) {
  for (const [name, def] of Object.entries(p.messages)) {
    const spec = messages.get(`${pkg}.${name}`)!;
    for (const tok of def.split(/\s+/).filter(Boolean)) {
      const m = /^([A-Za-z0-9_]+)=(\d+)(?::([*!~]*)(.*))?$/.exec(tok);
      if (!m) throw new Error(`protobuf schema: bad field ${tok} in ${pkg}.${name}`);
      const flags = m[3] ?? '';
      let t = m[4] ?? '';
      let repeated = false;
      let map = false;
      if (t.startsWith('[') && t.endsWith(']')) (repeated = true), (t = t.slice(1, -1));
      else if (t.startsWith('{') && t.endsWith('}')) (map = true), (t = t.slice(1, -1));
      const f: FieldSpec = {
        num: Number(m[2]),
        json: m[1],
        type: parseType(t, pkg),
        repeated,
        map,
        pointer: flags.includes('*'),
        always: flags.includes('!'),
        inline: flags.includes('~'),
      };
      if (spec.byNum.has(f.num)) throw new Error(`protobuf schema: duplicate field ${f.num} in ${pkg}.${name}`);
      spec.fields.push(f);
      spec.byNum.set(f.num, f);
    }
  }
}

// Kind lookup: "apiVersion|Kind" → root message. DeleteOptions is registered in every group
// version upstream (client-go encodes it with the GV of the client that sends it).
const kindIndex = new Map<string, MessageSpec>();
const anyVersionKinds = new Map<string, MessageSpec>();
for (const [pkg, p] of Object.entries(PROTO_PACKAGES)) {
  for (const kind of p.kinds) {
    const m = resolveMessage(`${pkg}.${kind}`, pkg);
    if (p.apiVersion) kindIndex.set(`${p.apiVersion}|${kind}`, m);
    else anyVersionKinds.set(kind, m);
  }
}

/** apiVersion/kind pairs whose protobuf body this module can decode ('*' = any apiVersion). */
export function supportedProtobufKinds(): Array<{ apiVersion: string; kind: string }> {
  const out = [...kindIndex.keys()].map((k) => {
    const [apiVersion, kind] = k.split('|');
    return { apiVersion, kind };
  });
  for (const kind of anyVersionKinds.keys()) out.push({ apiVersion: '*', kind });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Wire decoding. Phase 1 reads the bytes into a RawMessage keyed by field number (so repeated
// occurrences of a message field merge, as in Go); phase 2 renders JSON with the Go rules.

const MAX_DEPTH = 64;
const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

type RawValue = unknown;
interface RawMessage {
  [num: number]: RawValue;
}

class DecodeError extends Error {}

function fail(msg: string): never {
  throw new DecodeError(msg);
}

// protobufjs returns a Long when the `long` package is installed, else a number.
function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber();
}

/** Wire type a non-packed value of this type must use. */
function wireTypeOf(t: ValueType): number {
  if (t.t !== 'scalar') return WIRE_LEN;
  switch (t.s) {
    case 'i32':
    case 'i64':
    case 'bool':
      return WIRE_VARINT;
    case 'f64':
      return WIRE_I64;
    case 'f32':
      return WIRE_I32;
    default:
      return WIRE_LEN;
  }
}

function readScalar(r: Reader, s: Scalar): unknown {
  switch (s) {
    case 'str':
      return r.string();
    case 'bytes':
      return Buffer.from(r.bytes());
    case 'i32':
      return r.int32();
    case 'i64':
      return toNumber(r.int64());
    case 'bool':
      return r.bool();
    case 'f64':
      return r.double();
    case 'f32':
      return r.float();
  }
}

/** Reads a length prefix and returns the end offset of the delimited region, checked against `end`. */
function readLength(r: Reader, end: number): number {
  const len = r.uint32();
  const stop = r.pos + len;
  if (stop > end) fail('length-delimited field runs past the end of its message');
  return stop;
}

function decodeRaw(r: Reader, end: number, spec: MessageSpec, depth: number, into: RawMessage = {}): RawMessage {
  if (depth > MAX_DEPTH) fail('message nesting too deep');
  while (r.pos < end) {
    const tag = r.uint32();
    const num = tag >>> 3;
    const wire = tag & 7;
    if (num === 0) fail('illegal field number 0');
    const f = spec.byNum.get(num);
    if (!f) {
      // Unknown fields (newer server-side additions) are skipped, as Go's unmarshaller does.
      r.skipType(wire, 0, num);
    } else if (f.map) {
      if (wire !== WIRE_LEN) fail(`wrong wire type ${wire} for map field ${spec.name}.${f.json}`);
      const stop = readLength(r, end);
      const [k, v] = decodeMapEntry(r, stop, f, depth + 1);
      const m = (into[num] as Map<string, unknown> | undefined) ?? new Map<string, unknown>();
      m.set(k, v);
      into[num] = m;
    } else {
      const expected = wireTypeOf(f.type);
      let value: unknown;
      if (f.repeated && wire === WIRE_LEN && expected !== WIRE_LEN) {
        // Packed repeated scalars: accepted as protobuf requires, though gogo never packs proto2.
        const stop = readLength(r, end);
        const arr = (into[num] as unknown[] | undefined) ?? [];
        while (r.pos < stop) arr.push(readScalar(r, (f.type as { s: Scalar }).s));
        if (r.pos !== stop) fail(`packed field ${spec.name}.${f.json} overruns its length`);
        into[num] = arr;
        continue;
      }
      if (wire !== expected) fail(`wrong wire type ${wire} for field ${spec.name}.${f.json}`);
      if (f.type.t === 'scalar') {
        value = readScalar(r, f.type.s);
      } else {
        const stop = readLength(r, end);
        if (f.type.t === 'special') {
          value = decodeSpecial(r, stop, f.type.s);
        } else if (!f.repeated && into[num] !== undefined) {
          value = decodeRaw(r, stop, f.type.m, depth + 1, into[num] as RawMessage); // merge, like Go
        } else {
          value = decodeRaw(r, stop, f.type.m, depth + 1);
        }
        if (r.pos !== stop) fail(`field ${spec.name}.${f.json} overruns its length`);
      }
      if (f.repeated) {
        const arr = (into[num] as unknown[] | undefined) ?? [];
        arr.push(value);
        into[num] = arr;
      } else {
        into[num] = value;
      }
    }
    if (r.pos > end) fail(`field ${num} of ${spec.name} runs past the end of the message`);
  }
  return into;
}

function decodeMapEntry(r: Reader, end: number, f: FieldSpec, depth: number): [string, unknown] {
  let key = '';
  let value: unknown;
  while (r.pos < end) {
    const tag = r.uint32();
    const num = tag >>> 3;
    const wire = tag & 7;
    if (num === 1) {
      if (wire !== WIRE_LEN) fail(`wrong wire type for map key of ${f.json}`);
      key = r.string();
    } else if (num === 2) {
      const expected = wireTypeOf(f.type);
      if (wire !== expected) fail(`wrong wire type for map value of ${f.json}`);
      if (f.type.t === 'scalar') value = readScalar(r, f.type.s);
      else {
        const stop = readLength(r, end);
        value = f.type.t === 'special' ? decodeSpecial(r, stop, f.type.s) : decodeRaw(r, stop, f.type.m, depth + 1);
        if (r.pos !== stop) fail(`map value of ${f.json} overruns its length`);
      }
    } else if (num === 0) {
      fail('illegal field number 0');
    } else {
      r.skipType(wire, 0, num);
    }
    if (r.pos > end) fail(`map entry of ${f.json} runs past its end`);
  }
  return [key, value];
}

// Special leaf types arrive as tiny messages; each becomes its JSON form directly. `undefined`
// means "Go would have produced null / zero": the renderer drops it.
type Fields = Map<number, unknown>;

function readFlat(r: Reader, end: number, types: Record<number, Scalar>, repeated: Record<number, boolean> = {}): Fields {
  const out: Fields = new Map();
  while (r.pos < end) {
    const tag = r.uint32();
    const num = tag >>> 3;
    const wire = tag & 7;
    if (num === 0) fail('illegal field number 0');
    const s = types[num];
    if (s === undefined) r.skipType(wire, 0, num);
    else {
      if (wire !== wireTypeOf({ t: 'scalar', s })) fail(`wrong wire type ${wire} inside a special value`);
      const v = readScalar(r, s);
      if (!repeated[num]) out.set(num, v);
      else if (out.has(num)) (out.get(num) as unknown[]).push(v);
      else out.set(num, [v]);
    }
    if (r.pos > end) fail('value runs past its end');
  }
  return out;
}

function decodeSpecial(r: Reader, end: number, s: Special): unknown {
  const empty = r.pos === end;
  switch (s) {
    case 'Time':
    case 'MicroTime': {
      // metav1.Time marshals the zero time as an empty message (JSON null). The apiserver keeps
      // only whole seconds of a Time (its JSON form has no fraction); MicroTime keeps microseconds.
      const v = readFlat(r, end, { 1: 'i64', 2: 'i32' });
      if (empty) return undefined;
      return formatTime((v.get(1) as number) ?? 0, s === 'MicroTime' ? ((v.get(2) as number) ?? 0) : undefined);
    }
    case 'Quantity': {
      const v = readFlat(r, end, { 1: 'str' });
      const q = (v.get(1) as string | undefined) ?? '';
      if (q !== '' && !QUANTITY_RE.test(q)) fail(`quantities must match the regular expression '${QUANTITY_RE.source}' (got ${JSON.stringify(q)})`);
      return q === '' ? '0' : q;
    }
    case 'IntOrString': {
      const v = readFlat(r, end, { 1: 'i64', 2: 'i32', 3: 'str' });
      return v.get(1) === 1 ? ((v.get(3) as string | undefined) ?? '') : ((v.get(2) as number | undefined) ?? 0);
    }
    case 'RawExtension':
    case 'FieldsV1': {
      const v = readFlat(r, end, { 1: 'bytes' });
      const raw = v.get(1) as Buffer | undefined;
      if (!raw || raw.length === 0) return undefined;
      try {
        return JSON.parse(raw.toString('utf8'));
      } catch {
        fail(`${s} does not hold JSON`);
      }
    }
    case 'ExtraValue': {
      const v = readFlat(r, end, { 1: 'str' }, { 1: true });
      return (v.get(1) as string[] | undefined) ?? [];
    }
  }
}

// resource.ParseQuantity's grammar: sign, digits with optional fraction, then a binary/decimal SI
// suffix or an exponent. Upstream rejects the whole body on a malformed quantity, so do we.
const QUANTITY_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/;

function formatTime(seconds: number, nanos?: number): string {
  let sec = seconds;
  let ns = nanos ?? 0;
  if (nanos !== undefined) {
    // Go's time.Unix normalises out-of-range nanoseconds into seconds.
    sec += Math.floor(ns / 1e9);
    ns = ((ns % 1e9) + 1e9) % 1e9;
  }
  const d = new Date(sec * 1000);
  const year = d.getUTCFullYear();
  if (!Number.isFinite(d.getTime()) || year < 0 || year > 9999) fail(`timestamp out of range: ${seconds}s`);
  const base = d.toISOString().slice(0, 19);
  return nanos === undefined ? `${base}Z` : `${base}.${String(Math.floor(ns / 1000)).padStart(6, '0')}Z`;
}

// ---------------------------------------------------------------------------------------------
// Rendering to JSON.

function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Buffer.isBuffer(v)) return v.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

function zeroOf(t: ValueType): unknown {
  if (t.t !== 'scalar') return undefined;
  return t.s === 'str' ? '' : t.s === 'bool' ? false : t.s === 'bytes' ? '' : 0;
}

function renderValue(v: unknown, t: ValueType): unknown {
  if (t.t === 'msg') return render(v as RawMessage, t.m);
  if (Buffer.isBuffer(v)) return v.toString('base64'); // encoding/json's []byte form
  return v;
}

function render(raw: RawMessage, spec: MessageSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of spec.fields) {
    const v = raw[f.num];
    if (f.map) {
      const m = v as Map<string, unknown> | undefined;
      if (!m || m.size === 0) continue;
      const o: Record<string, unknown> = {};
      for (const [k, val] of m) {
        // A missing map value is Go's zero value; a zero Time in a map is JSON null.
        const rv = val === undefined ? (f.type.t === 'special' && f.type.s === 'Quantity' ? '0' : zeroOf(f.type)) : renderValue(val, f.type);
        o[k] = rv === undefined ? (f.type.t === 'msg' ? {} : null) : rv;
      }
      out[f.json] = o;
    } else if (f.repeated) {
      const arr = v as unknown[] | undefined;
      if (!arr || arr.length === 0) continue;
      out[f.json] = arr.map((x) => {
        const rv = renderValue(x, f.type);
        return rv === undefined ? null : rv;
      });
    } else if (f.inline) {
      if (v !== undefined) Object.assign(out, render(v as RawMessage, (f.type as { m: MessageSpec }).m));
    } else if (v === undefined) {
      if (f.always && f.type.t === 'scalar') out[f.json] = zeroOf(f.type);
    } else {
      const rv = renderValue(v, f.type);
      if (rv === undefined) continue; // zero Time, empty RawExtension: JSON null
      if (f.pointer || f.always || !isZero(rv)) out[f.json] = rv;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Entry points.

/** True when `body` starts with the Kubernetes protobuf magic "k8s\0". */
export function isProtobufEnvelope(body: Buffer): boolean {
  return body.length >= 4 && body.subarray(0, 4).equals(PROTOBUF_MAGIC);
}

function withBadRequest<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StatusError) throw e;
    // protobufjs signals truncation with RangeError("index out of range") and bad wire types with
    // Error; our own checks throw DecodeError. All of them are the client's fault.
    const msg = e instanceof Error ? e.message : String(e);
    throw errors.badRequest(`${what}: ${msg}`);
  }
}

/** Decodes the runtime.Unknown envelope: type metadata plus the object's own message bytes. */
export function decodeProtobufEnvelope(body: Buffer): { apiVersion: string; kind: string; raw: Buffer } {
  if (!isProtobufEnvelope(body)) throw errors.badRequest('protobuf body does not start with the "k8s\\x00" magic prefix');
  return withBadRequest('invalid protobuf envelope', () => {
    const r = reader(body.subarray(4));
    let apiVersion = '';
    let kind = '';
    let raw = Buffer.alloc(0);
    let contentEncoding = '';
    let contentType = '';
    while (r.pos < r.len) {
      const tag = r.uint32();
      const num = tag >>> 3;
      const wire = tag & 7;
      if (num === 0) fail('illegal field number 0');
      if (num >= 1 && num <= 4 && wire !== WIRE_LEN) fail(`wrong wire type ${wire} for runtime.Unknown field ${num}`);
      if (num === 1) {
        const tm = readFlat(r, readLength(r, r.len), { 1: 'str', 2: 'str' });
        apiVersion = (tm.get(1) as string | undefined) ?? apiVersion;
        kind = (tm.get(2) as string | undefined) ?? kind;
      } else if (num === 2) raw = Buffer.from(r.bytes());
      else if (num === 3) contentEncoding = r.string();
      else if (num === 4) contentType = r.string();
      else r.skipType(wire, 0, num);
    }
    if (contentEncoding !== '') fail(`unsupported contentEncoding ${JSON.stringify(contentEncoding)}`);
    if (contentType !== '' && contentType !== PROTOBUF_CONTENT_TYPE) fail(`unsupported contentType ${JSON.stringify(contentType)}`);
    if (!kind) fail("object has no kind (runtime.Unknown typeMeta.kind is empty)");
    if (!apiVersion) fail(`object of kind ${kind} has no apiVersion`);
    return { apiVersion, kind, raw };
  });
}

/** Decodes the protobuf message of `apiVersion`/`kind` into its JSON form (without apiVersion/kind). */
export function decodeProtobufMessage(apiVersion: string, kind: string, raw: Buffer): Record<string, unknown> {
  const spec = kindIndex.get(`${apiVersion}|${kind}`) ?? anyVersionKinds.get(kind);
  if (!spec) throw errors.badRequest(`no kind "${kind}" is registered for version "${apiVersion}" in the protobuf decoder`);
  return withBadRequest(`invalid protobuf body for ${apiVersion} ${kind}`, () => {
    const r = reader(raw);
    return render(decodeRaw(r, r.len, spec, 0), spec);
  });
}

/**
 * Decodes a full protobuf request body ("k8s\0" + runtime.Unknown) into a KObject equal to the JSON
 * body the same client would have sent. Any malformed input → StatusError 400 (BadRequest).
 */
export function decodeProtobufObject(body: Buffer): KObject {
  const { apiVersion, kind, raw } = decodeProtobufEnvelope(body);
  const obj = decodeProtobufMessage(apiVersion, kind, raw);
  const { metadata, ...rest } = obj;
  return { apiVersion, kind, metadata: (metadata as KObject['metadata'] | undefined) ?? {}, ...rest };
}
