// State survives `stop cluster`/`start cluster`, and `kill -9` of the control plane while it
// acknowledges writes loses none of the acknowledged ones.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TestCluster, eventually } from './harness.js';

let c: TestCluster;

before(async () => {
  c = await TestCluster.create('durable');
});
after(async () => {
  await c?.destroy();
});

/** Alive and not a zombie (a detached server's parent may never reap it in a container). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function controlPlanePid(): number {
  return Number(readFileSync(path.join(c.env.SKIFF_HOME!, 'clusters', 'durable', 'pids', 'controlplane.pid'), 'utf8').trim());
}

describe('durability', () => {
  it('keeps objects across stop cluster / start cluster', async () => {
    await c.k(['create', 'namespace', 'keep']);
    await c.k(['create', 'configmap', 'kept', '-n', 'keep', '--from-literal=a=b']);
    const before = JSON.parse(await c.k(['get', 'cm', 'kept', '-n', 'keep', '-o', 'json']));
    const pid = controlPlanePid();
    const stop = await c.skiff(['stop', 'cluster', '--name', 'durable']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!isRunning(pid), 'the control plane process is gone');
    assert.notEqual((await c.kubectl(['get', 'ns'], { timeoutMs: 20_000 })).code, 0);
    const start = await c.skiff(['start', 'cluster', '--name', 'durable']);
    assert.equal(start.code, 0, start.stderr);
    const afterRestart = JSON.parse(await c.k(['get', 'cm', 'kept', '-n', 'keep', '-o', 'json']));
    assert.equal(afterRestart.metadata.uid, before.metadata.uid);
    assert.equal(afterRestart.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.deepEqual(afterRestart.data, { a: 'b' });
    // The revision counter continues: a new write gets a higher resourceVersion.
    await c.k(['label', 'cm', 'kept', '-n', 'keep', 'x=y']);
    const later = JSON.parse(await c.k(['get', 'cm', 'kept', '-n', 'keep', '-o', 'json']));
    assert.ok(Number(later.metadata.resourceVersion) > Number(before.metadata.resourceVersion));
  });

  it('loses no acknowledged write when the server is killed with SIGKILL', async () => {
    const acked: string[] = [];
    let failures = 0;
    const writer = async (id: number) => {
      for (let i = 0; i < 2000; i++) {
        const name = `w${id}-${i}`;
        const r = await c.request('POST', '/api/v1/namespaces/default/configmaps', {
          body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { i: String(i) } }),
        }).catch(() => undefined);
        if (r?.status === 201) acked.push(name);
        else failures++;
        if (failures > 0) return;
      }
    };
    const writers = [writer(1), writer(2), writer(3), writer(4)];
    await eventually(async () => acked.length >= 200, '200 acknowledged writes');
    process.kill(controlPlanePid(), 'SIGKILL');
    await Promise.all(writers); // each writer stops at its first failed request
    assert.ok(acked.length >= 200);
    const start = await c.skiff(['start', 'cluster', '--name', 'durable']);
    assert.equal(start.code, 0, start.stderr);
    const names = new Set(
      (await c.k(['get', 'cm', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}', '--chunk-size=0'])).split('\n'),
    );
    const lost = acked.filter((n) => !names.has(n));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged writes were lost`);
  });
});
