// What Skiff knows about a kind, in one place (Kubernetes calls this a registry "strategy").
// Generic code — storage, REST handlers, tables, discovery, OpenAPI — reads a KindSpec and never
// switches on kind names. Each group/version folder under src/api/ exports its KindSpecs.
import type { KObject } from '../machinery/object.js';
import type { FieldError } from '../machinery/validation.js';

export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description?: string;
  /** 0: always shown; 1: only with -o wide. */
  priority?: number;
  /** The cell for one object. `now` is ms since epoch (for ages). */
  cell: (obj: KObject, now: number) => string | number | boolean | null;
}

export interface ScaleSpec {
  specReplicasPath: string; // e.g. "spec.replicas"
  statusReplicasPath: string; // e.g. "status.replicas"
  /** Path of the status field holding the label selector string, or of spec.selector (a LabelSelector object). */
  labelSelectorPath?: string;
}

/** Context handed to defaulting/validation hooks: facts they may need beyond the object itself. */
export interface KindContext {
  /** The operation being admitted. */
  operation: 'CREATE' | 'UPDATE';
  /** Read another object (e.g. a Service looking up its cluster range is done by admission, not here). */
}

export interface KindSpec {
  group: string; // '' for core
  version: string;
  kind: string;
  listKind?: string; // default `${kind}List`
  plural: string;
  singular: string;
  shortNames?: string[];
  categories?: string[];
  namespaced: boolean;
  /** Verbs served; default create, delete, deletecollection, get, list, patch, update, watch. */
  verbs?: string[];
  subresources?: { status?: boolean; scale?: ScaleSpec };
  /**
   * Further subresources served by dedicated handlers (pods/log, pods/eviction, pods/binding,
   * serviceaccounts/token…): listed in discovery with the kind they accept or return.
   */
  extraSubresources?: { name: string; kind: string; group?: string; version?: string; verbs: string[] }[];
  /**
   * When this version is not the one stored, the storage group/version and the conversions to and
   * from it (e.g. autoscaling/v1 HPAs are stored as autoscaling/v2). Storage keys use the storage
   * group and plural.
   */
  storedAs?: { group: string; version: string; toStorage(obj: KObject): KObject; fromStorage(obj: KObject): KObject };
  /** Preferred version of the group comes first; lower is earlier. Default 0. */
  versionPriority?: number;
  /** Fill in defaults (mutates). Runs on create and update, after the body is decoded. */
  defaults?(obj: KObject): void;
  /** Kind-specific validation; `old` is set on update (immutable-field checks). Metadata is checked generically. */
  validate?(obj: KObject, old?: KObject): FieldError[];
  /** Validation of a status update (status subresource). */
  validateStatus?(obj: KObject, old: KObject): FieldError[];
  /** Clear or copy fields on create (e.g. drop status). Default: status is reset on create when the kind has a status subresource. */
  prepareForCreate?(obj: KObject): void;
  /**
   * Whether the kind keeps metadata.generation (1 on create, +1 per spec change): workloads,
   * CRDs and custom resources do, most core kinds do not (as upstream's strategies).
   */
  generation?: boolean;
  /** Carry server-owned values from the stored object into an update before defaulting (e.g. a Service's allocated clusterIP). */
  prepareForUpdate?(obj: KObject, old: KObject): void;
  /** Columns for `kubectl get`, Name first. Default: Name, Age. */
  table?: TableColumn[];
  /** Extra field selectors beyond metadata.name/metadata.namespace: field → value getter. */
  fieldSelectors?: Record<string, (obj: KObject) => string | undefined>;
  /** Name validation; default DNS-1123 subdomain. */
  nameValidator?: (name: string) => string[];
  /**
   * Graceful deletion (Pods on a node): the grace period in seconds when DELETE should only mark the
   * object (deletionTimestamp) and let its owner finish the job, or undefined to delete at once.
   */
  gracefulDeleteSeconds?(obj: KObject, requested: number | undefined): number | undefined;
  /**
   * Kind-specific finalization beyond metadata.finalizers (Namespaces keep spec.finalizers until
   * their content is gone): `pending` says the object must stay after DELETE, `mark` records on
   * it that it is terminating (e.g. status.phase = Terminating).
   */
  finalization?: { pending(obj: KObject): boolean; mark(obj: KObject): void };
  /** Kinds with no persistent storage (reviews): the handler computes the response. */
  virtual?: boolean;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}
