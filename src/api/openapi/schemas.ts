// The runtime view of every schema the server knows: built-in definitions (definitions.json, written
// by the build step) plus CRD-defined kinds registered while the server runs.
import { readFileSync } from 'node:fs';
import type { SchemaNode, SchemaResolver } from '../../machinery/schema.js';
import { isPlainObject } from '../../machinery/object.js';
import { BUNDLED, compiledFile } from '../../machinery/install.js';
import { REF_PREFIX, buildDefinitions } from './build-definitions.js';

/** Written by the build step (generate.ts), under dist/src/. */
export const DEFINITIONS_FILE = 'api/openapi/definitions.json';

export { REF_PREFIX };
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

let builtin: Record<string, SchemaNode> | undefined;
let builtinByGVK: Map<string, string> | undefined;
const custom = new Map<string, SchemaNode>(); // definition name → schema
const customByGVK = new Map<string, string>();
let epoch = 0;

const gvkKey = (group: string, version: string, kind: string) => `${group}/${version}/${kind}`;

/** Built-in definitions, loaded once. Falls back to building them when the build step has not run. */
export function builtinDefinitions(): Readonly<Record<string, SchemaNode>> {
  if (!builtin) {
    try {
      builtin = JSON.parse(readFileSync(compiledFile(DEFINITIONS_FILE), 'utf8')) as Record<string, SchemaNode>;
    } catch (e) {
      // A bundle is only ever made by the full build, which writes the file: its absence there is a defect.
      if (BUNDLED) throw e;
      builtin = buildDefinitions();
    }
    builtinByGVK = new Map();
    for (const [name, node] of Object.entries(builtin))
      for (const g of node['x-kubernetes-group-version-kind'] ?? []) if (!builtinByGVK.has(gvkKey(g.group, g.version, g.kind))) builtinByGVK.set(gvkKey(g.group, g.version, g.kind), name);
  }
  return builtin;
}

/** A definition by name: built-in or CRD-registered. */
export function getDefinition(name: string): SchemaNode | undefined {
  return builtinDefinitions()[name] ?? custom.get(name);
}

/** The definition of a kind (group '' for core); CRD-registered kinds win over built-ins. */
export function definitionFor(group: string, version: string, kind: string): { name: string; schema: SchemaNode } | undefined {
  builtinDefinitions();
  const key = gvkKey(group, version, kind);
  const name = customByGVK.get(key) ?? builtinByGVK!.get(key);
  const schema = name === undefined ? undefined : getDefinition(name);
  return name !== undefined && schema ? { name, schema } : undefined;
}

/** Whether the kind's schema comes from the built-in type tree (strategic merge patch applies). */
export function isBuiltinKind(group: string, version: string, kind: string): boolean {
  builtinDefinitions();
  return !customByGVK.has(gvkKey(group, version, kind)) && builtinByGVK!.has(gvkKey(group, version, kind));
}

/** Changes whenever CRD schemas are (un)registered; documents derived from schemas key caches on it. */
export function schemasEpoch(): number {
  return epoch;
}

const FREE_FORM: SchemaNode = {};

export const resolveRef: SchemaResolver = (node) => {
  let cur = node;
  // Bounded: a malformed (cyclic) ref chain must not hang a request.
  for (let i = 0; i < 32; i++) {
    if (cur.$ref) {
      const target = cur.$ref.startsWith(REF_PREFIX) ? getDefinition(cur.$ref.slice(REF_PREFIX.length)) : undefined;
      if (!target) return FREE_FORM;
      cur = target;
    } else if (cur.allOf?.length === 1 && !cur.type && !cur.properties && !cur.items && cur.additionalProperties === undefined) {
      cur = cur.allOf[0];
    } else return cur;
  }
  return FREE_FORM;
};

/** Upstream names CRD definitions by reversed group: example.com/v1 Widget → com.example.v1.Widget. */
export function crdDefinitionName(group: string, version: string, kind: string): string {
  return `${group.split('.').reverse().join('.')}.${version}.${kind}`;
}

const ROOT_FIELDS: Record<string, SchemaNode> = {
  apiVersion: {
    type: 'string',
    description:
      'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
  },
  kind: {
    type: 'string',
    description:
      'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
  },
};

/**
 * Publishes a CRD version's openAPIV3Schema as `<reversed group>.<version>.<Kind>` (and its List), the
 * way upstream does: apiVersion/kind described, metadata a reference to ObjectMeta, GVK attached.
 * A missing or malformed schema publishes the kind as free-form. Returns the published root node.
 */
export function registerCrdSchema(group: string, version: string, kind: string, openAPIV3Schema: unknown): SchemaNode {
  const given = isPlainObject(openAPIV3Schema) ? (structuredClone(openAPIV3Schema) as SchemaNode) : { type: 'object' as const, 'x-kubernetes-preserve-unknown-fields': true };
  const name = crdDefinitionName(group, version, kind);
  const root: SchemaNode = {
    ...given,
    type: 'object',
    properties: {
      ...ROOT_FIELDS,
      ...(given.properties ?? {}),
      metadata: { allOf: [{ $ref: `${REF_PREFIX}${META}.ObjectMeta` }], description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata" },
    },
    'x-kubernetes-group-version-kind': [{ group, version, kind }],
  };
  const list: SchemaNode = {
    description: `${kind}List is a list of ${kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      ...ROOT_FIELDS,
      items: { type: 'array', items: { $ref: REF_PREFIX + name }, description: `List of ${kind.toLowerCase()}s. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md` },
      metadata: { allOf: [{ $ref: `${REF_PREFIX}${META}.ListMeta` }], description: 'Standard list metadata.' },
    },
    'x-kubernetes-group-version-kind': [{ group, version, kind: `${kind}List` }],
  };
  custom.set(name, root);
  custom.set(`${name}List`, list);
  customByGVK.set(gvkKey(group, version, kind), name);
  customByGVK.set(gvkKey(group, version, `${kind}List`), `${name}List`);
  epoch++;
  return root;
}

export function unregisterCrdSchema(group: string, version: string, kind: string): void {
  const name = crdDefinitionName(group, version, kind);
  if (!custom.delete(name)) return;
  custom.delete(`${name}List`);
  customByGVK.delete(gvkKey(group, version, kind));
  customByGVK.delete(gvkKey(group, version, `${kind}List`));
  epoch++;
}
