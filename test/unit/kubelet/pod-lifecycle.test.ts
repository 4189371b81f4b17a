import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { R } from '../../../src/client/client.js';
import { StatusError } from '../../../src/machinery/errors.js';
import { summarizePod } from '../../../src/api/core/v1/pod.js';
import { cond, cs, events, getPod, podObj, setup, waitFor, waitPod } from './helpers.js';

const sleeper = (name: string, extra: Record<string, unknown> = {}) => ({ name, image: 'busybox', command: ['sleep', '3600'], ...extra });

test('a normal run: sandbox with an IP, Running and Ready, container states and events', async () => {
  const e = await setup();
  try {
    await e.client.create(R.pods, 'default', podObj('web', { containers: [sleeper('app', { resources: { limits: { cpu: '100m', memory: '64Mi' } } })] }));
    const pod = await waitPod(e.client, 'web', 'Running and Ready', (s) => s.phase === 'Running' && cond(s, 'Ready')?.status === 'True');
    const s = pod.status as any;
    assert.equal(s.podIP, '127.244.1.2');
    assert.deepEqual(s.podIPs, [{ ip: '127.244.1.2' }]);
    assert.equal(s.hostIP, '127.244.1.1');
    assert.equal(s.qosClass, 'Guaranteed');
    assert.ok(s.startTime);
    for (const t of ['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'PodScheduled']) assert.equal(cond(s, t)?.status, 'True', t);
    const c = cs(s, 'app');
    assert.ok(c.state.running.startedAt);
    assert.equal(c.ready, true);
    assert.equal(c.started, true);
    assert.equal(c.restartCount, 0);
    assert.match(c.containerID, /^skiff:\/\/c-\d+$/);
    assert.deepEqual(c.lastState, {});
    assert.equal(e.pm.podIP(pod.metadata.uid!), '127.244.1.2');
    // Status is written only when it changes: a settled pod is not rewritten.
    await e.pm.idle();
    const rv = (await getPod(e.client, 'web')).metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 300));
    await e.pm.idle();
    assert.equal((await getPod(e.client, 'web')).metadata.resourceVersion, rv);
    const created = e.rt.running('web', 'app')!;
    assert.equal(created.config.memoryLimitBytes, 64 * 1024 * 1024);
    assert.equal(created.config.cpuLimitMillis, 100);
    assert.deepEqual(created.config.command, ['sleep', '3600']);
    await waitFor('events', async () => {
      const reasons = (await events(e.client, 'web')).map((x) => x.reason);
      return ['Pulled', 'Created', 'Started'].every((r) => reasons.includes(r));
    });
    const pulled = (await events(e.client, 'web')).find((x) => x.reason === 'Pulled')!;
    assert.equal(pulled.message, 'Container image "busybox" already present on machine');
    // A second pod gets the next IP.
    await e.client.create(R.pods, 'default', podObj('web2', { containers: [sleeper('app')] }));
    const p2 = await waitPod(e.client, 'web2', 'Running', (st) => st.phase === 'Running');
    assert.equal((p2.status as any).podIP, '127.244.1.3');
  } finally {
    await e.close();
  }
});

test('image entrypoints come from resolveImage; an unknown image without a command fails with a reason', async () => {
  const e = await setup();
  try {
    await e.client.create(R.pods, 'default', podObj('img', { containers: [{ name: 'a', image: 'busybox', args: ['echo', 'hi'] }, { name: 'b', image: 'example.com/unknown:1' }] }));
    const pod = await waitPod(e.client, 'img', 'b failing', (s) => cs(s, 'b')?.state?.waiting?.reason === 'CreateContainerError');
    assert.match(cs(pod.status, 'b').state.waiting.message, /unknown:1/);
    const a = e.rt.instances('img', 'a')[0];
    assert.deepEqual([...a.config.command, ...a.config.args], ['echo', 'hi']);
  } finally {
    await e.close();
  }
});

test('a missing configMap volume keeps the pod ContainerCreating with a FailedMount event', async () => {
  const e = await setup();
  try {
    await e.client.create(
      R.pods,
      'default',
      podObj('mnt', { containers: [sleeper('app', { volumeMounts: [{ name: 'cfg', mountPath: 'cfg' }] })], volumes: [{ name: 'cfg', configMap: { name: 'absent' } }] }),
    );
    const pod = await waitPod(e.client, 'mnt', 'ContainerCreating', (s) => cs(s, 'app')?.state?.waiting?.reason === 'ContainerCreating');
    assert.equal((pod.status as any).phase, 'Pending');
    await waitFor('FailedMount', async () => (await events(e.client, 'mnt')).find((x) => x.reason === 'FailedMount' && /configmap "absent" not found/.test(x.message)));
    assert.equal(e.rt.callsFor('create', 'mnt').length, 0);
    // Once it exists the pod starts.
    await e.client.create(R.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'absent' }, data: { k: 'v' } });
    await waitPod(e.client, 'mnt', 'Running', (s) => s.phase === 'Running', 10_000);
  } finally {
    await e.close();
  }
});

test('exit 0 with restartPolicy Never: Succeeded, Completed, ready False (PodCompleted)', async () => {
  const e = await setup();
  try {
    e.rt.onStart = (c) => {
      if (c.config.name === 'job') setTimeout(() => e.rt.exit(c.status.id, 0), 20);
    };
    await e.client.create(R.pods, 'default', podObj('once', { restartPolicy: 'Never', containers: [sleeper('job')] }));
    const pod = await waitPod(e.client, 'once', 'Succeeded', (s) => s.phase === 'Succeeded');
    const s = pod.status as any;
    const t = cs(s, 'job').state.terminated;
    assert.equal(t.exitCode, 0);
    assert.equal(t.reason, 'Completed');
    assert.ok(t.finishedAt && t.startedAt && t.containerID);
    assert.equal(cond(s, 'Ready').status, 'False');
    assert.equal(cond(s, 'Ready').reason, 'PodCompleted');
    assert.equal(summarizePod(pod, Date.now()).status, 'Completed');
    assert.equal(e.rt.callsFor('start', 'once').length, 1, 'never restarted');
  } finally {
    await e.close();
  }
});

test('exit 1 with restartPolicy OnFailure: restarted with back-off, CrashLoopBackOff, restartCount, lastState', async () => {
  const e = await setup();
  try {
    e.rt.onStart = (c) => {
      if (c.config.name === 'crash') setTimeout(() => e.rt.exit(c.status.id, 1), 5);
    };
    await e.client.create(R.pods, 'default', podObj('crasher', { restartPolicy: 'OnFailure', containers: [sleeper('crash')] }));
    const pod = await waitPod(e.client, 'crasher', 'CrashLoopBackOff', (s) => cs(s, 'crash')?.state?.waiting?.reason === 'CrashLoopBackOff');
    const s = pod.status as any;
    const c = cs(s, 'crash');
    assert.match(c.state.waiting.message, new RegExp(`^back-off \\d+ms restarting failed container=crash pod=crasher_default\\(${pod.metadata.uid}\\)$`));
    assert.ok(c.restartCount >= 1);
    assert.equal(c.lastState.terminated.exitCode, 1);
    assert.equal(c.lastState.terminated.reason, 'Error');
    assert.equal(s.phase, 'Running');
    assert.equal(summarizePod(pod, Date.now()).status, 'CrashLoopBackOff');
    // It keeps being restarted after the back-off, and the delay doubles.
    await waitPod(e.client, 'crasher', 'more restarts', (st) => cs(st, 'crash')?.restartCount >= 3, 10_000);
    const p2 = await waitPod(e.client, 'crasher', 'longer back-off', (st) => /^back-off (600ms|1\.2s)/.test(cs(st, 'crash')?.state?.waiting?.message ?? ''), 10_000);
    assert.ok(p2);
    await waitFor('BackOff event', async () => (await events(e.client, 'crasher')).find((x) => x.reason === 'BackOff' && x.message.startsWith('Back-off restarting failed container crash in pod crasher_default(')));
  } finally {
    await e.close();
  }
});

test('init containers run in order to completion, Init:x/y visible, then the app containers', async () => {
  const e = await setup();
  try {
    await e.client.create(R.pods, 'default', podObj('inits', { initContainers: [sleeper('init1'), sleeper('init2')], containers: [sleeper('app')] }));
    let pod = await waitPod(e.client, 'inits', 'init1 running', (s) => cs(s, 'init1', true)?.state?.running);
    let s = pod.status as any;
    assert.equal(cs(s, 'init2', true).state.waiting.reason, 'PodInitializing');
    assert.equal(cs(s, 'app').state.waiting.reason, 'PodInitializing');
    assert.equal(s.phase, 'Pending');
    assert.equal(cond(s, 'Initialized').status, 'False');
    assert.equal(cond(s, 'Initialized').message, 'containers with incomplete status: [init1 init2]');
    assert.equal(summarizePod(pod, Date.now()).status, 'Init:0/2');
    assert.equal(e.rt.running('inits', 'init2'), undefined);
    e.rt.exitContainer('inits', 'init1', 0);
    pod = await waitPod(e.client, 'inits', 'init2 running', (st) => cs(st, 'init2', true)?.state?.running);
    assert.equal(summarizePod(pod, Date.now()).status, 'Init:1/2');
    assert.equal(e.rt.instances('inits', 'app').length, 0);
    e.rt.exitContainer('inits', 'init2', 0);
    pod = await waitPod(e.client, 'inits', 'app running', (st) => st.phase === 'Running' && cs(st, 'app')?.state?.running);
    s = pod.status as any;
    assert.equal(cond(s, 'Initialized').status, 'True');
    assert.equal(cs(s, 'init1', true).state.terminated.reason, 'Completed');
    assert.equal(cs(s, 'init1', true).ready, true);
    const order = e.rt.callsFor('start', 'inits').map((c) => c.name);
    assert.deepEqual(order, ['init1', 'init2', 'app']);
  } finally {
    await e.close();
  }
});

test('a failed init container with restartPolicy Never fails the pod', async () => {
  const e = await setup();
  try {
    await e.client.create(R.pods, 'default', podObj('badinit', { restartPolicy: 'Never', initContainers: [sleeper('init')], containers: [sleeper('app')] }));
    await waitPod(e.client, 'badinit', 'init running', (s) => cs(s, 'init', true)?.state?.running);
    e.rt.exitContainer('badinit', 'init', 2);
    const pod = await waitPod(e.client, 'badinit', 'Failed', (s) => s.phase === 'Failed');
    assert.equal(cs(pod.status, 'init', true).state.terminated.exitCode, 2);
    assert.equal(summarizePod(pod, Date.now()).status, 'Init:Error');
    assert.equal(e.rt.instances('badinit', 'app').length, 0);
  } finally {
    await e.close();
  }
});

test('a native sidecar starts before the app containers and keeps running', async () => {
  const e = await setup();
  try {
    await e.client.create(
      R.pods,
      'default',
      podObj('sc', {
        initContainers: [sleeper('side', { restartPolicy: 'Always', startupProbe: { exec: { command: ['started'] }, periodSeconds: 1 } })],
        containers: [sleeper('app')],
      }),
    );
    const pod = await waitPod(e.client, 'sc', 'Running and Ready', (s) => s.phase === 'Running' && cond(s, 'Ready')?.status === 'True');
    const s = pod.status as any;
    const side = cs(s, 'side', true);
    assert.ok(side.state.running);
    assert.equal(side.started, true);
    assert.equal(side.ready, true);
    assert.equal(summarizePod(pod, Date.now()).ready, '2/2');
    const starts = e.rt.callsFor('start', 'sc').map((c) => c.name);
    assert.deepEqual(starts, ['side', 'app']);
    const startupExec = e.rt.calls.findIndex((c) => c.op === 'exec' && c.cmd?.[0] === 'started');
    const appStart = e.rt.calls.findIndex((c) => c.op === 'start' && c.name === 'app');
    assert.ok(startupExec >= 0 && startupExec < appStart, 'the app waits for the sidecar to be started');
  } finally {
    await e.close();
  }
});

test('env: value, $(VAR), configMap/secret keys, envFrom with prefix, fieldRef, resourceFieldRef, service variables', async () => {
  const e = await setup();
  try {
    await e.client.create(R.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { A: 'alpha', B: 'beta', '1bad': 'x' } });
    await e.client.create(R.secrets, 'default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, data: { PASS: Buffer.from('pw').toString('base64') } });
    await e.client.create(R.services, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'my-svc' },
      spec: { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    });
    await e.client.create(
      R.pods,
      'default',
      podObj(
        'envpod',
        {
          containers: [
            sleeper('app', {
              command: ['sh', '-c', 'echo $(FOO)'],
              resources: { limits: { memory: '64Mi' }, requests: { cpu: '250m' } },
              envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'P_' }, { configMapRef: { name: 'cm' } }, { secretRef: { name: 'nope', optional: true } }],
              env: [
                { name: 'FOO', value: 'foo' },
                { name: 'BAR', value: '$(FOO)-bar' },
                { name: 'ESC', value: '$$(FOO)' },
                { name: 'UNDEF', value: '$(NOPE)' },
                { name: 'CM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'A' } } },
                { name: 'SEC', valueFrom: { secretKeyRef: { name: 'sec', key: 'PASS' } } },
                { name: 'OPT', valueFrom: { secretKeyRef: { name: 'sec', key: 'MISSING', optional: true } } },
                { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
                { name: 'LBL', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
                { name: 'ANN', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['note']" } } },
                { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
                { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
                { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
                { name: 'CPU_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
                { name: 'CPU_REQ_CORES', valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } } },
              ],
            }),
          ],
        },
        { labels: { app: 'web' }, annotations: { note: 'hello' } },
      ),
    );
    const pod = await waitPod(e.client, 'envpod', 'Running', (s) => s.phase === 'Running');
    const c = e.rt.running('envpod', 'app')!;
    const env = c.config.env;
    assert.equal(env.FOO, 'foo');
    assert.equal(env.BAR, 'foo-bar');
    assert.equal(env.ESC, '$(FOO)');
    assert.equal(env.UNDEF, '$(NOPE)');
    assert.equal(env.CM, 'alpha');
    assert.equal(env.SEC, 'pw');
    assert.equal('OPT' in env, false);
    assert.equal(env.P_A, 'alpha');
    assert.equal(env.P_B, 'beta');
    assert.equal('P_1bad' in env, true, 'a prefix can make a key valid');
    assert.equal('1bad' in env, false);
    assert.equal(env.A, 'alpha');
    assert.equal(env.NAME, 'envpod');
    assert.equal(env.NS, 'default');
    assert.equal(env.UID, pod.metadata.uid);
    assert.equal(env.LBL, 'web');
    assert.equal(env.ANN, 'hello');
    assert.equal(env.NODE, 'node-1');
    assert.equal(env.SA, 'default');
    assert.equal(env.POD_IP, '127.244.1.2');
    assert.equal(env.HOST_IP, '127.244.1.1');
    assert.equal(env.MEM, '64');
    assert.equal(env.CPU_REQ, '250');
    assert.equal(env.CPU_REQ_CORES, '1');
    assert.equal(env.KUBERNETES_SERVICE_HOST, '127.96.0.1');
    assert.equal(env.KUBERNETES_SERVICE_PORT, '443');
    const svc = await e.client.get(R.services, 'default', 'my-svc');
    const ip = (svc.spec as any).clusterIP;
    assert.equal(env.MY_SVC_SERVICE_HOST, ip);
    assert.equal(env.MY_SVC_SERVICE_PORT, '8080');
    assert.equal(env.MY_SVC_SERVICE_PORT_HTTP, '8080');
    assert.equal(env.MY_SVC_PORT, `tcp://${ip}:8080`);
    assert.equal(env.MY_SVC_PORT_8080_TCP_ADDR, ip);
    assert.equal(env.MY_SVC_PORT_8080_TCP_PROTO, 'tcp');
    assert.deepEqual(c.config.command, ['sh', '-c', 'echo foo']);
    await waitFor('InvalidEnvironmentVariableNames', async () => (await events(e.client, 'envpod')).find((x) => x.reason === 'InvalidEnvironmentVariableNames'));
  } finally {
    await e.close();
  }
});

test('env: a missing configMap is CreateContainerConfigError; enableServiceLinks false keeps only KUBERNETES_*', async () => {
  const e = await setup();
  try {
    await e.client.create(R.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'other' }, spec: { ports: [{ port: 80 }] } });
    await e.client.create(
      R.pods,
      'default',
      podObj('cfgerr', { containers: [sleeper('app', { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k' } } }] })] }),
    );
    await e.client.create(R.pods, 'default', podObj('nolinks', { enableServiceLinks: false, containers: [sleeper('app')] }));
    const pod = await waitPod(e.client, 'cfgerr', 'CreateContainerConfigError', (s) => cs(s, 'app')?.state?.waiting?.reason === 'CreateContainerConfigError');
    assert.equal(cs(pod.status, 'app').state.waiting.message, 'configmap "gone" not found');
    await waitPod(e.client, 'nolinks', 'Running', (s) => s.phase === 'Running');
    const env = e.rt.running('nolinks', 'app')!.config.env;
    assert.equal(env.KUBERNETES_SERVICE_HOST, '127.96.0.1');
    assert.equal(env.OTHER_SERVICE_HOST, undefined);
  } finally {
    await e.close();
  }
});

test('volumes: emptyDir shared, configMap items and modes, secret, downwardAPI, projected, hostPath; unsupported warned once', async () => {
  const e = await setup();
  try {
    e.rt.unsupportedFn = (cfg) => cfg.mounts.filter((m) => m.containerPath.startsWith('/')).map((m) => `absolute mountPath ${m.containerPath}`);
    await e.client.create(R.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { 'a.txt': 'AAA', b: 'BBB' } });
    await e.client.create(R.secrets, 'default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, data: { token: Buffer.from('s3cret').toString('base64') } });
    const hostDir = path.join(e.root, 'host-data');
    await e.client.create(
      R.pods,
      'default',
      podObj(
        'vols',
        {
          containers: [
            sleeper('one', {
              volumeMounts: [
                { name: 'scratch', mountPath: '/data' },
                { name: 'cfg', mountPath: 'cfg', readOnly: true },
              ],
            }),
            sleeper('two', {
              volumeMounts: [
                { name: 'scratch', mountPath: '/data' },
                { name: 'sec', mountPath: 'sec' },
                { name: 'info', mountPath: 'info' },
                { name: 'all', mountPath: 'all' },
                { name: 'host', mountPath: 'host' },
              ],
            }),
          ],
          volumes: [
            { name: 'scratch', emptyDir: {} },
            { name: 'cfg', configMap: { name: 'cm', items: [{ key: 'b', path: 'sub/b.conf', mode: 0o600 }] } },
            { name: 'sec', secret: { secretName: 'sec', defaultMode: 0o400 } },
            {
              name: 'info',
              downwardAPI: {
                items: [
                  { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                  { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
                ],
              },
            },
            {
              name: 'all',
              projected: {
                sources: [
                  { configMap: { name: 'cm' } },
                  { secret: { name: 'sec' } },
                  { downwardAPI: { items: [{ path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
                  { serviceAccountToken: { path: 'sa-token' } },
                ],
              },
            },
            { name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } },
          ],
        },
        { labels: { app: 'v', tier: 'x' } },
      ),
    );
    const pod = await waitPod(e.client, 'vols', 'Running', (s) => s.phase === 'Running');
    const base = path.join(e.root, 'pods', pod.metadata.uid!, 'volumes');
    assert.equal(await readFile(path.join(base, 'cfg', 'sub', 'b.conf'), 'utf8'), 'BBB');
    assert.equal((await stat(path.join(base, 'cfg', 'sub', 'b.conf'))).mode & 0o777, 0o600);
    await assert.rejects(stat(path.join(base, 'cfg', 'a.txt')));
    assert.equal(await readFile(path.join(base, 'sec', 'token'), 'utf8'), 's3cret');
    assert.equal((await stat(path.join(base, 'sec', 'token'))).mode & 0o777, 0o400);
    assert.equal(await readFile(path.join(base, 'info', 'labels'), 'utf8'), 'app="v"\ntier="x"');
    assert.equal(await readFile(path.join(base, 'info', 'name'), 'utf8'), 'vols');
    assert.equal(await readFile(path.join(base, 'all', 'a.txt'), 'utf8'), 'AAA');
    assert.equal(await readFile(path.join(base, 'all', 'token'), 'utf8'), 's3cret');
    assert.equal(await readFile(path.join(base, 'all', 'ns'), 'utf8'), 'default');
    assert.ok((await readFile(path.join(base, 'all', 'sa-token'), 'utf8')).length > 0);
    assert.ok((await stat(hostDir)).isDirectory());
    const one = e.rt.running('vols', 'one')!.config.mounts;
    const two = e.rt.running('vols', 'two')!.config.mounts;
    assert.deepEqual(one[0], { hostPath: path.join(base, 'scratch'), containerPath: '/data', readOnly: false });
    assert.equal(two[0].hostPath, one[0].hostPath, 'emptyDir shared');
    assert.equal(one[1].readOnly, true);
    assert.equal(two[4].hostPath, hostDir);
    await waitFor('one RuntimeLimitation event', async () => (await events(e.client, 'vols')).find((x) => x.reason === 'RuntimeLimitation'));
    const warnings = (await events(e.client, 'vols')).filter((x) => x.reason === 'RuntimeLimitation');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].message, /absolute mountPath \/data/);
  } finally {
    await e.close();
  }
});

test('a failing liveness probe restarts the container with Unhealthy and Killing events', async () => {
  const e = await setup();
  try {
    let healthy = true;
    e.rt.execHandler = (_c, cmd) => (cmd[0] === 'alive' ? (healthy ? 0 : 1) : 0);
    await e.client.create(
      R.pods,
      'default',
      podObj('live', { containers: [sleeper('app', { livenessProbe: { exec: { command: ['alive'] }, periodSeconds: 1, failureThreshold: 2 } })] }),
    );
    await waitPod(e.client, 'live', 'Running', (s) => s.phase === 'Running');
    await waitFor('a liveness probe ran', () => e.rt.calls.some((c) => c.op === 'exec' && c.cmd?.[0] === 'alive'));
    assert.equal(e.rt.instances('live', 'app').length, 1);
    healthy = false;
    const pod = await waitPod(e.client, 'live', 'restarted', (s) => cs(s, 'app')?.restartCount === 1 && cs(s, 'app')?.state?.running);
    healthy = true;
    assert.equal(cs(pod.status, 'app').lastState.terminated.exitCode, 143);
    await waitFor('events', async () => {
      const ev = await events(e.client, 'live');
      return (
        ev.some((x) => x.reason === 'Unhealthy' && x.type === 'Warning' && x.message.startsWith('Liveness probe failed:')) &&
        ev.some((x) => x.reason === 'Killing' && x.message === 'Container app failed liveness probe, will be restarted')
      );
    });
  } finally {
    await e.close();
  }
});

test('a failing readiness probe takes Ready and ContainersReady to False, and back', async () => {
  const e = await setup();
  try {
    let ready = true;
    e.rt.execHandler = (_c, cmd) => (cmd[0] === 'ready' ? (ready ? 0 : 1) : 0);
    await e.client.create(
      R.pods,
      'default',
      podObj('rdy', { containers: [sleeper('app', { readinessProbe: { exec: { command: ['ready'] }, periodSeconds: 1, failureThreshold: 1 } }), sleeper('plain')] }),
    );
    let pod = await waitPod(e.client, 'rdy', 'Ready', (s) => cond(s, 'Ready')?.status === 'True');
    assert.equal(cs(pod.status, 'app').ready, true);
    ready = false;
    pod = await waitPod(e.client, 'rdy', 'not Ready', (s) => cond(s, 'Ready')?.status === 'False');
    const s = pod.status as any;
    assert.equal(cond(s, 'ContainersReady').status, 'False');
    assert.equal(cond(s, 'Ready').reason, 'ContainersNotReady');
    assert.equal(cond(s, 'Ready').message, 'containers with unready status: [app]');
    assert.equal(cs(s, 'app').ready, false);
    assert.equal(cs(s, 'plain').ready, true);
    assert.equal(s.phase, 'Running');
    assert.equal(e.rt.instances('rdy', 'app').length, 1, 'readiness never restarts');
    ready = true;
    await waitPod(e.client, 'rdy', 'Ready again', (st) => cond(st, 'Ready')?.status === 'True' && cond(st, 'ContainersReady')?.status === 'True');
  } finally {
    await e.close();
  }
});

test('graceful deletion: preStop, stop with the grace period, sandbox removed, pod object deleted', async () => {
  const e = await setup();
  try {
    await e.client.create(
      R.pods,
      'default',
      podObj('bye', {
        terminationGracePeriodSeconds: 9,
        containers: [sleeper('app', { lifecycle: { preStop: { exec: { command: ['drain'] } } } }), sleeper('other')],
      }),
    );
    const pod = await waitPod(e.client, 'bye', 'Running', (s) => s.phase === 'Running');
    const sandboxId = e.rt.running('bye', 'app')!.sandbox.id;
    await e.client.delete(R.pods, 'default', 'bye', { gracePeriodSeconds: 6 });
    await waitFor('pod object gone', async () => {
      try {
        await getPod(e.client, 'bye');
        return false;
      } catch (err) {
        return err instanceof StatusError && err.code === 404;
      }
    });
    assert.ok(e.rt.calls.some((c) => c.op === 'exec' && c.cmd?.[0] === 'drain'), 'preStop ran');
    const stops = e.rt.callsFor('stop', 'bye');
    const other = stops.find((c) => c.name === 'other')!;
    assert.equal(other.grace, 6);
    const app = stops.find((c) => c.name === 'app')!;
    assert.ok(app.grace! >= 2 && app.grace! <= 6, `grace after preStop ${app.grace}`);
    assert.ok(e.rt.calls.some((c) => c.op === 'removeSandbox' && c.id === sandboxId));
    assert.equal(e.pm.podIP(pod.metadata.uid!), undefined);
    const killing = await waitFor('Killing events', async () => (await events(e.client, 'bye')).filter((x) => x.reason === 'Killing').length >= 2);
    assert.ok(killing);
    // The IP is free again: a new pod can have it once the others are taken in turn.
    assert.equal(e.pm.ipam.isHeld('127.244.1.2'), false);
  } finally {
    await e.close();
  }
});

test('activeDeadlineSeconds: Failed with reason DeadlineExceeded, containers stopped', async () => {
  const e = await setup();
  try {
    await e.client.create(R.pods, 'default', podObj('dl', { activeDeadlineSeconds: 1, containers: [sleeper('app')] }));
    const pod = await waitPod(e.client, 'dl', 'DeadlineExceeded', (s) => s.phase === 'Failed' && s.reason === 'DeadlineExceeded', 10_000);
    assert.equal((pod.status as any).message, 'Pod was active on the node longer than the specified deadline');
    assert.equal(e.rt.running('dl', 'app'), undefined);
    assert.ok(cs(pod.status, 'app').state.terminated);
  } finally {
    await e.close();
  }
});

test('adoption: a new PodManager over the same runtime starts no twins and keeps IPs; orphaned sandboxes go', async () => {
  const e = await setup();
  try {
    await e.client.create(R.pods, 'default', podObj('keep', { initContainers: [sleeper('init')], containers: [sleeper('a'), sleeper('b')] }));
    await waitPod(e.client, 'keep', 'init running', (s) => cs(s, 'init', true)?.state?.running);
    e.rt.exitContainer('keep', 'init', 0);
    const before = await waitPod(e.client, 'keep', 'Running and Ready', (s) => s.phase === 'Running' && cond(s, 'Ready')?.status === 'True');
    await e.pm.stop();
    // A sandbox of a pod that no longer exists.
    const orphan = await e.rt.runSandbox({ uid: 'gone-uid', namespace: 'default', name: 'gone', ip: '127.244.1.50', hostname: 'gone' });
    await e.rt.startContainer(await e.rt.createContainer(orphan, { name: 'x', image: 'busybox', command: ['sleep'], args: [], env: {}, stdin: false, stdinOnce: false, tty: false, mounts: [], attempt: 0, ports: [] }));
    const creates = e.rt.callsFor('create').length;
    const starts = e.rt.callsFor('start').length;

    const pm2 = e.newManager();
    await pm2.start();
    await waitFor('orphan removed', () => e.rt.calls.some((c) => c.op === 'removeSandbox' && c.id === orphan.id));
    await e.client.create(R.pods, 'default', podObj('fresh', { containers: [sleeper('c')] }));
    const fresh = await waitPod(e.client, 'fresh', 'Running', (s) => s.phase === 'Running');
    await pm2.idle();
    assert.equal(e.rt.callsFor('create').filter((c) => c.pod === 'keep').length, 3);
    assert.equal(e.rt.callsFor('start').filter((c) => c.pod === 'keep').length, 3);
    assert.equal(e.rt.callsFor('start').length, starts + 1, 'only the fresh pod started');
    assert.equal(e.rt.callsFor('create').length, creates + 1);
    assert.equal(pm2.podIP(before.metadata.uid!), '127.244.1.2');
    assert.notEqual((fresh.status as any).podIP, '127.244.1.2');
    const after = await getPod(e.client, 'keep');
    assert.equal(cs(after.status, 'a').restartCount, 0);
    assert.equal(cs(after.status, 'a').containerID, cs(before.status, 'a').containerID);
    assert.equal(cond(after.status, 'Ready').status, 'True');
    // Adopted containers are still watched: an exit restarts the container (restartPolicy Always).
    e.rt.exitContainer('keep', 'a', 1);
    await waitPod(e.client, 'keep', 'a restarted', (s) => cs(s, 'a')?.restartCount === 1 && cs(s, 'a')?.state?.running);
  } finally {
    await e.close();
  }
});

test('stopAllPods stops every container and sandbox but leaves the pods in the API', async () => {
  const e = await setup();
  try {
    await e.client.create(R.pods, 'default', podObj('s1', { containers: [sleeper('app')] }));
    await waitPod(e.client, 's1', 'Running', (s) => s.phase === 'Running');
    await e.pm.stop();
    await e.pm.stopAllPods(3);
    assert.equal(e.rt.running('s1', 'app'), undefined);
    assert.equal(e.rt.callsFor('stop', 's1')[0].grace, 3);
    assert.ok(e.rt.calls.some((c) => c.op === 'stopSandbox'));
    await getPod(e.client, 's1');
  } finally {
    await e.close();
  }
});
