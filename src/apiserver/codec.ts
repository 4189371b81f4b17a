// Request bodies in, response bodies out: content types, size limits, nesting limits.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type YAML from 'yaml';
import { yaml } from '../machinery/yaml.js';
import { errors } from '../machinery/errors.js';
import { decodeProtobufObject } from './protobuf/index.js';

/** Upstream's limit for a request body. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Deeper documents are rejected before anything recursive touches them. */
const MAX_DEPTH = 200;

export function readBody(req: Readable & { headers: IncomingHttpHeaders }, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(errors.tooLarge());
  }
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // Plain listeners rather than `for await`: most bodies are one chunk, and the async iterator
  // costs more than the parse.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(errors.tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    // A client that goes away mid-body: nothing will come, and nobody is left to answer.
    const onClose = () => {
      cleanup();
      reject(errors.badRequest('the client closed the connection before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

function checkDepth(v: unknown): void {
  // Iterative so that hostile nesting cannot overflow the stack here.
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length) {
    const [cur, d] = stack.pop()!;
    if (d > MAX_DEPTH) throw errors.badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
    if (cur && typeof cur === 'object') for (const x of Object.values(cur as object)) if (x && typeof x === 'object') stack.push([x, d + 1]);
  }
}

/**
 * The deepest nesting of arrays and objects in JSON text, counted on the bytes (strings skipped),
 * so that a hostile body is refused before the parser or any recursive walk sees it.
 */
function jsonNestingExceeds(buf: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function parseJson(buf: Buffer): unknown {
  // The root is level 0, as checkDepth counts.
  if (jsonNestingExceeds(buf, MAX_DEPTH + 1)) throw errors.badRequest(`the request body is nested more than ${MAX_DEPTH} levels deep`);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`error decoding JSON body: ${(e as Error).message}`);
  }
}

export function parseYaml(buf: Buffer): unknown {
  const text = buf.toString('utf8');
  let docs: YAML.Document.Parsed[];
  try {
    docs = yaml().parseAllDocuments(text) as YAML.Document.Parsed[];
  } catch (e) {
    throw errors.badRequest(`error decoding YAML body: ${(e as Error).message}`);
  }
  if (!Array.isArray(docs)) throw errors.badRequest('error decoding YAML body');
  const real = docs.filter((d) => d.contents !== null);
  if (real.length !== 1) throw errors.badRequest(`error decoding YAML body: expected exactly one document, found ${real.length}`);
  const doc = real[0];
  if (doc.errors.length) throw errors.badRequest(`error decoding YAML body: ${doc.errors[0].message}`);
  let v: unknown;
  try {
    v = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw errors.badRequest(`error decoding YAML body: ${(e as Error).message}`);
  }
  checkDepth(v);
  return v;
}

/** Decode an object body (create / update). */
export function decodeObjectBody(contentType: string | undefined, buf: Buffer): unknown {
  const mt = mediaType(contentType);
  if (buf.length === 0) throw errors.badRequest('the request body is empty');
  switch (mt) {
    case 'application/json':
    case '':
      return parseJson(buf);
    case 'application/yaml':
    case 'application/x-yaml':
    case 'text/yaml':
      return parseYaml(buf);
    case 'application/vnd.kubernetes.protobuf':
      return decodeProtobufObject(buf);
    default:
      throw errors.unsupportedMediaType(mt);
  }
}

export const PATCH_TYPES = new Set([
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
]);

/** Decode a PATCH body: JSON for the JSON flavours, YAML (a superset of JSON) for apply. */
export function decodePatchBody(contentType: string | undefined, buf: Buffer): unknown {
  const mt = mediaType(contentType);
  if (!PATCH_TYPES.has(mt)) throw errors.unsupportedMediaType(mt);
  if (buf.length === 0) throw errors.badRequest('the patch body is empty');
  return mt === 'application/apply-patch+yaml' ? parseYaml(buf) : parseJson(buf);
}

export type ResponseFormat = { kind: 'json' } | { kind: 'yaml' } | { kind: 'table'; version: 'v1' | 'v1beta1' };

/** Choose a response format from Accept (first acceptable wins); protobuf is answered as JSON when JSON is also acceptable. */
export function negotiate(accept: string | undefined, allowTable: boolean): ResponseFormat {
  if (!accept) return { kind: 'json' };
  for (const raw of accept.split(',')) {
    const [type, ...params] = raw.split(';').map((s) => s.trim());
    const p = Object.fromEntries(params.map((x) => x.split('=').map((y) => y.trim())));
    const t = type.toLowerCase();
    if (t === 'application/json' && p.as === 'Table') {
      if (allowTable && (p.v === 'v1' || p.v === 'v1beta1') && p.g === 'meta.k8s.io') return { kind: 'table', version: p.v };
      continue;
    }
    if (t === 'application/json' && p.as) continue; // other conversions (PartialObjectMetadata) not offered
    if (t === 'application/json' || t === '*/*' || t === 'application/*') return { kind: 'json' };
    if (t === 'application/yaml') return { kind: 'yaml' };
  }
  throw errors.notAcceptable('only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io');
}
