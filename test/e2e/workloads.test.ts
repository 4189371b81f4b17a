// Pods really run: the seed's hello-world flow (slide 46), the Deployment commands of slide 65,
// the ReplicaSet commands of slide 63, probes, logs, exec, port-forward, self-healing — with the
// real kubectl 1.32 against `bin/skiff create cluster` and real processes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TestCluster, eventually } from './harness.js';

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('workloads');
});
after(async () => {
  await c?.destroy();
});

function file(name: string, text: string): string {
  const p = path.join(c.home, name);
  writeFileSync(p, text);
  return p;
}

async function json(args: string[]) {
  return JSON.parse(await c.k([...args, '-o', 'json']));
}

async function readyPods(selector: string): Promise<{ name: string; ip: string; node: string; restarts: number }[]> {
  const list = await json(['get', 'pods', '-l', selector]);
  return list.items
    .filter((p: { status: { conditions?: { type: string; status: string }[] }; metadata: { deletionTimestamp?: string } }) =>
      !p.metadata.deletionTimestamp && p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'),
    )
    .map((p: { metadata: { name: string }; status: { podIP: string; containerStatuses: { restartCount: number }[] }; spec: { nodeName: string } }) => ({
      name: p.metadata.name,
      ip: p.status.podIP,
      node: p.spec.nodeName,
      restarts: p.status.containerStatuses?.[0]?.restartCount ?? 0,
    }));
}

/** An HTTP GET over a raw socket to a pod IP (pods are loopback addresses in the process runtime). */
function httpGet(host: string, port: number, urlPath = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host, () => s.write(`GET ${urlPath} HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

// A tiny HTTP server as a pod: binds POD_IP (the runtime tells every container its IP).
const SERVER = (body: string) =>
  `require('http').createServer((q,s)=>{ if(q.url==='/healthz' && require('fs').existsSync('/tmp/skiff-unhealthy-'+process.env.HOSTNAME)){s.statusCode=500;return s.end('sick')} s.end(${JSON.stringify(body)}+' '+process.env.HOSTNAME) }).listen(8080, process.env.POD_IP)`;

describe('workloads', () => {
  it('runs the hello-world flow of slide 46: create, expose, get, describe, delete', async () => {
    await c.k(['create', 'deployment', 'hello-world', '--image=metamagic/hello:1.0', '--replicas=3', '--port=8080']);
    await c.k(['rollout', 'status', 'deployment/hello-world', '--timeout=60s']);
    await c.k(['expose', 'deployment', 'hello-world', '--type=LoadBalancer', '--name=hello-world-service']);
    const deploy = await c.k(['get', 'deployments', 'hello-world']);
    assert.match(deploy, /^hello-world\s+3\/3\s+3\s+3\s+/m);
    assert.match(await c.k(['describe', 'deployments', 'hello-world']), /Replicas:\s+3 desired \| 3 updated \| 3 total \| 3 available \| 0 unavailable/);
    const rs = await c.k(['get', 'replicasets']);
    assert.match(rs, /^hello-world-[a-z0-9]+\s+3\s+3\s+3\s+/m);
    assert.match(await c.k(['describe', 'replicasets']), /Pods Status:\s+3 Running \/ 0 Waiting \/ 0 Succeeded \/ 0 Failed/);
    assert.match(await c.k(['get', 'services', 'hello-world-service']), /LoadBalancer/);
    const wide = await c.k(['get', 'pods', '-o', 'wide']);
    assert.match(wide, /^hello-world-[a-z0-9]+-[a-z0-9]{5}\s+1\/1\s+Running\s+0\s+\S+\s+127\.\d+\.\d+\.\d+\s+workloads-control-plane\s/m);
    const pods = await readyPods('app=hello-world');
    assert.equal(pods.length, 3);
    assert.equal(new Set(pods.map((p) => p.ip)).size, 3, 'every pod has its own IP');
    const ep = await json(['get', 'endpoints', 'hello-world-service']);
    assert.deepEqual(ep.subsets[0].addresses.map((a: { ip: string }) => a.ip).sort(), pods.map((p) => p.ip).sort());
    await c.k(['delete', 'services', 'hello-world-service']);
    await c.k(['delete', 'deployment', 'hello-world']);
    await eventually(async () => (await json(['get', 'pods', '-l', 'app=hello-world'])).items.length === 0, 'the pods to go');
  });

  it('rolls out, records history, undoes to revision 1 and scales (slide 65)', async () => {
    const manifest = (version: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-deploy
  annotations: { kubernetes.io/change-cause: "version ${version}" }
spec:
  replicas: 2
  selector: { matchLabels: { app: app } }
  strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }
  template:
    metadata: { labels: { app: app, version: "${version}" } }
    spec:
      containers:
      - name: app
        image: node:20
        command: [node, -e, ${JSON.stringify(SERVER(`app ${version}`))}]
        readinessProbe: { httpGet: { path: /, port: 8080 }, periodSeconds: 1 }
`;
    await c.k(['create', '-f', file('app-deploy.yml', manifest('v1'))]);
    await c.k(['rollout', 'status', 'deployment', 'app-deploy', '--timeout=60s']);
    await c.k(['apply', '-f', file('app-deploy.yml', manifest('v2'))]);
    assert.match(await c.k(['rollout', 'status', 'deployment', 'app-deploy', '--timeout=60s']), /successfully rolled out/);
    const history = await c.k(['rollout', 'history', 'deployment', 'app-deploy']);
    assert.match(history, /^1\s+version v1$/m);
    assert.match(history, /^2\s+version v2$/m);
    const [v2] = await readyPods('app=app');
    assert.match(await httpGet(v2.ip, 8080), /app v2/);
    await c.k(['rollout', 'undo', 'deployment', 'app-deploy', '--to-revision=1']);
    await c.k(['rollout', 'status', 'deployment', 'app-deploy', '--timeout=60s']);
    const d = await json(['get', 'deploy', 'app-deploy']);
    assert.equal(d.spec.template.metadata.labels.version, 'v1');
    assert.equal(d.metadata.annotations['deployment.kubernetes.io/revision'], '3');
    await eventually(async () => {
      const pods = await readyPods('app=app');
      return pods.length === 2 && (await Promise.all(pods.map((p) => httpGet(p.ip, 8080)))).every((r) => /app v1/.test(r));
    }, 'both pods to serve v1');
    await c.k(['scale', 'deployment', 'app-deploy', '--replicas=6']);
    await eventually(async () => (await readyPods('app=app')).length === 6, 'six ready replicas');
    const rs = (await json(['get', 'rs', '-l', 'app=app'])).items;
    assert.equal(rs.length, 2, 'the v1 ReplicaSet was reused, no third one');
  });

  it('orphans the pods of a deleted ReplicaSet with --cascade=orphan (slide 63)', async () => {
    const rs = `apiVersion: apps/v1
kind: ReplicaSet
metadata: { name: app-rs }
spec:
  replicas: 2
  selector: { matchLabels: { tier: rs } }
  template:
    metadata: { labels: { tier: rs } }
    spec: { containers: [ { name: c, image: busybox, command: [sleep, "3600"] } ] }
`;
    await c.k(['create', '-f', file('app-rs.yml', rs)]);
    await eventually(async () => (await readyPods('tier=rs')).length === 2, 'two RS pods ready');
    assert.match(await c.k(['get', 'rs/app-rs']), /^app-rs\s+2\s+2\s+2\s+/m);
    assert.match(await c.k(['describe', 'rs', 'app-rs']), /Replicas:\s+2 current \/ 2 desired/);
    const before = (await readyPods('tier=rs')).map((p) => p.name).sort();
    await c.k(['delete', 'rs/app-rs', '--cascade=orphan']);
    await eventually(async () => (await c.kubectl(['get', 'rs', 'app-rs'])).code === 1, 'the RS to go');
    await eventually(async () => {
      const pods = (await json(['get', 'pods', '-l', 'tier=rs'])).items;
      return pods.every((p: { metadata: { ownerReferences?: unknown[] } }) => !p.metadata.ownerReferences);
    }, 'the pods to lose their owner');
    assert.deepEqual((await readyPods('tier=rs')).map((p) => p.name).sort(), before, 'the pods keep running');
    // A new RS with the same selector adopts them instead of creating more.
    await c.k(['apply', '-f', file('app-rs.yml', rs)]);
    await eventually(async () => {
      const pods = (await json(['get', 'pods', '-l', 'tier=rs'])).items;
      return pods.length === 2 && pods.every((p: { metadata: { ownerReferences?: { name: string }[] } }) => p.metadata.ownerReferences?.[0]?.name === 'app-rs');
    }, 'adoption by the new ReplicaSet');
    await c.k(['delete', 'rs', 'app-rs']);
  });

  it('serves logs, exec and port-forward', async () => {
    await c.k(['run', 'talker', '--image=busybox', '--', 'sh', '-c', 'echo hello from talker; echo to stderr >&2; while true; do sleep 1; done']);
    await c.k(['wait', '--for=condition=Ready', 'pod/talker', '--timeout=60s']);
    await eventually(async () => /hello from talker/.test(await c.k(['logs', 'talker'])), 'the log line');
    assert.match(await c.k(['logs', 'talker', '--timestamps']), /^\d{4}-\d\d-\d\dT\S+Z hello from talker$/m);
    assert.match(await c.k(['logs', 'talker', '--tail=1']), /^(hello from talker|to stderr)\n$/);
    const ex = await c.kubectl(['exec', 'talker', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(ex.code, 3);
    assert.equal(ex.stdout, 'out\n');
    assert.match(ex.stderr, /err/);
    assert.equal((await c.k(['exec', '-i', 'talker', '--', 'cat'], { input: 'piped\n' })), 'piped\n');

    await c.k(['run', 'web', '--image=node:20', '--port=8080', '--command', '--', 'node', '-e', SERVER('web')]);
    await c.k(['wait', '--for=condition=Ready', 'pod/web', '--timeout=60s']);
    const pf = c.spawnKubectl(['port-forward', 'pod/web', '0:8080']);
    try {
      let out = '';
      pf.stdout.on('data', (d) => (out += d));
      const port = await eventually(async () => Number(/Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1]), 'port-forward to listen');
      assert.match(await httpGet('127.0.0.1', port), /200 OK[\s\S]*web web/);
      assert.match(await httpGet('127.0.0.1', port), /web web/);
    } finally {
      pf.kill();
    }
  });

  it('restarts a container whose liveness probe fails and gates endpoints on readiness', async () => {
    const pod = `apiVersion: v1
kind: Pod
metadata: { name: probed, labels: { app: probed } }
spec:
  containers:
  - name: app
    image: node:20
    command: [node, -e, ${JSON.stringify(SERVER('probed'))}]
    livenessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1, failureThreshold: 2 }
    readinessProbe: { exec: { command: [sh, -c, "test ! -e /tmp/skiff-notready-probed"] }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: probed }
spec: { selector: { app: probed }, ports: [ { port: 80, targetPort: 8080 } ] }
`;
    await c.k(['apply', '-f', file('probed.yaml', pod)]);
    await c.k(['wait', '--for=condition=Ready', 'pod/probed', '--timeout=60s']);
    const epIps = async () => ((await json(['get', 'endpoints', 'probed'])).subsets?.[0]?.addresses ?? []).map((a: { ip: string }) => a.ip);
    await eventually(async () => (await epIps()).length === 1, 'the endpoint');
    // The process runtime shares the host's /tmp, so the test flips the probes with files there.
    writeFileSync('/tmp/skiff-notready-probed', '');
    try {
      await eventually(async () => (await epIps()).length === 0, 'the pod to leave the endpoints');
    } finally {
      rmSync('/tmp/skiff-notready-probed', { force: true });
    }
    await eventually(async () => (await epIps()).length === 1, 'the pod to come back');
    writeFileSync('/tmp/skiff-unhealthy-probed', '');
    try {
      await eventually(async () => (await json(['get', 'pod', 'probed'])).status.containerStatuses[0].restartCount >= 1, 'a liveness restart');
    } finally {
      rmSync('/tmp/skiff-unhealthy-probed', { force: true });
    }
    const events = await c.k(['get', 'events', '--field-selector', 'involvedObject.name=probed']);
    assert.match(events, /Unhealthy/);
    assert.match(events, /Liveness probe failed/);
  });

  it('replaces a pod killed by hand, and a deleted pod of a ReplicaSet', async () => {
    await c.k(['create', 'deployment', 'healer', '--image=busybox', '--replicas=2', '--', 'sleep', '3600']);
    await c.k(['rollout', 'status', 'deployment/healer', '--timeout=60s']);
    const [victim] = await readyPods('app=healer');
    // Find the container's process by the POD_IP it was given, and kill it.
    const pid = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).find((d) => {
      try {
        return readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`POD_IP=${victim.ip}`) && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('sleep');
      } catch {
        return false;
      }
    });
    assert.ok(pid, 'the container process is a real process');
    process.kill(Number(pid), 'SIGKILL');
    await eventually(async () => (await json(['get', 'pod', victim.name])).status.containerStatuses[0].restartCount >= 1, 'the container to be restarted');
    await c.k(['delete', 'pod', victim.name, '--wait=false']);
    await eventually(async () => {
      const pods = await readyPods('app=healer');
      return pods.length === 2 && !pods.some((p) => p.name === victim.name);
    }, 'a replacement pod');
  });
});
