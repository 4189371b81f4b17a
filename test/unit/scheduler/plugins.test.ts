// Filter and score semantics of each plugin, through the framework over hand-built NodeInfos.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../../src/machinery/object.js';
import { DEFAULT_WEIGHTS, defaultPlugins, Framework, PodInfo, podRequests, type Plugin } from '../../../src/scheduler/index.js';
import { nodeAffinity, taintToleration } from '../../../src/scheduler/plugins/basic.js';
import { balancedAllocation, nodeResourcesFit } from '../../../src/scheduler/plugins/noderesources.js';
import { interPodAffinity } from '../../../src/scheduler/plugins/interpodaffinity.js';
import { podTopologySpread } from '../../../src/scheduler/plugins/podtopologyspread.js';
import { node, nodeInfos, pod } from './helpers.js';

const fw = new Framework(defaultPlugins(), DEFAULT_WEIGHTS, () => 0.99);

function schedule(p: KObject, nodes: KObject[], bound: Record<string, KObject[]> = {}) {
  return fw.schedule(new PodInfo(p), nodeInfos(nodes, bound), () => undefined);
}

/** Names of the nodes the filters let through. */
function feasible(p: KObject, nodes: KObject[], bound: Record<string, KObject[]> = {}): string[] {
  const infos = nodeInfos(nodes, bound);
  const s = { pod: new PodInfo(p), nodes: infos, nsLabels: () => undefined, data: new Map() };
  for (const pl of fw.plugins) pl.preFilter?.(s);
  return infos.filter((n) => fw.plugins.every((pl) => !pl.filter?.(s, n))).map((n) => n.name);
}

/** One plugin's normalized scores by node name. */
function scores(pl: Plugin, p: KObject, nodes: KObject[], bound: Record<string, KObject[]> = {}): Record<string, number> {
  const infos = nodeInfos(nodes, bound);
  const s = { pod: new PodInfo(p), nodes: infos, nsLabels: () => undefined, data: new Map() };
  pl.preFilter?.(s);
  if (pl.preScore && !pl.preScore(s, infos)) return Object.fromEntries(infos.map((n) => [n.name, 0]));
  const out = infos.map((n) => pl.score!(s, n));
  pl.normalize?.(s, out, infos);
  return Object.fromEntries(infos.map((n, i) => [n.name, out[i]]));
}

test('pod requests: containers add up, init containers take the max, sidecars stay, overhead on top', () => {
  const { req, nonZero } = podRequests({
    containers: [{ resources: { requests: { cpu: '250m', memory: '64Mi' } } }, { resources: { requests: { cpu: '250m' } } }],
    initContainers: [{ resources: { requests: { cpu: '2', memory: '1Gi' } } }, { restartPolicy: 'Always', resources: { requests: { cpu: '100m' } } }],
    overhead: { cpu: '10m' },
  });
  assert.equal(req.cpu, 2000 + 10); // the 2-cpu init container dominates (500m + 100m sidecar < 2)
  assert.equal(req.memory, 1024 * 1024 * 1024);
  assert.equal(nonZero.cpu, 2010);
  const plain = podRequests({ containers: [{}] });
  assert.equal(plain.req.cpu, 0);
  assert.equal(plain.nonZero.cpu, 100);
  assert.equal(plain.nonZero.memory, 200 * 1024 * 1024);
  const sidecar = podRequests({ containers: [{ resources: { requests: { cpu: '1' } } }], initContainers: [{ restartPolicy: 'Always', resources: { requests: { cpu: '500m' } } }] });
  assert.equal(sidecar.req.cpu, 1500);
});

test('NodeResourcesFit: requests vs allocatable minus bound pods, every resource and the pod count', () => {
  const n = node('n1', { cpu: '2', memory: '1Gi', pods: '3', extra: { 'example.com/gpu': '1' } });
  const bound = { n1: [pod('a', { cpu: '1500m', memory: '512Mi' })] };
  assert.deepEqual(feasible(pod('p', { cpu: '500m' }), [n], bound), ['n1']);
  assert.deepEqual(feasible(pod('p', { cpu: '501m' }), [n], bound), []);
  assert.deepEqual(schedule(pod('p', { cpu: '1', memory: '1Gi' }), [n], bound).statuses?.get('n1')?.reasons, ['Insufficient cpu', 'Insufficient memory']);
  assert.deepEqual(schedule(pod('p', { requests: { 'example.com/gpu': '2' } }), [n]).statuses?.get('n1')?.reasons, ['Insufficient example.com/gpu']);
  assert.deepEqual(feasible(pod('p', { requests: { 'example.com/gpu': '1' } }), [n]), ['n1']);
  assert.deepEqual(schedule(pod('p', { requests: { 'ephemeral-storage': '200Gi' } }), [n]).statuses?.get('n1')?.reasons, ['Insufficient ephemeral-storage']);
  const full = { n1: [pod('a'), pod('b'), pod('c')] };
  assert.deepEqual(schedule(pod('p'), [n], full).statuses?.get('n1')?.reasons, ['Too many pods']);
  // A pod that requests nothing fits an overcommitted node (only the pod count applies).
  assert.deepEqual(feasible(pod('p'), [n], { n1: [pod('big', { cpu: '3' })] }), ['n1']);
});

test('NodeResourcesFit LeastAllocated and BalancedAllocation scores', () => {
  const nodes = [node('empty', { cpu: '4', memory: '4Gi' }), node('busy', { cpu: '4', memory: '4Gi' })];
  const bound = { busy: [pod('x', { cpu: '2', memory: '1Gi' })] };
  const p = pod('p', { cpu: '1', memory: '1Gi' });
  // empty: cpu (4-1)/4=75, mem (4-1)/4=75 → 75; busy: cpu (4-3)/4=25, mem (4-2)/4=50 → 37
  assert.deepEqual(scores(nodeResourcesFit, p, nodes, bound), { empty: 75, busy: 37 });
  // empty: fractions .25/.25 → 100; busy: .75/.5 → std .125 → 87
  assert.deepEqual(scores(balancedAllocation, p, nodes, bound), { empty: 100, busy: 87 });
  assert.equal(schedule(p, nodes, bound).node?.name, 'empty');
});

test('NodeUnschedulable: a cordoned node takes no pods unless they tolerate it', () => {
  const nodes = [node('cordoned', { unschedulable: true }), node('ok')];
  assert.deepEqual(feasible(pod('p'), nodes), ['ok']);
  const tol = pod('p', { spec: { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] } });
  assert.deepEqual(feasible(tol, nodes), ['cordoned', 'ok']);
  assert.deepEqual(schedule(pod('p'), [nodes[0]]).statuses?.get('cordoned')?.reasons, ['node(s) were unschedulable']);
});

test('TaintToleration: NoSchedule/NoExecute need a toleration (Equal, Exists, empty key), PreferNoSchedule scores', () => {
  const tainted = node('t', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] });
  const exec = node('e', { taints: [{ key: 'x', effect: 'NoExecute' }] });
  const nodes = [tainted, exec, node('plain')];
  assert.deepEqual(feasible(pod('p'), nodes), ['plain']);
  const eq = (tols: unknown[]) => feasible(pod('p', { spec: { tolerations: tols } }), nodes);
  assert.deepEqual(eq([{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }]), ['t', 'plain']);
  assert.deepEqual(eq([{ key: 'dedicated', value: 'cpu', effect: 'NoSchedule' }]), ['plain']);
  assert.deepEqual(eq([{ key: 'dedicated', operator: 'Exists' }]), ['t', 'plain']);
  assert.deepEqual(eq([{ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }]), ['plain']);
  assert.deepEqual(eq([{ operator: 'Exists' }]), ['t', 'e', 'plain']);
  assert.deepEqual(schedule(pod('p'), [tainted]).statuses?.get('t')?.reasons, ['node(s) had untolerated taint {dedicated: gpu}']);
  const soft = [node('soft', { taints: [{ key: 'k', effect: 'PreferNoSchedule' }] }), node('clean')];
  assert.deepEqual(scores(taintToleration, pod('p'), soft), { soft: 0, clean: 100 });
  assert.deepEqual(feasible(pod('p'), soft), ['soft', 'clean']);
  assert.equal(schedule(pod('p'), soft).node?.name, 'clean');
  const tolerant = pod('p', { spec: { tolerations: [{ key: 'k', operator: 'Exists', effect: 'PreferNoSchedule' }] } });
  assert.deepEqual(scores(taintToleration, tolerant, soft), { soft: 100, clean: 100 }); // nothing to prefer
});

test('NodeAffinity: nodeSelector, required terms with every operator and matchFields, preferred weights', () => {
  const nodes = [
    node('a', { labels: { disk: 'ssd', gen: '5', zone: 'z1' } }),
    node('b', { labels: { disk: 'hdd', gen: '3', zone: 'z2' } }),
    node('c', { labels: { gen: 'x' } }),
  ];
  const req = (...terms: unknown[]) =>
    feasible(pod('p', { spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } } }), nodes);
  const expr = (key: string, operator: string, values?: string[]) => ({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });
  assert.deepEqual(feasible(pod('p', { spec: { nodeSelector: { disk: 'ssd' } } }), nodes), ['a']);
  assert.deepEqual(req(expr('disk', 'In', ['ssd', 'hdd'])), ['a', 'b']);
  assert.deepEqual(req(expr('disk', 'NotIn', ['ssd'])), ['b', 'c']);
  assert.deepEqual(req(expr('disk', 'Exists')), ['a', 'b']);
  assert.deepEqual(req(expr('disk', 'DoesNotExist')), ['c']);
  assert.deepEqual(req(expr('gen', 'Gt', ['4'])), ['a']);
  assert.deepEqual(req(expr('gen', 'Lt', ['4'])), ['b']);
  assert.deepEqual(req({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['c'] }] }), ['c']);
  assert.deepEqual(req(expr('zone', 'In', ['z2']), { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }] }), ['a', 'b']); // terms OR
  assert.deepEqual(req({ matchExpressions: [{ key: 'disk', operator: 'Exists' }, { key: 'zone', operator: 'In', values: ['z1'] }] }), ['a']); // expressions AND
  assert.deepEqual(req({}), []); // an empty term matches nothing
  assert.deepEqual(schedule(pod('p', { spec: { nodeSelector: { disk: 'nvme' } } }), nodes).message?.split('.')[0], "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector");
  const preferred = pod('p', {
    spec: {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 10, preference: expr('disk', 'In', ['hdd']) },
            { weight: 40, preference: expr('zone', 'In', ['z1']) },
          ],
        },
      },
    },
  });
  assert.deepEqual(scores(nodeAffinity, preferred, nodes), { a: 100, b: 25, c: 0 });
  assert.equal(schedule(preferred, nodes).node?.name, 'a');
});

const zoneNodes = () => [
  node('a1', { labels: { zone: 'z1' } }),
  node('a2', { labels: { zone: 'z1' } }),
  node('b1', { labels: { zone: 'z2' } }),
  node('c1', { labels: { zone: 'z3' } }),
];

test('InterPodAffinity: required affinity and anti-affinity by topology, existing pods’ anti-affinity, first-replica self-affinity', () => {
  const nodes = zoneNodes();
  const db = pod('db', { labels: { app: 'db' } });
  const affinity = (kind: 'podAffinity' | 'podAntiAffinity', app: string, key: string, labels: Record<string, string> = {}) =>
    pod('p', { labels, spec: { affinity: { [kind]: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app } }, topologyKey: key }] } } } });
  assert.deepEqual(feasible(affinity('podAffinity', 'db', 'zone'), nodes, { a2: [db] }), ['a1', 'a2']);
  assert.deepEqual(feasible(affinity('podAffinity', 'db', 'kubernetes.io/hostname'), nodes, { a2: [db] }), ['a2']);
  assert.deepEqual(feasible(affinity('podAntiAffinity', 'db', 'zone'), nodes, { a2: [db] }), ['b1', 'c1']);
  // No pod matches yet: an affinity the pod satisfies itself lets the first replica in anywhere.
  assert.deepEqual(feasible(affinity('podAffinity', 'web', 'zone', { app: 'web' }), nodes), ['a1', 'a2', 'b1', 'c1']);
  assert.deepEqual(feasible(affinity('podAffinity', 'web', 'zone'), nodes), []);
  assert.match(schedule(affinity('podAffinity', 'web', 'zone'), nodes).message!, /4 node\(s\) didn't match pod affinity rules\./);
  // An existing pod that repels app=web keeps web pods out of its zone.
  const guard = pod('guard', {
    spec: { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'zone' }] } } },
  });
  assert.deepEqual(feasible(pod('w', { labels: { app: 'web' } }), nodes, { b1: [guard] }), ['a1', 'a2', 'c1']);
  assert.deepEqual(schedule(pod('w', { labels: { app: 'web' } }), [nodes[2]], { b1: [guard] }).statuses?.get('b1')?.reasons, [
    "node(s) didn't satisfy existing pods anti-affinity rules",
  ]);
  // Other namespaces are not looked at unless the term says so.
  const other = pod('db2', { labels: { app: 'db' }, namespace: 'other' });
  assert.deepEqual(feasible(affinity('podAntiAffinity', 'db', 'zone'), nodes, { a1: [other] }), ['a1', 'a2', 'b1', 'c1']);
});

test('InterPodAffinity: preferred terms score by weight in the topology domain', () => {
  const nodes = zoneNodes();
  const p = pod('p', {
    spec: {
      affinity: {
        podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 50, podAffinityTerm: { labelSelector: { matchLabels: { app: 'cache' } }, topologyKey: 'zone' } }] },
        podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { app: 'noisy' } }, topologyKey: 'kubernetes.io/hostname' } }] },
      },
    },
  });
  const bound = { a1: [pod('cache', { labels: { app: 'cache' } })], a2: [pod('noisy', { labels: { app: 'noisy' } })] };
  // a1: +50, a2: +50 −100, b1/c1: 0 → min −50, max 50
  assert.deepEqual(scores(interPodAffinity, p, nodes, bound), { a1: 100, a2: 0, b1: 50, c1: 50 });
  assert.equal(schedule(p, nodes, bound).node?.name, 'a1');
});

test('PodTopologySpread: DoNotSchedule skew, missing label, minDomains; ScheduleAnyway scoring', () => {
  const nodes = zoneNodes();
  const spread = (maxSkew: number, extra: Record<string, unknown> = {}) =>
    pod('p', { labels: { app: 'web' }, spec: { topologySpreadConstraints: [{ maxSkew, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } }, ...extra }] } });
  const web = (n: string) => pod(n, { labels: { app: 'web' } });
  const bound = { a1: [web('w1')], a2: [web('w2')], b1: [web('w3')] }; // z1: 2, z2: 1, z3: 0
  assert.deepEqual(feasible(spread(1), nodes, bound), ['c1']);
  assert.deepEqual(feasible(spread(2), nodes, bound), ['b1', 'c1']);
  assert.deepEqual(feasible(spread(3), nodes, bound), ['a1', 'a2', 'b1', 'c1']);
  // A tainted node's domain still counts (nodeTaintsPolicy Ignore) though the node is filtered out.
  const taintedC1 = node('c1', { labels: { zone: 'z3' }, taints: [{ key: 'k', effect: 'NoSchedule' }] });
  assert.match(
    schedule(spread(1), [nodes[0], nodes[1], taintedC1], { a1: [web('w1')], a2: [web('w2')] }).message!,
    /^0\/3 nodes are available: 1 node\(s\) had untolerated taint \{k: \}, 2 node\(s\) didn't match pod topology spread constraints\./,
  );
  const unlabeled = [...nodes, node('nolabel')];
  assert.deepEqual(feasible(spread(1), unlabeled, bound), ['c1']);
  assert.deepEqual(schedule(spread(1), [node('nolabel')]).statuses?.get('nolabel')?.reasons, ["node(s) didn't match pod topology spread constraints (missing required label)"]);
  // minDomains 4 with 3 zones: the global minimum counts as 0 → only skew ≤ 1 from nothing.
  const two = { a1: [web('w1')] };
  assert.deepEqual(feasible(spread(1), nodes, two), ['b1', 'c1']);
  assert.deepEqual(feasible(spread(1, { minDomains: 4 }), nodes, two), ['b1', 'c1']);
  assert.deepEqual(feasible(spread(1, { minDomains: 4 }), nodes, { a1: [web('w1')], b1: [web('w2')], c1: [web('w3')] }), []);
  assert.deepEqual(feasible(spread(1), nodes, { a1: [web('w1')], b1: [web('w2')], c1: [web('w3')] }), ['a1', 'a2', 'b1', 'c1']);
  // Pods of other namespaces or labels do not count.
  assert.deepEqual(feasible(spread(1), nodes, { a1: [pod('x', { labels: { app: 'db' } }), pod('y', { labels: { app: 'web' }, namespace: 'other' })] }), ['a1', 'a2', 'b1', 'c1']);
  const soft = pod('p', { labels: { app: 'web' }, spec: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'web' } } }] } });
  const s = scores(podTopologySpread, soft, nodes, bound);
  assert.ok(s.c1 > s.b1 && s.b1 > s.a1, JSON.stringify(s));
  assert.equal(s.a1, s.a2);
});

test('NodeName and NodePorts', () => {
  const nodes = [node('n1'), node('n2')];
  assert.deepEqual(feasible(pod('p', { spec: { nodeName: 'n2' } }), nodes), ['n2']);
  const hp = (name: string, port: number, hostIP?: string) =>
    pod(name, { spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, hostPort: port, ...(hostIP ? { hostIP } : {}) }] }] } });
  const bound = { n1: [hp('a', 8080)] };
  assert.deepEqual(feasible(hp('p', 8080), nodes, bound), ['n2']);
  assert.deepEqual(feasible(hp('p', 8081), nodes, bound), ['n1', 'n2']);
  assert.deepEqual(feasible(hp('p', 8080, '127.0.0.2'), nodes, bound), ['n2']);
});

test('FailedScheduling message: counts per reason, sorted, with the preemption verdict', () => {
  const nodes = [
    node('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }),
    node('w1', { cpu: '1' }),
    node('w2', { cpu: '1' }),
  ];
  const r = schedule(pod('p', { cpu: '2' }), nodes);
  assert.equal(r.node, undefined);
  assert.equal(
    r.message,
    '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. ' +
      'preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.',
  );
  assert.deepEqual([...r.rejectedBy!].sort(), ['NodeResourcesFit', 'TaintToleration']);
  const never = schedule(pod('p', { spec: { nodeSelector: { x: 'y' }, preemptionPolicy: 'Never' } }), nodes.slice(1));
  assert.equal(never.message, "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: not eligible due to preemptionPolicy=Never.");
  assert.equal(schedule(pod('p'), []).message, 'no nodes available to schedule pods');
});

test('ties are broken at random among the best nodes', () => {
  const nodes = [node('n1'), node('n2'), node('n3')];
  const seen = new Set<string>();
  const random = new Framework(defaultPlugins(), DEFAULT_WEIGHTS);
  for (let i = 0; i < 60; i++) seen.add(random.schedule(new PodInfo(pod('p')), nodeInfos(nodes), () => undefined).node!.name);
  assert.equal(seen.size, 3);
});
