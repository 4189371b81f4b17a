// CustomResourceDefinitions come alive here: each served version becomes a KindSpec in the
// registry (discovery, OpenAPI and REST pick it up at once), its schema drives validation,
// pruning and defaulting, and deleting the CRD first deletes every custom object of it.
import type { KindSpec, TableColumn } from '../api/types.js';
import { humanDuration } from '../api/common/table.js';
import { StatusError } from '../machinery/errors.js';
import { compileJsonPath, evalJsonPath } from '../machinery/jsonpath.js';
import { isPlainObject, type KObject } from '../machinery/object.js';
import type { SchemaNode } from '../machinery/schema.js';
import { systemContext } from '../apiserver/context.js';
import { now, type Resources } from '../apiserver/resources.js';
import type { Schemas } from '../apiserver/schemas.js';
import { Informer } from '../client/informer.js';
import type { ApiClient } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';

const CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  schema?: { openAPIV3Schema?: SchemaNode };
  subresources?: { status?: object; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } };
  additionalPrinterColumns?: { name: string; type: string; format?: string; description?: string; priority?: number; jsonPath: string }[];
}

interface CrdSpec {
  group: string;
  scope: 'Namespaced' | 'Cluster';
  names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
  versions: CrdVersion[];
}

export class CrdController {
  private informer: Informer;
  private queue: WorkQueue;
  private registered = new Map<string, { group: string; versions: { version: string; plural: string; kind: string }[] }>();
  private ctx = systemContext('apiextensions-controller');

  private crdSpec;

  constructor(private resources: Resources, client: ApiClient, private schemas: Schemas, private log: (s: string) => void = () => {}) {
    this.crdSpec = resources.spec('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
    this.informer = new Informer(client, { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' });
    this.queue = new WorkQueue((k) => this.sync(k), 1, 50, 10_000, (k, e) => this.log(`crd ${k}: ${(e as Error).message}`));
    const enqueue = (o: KObject) => this.queue.add(o.metadata.name!);
    this.informer.on({ onAdd: enqueue, onUpdate: enqueue, onDelete: enqueue });
  }

  /** Registers every existing CRD before returning, so a restarted server serves them at once. */
  async start(): Promise<void> {
    await this.informer.start();
    for (const crd of this.informer.list()) if (!crd.metadata.deletionTimestamp) this.register(crd);
  }

  stop(): void {
    this.informer.stop();
    this.queue.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async sync(name: string): Promise<void> {
    const crd = this.informer.get(undefined, name);
    if (!crd) {
      this.unregister(name);
      return;
    }
    if (crd.metadata.deletionTimestamp) return this.teardown(crd);
    if (!(crd.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER)) {
      const updated = structuredClone(crd);
      updated.metadata.finalizers = [...(crd.metadata.finalizers ?? []), CLEANUP_FINALIZER];
      await this.write(() => this.resources.update(this.crdSpec, undefined, name, updated, this.ctx));
      return; // the update comes back through the informer
    }
    this.register(crd);
    await this.writeStatus(crd);
  }

  private async write(fn: () => Promise<unknown>) {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof StatusError && (e.code === 404 || e.code === 409))) throw e;
    }
  }

  private register(crd: KObject): void {
    const s = crd.spec as CrdSpec;
    if (!s || !Array.isArray(s.versions)) return;
    const storage = s.versions.find((v) => v.storage) ?? s.versions[0];
    this.unregister(crd.metadata.name!);
    const served = s.versions.filter((v) => v.served);
    served.forEach((v, i) => {
      const spec: KindSpec = {
        group: s.group,
        version: v.name,
        kind: s.names.kind,
        listKind: s.names.listKind ?? `${s.names.kind}List`,
        plural: s.names.plural,
        singular: s.names.singular ?? s.names.kind.toLowerCase(),
        shortNames: s.names.shortNames,
        categories: s.names.categories,
        namespaced: s.scope !== 'Cluster',
        generation: true,
        versionPriority: i,
        subresources: {
          status: !!v.subresources?.status,
          scale: v.subresources?.scale
            ? {
                specReplicasPath: stripDot(v.subresources.scale.specReplicasPath),
                statusReplicasPath: stripDot(v.subresources.scale.statusReplicasPath),
                labelSelectorPath: v.subresources.scale.labelSelectorPath ? stripDot(v.subresources.scale.labelSelectorPath) : undefined,
              }
            : undefined,
        },
        table: printerColumns(v),
      };
      if (v.name !== storage.name) {
        const storageVersion = `${s.group}/${storage.name}`;
        // conversion strategy None: versions differ only in apiVersion.
        spec.storedAs = {
          group: s.group,
          version: storage.name,
          toStorage: (o) => ({ ...o, apiVersion: storageVersion }),
          fromStorage: (o) => o,
        };
      }
      const schema = v.schema?.openAPIV3Schema;
      if (schema) this.schemas.setCustom(s.group, v.name, s.names.kind, schema);
      this.resources.registry.add(spec);
    });
    this.registered.set(crd.metadata.name!, {
      group: s.group,
      versions: served.map((v) => ({ version: v.name, plural: s.names.plural, kind: s.names.kind })),
    });
  }

  private unregister(name: string): void {
    const r = this.registered.get(name);
    if (!r) return;
    for (const v of r.versions) {
      this.resources.registry.remove(r.group, v.version, v.plural);
      this.schemas.removeCustom(r.group, v.version, v.kind);
    }
    this.registered.delete(name);
  }

  private async writeStatus(crd: KObject) {
    const s = crd.spec as CrdSpec;
    const status = (isPlainObject(crd.status) ? crd.status : {}) as Record<string, unknown>;
    const conditions = (Array.isArray(status.conditions) ? status.conditions : []) as { type: string; status: string }[];
    const established = conditions.some((c) => c.type === 'Established' && c.status === 'True');
    const storage = (s.versions.find((v) => v.storage) ?? s.versions[0]).name;
    const stored = Array.isArray(status.storedVersions) ? (status.storedVersions as string[]) : [];
    if (established && stored.includes(storage)) return;
    const t = now();
    const updated = structuredClone(crd);
    updated.status = {
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: t },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: t },
      ],
      acceptedNames: { ...s.names, singular: s.names.singular ?? s.names.kind.toLowerCase(), listKind: s.names.listKind ?? `${s.names.kind}List` },
      storedVersions: [...new Set([...stored, storage])],
    };
    await this.write(() => this.resources.update(this.crdSpec, undefined, crd.metadata.name!, updated, this.ctx, 'status'));
  }

  /** Delete every custom object, then let the CRD go. */
  private async teardown(crd: KObject) {
    const s = crd.spec as CrdSpec;
    const storage = (s.versions.find((v) => v.storage) ?? s.versions[0]).name;
    const spec = this.resources.registry.lookup(s.group, storage, s.names.plural);
    if (spec) {
      const { items } = await this.resources.list(spec, undefined);
      for (const o of items)
        await this.write(() => this.resources.delete(spec, o.metadata.namespace, o.metadata.name!, { propagationPolicy: 'Background' }, this.ctx));
      if ((await this.resources.list(spec, undefined, { limit: 1 })).items.length) {
        this.queue.addAfter(crd.metadata.name!, 500);
        return;
      }
    }
    this.unregister(crd.metadata.name!);
    const updated = structuredClone(crd);
    updated.metadata.finalizers = (crd.metadata.finalizers ?? []).filter((f) => f !== CLEANUP_FINALIZER);
    await this.write(() => this.resources.update(this.crdSpec, undefined, crd.metadata.name!, updated, this.ctx));
  }
}

function stripDot(p: string): string {
  return p.replace(/^\./, '');
}

/** additionalPrinterColumns → table columns; Name first, Age when none are declared (upstream). */
function printerColumns(v: CrdVersion): TableColumn[] | undefined {
  const cols = v.additionalPrinterColumns;
  if (!cols || !cols.length) return undefined;
  const out: TableColumn[] = [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', cell: (o) => o.metadata.name ?? '' },
  ];
  for (const c of cols) {
    let steps: ReturnType<typeof compileJsonPath> | undefined;
    try {
      steps = compileJsonPath(c.jsonPath);
    } catch {
      steps = undefined;
    }
    const type = (['string', 'integer', 'number', 'boolean', 'date'] as const).find((t) => t === c.type) ?? 'string';
    out.push({
      name: c.name,
      type,
      format: c.format,
      description: c.description,
      priority: c.priority ?? 0,
      cell: (o, nowMs) => {
        if (!steps) return '<invalid>';
        const found = evalJsonPath(steps, o);
        if (!found.length) return null;
        const x = found[0];
        if (type === 'date' && typeof x === 'string') {
          const t = Date.parse(x);
          return Number.isNaN(t) ? x : humanDuration(nowMs - t);
        }
        if (isPlainObject(x) || Array.isArray(x)) return JSON.stringify(x);
        return x as string | number | boolean;
      },
    });
  }
  return out;
}
