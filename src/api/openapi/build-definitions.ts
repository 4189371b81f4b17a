// Builds upstream-named OpenAPI definitions for every built-in type from @kubernetes/client-node's
// generated models: attribute type maps (structure), .d.ts JSDoc (descriptions, required fields),
// and the generated API classes (which model is a top-level kind of which group/version).
// Synchronous and file-based so the runtime can fall back to it when definitions.json is missing.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { SchemaNode } from '../../machinery/schema.js';
import {
  ANY_FIELDS,
  FIELD_EXTENSIONS,
  GROUPS,
  INT_OR_STRING,
  META,
  MICRO_TIME,
  PACKAGE_OVERRIDES,
  QUANTITY,
  QUANTITY_FIELDS,
  RAW_EXTENSION,
  SYNTHETIC,
  TIME,
} from './tables.js';

interface Attr {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

interface Model {
  attrs: Attr[];
  doc?: string;
  fieldDocs: Map<string, string>;
  optional: Set<string>;
}

export const REF_PREFIX = '#/components/schemas/';
const VERSION_RE = 'V\\d+(?:alpha\\d+|beta\\d+)?';
const PREFIXED_MODEL = new RegExp(`^([A-Z][a-z]+)(${VERSION_RE})([A-Z]\\w*)$`);
const PLAIN_MODEL = new RegExp(`^(${VERSION_RE})([A-Z]\\w*)$`);

function clientNodeDir(): string {
  return dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node/package.json'));
}

function unescapeDoc(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/** Reads one JSDoc block's text (lines start with `*`). */
function docText(block: string): string {
  return unescapeDoc(
    block
      .split('\n')
      .map((l) => l.replace(/^\s*\*\s?/, ''))
      .join(' ')
      .trim(),
  );
}

function readModels(modelsDir: string): Map<string, Model> {
  const models = new Map<string, Model>();
  for (const file of readdirSync(modelsDir)) {
    if (!file.endsWith('.js') || file === 'all.js' || file === 'ObjectSerializer.js') continue;
    const cls = file.slice(0, -3);
    const js = readFileSync(join(modelsDir, file), 'utf8');
    const m = /\.attributeTypeMap = (\[[\s\S]*?\]);/.exec(js);
    if (!m) continue;
    const model: Model = { attrs: JSON.parse(m[1]) as Attr[], fieldDocs: new Map(), optional: new Set() };
    const dts = readFileSync(join(modelsDir, `${cls}.d.ts`), 'utf8');
    const classAt = dts.indexOf('export declare class');
    const classDoc = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*$/.exec(dts.slice(0, classAt));
    if (classDoc && !classDoc[1].includes('OpenAPI Generator')) model.doc = docText(classDoc[1]);
    // Property lines are indented four spaces; the JSDoc block right above one documents it.
    const propRe = /(?:\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\n)?^ {4}'([^']+)'(\?)?:/gm;
    for (const p of dts.slice(classAt).matchAll(propRe)) {
      if (p[1]) model.fieldDocs.set(p[2], docText(p[1]));
      if (p[3]) model.optional.add(p[2]);
    }
    models.set(cls, model);
  }
  return models;
}

/** Model classes each generated `<Group><Version>Api` sends or receives, keyed by group prefix. */
function readApiRoots(apisDir: string): { prefix: string; version: string; types: string[] }[] {
  const out: { prefix: string; version: string; types: string[] }[] = [];
  const fileRe = new RegExp(`^([A-Z][A-Za-z]*?)(${VERSION_RE})Api\\.js$`);
  for (const file of readdirSync(apisDir).sort()) {
    const m = fileRe.exec(file);
    if (!m || !GROUPS[m[1]]) continue;
    const js = readFileSync(join(apisDir, file), 'utf8');
    const types = new Set<string>();
    for (const t of js.matchAll(/serialize\([^;]*?"([A-Z]\w*)", ""\)/g)) types.add(t[1]);
    out.push({ prefix: m[1], version: m[2].toLowerCase(), types: [...types].sort() });
  }
  return out;
}

/** Class names inside a client-node type expression (`Array<V1Container>`, `{ [key: string]: V1X; }`). */
function referencedClasses(type: string, models: Map<string, Model>): string[] {
  return (type.match(/\b[A-Z]\w*\b/g) ?? []).filter((t) => models.has(t));
}

/** Assigns every model class its upstream definition name. */
function nameModels(models: Map<string, Model>, apis: ReturnType<typeof readApiRoots>): Map<string, string> {
  const names = new Map<string, string>(Object.entries(PACKAGE_OVERRIDES).filter(([cls]) => models.has(cls)));
  for (const cls of models.keys()) {
    const m = PREFIXED_MODEL.exec(cls);
    if (m && GROUPS[m[1]] && !names.has(cls)) names.set(cls, `${GROUPS[m[1]].defPrefix}.${m[2].toLowerCase()}.${m[3]}`);
  }
  const groupOf = (defName: string): string => defName.slice(0, defName.lastIndexOf('.', defName.lastIndexOf('.') - 1));
  const visit = (cls: string, defPrefix: string) => {
    const stack = [[cls, defPrefix]];
    while (stack.length) {
      const [c, prefix] = stack.pop()!;
      if (!names.has(c)) {
        const m = PLAIN_MODEL.exec(c);
        if (!m) continue;
        names.set(c, `${prefix}.${m[1].toLowerCase()}.${m[2]}`);
      }
      const own = names.get(c)!;
      // Meta types only reference meta types; do not let them pull referrers' children into meta.
      for (const attr of models.get(c)!.attrs)
        for (const child of referencedClasses(attr.type, models)) if (!names.has(child)) stack.push([child, groupOf(own)]);
    }
  };
  // Core before everything else, so that core types other groups embed are named core.
  const isCore = (def: string) => def.startsWith(`${GROUPS.Core.defPrefix}.`);
  const seeded = [...names.entries()].sort(([, a], [, b]) => Number(isCore(b)) - Number(isCore(a)));
  for (const [cls, def] of seeded.filter(([, d]) => !d.startsWith('io.k8s.api.') || isCore(d))) visit(cls, groupOf(def));
  for (const api of apis.filter((a) => a.prefix === 'Core')) for (const t of api.types) if (models.has(t)) visit(t, GROUPS.Core.defPrefix);
  for (const [cls, def] of seeded) visit(cls, groupOf(def));
  for (const api of apis) for (const t of api.types) if (models.has(t)) visit(t, GROUPS[api.prefix].defPrefix);
  return names;
}

/** "io.k8s.api.core.v1.PodSpec" → "core.v1.PodSpec" (the key form of the tables). */
export function shortDefName(def: string): string {
  return def.replace(/^io\.k8s\.(api|apimachinery\.pkg\.apis|apiextensions-apiserver\.pkg\.apis|kube-aggregator\.pkg\.apis)\./, '');
}

const ref = (def: string): SchemaNode => ({ $ref: REF_PREFIX + def });

function typeSchema(type: string, format: string, field: string, names: Map<string, string>): SchemaNode {
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return { type: 'array', items: typeSchema(arr[1], format, field, names) };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return { type: 'object', additionalProperties: typeSchema(map[1], format, field, names) };
  switch (type) {
    case 'string':
      if (QUANTITY_FIELDS.has(field)) return ref(QUANTITY);
      return format === 'byte' ? { type: 'string', format: 'byte' } : { type: 'string' };
    case 'number':
      if (format === 'int32' || format === 'int64') return { type: 'integer', format };
      return format ? { type: 'number', format } : { type: 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'Date':
      return ref(format === 'date-time-micro' ? MICRO_TIME : TIME);
    case 'V1MicroTime':
      return ref(MICRO_TIME);
    case 'IntOrString':
      return ref(INT_OR_STRING);
    case 'any':
      return ref(ANY_FIELDS[field] ?? RAW_EXTENSION);
  }
  const def = names.get(type);
  if (!def) throw new Error(`openapi: no definition for client-node type ${type} (field ${field})`);
  return ref(def);
}

/** Puts extensions next to a field schema; a bare $ref takes siblings only through an allOf wrapper. */
function withSiblings(schema: SchemaNode, extra: Partial<SchemaNode>): SchemaNode {
  if (!Object.keys(extra).length) return schema;
  if (schema.$ref) return { allOf: [schema], ...extra };
  return { ...schema, ...extra };
}

export function buildDefinitions(): Record<string, SchemaNode> {
  const dir = clientNodeDir();
  const models = readModels(join(dir, 'dist/gen/models'));
  const apis = readApiRoots(join(dir, 'dist/gen/apis'));
  const names = nameModels(models, apis);

  const gvks = new Map<string, { group: string; version: string; kind: string }[]>();
  const allGVs: { group: string; version: string }[] = [{ group: '', version: 'v1' }];
  for (const api of apis) {
    const g = GROUPS[api.prefix].apiGroup;
    if (!allGVs.some((gv) => gv.group === g && gv.version === api.version)) allGVs.push({ group: g, version: api.version });
    for (const cls of api.types) {
      const def = names.get(cls);
      const attrs = models.get(cls)?.attrs.map((a) => a.baseName) ?? [];
      if (!def || def.startsWith(`${META}.`) || !attrs.includes('apiVersion') || !attrs.includes('kind')) continue;
      const prefix = Object.values(GROUPS).find((gi) => def.startsWith(`${gi.defPrefix}.`))!;
      const [version, kind] = def.slice(prefix.defPrefix.length + 1).split('.');
      gvks.set(def, [{ group: prefix.apiGroup, version, kind }]);
    }
  }
  gvks.set(`${META}.Status`, [{ group: '', version: 'v1', kind: 'Status' }]);
  // Upstream registers these meta kinds in every group-version.
  for (const kind of ['DeleteOptions', 'WatchEvent']) gvks.set(`${META}.${kind}`, allGVs.map((gv) => ({ ...gv, kind })));

  const used = new Set<string>();
  const defs: Record<string, SchemaNode> = {};
  for (const [cls, def] of [...names.entries()].sort((a, b) => a[1].localeCompare(b[1]))) {
    const model = models.get(cls)!;
    const short = shortDefName(def);
    const properties: Record<string, SchemaNode> = {};
    const required: string[] = [];
    for (const a of model.attrs) {
      const key = `${short}.${a.baseName}`;
      const ext = FIELD_EXTENSIONS[key] ?? {};
      if (FIELD_EXTENSIONS[key]) used.add(key);
      if (QUANTITY_FIELDS.has(key)) used.add(key);
      if (ANY_FIELDS[key]) used.add(key);
      const desc = model.fieldDocs.get(a.name);
      properties[a.baseName] = withSiblings(typeSchema(a.type, a.format, key, names), { ...(desc ? { description: desc } : {}), ...ext });
      if (!model.optional.has(a.name)) required.push(a.baseName);
    }
    const node: SchemaNode = {};
    if (model.doc) node.description = model.doc;
    node.type = 'object';
    node.properties = properties;
    if (required.length) node.required = required;
    const gvk = gvks.get(def);
    if (gvk) node['x-kubernetes-group-version-kind'] = gvk;
    defs[def] = node;
  }
  for (const [def, node] of Object.entries(SYNTHETIC)) defs[def] = node;
  // A table entry that matches nothing is a typo or an upstream rename: fail the build, loudly.
  const stale = [...Object.keys(FIELD_EXTENSIONS), ...QUANTITY_FIELDS, ...Object.keys(ANY_FIELDS)].filter((k) => !used.has(k));
  if (stale.length) throw new Error(`openapi: table entries match no field: ${stale.join(', ')}`);
  return defs;
}
