// The schema-driven checks a write goes through, for built-in kinds (from the upstream type tree)
// and CRD-defined ones (from their openAPIV3Schema).
import type { KindSpec } from '../api/types.js';
import type { KObject } from '../machinery/object.js';
import type { SchemaNode, SchemaResolver } from '../machinery/schema.js';
import type { FieldError } from '../machinery/validation.js';
import { applyDefaults, dropUnknownFields, typeErrors, validateCustom } from '../api/openapi/validate.js';
import { definitionFor, registerCrdSchema, resolveRef, unregisterCrdSchema } from '../api/openapi/schemas.js';

export interface KindSchema {
  /** Built-in kinds answer type errors with 400 (decoding) and allow strategic merge patch. */
  builtin: boolean;
  schema: SchemaNode;
  resolve: SchemaResolver;
  /** Drops the fields the schema does not declare; returns every undeclared path (metadata's are kept). */
  dropUnknownFields(obj: KObject): string[];
  typeErrors(obj: KObject): FieldError[];
  applyDefaults(obj: KObject): void;
  /** Value constraints (enum, pattern, bounds…): CRDs only; built-in kinds validate in code. */
  validate(obj: KObject): FieldError[];
}

export interface SchemaSource {
  schemaFor(spec: KindSpec): KindSchema | undefined;
}

/** Schemas of CRD-defined kinds, keyed by group/version/kind, set by the CRD controller. */
export class Schemas implements SchemaSource {
  private custom = new Map<string, KindSchema>();
  private builtinCache = new Map<string, KindSchema | null>();

  schemaFor(spec: KindSpec): KindSchema | undefined {
    const key = `${spec.group}/${spec.version}/${spec.kind}`;
    const c = this.custom.get(key);
    if (c) return c;
    let b = this.builtinCache.get(key);
    if (b === undefined) {
      const def = definitionFor(spec.group, spec.version, spec.kind);
      b = def ? builtinSchema(def.schema) : null;
      this.builtinCache.set(key, b);
    }
    return b ?? undefined;
  }

  /** Publishes the CRD version's schema (OpenAPI documents included) and checks objects against it. */
  setCustom(group: string, version: string, kind: string, openAPIV3Schema: SchemaNode): void {
    // The published root adds apiVersion/kind/metadata (as ObjectMeta) around the CRD's schema.
    const schema = registerCrdSchema(group, version, kind, openAPIV3Schema);
    this.custom.set(`${group}/${version}/${kind}`, {
      builtin: false,
      schema,
      resolve: resolveRef,
      dropUnknownFields: (o) => dropUnknownFields(o, schema),
      typeErrors: () => [],
      applyDefaults: (o) => applyDefaults(o, schema),
      validate: (o) => validateCustom(o, schema),
    });
  }

  removeCustom(group: string, version: string, kind: string): void {
    this.custom.delete(`${group}/${version}/${kind}`);
    unregisterCrdSchema(group, version, kind);
  }
}

function builtinSchema(schema: SchemaNode): KindSchema {
  return {
    builtin: true,
    schema,
    resolve: resolveRef,
    dropUnknownFields: (o) => dropUnknownFields(o, schema),
    typeErrors: (o) => typeErrors(o, schema),
    applyDefaults: () => {},
    validate: () => [],
  };
}
