import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { podKind, summarizePod, podQOSClass } from '../../../src/api/core/v1/pod.js';
import { defaultPodSpec, validatePodSpec, validatePodTemplateSpec, defaultPullPolicy } from '../../../src/api/core/v1/podspec.js';

const NOW = Date.parse('2024-06-01T12:00:00Z');

function pod(spec: unknown, extra: Partial<KObject> = {}): KObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', creationTimestamp: '2024-06-01T11:00:00Z' }, spec, ...extra };
}

function errStrings(obj: KObject, old?: KObject): string[] {
  return podKind.validate!(obj, old).map((e) => e.toString());
}

function defaulted(spec: unknown): KObject {
  const p = pod(structuredClone(spec));
  podKind.defaults!(p);
  return p;
}

test('minimal pod gets upstream defaults', () => {
  const p = defaulted({ containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }], readinessProbe: { httpGet: { port: 80 } } }] });
  const s = p.spec as Record<string, any>;
  assert.equal(s.restartPolicy, 'Always');
  assert.equal(s.dnsPolicy, 'ClusterFirst');
  assert.equal(s.terminationGracePeriodSeconds, 30);
  assert.equal(s.schedulerName, 'default-scheduler');
  assert.deepEqual(s.securityContext, {});
  assert.equal(s.enableServiceLinks, true);
  assert.equal(s.priority, 0);
  assert.equal(s.preemptionPolicy, 'PreemptLowerPriority');
  assert.equal(s.serviceAccountName, 'default');
  assert.equal(s.serviceAccount, 'default');
  const c = s.containers[0];
  assert.equal(c.imagePullPolicy, 'Always');
  assert.equal(c.terminationMessagePath, '/dev/termination-log');
  assert.equal(c.terminationMessagePolicy, 'File');
  assert.equal(c.ports[0].protocol, 'TCP');
  assert.deepEqual(c.readinessProbe, { httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  assert.deepEqual(errStrings(p), []);
});

test('pull policy depends on the tag', () => {
  assert.equal(defaultPullPolicy('nginx'), 'Always');
  assert.equal(defaultPullPolicy('nginx:latest'), 'Always');
  assert.equal(defaultPullPolicy('nginx:1.25'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('localhost:5000/app'), 'Always');
  assert.equal(defaultPullPolicy('localhost:5000/app:v2'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('nginx@sha256:abc'), 'IfNotPresent');
});

test('limits-only containers get matching requests and Guaranteed QoS', () => {
  const p = defaulted({ containers: [{ name: 'a', image: 'x:1', resources: { limits: { cpu: '1', memory: '1Gi' } } }] });
  assert.deepEqual((p.spec as any).containers[0].resources.requests, { cpu: '1', memory: '1Gi' });
  assert.equal(podQOSClass(p.spec), 'Guaranteed');
  assert.equal(podQOSClass({ containers: [{ name: 'a' }] }), 'BestEffort');
  assert.equal(podQOSClass({ containers: [{ name: 'a', resources: { requests: { cpu: '1000m', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } } }] }), 'Guaranteed');
  assert.equal(podQOSClass({ containers: [{ name: 'a', resources: { requests: { cpu: '1' } } }] }), 'Burstable');
  podKind.prepareForCreate!(p);
  assert.deepEqual(p.status, { phase: 'Pending', qosClass: 'Guaranteed' });
});

test('validation reports upstream field paths and messages', () => {
  const p = defaulted({
    containers: [
      { name: 'a', ports: [{ containerPort: 70000, name: 'http' }, { containerPort: 81, name: 'http', protocol: 'FTP' }] },
      { name: 'a', image: 'x', env: [{ name: '1BAD' }], volumeMounts: [{ name: 'nope', mountPath: '/x' }] },
      { name: 'Bad_Name', image: 'x', resources: { requests: { cpu: '2' }, limits: { cpu: '1', memory: 'lots' } } },
    ],
    restartPolicy: 'Sometimes',
    volumes: [{ name: 'v' }, { name: 'w', emptyDir: {}, hostPath: { path: '/tmp' } }],
  });
  const errs = errStrings(p);
  const has = (s: string) => assert.ok(errs.includes(s), `missing ${s}\n${errs.join('\n')}`);
  has('spec.containers[0].image: Required value');
  has('spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive');
  has('spec.containers[0].ports[1].name: Duplicate value: "http"');
  has('spec.containers[0].ports[1].protocol: Unsupported value: "FTP": supported values: "SCTP", "TCP", "UDP"');
  has('spec.containers[1].name: Duplicate value: "a"');
  assert.ok(errs.some((e) => e.startsWith('spec.containers[1].env[0].name: Invalid value: "1BAD": a valid environment variable name')));
  assert.ok(errs.some((e) => e.startsWith('spec.containers[1].volumeMounts[0].name: Invalid value: "nope"')));
  assert.ok(errs.some((e) => e.startsWith('spec.containers[2].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label')));
  has('spec.containers[2].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1');
  assert.ok(errs.some((e) => e.startsWith('spec.containers[2].resources.limits[memory]: Invalid value: "lots"')));
  has('spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"');
  has('spec.volumes[0]: Required value: must specify a volume type');
  has('spec.volumes[1].emptyDir: Forbidden: may not specify more than 1 volume type');
});

test('containers are required; probes need exactly one handler', () => {
  assert.deepEqual(validatePodSpec({ restartPolicy: 'Always' }, 'spec').map(String), ['spec.containers: Required value']);
  const errs = validatePodSpec(
    {
      restartPolicy: 'Always',
      containers: [{ name: 'a', image: 'x', livenessProbe: {}, readinessProbe: { exec: { command: ['true'] }, tcpSocket: { port: 80 } }, startupProbe: { exec: { command: ['x'] }, successThreshold: 2 } }],
    },
    'spec',
  ).map(String);
  assert.ok(errs.includes('spec.containers[0].livenessProbe: Required value: must specify a handler type'));
  assert.ok(errs.includes('spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type'));
  assert.ok(errs.includes('spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1'));
});

test('pod templates validate labels and nest paths', () => {
  const tpl = { metadata: { labels: { 'bad key!': 'v' } }, spec: { containers: [{ name: 'a' }] } };
  defaultPodSpec(tpl.spec);
  const errs = validatePodTemplateSpec(tpl, 'spec.template').map(String);
  assert.ok(errs.some((e) => e.startsWith('spec.template.metadata.labels: Invalid value: "bad key!"')));
  assert.ok(errs.includes('spec.template.spec.containers[0].image: Required value'));
  assert.deepEqual(validatePodTemplateSpec(undefined, 'spec.template').map(String), ['spec.template: Required value']);
});

test('pod spec is immutable except image, deadline, tolerations, grace period', () => {
  const old = defaulted({ containers: [{ name: 'a', image: 'nginx:1' }], activeDeadlineSeconds: 100, tolerations: [{ key: 'k', operator: 'Exists' }] });
  const ok = structuredClone(old);
  const s = ok.spec as any;
  s.containers[0].image = 'nginx:2';
  s.activeDeadlineSeconds = 50;
  s.tolerations.push({ key: 'j', operator: 'Exists' });
  assert.deepEqual(errStrings(ok, old), []);

  const bad = structuredClone(old);
  (bad.spec as any).containers[0].command = ['sh'];
  const errs = errStrings(bad, old);
  assert.equal(errs.length, 1);
  assert.match(errs[0], /^spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`/);

  const longer = structuredClone(old);
  (longer.spec as any).activeDeadlineSeconds = 500;
  assert.ok(errStrings(longer, old).includes('spec.activeDeadlineSeconds: Invalid value: 500: must be less than or equal to previous value'));

  const dropTol = structuredClone(old);
  (dropTol.spec as any).tolerations = [];
  assert.equal(errStrings(dropTol, old).length, 1);
});

function row(p: KObject): unknown[] {
  return podKind.table!.map((c) => c.cell(p, NOW));
}

const twoContainers = { containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] };

test('pod table: Pending, ContainerCreating, Running with restarts', () => {
  assert.deepEqual(row(pod(twoContainers, { status: { phase: 'Pending' } })), ['p', '0/2', 'Pending', '0', '60m', '<none>', '<none>', '<none>', '<none>']);
  const creating = pod(twoContainers, {
    status: { phase: 'Pending', containerStatuses: [{ name: 'a', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] },
  });
  assert.equal(row(creating)[2], 'ContainerCreating');
  const running = pod(
    { ...twoContainers, nodeName: 'node1', readinessGates: [{ conditionType: 'x/y' }] },
    {
      status: {
        phase: 'Running',
        podIPs: [{ ip: '10.1.0.5' }],
        conditions: [{ type: 'x/y', status: 'True' }],
        containerStatuses: [
          { name: 'a', ready: true, restartCount: 2, state: { running: {} }, lastState: { terminated: { finishedAt: '2024-06-01T11:55:00Z' } } },
          { name: 'b', ready: true, restartCount: 0, state: { running: {} } },
        ],
      },
    },
  );
  assert.deepEqual(row(running), ['p', '2/2', 'Running', '2 (5m ago)', '60m', '10.1.0.5', 'node1', '<none>', '1/1']);
});

test('pod table: CrashLoopBackOff, Completed, Error, Terminating, Init', () => {
  const crash = pod(twoContainers, {
    status: {
      phase: 'Running',
      containerStatuses: [
        { name: 'a', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } },
        { name: 'b', ready: true, state: { running: {} } },
      ],
    },
  });
  assert.deepEqual(summarizePod(crash, NOW), { ready: '1/2', status: 'CrashLoopBackOff', restarts: '4' });

  const one = { containers: [{ name: 'a', image: 'x' }] };
  const done = pod(one, { status: { phase: 'Succeeded', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] } });
  assert.equal(summarizePod(done, NOW).status, 'Completed');
  const failed = pod(one, { status: { phase: 'Failed', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 1, reason: 'Error' } } }] } });
  assert.equal(summarizePod(failed, NOW).status, 'Error');
  const exit = pod(one, { status: { phase: 'Failed', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 3 } } }] } });
  assert.equal(summarizePod(exit, NOW).status, 'ExitCode:3');

  const deleting = pod(one, { status: { phase: 'Running', containerStatuses: [{ name: 'a', ready: true, state: { running: {} } }] } });
  deleting.metadata.deletionTimestamp = '2024-06-01T11:59:00Z';
  assert.equal(summarizePod(deleting, NOW).status, 'Terminating');
  // A finished pod being deleted keeps its terminal status.
  done.metadata.deletionTimestamp = '2024-06-01T11:59:00Z';
  assert.equal(summarizePod(done, NOW).status, 'Completed');

  const init = pod(
    { initContainers: [{ name: 'i', image: 'x' }], ...one },
    { status: { phase: 'Pending', initContainerStatuses: [{ name: 'i', state: { running: {} } }], containerStatuses: [{ name: 'a', state: { waiting: { reason: 'PodInitializing' } } }] } },
  );
  assert.deepEqual(summarizePod(init, NOW), { ready: '0/1', status: 'Init:0/1', restarts: '0' });
  const initFail = pod(
    { initContainers: [{ name: 'i', image: 'x' }], ...one },
    { status: { phase: 'Pending', initContainerStatuses: [{ name: 'i', restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }] } },
  );
  assert.equal(summarizePod(initFail, NOW).status, 'Init:CrashLoopBackOff');
  const sidecar = pod(
    { initContainers: [{ name: 'i', image: 'x', restartPolicy: 'Always' }], ...one },
    {
      status: {
        phase: 'Running',
        initContainerStatuses: [{ name: 'i', started: true, ready: true, state: { running: {} } }],
        containerStatuses: [{ name: 'a', ready: true, state: { running: {} } }],
      },
    },
  );
  assert.deepEqual(summarizePod(sidecar, NOW), { ready: '2/2', status: 'Running', restarts: '0' });
});

test('pod field selectors', () => {
  const p = defaulted({ containers: [{ name: 'a', image: 'x' }], nodeName: 'n1' });
  p.status = { phase: 'Running', podIP: '10.0.0.9' };
  const fs = podKind.fieldSelectors!;
  assert.equal(fs['spec.nodeName'](p), 'n1');
  assert.equal(fs['spec.hostNetwork'](p), 'false');
  assert.equal(fs['status.phase'](p), 'Running');
  assert.equal(fs['status.podIP'](p), '10.0.0.9');
  assert.equal(fs['spec.serviceAccountName'](p), 'default');
});
