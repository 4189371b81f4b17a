// The seed's workshop manifests that use API versions Kubernetes no longer serves, moved to their
// current versions the way the workshop README's section 9 describes (apps/v1beta2 → apps/v1 with
// an explicit selector, extensions/v1beta1 Ingress → networking.k8s.io/v1, batch/v1beta1 →
// batch/v1, autoscaling/v2beta2 → v2, policy/v1beta1 → v1, rbac v1beta1 → v1): the server accepts
// them (server-side dry run, so dozens of workshop apps do not all start at once), except the ones
// the README documents as invalid.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { SHARED, TestCluster } from './harness.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const MOVES: Record<string, string> = {
  'apps/v1beta1': 'apps/v1',
  'apps/v1beta2': 'apps/v1',
  'batch/v1beta1': 'batch/v1',
  'autoscaling/v2beta2': 'autoscaling/v2',
  'policy/v1beta1': 'policy/v1',
  'rbac.authorization.k8s.io/v1beta1': 'rbac.authorization.k8s.io/v1',
};
const WORKLOADS = new Set(['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet']);
/** README section 6: invalid under the current schema whatever the version. */
const DOCUMENTED_INVALID = new Set(['auto-scaling-ex-2.yaml']);

function convert(o: Obj): Obj | undefined {
  const av = String(o.apiVersion ?? '');
  if (av === 'extensions/v1beta1' && WORKLOADS.has(o.kind)) o.apiVersion = 'apps/v1';
  else if (av === 'extensions/v1beta1' && o.kind === 'Ingress') return convertIngress(o);
  else if (MOVES[av]) o.apiVersion = MOVES[av];
  else return undefined;
  // apps/v1 requires the selector the old versions defaulted from the template's labels.
  if (WORKLOADS.has(o.kind) && o.spec && !o.spec.selector) o.spec.selector = { matchLabels: o.spec.template?.metadata?.labels ?? {} };
  if (o.kind === 'HorizontalPodAutoscaler' && o.spec?.scaleTargetRef?.apiVersion) o.spec.scaleTargetRef.apiVersion = 'apps/v1';
  return o;
}

function backend(b: Obj | undefined): Obj | undefined {
  if (!b) return undefined;
  const port = b.servicePort;
  return { service: { name: b.serviceName, port: typeof port === 'number' ? { number: port } : /^\d+$/.test(String(port)) ? { number: Number(port) } : { name: port } } };
}

function convertIngress(o: Obj): Obj {
  o.apiVersion = 'networking.k8s.io/v1';
  const spec = o.spec ?? {};
  if (spec.backend) {
    spec.defaultBackend = backend(spec.backend);
    delete spec.backend;
  }
  for (const r of spec.rules ?? [])
    for (const p of r.http?.paths ?? []) {
      p.backend = backend(p.backend);
      p.pathType ??= 'ImplementationSpecific';
      p.path ??= '/';
    }
  // The class annotation became a field (README section 9); Skiff's IngressClass is the default.
  if (o.metadata?.annotations) delete o.metadata.annotations['kubernetes.io/ingress.class'];
  return o;
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

interface Doc {
  file: string;
  obj: Obj;
}

function removedVersionDocs(): Doc[] {
  const root = path.join(SHARED, 'workshop');
  const docs: Doc[] = [];
  for (const file of yamlFiles(root)) {
    let parsed: YAML.Document[];
    try {
      parsed = YAML.parseAllDocuments(readFileSync(file, 'utf8'));
    } catch {
      continue;
    }
    for (const d of parsed) {
      const obj = d.toJS() as Obj | null;
      if (!obj || typeof obj !== 'object' || !obj.kind || !obj.metadata?.name) continue;
      const converted = convert(structuredClone(obj));
      if (converted) docs.push({ file: path.relative(root, file), obj: converted });
    }
  }
  return docs;
}

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('converted');
});
after(async () => {
  await c?.destroy();
});

describe('workshop manifests moved off removed API versions', () => {
  it('are accepted by the server once converted (server-side dry run)', async () => {
    const docs = removedVersionDocs();
    assert.ok(docs.length > 40, `found ${docs.length} documents with removed API versions`);
    const namespaces = new Set(docs.map((d) => d.obj.metadata.namespace).filter(Boolean));
    for (const ns of namespaces) await c.kubectl(['create', 'namespace', ns]);
    const problems: string[] = [];
    let accepted = 0;
    for (const d of docs) {
      const r = await c.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: JSON.stringify(d.obj) });
      const invalid = DOCUMENTED_INVALID.has(path.basename(d.file));
      if (invalid) {
        if (r.code === 0) problems.push(`${d.file}: ${d.obj.kind} ${d.obj.metadata.name} was accepted but is documented as invalid`);
      } else if (r.code !== 0) problems.push(`${d.file}: ${d.obj.kind} ${d.obj.metadata.name}: ${r.stderr.trim()}`);
      else accepted++;
    }
    assert.deepEqual(problems, []);
    assert.ok(accepted > 40);
  });
});
