// What happens to running containers when the control plane (and the kubelets it hosts) goes
// away: a crash leaves them running and the restarted kubelet adopts them without twins;
// `stop cluster` stops every one of them. Also `kubectl top`, attach, cp and rollout verbs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestCluster, eventually } from './harness.js';

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('lifecycle');
});
after(async () => {
  await c?.destroy();
});

/** PIDs of live (non-zombie) processes whose environment carries this marker. */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, 'utf8'))) continue;
      // Only this test cluster's containers: their working directories live under its SKIFF_HOME.
      if (!readlinkSync(`/proc/${d}/cwd`).startsWith(c.home)) continue;
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(marker)) out.push(Number(d));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

function controlPlanePid(): number {
  return Number(readFileSync(path.join(c.env.SKIFF_HOME!, 'clusters', 'lifecycle', 'pids', 'controlplane.pid'), 'utf8').trim());
}

const MARK = 'SKIFF_E2E_MARK=lifecycle';

describe('node lifecycle', () => {
  it('keeps containers running across a control-plane crash and adopts them without twins', async () => {
    await c.k(['create', 'deployment', 'keep', '--image=busybox', '--replicas=2', '--', 'sleep', '3600']);
    await c.k(['set', 'env', 'deployment/keep', MARK]);
    await c.k(['rollout', 'status', 'deployment/keep', '--timeout=60s']);
    const before = await eventually(async () => {
      const p = processesWith(MARK);
      return p.length === 2 && p;
    }, 'two container processes');
    process.kill(controlPlanePid(), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(processesWith(MARK).sort(), before.sort(), 'containers outlive the crash');
    const start = await c.skiff(['start', 'cluster', '--name', 'lifecycle']);
    assert.equal(start.code, 0, start.stderr);
    await c.k(['rollout', 'status', 'deployment/keep', '--timeout=60s']);
    // Give the kubelet time to (wrongly) start twins if it were going to.
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(processesWith(MARK).sort(), before.sort(), 'the same processes, no twins');
    const pods = JSON.parse(await c.k(['get', 'pods', '-l', 'app=keep', '-o', 'json'])).items;
    assert.equal(pods.length, 2);
    for (const p of pods) assert.equal(p.status.containerStatuses[0].restartCount, 0);
  });

  it('rolls out restart, pause and resume', async () => {
    const rsCount = async () => JSON.parse(await c.k(['get', 'rs', '-l', 'app=keep', '-o', 'json'])).items.length;
    const before = await rsCount();
    await c.k(['rollout', 'pause', 'deployment/keep']);
    await c.k(['set', 'image', 'deployment/keep', 'busybox=busybox:1.36']);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await rsCount(), before, 'no rollout while paused');
    await c.k(['rollout', 'resume', 'deployment/keep']);
    await c.k(['rollout', 'status', 'deployment/keep', '--timeout=60s']);
    await c.k(['rollout', 'restart', 'deployment/keep']);
    await c.k(['rollout', 'status', 'deployment/keep', '--timeout=60s']);
    assert.equal(await rsCount(), before + 2, 'one ReplicaSet for the resumed change, one for the restart');
  });

  it('copies files in and out with kubectl cp, and attaches to a container', async () => {
    await c.k(['run', 'box', '--image=busybox', '--', 'sleep', '3600']);
    await c.k(['wait', '--for=condition=Ready', 'pod/box', '--timeout=60s']);
    const local = path.join(c.home, 'up.txt');
    writeFileSync(local, 'uploaded through tar\n');
    const dir = (await c.k(['exec', 'box', '--', 'sh', '-c', 'pwd'])).trim();
    await c.k(['cp', local, `box:${dir}/up.txt`]);
    assert.equal(await c.k(['exec', 'box', '--', 'cat', `${dir}/up.txt`]), 'uploaded through tar\n');
    const back = path.join(c.home, 'down.txt');
    await c.k(['cp', `box:${dir}/up.txt`, back]);
    assert.equal(readFileSync(back, 'utf8'), 'uploaded through tar\n');

    await c.k(['run', 'chatty', '--image=busybox', '--', 'sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done']);
    await c.k(['wait', '--for=condition=Ready', 'pod/chatty', '--timeout=60s']);
    const attach = c.spawnKubectl(['attach', 'chatty']);
    let out = '';
    attach.stdout.on('data', (d) => (out += d));
    try {
      await eventually(async () => /tick \d+/.test(out), 'output through attach');
    } finally {
      attach.kill();
    }
  });

  it('reports CPU and memory with kubectl top', async () => {
    await c.k(['run', 'burner', '--image=busybox', '--', 'sh', '-c', 'while true; do :; done']);
    await c.k(['wait', '--for=condition=Ready', 'pod/burner', '--timeout=60s']);
    const top = await eventually(async () => {
      const r = await c.kubectl(['top', 'pod', 'burner']);
      const m = /^burner\s+(\d+)m\s+(\d+)Mi/m.exec(r.stdout);
      return m !== null && Number(m[1]) > 100 ? m : undefined;
    }, 'a busy pod to show CPU use', 60_000);
    assert.ok(Number(top[1]) > 100);
    assert.match(await c.k(['top', 'nodes']), /^lifecycle-control-plane\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%/m);
    await c.k(['delete', 'pod', 'burner', '--grace-period=1']);
  });

  it('stops every container process with stop cluster', async () => {
    assert.ok(processesWith(MARK).length > 0);
    const stop = await c.skiff(['stop', 'cluster', '--name', 'lifecycle']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(processesWith(MARK), []);
    const start = await c.skiff(['start', 'cluster', '--name', 'lifecycle']);
    assert.equal(start.code, 0, start.stderr);
    await c.k(['rollout', 'status', 'deployment/keep', '--timeout=60s']);
    await eventually(async () => processesWith(MARK).length === 2, 'the pods to run again');
  });
});
