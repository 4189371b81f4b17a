// kind-style multi-node clusters: the seed's 5-node config (2 control planes + 3 workers),
// scheduling by taints, cordon, node affinity, and a node joining from its own process.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { SHARED, SKIFF, TestCluster, eventually } from './harness.js';

let c: TestCluster;
const CONFIG = path.join(SHARED, 'workshop/k8s-workshop/kind/1-clusters/epsilon-5.yaml');

before(async () => {
  c = await TestCluster.create('multi', ['--config', CONFIG]);
});
after(async () => {
  await c?.destroy();
});

async function json(args: string[]) {
  return JSON.parse(await c.k([...args, '-o', 'json']));
}

async function placement(selector: string): Promise<string[]> {
  const pods = (await json(['get', 'pods', '-l', selector])).items as { spec: { nodeName?: string }; status: { phase: string } }[];
  return pods.map((p) => p.spec.nodeName ?? '');
}

const WORKERS = ['multi-worker', 'multi-worker2', 'multi-worker3'];

describe('multi-node clusters', () => {
  it('brings up the 5 nodes of epsilon-5.yaml, Ready, with kind roles and control-plane taints', async () => {
    const nodes = await c.k(['get', 'nodes']);
    for (const n of ['multi-control-plane', 'multi-control-plane2']) assert.match(nodes, new RegExp(`^${n}\\s+Ready\\s+control-plane\\s`, 'm'));
    for (const n of WORKERS) assert.match(nodes, new RegExp(`^${n}\\s+Ready\\s+<none>\\s`, 'm'));
    const cp = await json(['get', 'node', 'multi-control-plane']);
    assert.deepEqual(cp.spec.taints, [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    assert.equal(cp.metadata.labels['ingress-ready'], 'true');
    assert.ok(Number(cp.status.capacity.cpu) >= 1);
    assert.match(cp.status.capacity.memory, /^\d+Ki$/);
    const described = await c.k(['describe', 'node', 'multi-worker']);
    assert.match(described, /Ready\s+True\s/);
    assert.match(described, /PodCIDR:\s+127\./);
  });

  it('keeps pods off the tainted control planes and spreads them over the workers', async () => {
    await c.k(['create', 'deployment', 'spread', '--image=busybox', '--replicas=6', '--', 'sleep', '3600']);
    await c.k(['rollout', 'status', 'deployment/spread', '--timeout=90s']);
    const nodes = await placement('app=spread');
    assert.equal(nodes.length, 6);
    for (const n of nodes) assert.ok(WORKERS.includes(n), `${n} is a worker`);
    assert.equal(new Set(nodes).size, 3, 'all three workers are used');
  });

  it('cordon keeps new pods off a node; uncordon lets them back', async () => {
    await c.k(['cordon', 'multi-worker3']);
    assert.match(await c.k(['get', 'node', 'multi-worker3']), /Ready,SchedulingDisabled/);
    await c.k(['scale', 'deployment', 'spread', '--replicas=12']);
    await c.k(['rollout', 'status', 'deployment/spread', '--timeout=90s']);
    const counts = (await placement('app=spread')).filter((n) => n === 'multi-worker3').length;
    assert.equal(counts, 2, 'only the two pods placed before the cordon run on the cordoned node');
    await c.k(['uncordon', 'multi-worker3']);
    assert.doesNotMatch(await c.k(['get', 'node', 'multi-worker3']), /SchedulingDisabled/);
    await c.k(['delete', 'deployment', 'spread']);
  });

  it('places pods by node affinity and tolerations', async () => {
    await c.k(['label', 'nodes', 'multi-worker2', 'disktype=ssd']);
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: ssd }
spec:
  replicas: 3
  selector: { matchLabels: { app: ssd } }
  template:
    metadata: { labels: { app: ssd } }
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms: [ { matchExpressions: [ { key: disktype, operator: In, values: [ssd] } ] } ]
      containers: [ { name: c, image: busybox, command: [sleep, "3600"] } ]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: on-cp }
spec:
  replicas: 2
  selector: { matchLabels: { app: on-cp } }
  template:
    metadata: { labels: { app: on-cp } }
    spec:
      nodeSelector: { node-role.kubernetes.io/control-plane: "" }
      tolerations: [ { key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule } ]
      containers: [ { name: c, image: busybox, command: [sleep, "3600"] } ]
---
apiVersion: v1
kind: Pod
metadata: { name: impossible, labels: { app: impossible } }
spec:
  nodeSelector: { disktype: nvme }
  containers: [ { name: c, image: busybox, command: [sleep, "3600"] } ]
`;
    await c.k(['apply', '-f', '-'], { input: manifest });
    await c.k(['rollout', 'status', 'deployment/ssd', '--timeout=90s']);
    await c.k(['rollout', 'status', 'deployment/on-cp', '--timeout=90s']);
    assert.deepEqual(await placement('app=ssd'), ['multi-worker2', 'multi-worker2', 'multi-worker2']);
    for (const n of await placement('app=on-cp')) assert.match(n, /^multi-control-plane2?$/);
    const events = await eventually(async () => {
      const e = await c.k(['get', 'events', '--field-selector', 'involvedObject.name=impossible,reason=FailedScheduling']);
      return /FailedScheduling/.test(e) && e;
    }, 'a FailedScheduling event');
    assert.match(events, /0\/5 nodes are available: .*node\(s\) didn't match Pod's node affinity\/selector/);
  });

  it('lets a node join from its own process with a token', async () => {
    const join = await c.skiff(['get', 'join-command', '--name', 'multi']);
    assert.equal(join.code, 0, join.stderr);
    const args = join.stdout.trim().split(/\s+/).slice(1); // drop the leading "skiff"
    let agent: ChildProcess | undefined;
    try {
      agent = spawn(process.execPath, [SKIFF, ...args, '--node-name', 'joined'], { env: { ...c.env, SKIFF_HOME: path.join(c.home, 'joined-home') }, stdio: 'ignore' });
      await eventually(async () => /^joined\s+Ready\s/m.test(await c.k(['get', 'nodes'])), 'the joined node to be Ready', 30_000);
      await c.k(['run', 'on-joined', '--image=busybox', '--overrides={"spec":{"nodeName":"joined"}}', '--', 'sh', '-c', 'echo hi from joined; sleep 3600']);
      await c.k(['wait', '--for=condition=Ready', 'pod/on-joined', '--timeout=60s']);
      await eventually(async () => /hi from joined/.test(await c.k(['logs', 'on-joined'])), 'logs through the joined kubelet');
      await c.k(['delete', 'pod', 'on-joined']);
      // A DaemonSet follows the node that joined.
      await c.k(['apply', '-f', '-'], {
        input: 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: { name: everywhere }\nspec:\n  selector: { matchLabels: { app: everywhere } }\n  template:\n    metadata: { labels: { app: everywhere } }\n    spec: { containers: [ { name: c, image: busybox, command: [sleep, "3600"] } ] }\n',
      });
      await eventually(async () => {
        const pods = (await json(['get', 'pods', '-l', 'app=everywhere'])).items as { spec: { nodeName?: string }; status: { phase: string } }[];
        return pods.some((p) => p.spec.nodeName === 'joined' && p.status.phase === 'Running');
      }, 'a DaemonSet pod on the joined node', 60_000);
    } finally {
      agent?.kill('SIGTERM');
      await new Promise((r) => (agent?.exitCode !== null ? r(undefined) : agent.once('exit', r)));
    }
    await eventually(async () => {
      const node = await json(['get', 'node', 'joined']);
      return node.status.conditions.find((x: { type: string }) => x.type === 'Ready')?.status !== 'True';
    }, 'the stopped node to be reported NotReady', 90_000);
  });
});
