// The rest of the seed's Kubernetes (issue 5): Jobs and CronJobs, DaemonSets and StatefulSets
// with volumes, quotas and limit ranges, disruption budgets with drain, PodPresets, and RBAC —
// with the real kubectl against a 3-worker kind-style cluster.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestCluster, eventually } from './harness.js';

let c: TestCluster;

before(async () => {
  c = new TestCluster('policy');
  const config = path.join(c.home, 'cluster.yaml');
  writeFileSync(config, 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n- role: worker\n');
  const r = await c.skiff(['create', 'cluster', '--name', 'policy', '--config', config]);
  if (r.code !== 0) throw new Error(`create cluster failed:\n${r.stdout}\n${r.stderr}`);
});
after(async () => {
  await c?.destroy();
});

async function json(args: string[]) {
  return JSON.parse(await c.k([...args, '-o', 'json']));
}

const apply = (yaml: string) => c.k(['apply', '-f', '-'], { input: yaml });

describe('batch, workloads with state, and policy', () => {
  it('runs a Job of 5 completions with parallelism 2 as exactly 5 successful pods', async () => {
    await apply(`apiVersion: batch/v1
kind: Job
metadata: { name: five }
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [ { name: c, image: busybox, command: [sh, -c, "sleep 0.3; echo done"] } ]
`);
    await c.k(['wait', '--for=condition=Complete', 'job/five', '--timeout=90s']);
    const pods = (await json(['get', 'pods', '-l', 'job-name=five'])).items;
    assert.equal(pods.length, 5);
    assert.ok(pods.every((p: { status: { phase: string } }) => p.status.phase === 'Succeeded'));
    assert.match(await c.k(['get', 'job', 'five']), /^five\s+Complete\s+5\/5\s/m);
  });

  it('stops a failing Job at its backoffLimit', async () => {
    await apply(`apiVersion: batch/v1
kind: Job
metadata: { name: fails }
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [ { name: c, image: busybox, command: [sh, -c, "exit 1"] } ]
`);
    await c.k(['wait', '--for=condition=Failed', 'job/fails', '--timeout=120s']);
    const job = await json(['get', 'job', 'fails']);
    assert.equal(job.status.conditions.find((x: { type: string }) => x.type === 'Failed').reason, 'BackoffLimitExceeded');
    assert.equal((await json(['get', 'pods', '-l', 'job-name=fails'])).items.length, 2);
  });

  it('fires a CronJob on schedule and creates a Job from it by hand', async () => {
    await apply(`apiVersion: batch/v1
kind: CronJob
metadata: { name: tick }
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [ { name: c, image: busybox, command: [sh, -c, "echo tick"] } ]
`);
    await c.k(['create', 'job', 'tick-manual', '--from=cronjob/tick']);
    const manual = await json(['get', 'job', 'tick-manual']);
    assert.equal(manual.metadata.annotations['cronjob.kubernetes.io/instantiate'], 'manual');
    await eventually(async () => {
      const cj = await json(['get', 'cronjob', 'tick']);
      return cj.status?.lastScheduleTime;
    }, 'the CronJob to fire', 75_000);
  });

  it('runs one DaemonSet pod per eligible node and follows a node joining', async () => {
    await apply(`apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent }
spec:
  selector: { matchLabels: { app: agent } }
  template:
    metadata: { labels: { app: agent } }
    spec: { containers: [ { name: c, image: busybox, command: [sleep, "3600"] } ] }
`);
    await c.k(['rollout', 'status', 'ds/agent', '--timeout=90s']);
    const nodes = (await json(['get', 'pods', '-l', 'app=agent'])).items.map((p: { spec: { nodeName: string } }) => p.spec.nodeName).sort();
    assert.deepEqual(nodes, ['policy-worker', 'policy-worker2', 'policy-worker3']);
  });

  it('gives StatefulSet pods ordinal names and their own claims whose data survives the pod', async () => {
    await apply(`apiVersion: v1
kind: Service
metadata: { name: web }
spec: { clusterIP: None, selector: { app: web }, ports: [ { port: 80 } ] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: web }
spec:
  serviceName: web
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [ { name: c, image: busybox, command: [sleep, "3600"], volumeMounts: [ { name: www, mountPath: /data } ] } ] }
  volumeClaimTemplates:
  - metadata: { name: www }
    spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }
`);
    await c.k(['rollout', 'status', 'sts/web', '--timeout=120s']);
    assert.deepEqual((await json(['get', 'pods', '-l', 'app=web'])).items.map((p: { metadata: { name: string } }) => p.metadata.name).sort(), ['web-0', 'web-1']);
    const claims = (await json(['get', 'pvc'])).items.filter((p: { metadata: { name: string } }) => p.metadata.name.startsWith('www-web-'));
    assert.deepEqual(claims.map((p: { status: { phase: string } }) => p.status.phase), ['Bound', 'Bound']);
    // Volumes appear under the container's directory in the process runtime (data/ for /data).
    await c.k(['exec', 'web-0', '--', 'sh', '-c', 'echo kept > data/file']);
    await c.k(['delete', 'pod', 'web-0']);
    await eventually(async () => {
      const p = await json(['get', 'pod', 'web-0']).catch(() => undefined);
      return p?.status?.conditions?.some((x: { type: string; status: string }) => x.type === 'Ready' && x.status === 'True') && !p.metadata.deletionTimestamp;
    }, 'web-0 to come back', 90_000);
    assert.equal(await c.k(['exec', 'web-0', '--', 'cat', 'data/file']), 'kept\n');
  });

  it('rejects the pod a quota cannot fit, and fills requests from a LimitRange', async () => {
    await c.k(['create', 'namespace', 'limited']);
    await apply(`apiVersion: v1
kind: ResourceQuota
metadata: { name: pods, namespace: limited }
spec: { hard: { pods: "1" } }
---
apiVersion: v1
kind: LimitRange
metadata: { name: defaults, namespace: limited }
spec:
  limits:
  - type: Container
    defaultRequest: { cpu: 100m, memory: 64Mi }
    default: { cpu: 200m, memory: 128Mi }
`);
    await c.k(['run', 'one', '-n', 'limited', '--image=busybox', '--', 'sleep', '3600']);
    const pod = await json(['get', 'pod', 'one', '-n', 'limited']);
    assert.deepEqual(pod.spec.containers[0].resources.requests, { cpu: '100m', memory: '64Mi' });
    const two = await c.kubectl(['run', 'two', '-n', 'limited', '--image=busybox', '--', 'sleep', '3600']);
    assert.equal(two.code, 1);
    assert.match(two.stderr, /exceeded quota: pods, requested: pods=1, used: pods=1, limited: pods=1/);
    await eventually(async () => /pods:\s*1\/1|pods\s+1\s+1/.test(await c.k(['describe', 'quota', 'pods', '-n', 'limited'])), 'quota usage in status');
  });

  it('drains a node: evicts what a PDB allows, keeps what it protects', async () => {
    await apply(`apiVersion: apps/v1
kind: Deployment
metadata: { name: guarded }
spec:
  replicas: 2
  selector: { matchLabels: { app: guarded } }
  template:
    metadata: { labels: { app: guarded } }
    spec:
      nodeSelector: { kubernetes.io/hostname: policy-worker }
      containers: [ { name: c, image: busybox, command: [sleep, "3600"] } ]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: guarded }
spec: { minAvailable: 2, selector: { matchLabels: { app: guarded } } }
`);
    await c.k(['rollout', 'status', 'deploy/guarded', '--timeout=90s']);
    await eventually(async () => (await json(['get', 'pdb', 'guarded'])).status?.currentHealthy === 2, 'the PDB to see 2 healthy pods');
    const drain = await c.kubectl(['drain', 'policy-worker', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=8s'], { timeoutMs: 60_000 });
    assert.notEqual(drain.code, 0, 'the drain stops at what the budget protects');
    assert.match(drain.stderr, /Cannot evict pod as it would violate the pod's disruption budget/);
    assert.match(await c.k(['get', 'node', 'policy-worker']), /SchedulingDisabled/);
    assert.equal((await json(['get', 'pods', '-l', 'app=guarded'])).items.filter((p: { metadata: { deletionTimestamp?: string } }) => !p.metadata.deletionTimestamp).length, 2);
    await c.k(['uncordon', 'policy-worker']);
  });

  it('scales a Deployment out under real CPU load and back in when the load stops', async () => {
    const flag = `/tmp/skiff-e2e-burn-${process.pid}`;
    writeFileSync(flag, '');
    try {
      await apply(`apiVersion: apps/v1
kind: Deployment
metadata: { name: burner }
spec:
  replicas: 1
  selector: { matchLabels: { app: burner } }
  template:
    metadata: { labels: { app: burner } }
    spec:
      containers:
      - name: c
        image: busybox
        # Busy while the flag file exists (the process runtime shares the host's /tmp).
        command: [sh, -c, "while true; do if [ -e ${flag} ]; then :; else sleep 1; fi; done"]
        resources: { requests: { cpu: 100m } }
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: burner }
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: burner }
  minReplicas: 1
  maxReplicas: 3
  metrics: [ { type: Resource, resource: { name: cpu, target: { type: Utilization, averageUtilization: 50 } } } ]
  behavior: { scaleDown: { stabilizationWindowSeconds: 0 } }
`);
      await eventually(async () => (await json(['get', 'deploy', 'burner'])).spec.replicas > 1, 'a scale-out under load', 120_000);
      assert.match(await c.k(['get', 'hpa', 'burner']), /cpu: \d+%\/50%/);
    } finally {
      rmSync(flag, { force: true });
    }
    await eventually(async () => (await json(['get', 'deploy', 'burner'])).spec.replicas === 1, 'a scale-in after the load stops', 150_000);
  });

  it('injects a PodPreset into new matching pods', async () => {
    await apply(`apiVersion: settings.k8s.io/v1alpha1
kind: PodPreset
metadata: { name: cart-env }
spec:
  selector: { matchLabels: { role: cart } }
  env: [ { name: CART_DB, value: "mongodb://cart-db:27017" } ]
`);
    await c.k(['run', 'cart', '--image=busybox', '--labels=role=cart', '--', 'sleep', '3600']);
    await c.k(['run', 'other', '--image=busybox', '--labels=role=other', '--', 'sleep', '3600']);
    const cart = await json(['get', 'pod', 'cart']);
    assert.deepEqual(cart.spec.containers[0].env, [{ name: 'CART_DB', value: 'mongodb://cart-db:27017' }]);
    assert.equal((await json(['get', 'pod', 'other'])).spec.containers[0].env, undefined);
  });

  it('never writes Secret values to the cluster log', async () => {
    const value = `s3cr3t-${process.pid}-${Date.now()}`;
    await c.k(['create', 'secret', 'generic', 'hush', `--from-literal=password=${value}`]);
    await c.k(['run', 'uses-secret', '--image=busybox', '--overrides', JSON.stringify({ spec: { containers: [{ name: 'uses-secret', image: 'busybox', command: ['sleep', '3600'], env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'hush', key: 'password' } } }] }] } })]);
    await c.k(['wait', '--for=condition=Ready', 'pod/uses-secret', '--timeout=60s']);
    // Bad input that makes the server log (a malformed update of the Secret) must not leak it either.
    await c.kubectl(['patch', 'secret', 'hush', '--type', 'json', '-p', '[{"op":"test","path":"/data/password","value":"x"}]']);
    const log = readFileSync(path.join(c.env.SKIFF_HOME!, 'clusters', 'policy', 'logs', 'controlplane.log'), 'utf8');
    assert.ok(log.length > 0);
    assert.ok(!log.includes(value) && !log.includes(Buffer.from(value).toString('base64')), 'the secret value is not in the log');
  });

  it('lets a ServiceAccount bound to a Role list pods and forbids it secrets', async () => {
    await c.k(['create', 'serviceaccount', 'reader']);
    await c.k(['create', 'role', 'pod-reader', '--verb=get,list,watch', '--resource=pods']);
    await c.k(['create', 'rolebinding', 'reader-binding', '--role=pod-reader', '--serviceaccount=default:reader']);
    assert.equal((await c.k(['auth', 'can-i', 'list', 'pods', '--as=system:serviceaccount:default:reader'])).trim(), 'yes');
    const no = await c.kubectl(['auth', 'can-i', 'get', 'secrets', '--as=system:serviceaccount:default:reader']);
    assert.equal(no.stdout.trim(), 'no');
    const token = (await c.k(['create', 'token', 'reader'])).trim();
    await c.k(['get', 'pods', '--token', token]);
    const denied = await c.kubectl(['get', 'secrets', '--token', token]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /secrets is forbidden: User "system:serviceaccount:default:reader" cannot list resource "secrets"/);
  });
});
