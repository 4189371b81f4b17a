// The seed's workshop manifests (/work/shared/workshop, see its README) through the real kubectl:
// every document of a current built-in apiVersion/kind is really created, the documented-invalid
// ones (README section 6) are rejected with kubectl's usual messages, and documents of removed
// API versions (README section 9) fail with `no matches for kind ... in version ...`. Kinds the
// cluster does not know (Istio, Tekton, Cilium, Knative, kind configs, JWKS json, audit policy…)
// are skipped; the prometheus-operator custom resources are applied once the workshop's own
// CustomResourceDefinitions are established.
//
// Isolation and speed: every file gets its own namespace (ws-NNN), so the many workshop files that
// reuse one name in one namespace (variants of the same Deployment, Pod…) are all created rather
// than applied as updates of each other; a namespaced document that names a namespace N goes to
// ws-NNN-N. The target namespace is written into each namespaced document (the only edit; the
// `yaml` package re-serialises it) so that one `kubectl apply` takes a whole folder. Documents
// without namespaced objects (Namespaces, PersistentVolumes, StorageClasses, ClusterRoles, CRDs…)
// are sent byte for byte; only Namespaces recur across files.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO, TestCluster } from './harness.js';

const ROOT = path.resolve(REPO, '../shared/workshop');

/** Built-in group/versions a 1.32 API server serves by default (GA). */
const CURRENT = new Set([
  'v1',
  'apps/v1',
  'batch/v1',
  'autoscaling/v1',
  'autoscaling/v2',
  'networking.k8s.io/v1',
  'policy/v1',
  'rbac.authorization.k8s.io/v1',
  'storage.k8s.io/v1',
  'scheduling.k8s.io/v1',
  'coordination.k8s.io/v1',
  'discovery.k8s.io/v1',
  'events.k8s.io/v1',
  'node.k8s.io/v1',
  'certificates.k8s.io/v1',
  'admissionregistration.k8s.io/v1',
  'flowcontrol.apiserver.k8s.io/v1',
  'apiextensions.k8s.io/v1',
  'apiregistration.k8s.io/v1',
  // Removed upstream in 1.20, but Skiff serves PodPreset because the seed's slide 76 teaches it.
  'settings.k8s.io/v1alpha1',
]);

/** Built-in group/versions that Kubernetes used to serve and 1.32 no longer does. */
const REMOVED = new Set([
  'extensions/v1beta1',
  'apps/v1beta1',
  'apps/v1beta2',
  'batch/v1beta1',
  'batch/v2alpha1',
  'autoscaling/v2beta1',
  'autoscaling/v2beta2',
  'policy/v1beta1',
  'rbac.authorization.k8s.io/v1alpha1',
  'rbac.authorization.k8s.io/v1beta1',
  'networking.k8s.io/v1beta1',
  'scheduling.k8s.io/v1beta1',
  'apiextensions.k8s.io/v1beta1',
  'apiregistration.k8s.io/v1beta1',
  'coordination.k8s.io/v1beta1',
  'discovery.k8s.io/v1beta1',
  'events.k8s.io/v1beta1',
  'node.k8s.io/v1beta1',
  'certificates.k8s.io/v1beta1',
]);

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'APIService',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
  'CertificateSigningRequest',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'FlowSchema',
  'PriorityLevelConfiguration',
]);

type Obj = { apiVersion?: unknown; kind?: unknown; metadata?: Record<string, unknown>; items?: unknown[]; [k: string]: unknown };

/** README section 6: documents the API server must reject, with kubectl's message. */
const DOCUMENTED_INVALID: { kind: string; name: string; when?: (o: Obj) => boolean; expect: RegExp }[] = [
  {
    kind: 'Secret',
    name: 'Example-secret',
    expect: /^The Secret "Example-secret" is invalid: metadata\.name: Invalid value: "Example-secret": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '\.', and must start and end with an alphanumeric character/m,
  },
  {
    kind: 'Service',
    name: 'externalName-service',
    expect: /^The Service "externalName-service" is invalid: metadata\.name: Invalid value: "externalName-service": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character/m,
  },
  {
    // istio-injection written directly under metadata: rejected by strict field validation
    // (a create, or a patch when k8s-workshop's own lambda Namespace already exists).
    kind: 'Namespace',
    name: 'lambda',
    when: (o) => o.metadata !== undefined && 'istio-injection' in o.metadata,
    expect: /^Error from server \(BadRequest\): error when (creating|applying patch)[\s\S]*strict decoding error: unknown field "metadata\.istio-injection"/m,
  },
  {
    // Section 6 lists the class typo `sc-gce-pd-disk-` as a claim that "stays Pending"; upstream
    // never stores it: ValidatePersistentVolumeClaimSpec checks storageClassName with
    // ValidateClassName (a DNS subdomain, so no trailing '-').
    kind: 'PersistentVolumeClaim',
    name: 'pvc-gce-pd-rwo-3gb-disk-tc1',
    expect: /^The PersistentVolumeClaim "pvc-gce-pd-rwo-3gb-disk-tc1" is invalid: spec\.storageClassName: Invalid value: "sc-gce-pd-disk-": a lowercase RFC 1123 subdomain must consist of/m,
  },
];

type Cls = 'accepted' | 'invalid' | 'removed' | 'custom' | 'skipped';

interface WDoc {
  rel: string;
  index: number;
  /** The document's own source text. */
  text: string;
  obj: Obj;
  cls: Cls;
  why: string;
  expect?: RegExp;
}

interface WFile {
  rel: string;
  ns: string;
  docs: WDoc[];
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (!/\.md$/i.test(name)) out.push(p);
  }
  return out;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');
/** The objects a document stands for: a *List's items, else the document itself. */
const objectsOf = (o: Obj): Obj[] => (str(o.kind).endsWith('List') && Array.isArray(o.items) ? (o.items as Obj[]) : [o]);

// ---- load and classify (no cluster needed) -------------------------------------------------

const parseErrors: string[] = [];
const files: WFile[] = [];
const crds = new Map<string, { scope: string; name: string }>(); // "group/version Kind" -> scope, CRD name

const loaded: { rel: string; docs: { text: string; obj: Obj | null }[] }[] = [];
for (const file of walk(ROOT)) {
  const rel = path.relative(ROOT, file);
  const source = readFileSync(file, 'utf8');
  const docs: { text: string; obj: Obj | null }[] = [];
  for (const d of YAML.parseAllDocuments(source)) {
    if (d.errors.length > 0) {
      parseErrors.push(`${rel}: ${d.errors.map((e) => e.message).join('; ')}`);
      continue;
    }
    const v = d.toJS() as unknown;
    const text = source.slice(d.range[0], d.range[2]);
    docs.push({ text, obj: v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null });
    if (v && (v as Obj).apiVersion === 'apiextensions.k8s.io/v1' && (v as Obj).kind === 'CustomResourceDefinition') {
      const spec = (v as { spec: { group: string; scope: string; names: { kind: string }; versions: { name: string }[] } }).spec;
      for (const ver of spec.versions) crds.set(`${spec.group}/${ver.name} ${spec.names.kind}`, { scope: spec.scope, name: str((v as Obj).metadata?.name) });
    }
  }
  loaded.push({ rel, docs });
}

const invalidSeen = new Map<string, number>();
for (const [i, f] of loaded.entries()) {
  const wf: WFile = { rel: f.rel, ns: `ws-${String(i).padStart(3, '0')}`, docs: [] };
  for (const [index, { text, obj }] of f.docs.entries()) {
    if (obj === null) continue; // empty document (or a bare scalar): nothing to apply
    const av = str(obj.apiVersion);
    const kind = str(obj.kind);
    const doc: WDoc = { rel: f.rel, index, text, obj, cls: 'skipped', why: `${av || '<no apiVersion>'} ${kind || '<no kind>'}` };
    if (!av || !kind) doc.why = 'not an object (no apiVersion/kind)';
    else if (CURRENT.has(av)) {
      const bad = DOCUMENTED_INVALID.find((x) => x.kind === kind && x.name === str(obj.metadata?.name) && (x.when?.(obj) ?? true));
      if (bad) {
        doc.cls = 'invalid';
        doc.expect = bad.expect;
        invalidSeen.set(`${bad.kind}/${bad.name}`, (invalidSeen.get(`${bad.kind}/${bad.name}`) ?? 0) + 1);
      } else doc.cls = 'accepted';
    } else if (REMOVED.has(av)) doc.cls = 'removed';
    else if (crds.has(`${av} ${kind}`)) doc.cls = 'custom';
    wf.docs.push(doc);
  }
  if (wf.docs.length > 0) files.push(wf);
}

const all = files.flatMap((f) => f.docs);
const byClass = (cls: Cls) => all.filter((d) => d.cls === cls);

function scopeOf(o: Obj): 'Cluster' | 'Namespaced' {
  const crd = crds.get(`${str(o.apiVersion)} ${str(o.kind)}`);
  if (crd) return crd.scope === 'Cluster' ? 'Cluster' : 'Namespaced';
  return CLUSTER_SCOPED.has(str(o.kind)) ? 'Cluster' : 'Namespaced';
}

/** Where a namespaced object of this file goes. */
function targetNamespace(f: WFile, o: Obj): string {
  const own = str(o.metadata?.namespace);
  return own ? `${f.ns}-${own}`.slice(0, 63).replace(/-+$/, '') : f.ns;
}

/** kubectl's name for an object's resource type: kind.group (lower case). */
function resourceOf(o: Obj): string {
  const g = groupOf(str(o.apiVersion));
  return `${str(o.kind).toLowerCase()}${g ? `.${g}` : ''}`;
}

/** kubectl's `apply` output name for an object: kind.group/name. */
const printedName = (o: Obj) => `${resourceOf(o)}/${str(o.metadata?.name)}`;

/**
 * A document as sent to kubectl: byte for byte when it holds no namespaced object; otherwise its
 * namespaced objects get their target namespace written in (so that the documents of many files
 * can go in one `kubectl apply`, without `-n`).
 */
function render(f: WFile, d: WDoc): string {
  if (!objectsOf(d.obj).some((o) => scopeOf(o) === 'Namespaced')) return d.text;
  const doc = YAML.parseDocument(d.text);
  const place = (o: Obj, at: (string | number)[]) => {
    if (scopeOf(o) === 'Namespaced') doc.setIn([...at, 'metadata', 'namespace'], targetNamespace(f, o));
  };
  if (str(d.obj.kind).endsWith('List') && Array.isArray(d.obj.items)) d.obj.items.forEach((o, i) => place(o as Obj, ['items', i]));
  else place(d.obj, []);
  return doc.toString();
}

/** Every namespace the accepted, custom and invalid documents go to. */
function namespacesNeeded(): string[] {
  const out = new Set<string>();
  for (const f of files)
    for (const d of f.docs)
      if (d.cls === 'accepted' || d.cls === 'custom' || d.cls === 'invalid')
        for (const o of objectsOf(d.obj)) if (scopeOf(o) === 'Namespaced') out.add(targetNamespace(f, o));
  return [...out].sort();
}

const key = (kind: string, ns: string, name: string) => `${kind}/${ns}/${name}`;

interface Applied {
  /** kubectl's result per folder. */
  byFolder: Map<string, { args: string[]; code: number; stdout: string; stderr: string }>;
  /** kind/namespace/name of every object of those kinds the server lists afterwards. */
  stored: Set<string>;
  items: Obj[];
  /** Resource types kubectl could not list, with its error. */
  unlisted: Map<string, string>;
}

/**
 * Applies the documents of one class folder by folder (one `kubectl apply` per folder, a few at a
 * time; folders with Namespace documents one after the other, as the same Namespace recurs across
 * folders), then lists every resource type involved with `kubectl get -A`.
 */
async function applyByFolder(cls: Cls): Promise<Applied> {
  const folders = new Map<string, { f: WFile; d: WDoc }[]>();
  for (const f of files)
    for (const d of f.docs)
      if (d.cls === cls) {
        const dir = path.dirname(f.rel);
        if (!folders.has(dir)) folders.set(dir, []);
        folders.get(dir)!.push({ f, d });
      }
  const byFolder: Applied['byFolder'] = new Map();
  const run = async (dir: string, docs: { f: WFile; d: WDoc }[]) => {
    const args = ['apply', '-f', '-'];
    const r = await c.kubectl(args, { input: docs.map(({ f, d }) => render(f, d)).join('\n---\n'), timeoutMs: 120_000 });
    byFolder.set(dir, { args, ...r });
  };
  const withNs = [...folders].filter(([, docs]) => docs.some(({ d }) => objectsOf(d.obj).some((o) => o.kind === 'Namespace')));
  const others = [...folders].filter(([dir]) => !withNs.some(([x]) => x === dir));
  const pool = async () => {
    for (let e = others.shift(); e; e = others.shift()) await run(...e);
  };
  await Promise.all([
    (async () => {
      for (const e of withNs) await run(...e);
    })(),
    pool(),
    pool(),
    pool(),
  ]);
  // List every resource type involved, one `kubectl get -A` per type (an unserved type fails alone).
  const types = new Set<string>();
  for (const [, docs] of folders)
    for (const { d } of docs) for (const o of objectsOf(d.obj)) types.add(resourceOf(o));
  const items: Obj[] = [];
  const unlisted = new Map<string, string>();
  const queue = [...types].sort();
  const lister = async () => {
    for (let type = queue.shift(); type; type = queue.shift()) {
      const r = await c.kubectl(['get', type, '-A', '-o', 'json'], { timeoutMs: 120_000 });
      if (r.code === 0) items.push(...((JSON.parse(r.stdout) as { items?: Obj[] }).items ?? []));
      else unlisted.set(type, r.stderr.trim());
    }
  };
  await Promise.all([lister(), lister(), lister()]);
  const stored = new Set(items.map((o) => key(str(o.kind), str(o.metadata?.namespace), str(o.metadata?.name))));
  return { byFolder, stored, items, unlisted };
}

/** Every object of a file's documents of this class was created (or, for Namespaces, applied). */
function assertFileApplied(applied: Applied, f: WFile, cls: Cls): void {
  const r = applied.byFolder.get(path.dirname(f.rel))!;
  const lines = r.stdout.split('\n');
  const problems: string[] = [];
  for (const d of f.docs.filter((x) => x.cls === cls))
    for (const o of objectsOf(d.obj)) {
      const name = printedName(o);
      const ns = scopeOf(o) === 'Namespaced' ? targetNamespace(f, o) : '';
      // Cluster-scoped objects may already exist (the namespaces, roles the cluster ships such as
      // metrics-server's system:aggregated-metrics-reader): configured is as good as created.
      const verb = scopeOf(o) !== 'Namespaced' ? /^(created|configured|unchanged)$/ : /^created$/;
      const reported = lines.some((l) => l.startsWith(`${name} `) && verb.test(l.slice(name.length + 1)));
      const stored = applied.stored.has(key(str(o.kind), ns, str(o.metadata?.name)));
      if (!reported || !stored)
        problems.push(
          `document #${d.index}: ${str(o.apiVersion)} ${str(o.kind)} "${str(o.metadata?.name)}"${ns ? ` in ${ns}` : ''}: ` +
            `${reported ? 'reported' : 'not reported'} as applied, ${stored ? 'stored' : `not stored${applied.unlisted.has(resourceOf(o)) ? ` (kubectl get: ${applied.unlisted.get(resourceOf(o))})` : ''}`}`,
        );
    }
  assert.deepEqual(problems, [], `${f.rel}: kubectl ${r.args.join(' ')} for its folder exited ${r.code}; its stderr:\n${r.stderr}`);
}

// ---- the tests -------------------------------------------------------------------------------

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('workshop');
  const list = { apiVersion: 'v1', kind: 'List', items: namespacesNeeded().map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })) };
  await c.k(['apply', '-f', '-'], { input: JSON.stringify(list) });
});
after(async () => {
  await c?.destroy();
});

describe('workshop manifests: inventory', () => {
  it('parses every file (multi-document YAML, empty documents, TAB-ended values, \\e escapes, JSON)', (t) => {
    assert.deepEqual(parseErrors, []);
    const counts = Object.fromEntries((['accepted', 'invalid', 'removed', 'custom', 'skipped'] as Cls[]).map((k) => [k, byClass(k).length]));
    t.diagnostic(`files ${loaded.length}, documents ${all.length}: ${JSON.stringify(counts)}`);
    const kinds = (cls: Cls) => {
      const m = new Map<string, number>();
      for (const d of byClass(cls)) m.set(d.why, (m.get(d.why) ?? 0) + 1);
      return [...m].sort().map(([k, n]) => `${k} ×${n}`).join(', ');
    };
    for (const cls of ['accepted', 'removed', 'custom', 'skipped'] as Cls[]) t.diagnostic(`${cls}: ${kinds(cls)}`);
    // Every documented-invalid document is in the material, each once.
    assert.deepEqual([...invalidSeen].sort(), DOCUMENTED_INVALID.map((x) => [`${x.kind}/${x.name}`, 1]).sort());
    assert.ok(byClass('accepted').length > 200, 'hundreds of current built-in documents');
    assert.ok(byClass('removed').length > 50, 'the removed API versions of README section 9');
    assert.ok(byClass('custom').length > 0, 'prometheus-operator custom resources');
    // The JWKS documents and the patch body are not objects; Istio/Tekton/kind… are unknown kinds.
    assert.ok(byClass('skipped').some((d) => d.why.startsWith('not an object')));
  });
});

describe('workshop manifests: current built-in apiVersions are created', () => {
  let applied: Promise<Applied> | undefined;
  for (const f of files) {
    const n = f.docs.filter((d) => d.cls === 'accepted').length;
    if (n > 0) it(`${f.rel} (${n})`, async () => assertFileApplied(await (applied ??= applyByFolder('accepted')), f, 'accepted'));
  }
  it('clears the namespace of cluster-scoped objects (mysql-pv.yaml, storage-gke.yml)', async (t) => {
    const { items } = await (applied ??= applyByFolder('accepted'));
    t.diagnostic(`${items.length} objects stored`);
    for (const name of ['mysql-pv-volume', 'sc-gce-pd-disk']) {
      const o = items.find((x) => x.metadata?.name === name && CLUSTER_SCOPED.has(str(x.kind)));
      if (o) assert.equal(o.metadata?.namespace, undefined, name);
    }
    for (const o of items) if (CLUSTER_SCOPED.has(str(o.kind))) assert.equal(o.metadata?.namespace, undefined, `${str(o.kind)}/${str(o.metadata?.name)}`);
  });
});

describe('workshop manifests: documented-invalid documents are rejected', { concurrency: 3 }, () => {
  for (const f of files)
    for (const d of f.docs.filter((x) => x.cls === 'invalid'))
      it(`${f.rel} #${d.index} ${str(d.obj.kind)} ${str(d.obj.metadata?.name)}`, async () => {
        const r = await c.kubectl(['apply', '-f', '-'], { input: render(f, d) });
        assert.equal(r.code, 1, `expected a rejection:\n${r.stdout}${r.stderr}`);
        assert.match(r.stderr, d.expect!);
        if (d.obj.kind !== 'Namespace') {
          const got = await c.kubectl(['get', str(d.obj.kind), str(d.obj.metadata?.name), '-n', targetNamespace(f, d.obj), '-o', 'name']);
          assert.match(got.stderr, /NotFound/, 'nothing is stored');
        }
      });

  it('secrets_stringdata.yml with a valid name: stringData wins over data', async () => {
    const d = byClass('invalid').find((x) => x.obj.kind === 'Secret')!;
    const f = files.find((x) => x.rel === d.rel)!;
    const fixed = d.text.replace('name: Example-secret', 'name: example-secret');
    assert.match(await c.k(['apply', '-f', '-', '-n', f.ns], { input: fixed }), /^secret\/example-secret created$/m);
    const s = JSON.parse(await c.k(['get', 'secret', 'example-secret', '-n', f.ns, '-o', 'json']));
    assert.equal(Buffer.from(s.data.username, 'base64').toString(), 'administrator');
    assert.equal(s.stringData, undefined);
  });
});

describe('workshop manifests: removed apiVersions give "no matches for kind"', () => {
  // kubectl resolves every document's kind before sending anything and reports each one it cannot
  // map, so one invocation with all of them answers for every file.
  let removed: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
  for (const f of files) {
    const docs = f.docs.filter((d) => d.cls === 'removed');
    if (docs.length === 0) continue;
    it(`${f.rel} (${docs.length})`, async () => {
      const r = await (removed ??= c.kubectl(['apply', '-f', '-'], { input: byClass('removed').map((d) => d.text).join('\n---\n') }));
      assert.equal(r.code, 1);
      for (const d of docs) {
        const av = str(d.obj.apiVersion).replace(/\./g, '\\.');
        const re = new RegExp(`resource mapping not found for name: "${str(d.obj.metadata?.name)}" namespace: "[^"]*" from "STDIN": no matches for kind "${str(d.obj.kind)}" in version "${av}"`);
        assert.match(r.stderr, re);
      }
      assert.equal(r.stdout.trim(), '', 'nothing applied');
    });
  }
});

describe('workshop manifests: custom resources of the workshop CRDs', () => {
  let applied: Promise<Applied> | undefined;
  before(async () => {
    const names = [...new Set([...crds.values()].map((x) => x.name))];
    await c.k(['wait', '--for', 'condition=Established', '--timeout', '60s', ...names.map((n) => `crd/${n}`)]);
  });
  for (const f of files) {
    const n = f.docs.filter((d) => d.cls === 'custom').length;
    if (n > 0) it(`${f.rel} (${n})`, async () => assertFileApplied(await (applied ??= applyByFolder('custom')), f, 'custom'));
  }
});
