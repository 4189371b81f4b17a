// The seed's kubectl basics (slides 59–67 and 134–138) with the real kubectl 1.32 against a
// cluster made by `bin/skiff create cluster`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SHARED, TestCluster, eventually } from './harness.js';

const WORKSHOP = path.join(SHARED, 'workshop/k8s-workshop/kind');

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('basics');
});
after(async () => {
  await c?.destroy();
});

function manifest(name: string, text: string): string {
  const p = path.join(c.home, name);
  writeFileSync(p, text);
  return p;
}

const DEPLOY = (image: string, replicas = 2, extra = '') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: { app: web, tier: front }
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
      - name: main
        image: ${image}
        ports:
        - containerPort: 8080
        env:
        - { name: A, value: "1" }
${extra}`;

describe('cluster basics', () => {
  it('serves version, cluster-info, the system namespaces and api-resources with short names', async () => {
    const v = await c.k(['version', '-o', 'json']);
    assert.equal(JSON.parse(v).serverVersion.minor, '32');
    const ns = await c.k(['get', 'namespaces']);
    for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) assert.match(ns, new RegExp(`^${n}\\s+Active`, 'm'));
    assert.match(ns, /^NAME\s+STATUS\s+AGE/m);
    const res = await c.k(['api-resources']);
    for (const [name, short] of [
      ['pods', 'po'],
      ['services', 'svc'],
      ['deployments', 'deploy'],
      ['replicasets', 'rs'],
      ['namespaces', 'ns'],
      ['configmaps', 'cm'],
      ['horizontalpodautoscalers', 'hpa'],
      ['customresourcedefinitions', 'crd,crds'],
    ])
      assert.match(res, new RegExp(`^${name}\\s+${short}\\s`, 'm'), `${name} with short names ${short}`);
    const namespaced = await c.k(['api-resources', '--namespaced=false', '-o', 'name']);
    assert.match(namespaced, /^namespaces$/m);
    assert.doesNotMatch(namespaced, /^pods$/m);
    const info = await c.k(['cluster-info']);
    assert.match(info, /Kubernetes control plane is running at https:\/\/127\.0\.0\.1:\d+/);
  });

  it('creates, describes, applies and deletes a namespace from a file', async () => {
    const f = manifest('ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: omega\n  labels: { team: a }\n');
    assert.match(await c.k(['create', '-f', f]), /namespace\/omega created/);
    assert.match(await c.k(['apply', '-f', f]), /namespace\/omega (configured|unchanged)/);
    const d = await c.k(['describe', 'ns', 'omega']);
    assert.match(d, /Name:\s+omega/);
    assert.match(d, /Status:\s+Active/);
    const dup = await c.kubectl(['create', '-f', f]);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /AlreadyExists.*namespaces "omega" already exists/);
  });

  it('applies a Deployment twice: created, then unchanged, then configured', async () => {
    const f = manifest('deploy.yaml', DEPLOY('nginx:1.25'));
    assert.match(await c.k(['apply', '-f', f]), /deployment.apps\/web created/);
    assert.match(await c.k(['apply', '-f', f]), /deployment.apps\/web unchanged/);
    manifest('deploy.yaml', DEPLOY('nginx:1.26', 3));
    assert.match(await c.k(['apply', '-f', f]), /deployment.apps\/web configured/);
    const obj = JSON.parse(await c.k(['get', 'deploy', 'web', '-o', 'json']));
    assert.equal(obj.spec.replicas, 3);
    assert.equal(obj.spec.template.spec.containers[0].image, 'nginx:1.26');
    // Upstream defaults are filled in.
    assert.equal(obj.spec.strategy.type, 'RollingUpdate');
    assert.equal(obj.spec.strategy.rollingUpdate.maxSurge, '25%');
    assert.equal(obj.spec.revisionHistoryLimit, 10);
    assert.equal(obj.spec.template.spec.containers[0].imagePullPolicy, 'IfNotPresent');
    assert.equal(obj.spec.template.spec.containers[0].ports[0].protocol, 'TCP');
    assert.equal(obj.metadata.generation, 2);
  });

  it('prints tables with upstream columns, wide columns, labels and names', async () => {
    const out = await c.k(['get', 'deployments']);
    assert.match(out, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
    assert.match(out, /^web\s+/m);
    const wide = await c.k(['get', 'deploy', '-o', 'wide']);
    assert.match(wide, /CONTAINERS\s+IMAGES\s+SELECTOR/);
    assert.match(wide, /main\s+nginx:1\.26\s+app=web/);
    const labels = await c.k(['get', 'deploy', '--show-labels']);
    assert.match(labels, /app=web,tier=front/);
    assert.equal((await c.k(['get', 'deploy', '-o', 'name'])).trim(), 'deployment.apps/web');
    const jp = await c.k(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[0].name}']);
    assert.equal(jp, 'main');
    const yaml = await c.k(['get', 'deploy', 'web', '-o', 'yaml']);
    assert.match(yaml, /^kind: Deployment$/m);
    const all = await c.k(['get', 'svc', '-A']);
    assert.match(all, /^NAMESPACE\s+NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/m);
    assert.match(all, /^default\s+kubernetes\s+ClusterIP\s+127\.\d+\.\d+\.\d+\s+<none>\s+443\/TCP/m);
  });

  it('labels, annotates and selects with -l and --field-selector (=, ==, != and chained)', async () => {
    for (const name of ['a', 'b', 'c'])
      await c.k(['create', 'configmap', `cm-${name}`, `--from-literal=k=${name}`]);
    await c.k(['label', 'configmap', 'cm-a', 'env=prod']);
    await c.k(['label', 'configmap', 'cm-b', 'env=dev']);
    await c.k(['annotate', 'configmap', 'cm-a', 'owner=me']);
    assert.equal(JSON.parse(await c.k(['get', 'cm', 'cm-a', '-o', 'json'])).metadata.annotations.owner, 'me');
    const names = async (args: string[]) => (await c.k(['get', 'cm', '-o', 'name', ...args])).trim().split('\n').filter(Boolean).sort();
    assert.deepEqual(await names(['-l', 'env=prod']), ['configmap/cm-a']);
    assert.deepEqual(await names(['-l', 'env!=prod,env']), ['configmap/cm-b']);
    assert.deepEqual(await names(['-l', 'env in (dev,prod)']), ['configmap/cm-a', 'configmap/cm-b']);
    assert.deepEqual(await names(['--field-selector', 'metadata.name=cm-c']), ['configmap/cm-c']);
    assert.deepEqual(await names(['--field-selector', 'metadata.name==cm-c']), ['configmap/cm-c']);
    assert.deepEqual(await names(['--field-selector', 'metadata.name!=cm-c,metadata.name!=kube-root-ca.crt']), ['configmap/cm-a', 'configmap/cm-b']);
    const svc = await c.k(['get', 'services', '-A', '--field-selector', 'metadata.namespace!=default']);
    assert.doesNotMatch(svc, /kubernetes/);
    await c.k(['label', 'configmap', 'cm-a', 'env-']);
    assert.deepEqual(await names(['-l', 'env=prod']), []);
    const bad = await c.kubectl(['get', 'cm', '--field-selector', 'spec.nope=1']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /field label not supported: spec\.nope/);
  });

  it('patches with strategic, merge and json patches, and scales', async () => {
    await c.k(['patch', 'deploy', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"name":"B","value":"2"}]}]}}}}']);
    let d = JSON.parse(await c.k(['get', 'deploy', 'web', '-o', 'json']));
    assert.deepEqual(d.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name).sort(), ['A', 'B'], 'strategic merge keeps A (merge by name)');
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.26');
    await c.k(['patch', 'deploy', 'web', '--type', 'merge', '-p', '{"metadata":{"labels":{"patched":"merge"}}}']);
    await c.k(['patch', 'deploy', 'web', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/replicas","value":5}]']);
    d = JSON.parse(await c.k(['get', 'deploy', 'web', '-o', 'json']));
    assert.equal(d.metadata.labels.patched, 'merge');
    assert.equal(d.spec.replicas, 5);
    assert.match(await c.k(['scale', 'deploy', 'web', '--replicas=6']), /deployment.apps\/web scaled/);
    assert.equal(JSON.parse(await c.k(['get', 'deploy', 'web', '-o', 'json'])).spec.replicas, 6);
    const badJson = await c.kubectl(['patch', 'deploy', 'web', '--type', 'json', '-p', '[{"op":"test","path":"/spec/replicas","value":1}]']);
    assert.equal(badJson.code, 1);
  });

  it('replaces from a file, with a stale resourceVersion answering 409', async () => {
    const live = JSON.parse(await c.k(['get', 'cm', 'cm-c', '-o', 'json']));
    live.data.k = 'replaced';
    const f = manifest('cm-c.json', JSON.stringify(live));
    assert.match(await c.k(['replace', '-f', f]), /configmap\/cm-c replaced/);
    const again = await c.kubectl(['replace', '-f', f]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /Conflict|the object has been modified/);
  });

  it('applies server-side with managedFields and reports conflicts', async () => {
    const f = manifest('ssa.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: "1"\n');
    assert.match(await c.k(['apply', '--server-side', '-f', f]), /configmap\/ssa serverside-applied/);
    const obj = JSON.parse(await c.k(['get', 'cm', 'ssa', '-o', 'json', '--show-managed-fields']));
    const entry = obj.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl');
    assert.equal(entry.operation, 'Apply');
    assert.ok(entry.fieldsV1['f:data']['f:a']);
    const other = manifest('ssa2.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: "2"\n');
    const conflict = await c.kubectl(['apply', '--server-side', '--field-manager', 'other', '-f', other]);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /conflict/i);
    assert.match(await c.k(['apply', '--server-side', '--field-manager', 'other', '--force-conflicts', '-f', other]), /serverside-applied/);
    assert.equal(JSON.parse(await c.k(['get', 'cm', 'ssa', '-o', 'json'])).data.a, '2');
  });

  it('describes objects and lists them together (get statefulsets,services)', async () => {
    const d = await c.k(['describe', 'deploy', 'web']);
    assert.match(d, /Name:\s+web/);
    assert.match(d, /Selector:\s+app=web/);
    assert.match(d, /StrategyType:\s+RollingUpdate/);
    const svcDescribe = await c.k(['describe', 'svc', 'kubernetes']);
    assert.match(svcDescribe, /IP:\s+127\./);
    const both = await c.k(['get', 'statefulsets,services']);
    assert.match(both, /service\/kubernetes/);
  });

  it('explains fields from the OpenAPI documents', async () => {
    const out = await c.k(['explain', 'deployment.spec.strategy']);
    assert.match(out, /KIND:\s+Deployment/);
    assert.match(out, /rollingUpdate\s+<RollingUpdateDeployment>/);
    assert.match(out, /type\s+<string>/);
  });

  it('rejects unknown fields under --validate=strict and invalid names with 422', async () => {
    const f = manifest('typo.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatta:\n  a: "1"\n');
    const r = await c.kubectl(['apply', '-f', f]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown field "datta"/);
    const bad = manifest('badname.yaml', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: Example-secret\nstringData:\n  a: b\n');
    const r2 = await c.kubectl(['create', '-f', bad]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /Secret "Example-secret" is invalid: metadata.name: Invalid value: "Example-secret": a lowercase RFC 1123 subdomain/);
  });

  it('watches with get -w and sees a change', async () => {
    const w = c.spawnKubectl(['get', 'cm', 'cm-b', '-w']);
    let out = '';
    w.stdout.on('data', (d) => (out += d));
    const rows = () => out.split('\n').filter((l) => l.startsWith('cm-b ')).length;
    try {
      await eventually(async () => rows() === 1, 'the first row');
      await c.k(['label', 'cm', 'cm-b', 'watched=yes']);
      await eventually(async () => rows() === 2, 'a row for the change');
      assert.match(out, /^NAME\s+DATA\s+AGE$/m);
    } finally {
      w.kill();
    }
  });

  it('creates typed objects with 1.32 protobuf bodies', async () => {
    await c.k(['create', 'deployment', 'proto', '--image=nginx', '--replicas=0']);
    const d = JSON.parse(await c.k(['get', 'deploy', 'proto', '-o', 'json']));
    assert.equal(d.spec.replicas, 0);
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx');
    await c.k(['create', 'secret', 'generic', 's1', '--from-literal=user=admin']);
    assert.equal(Buffer.from(JSON.parse(await c.k(['get', 'secret', 's1', '-o', 'json'])).data.user, 'base64').toString(), 'admin');
    await c.k(['create', 'namespace', 'proto-ns']);
    await c.k(['create', 'service', 'nodeport', 'np', '--tcp=80:8080']);
    const svc = JSON.parse(await c.k(['get', 'svc', 'np', '-o', 'json']));
    assert.ok(svc.spec.ports[0].nodePort >= 30000 && svc.spec.ports[0].nodePort <= 32767);
    assert.match(await c.k(['auth', 'can-i', 'create', 'pods']), /yes/);
  });

  it('deletes with --cascade=orphan keeping dependents, and background cascading removing them', async () => {
    const rs = `apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: owner }
spec:
  replicas: 0
  selector: { matchLabels: { app: owner } }
  template:
    metadata: { labels: { app: owner } }
    spec: { containers: [ { name: c, image: busybox } ] }
`;
    await c.k(['apply', '-f', manifest('rs.yaml', rs)]);
    const owner = JSON.parse(await c.k(['get', 'rs', 'owner', '-o', 'json']));
    const dep = (name: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'owner', uid: owner.metadata.uid, controller: true }] },
      });
    await c.k(['create', '-f', '-'], { input: dep('dep-1') });
    assert.match(await c.k(['delete', 'rs', 'owner', '--cascade=orphan']), /replicaset.apps "owner" deleted/);
    const orphan = await eventually(async () => {
      const o = JSON.parse(await c.k(['get', 'cm', 'dep-1', '-o', 'json']));
      return !o.metadata.ownerReferences && o;
    }, 'the ownerReference to be removed');
    assert.equal(orphan.metadata.name, 'dep-1');

    await c.k(['apply', '-f', manifest('rs.yaml', rs)]);
    const owner2 = JSON.parse(await c.k(['get', 'rs', 'owner', '-o', 'json']));
    owner.metadata.uid = owner2.metadata.uid;
    await c.k(['create', '-f', '-'], { input: dep('dep-2') });
    await c.k(['delete', 'rs', 'owner']);
    await eventually(async () => (await c.kubectl(['get', 'cm', 'dep-2'])).code === 1, 'the dependent to be collected');
  });

  it('deletes a namespace with everything in it', async () => {
    await c.k(['create', 'configmap', 'inside', '-n', 'omega', '--from-literal=a=b']);
    await c.k(['delete', 'namespace', 'omega'], {});
    await eventually(async () => (await c.kubectl(['get', 'ns', 'omega'])).code === 1, 'namespace omega to go');
    const gone = await c.kubectl(['get', 'cm', 'inside', '-n', 'omega']);
    assert.equal(gone.code, 1);
  });

  it('accepts the workshop manifests that use current apiVersions', async () => {
    const dir = path.join(WORKSHOP, '3-apps-deploy-service-ingress');
    await c.k(['apply', '-f', path.join(dir, 'sigma-namespace.yaml')]);
    for (const f of ['tc8-deploy.yaml', 'tc8-service.yaml', 'tc9-deploy-v1.yaml', 'tc9-service.yaml', 'ws-deploy.yaml', 'ws-service.yaml', 'sigma-ingress.yaml'])
      await c.k(['apply', '-f', path.join(dir, f)]);
    const svcs = await c.k(['get', 'svc', '-n', 'sigma']);
    assert.match(svcs, /ClusterIP|NodePort/);
  });
});
