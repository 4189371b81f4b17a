import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ConfigError, DEFAULT_POD_SUBNET, DEFAULT_SERVICE_SUBNET, defaultClusterConfig, firstServiceIP, nodeNamesFor, parseClusterConfig,
} from '../../../src/cluster/config.js';

const WORKSHOP = '/work/shared/workshop';
const seed = (f: string) => readFileSync(`${WORKSHOP}/${f}`, 'utf8');
const roles = (c: { nodes: { role: string }[] }) => c.nodes.map((n) => n.role);

test('the seed workshop clusters parse with their node layouts, subnets, labels and port mappings', () => {
  const cases: [string, string, string[]][] = [
    ['alpha-1', 'kind/1-clusters/alpha-1.yaml', ['control-plane']],
    ['beta-2', 'kind/1-clusters/beta-2.yaml', ['control-plane', 'worker']],
    ['gamma-3', 'kind/1-clusters/gamma-3.yaml', ['control-plane', 'control-plane', 'worker']],
    ['delta-4', 'kind/1-clusters/delta-4.yaml', ['control-plane', 'worker', 'worker', 'worker']],
    ['epsilon-5', 'kind/1-clusters/epsilon-5.yaml', ['control-plane', 'control-plane', 'worker', 'worker', 'worker']],
  ];
  for (const [name, file, expectRoles] of cases) {
    const { config, warnings } = parseClusterConfig(seed(`k8s-workshop/${file}`));
    assert.equal(config.name, name);
    assert.deepEqual(roles(config), expectRoles, name);
    // The workshop's public ranges cannot carry loopback pod and service addresses: replaced, and said so.
    assert.equal(config.networking.podSubnet, '127.244.0.0/16');
    assert.equal(config.networking.serviceSubnet, '127.96.0.0/12');
    assert.equal(config.networking.apiServerAddress, '127.0.0.1');
    assert.equal(config.networking.apiServerPort, 0);
    // The kubeadm patch only sets node-labels, which Skiff honours: only the subnets are warned about.
    assert.equal(warnings.length, 2, name);
    assert.match(warnings[0], /podSubnet 178\.16\.0\.0\/12 is outside 127\.0\.0\.0\/8/);
    assert.match(warnings[1], /serviceSubnet 196\.168\.0\.0\/16 is outside 127\.0\.0\.0\/8/);
    assert.deepEqual(config.nodes[0].labels, { 'ingress-ready': 'true' });
    for (const n of config.nodes.slice(1)) assert.deepEqual(n.labels, {}, `${name}/${n.name}`);
    assert.deepEqual(config.nodes[0].extraPortMappings, [
      { containerPort: 80, hostPort: 80, listenAddress: '0.0.0.0', protocol: 'TCP' },
      { containerPort: 443, hostPort: 443, listenAddress: '0.0.0.0', protocol: 'TCP' },
    ]);
  }
  const epsilon = parseClusterConfig(seed('k8s-workshop/kind/1-clusters/epsilon-5.yaml')).config;
  assert.deepEqual(epsilon.nodes.map((n) => n.name),
    ['epsilon-5-control-plane', 'epsilon-5-control-plane2', 'epsilon-5-worker', 'epsilon-5-worker2', 'epsilon-5-worker3']);
});

test('--name overrides the config name and renames the nodes', () => {
  const { config } = parseClusterConfig(seed('k8s-workshop/kind/1-clusters/beta-2.yaml'), { name: 'other' });
  assert.equal(config.name, 'other');
  assert.deepEqual(config.nodes.map((n) => n.name), ['other-control-plane', 'other-worker']);
});

test('fields Skiff cannot honour are named in warnings, never dropped silently', () => {
  const pinned = parseClusterConfig(seed('k8s-workshop-history/kind/specific-k8s-cluster.yaml'));
  assert.equal(pinned.config.nodes[0].image, 'kindest/node:v1.16.4@sha256:b91a2c2317a000f3a783489dfb755064177dbc3a0b2f4147d50f04825d016f55');
  assert.equal(pinned.warnings.filter((w) => /nodes\[\d\]\.image .* is ignored/.test(w)).length, 2);
  assert.ok(pinned.warnings.some((w) => w.includes('networking.ipFamily ipv6')));

  const cilium = parseClusterConfig(seed('k8s-workshop-history/nw/cilium/kind-config.yaml'));
  assert.equal(cilium.config.name, 'skiff');
  assert.deepEqual(roles(cilium.config), ['control-plane', 'worker', 'worker', 'worker']);
  assert.ok(cilium.warnings.some((w) => w.startsWith('networking.disableDefaultCNI')));

  const all = parseClusterConfig(`
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
featureGates: { InPlacePodVerticalScaling: true }
runtimeConfig: { "api/alpha": "false" }
containerdConfigPatches: ["[plugins]"]
networking: { kubeProxyMode: ipvs }
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  apiServer: { extraArgs: { v: "4" } }
nodes:
- role: control-plane
  extraMounts: [{ hostPath: /tmp, containerPath: /host }]
  kubeadmConfigPatches:
  - |
    kind: InitConfiguration
    nodeRegistration:
      taints: []
      kubeletExtraArgs: { node-labels: "a=b" }
`);
  const text = all.warnings.join('\n');
  for (const field of ['featureGates', 'runtimeConfig', 'containerdConfigPatches', 'kubeProxyMode', 'kubeadmConfigPatches[0] (ClusterConfiguration)',
    'nodes[0].extraMounts', 'nodes[0].kubeadmConfigPatches[0] (InitConfiguration)']) {
    assert.ok(text.includes(field), `no warning for ${field}:\n${text}`);
  }
  assert.deepEqual(all.config.featureGates, { InPlacePodVerticalScaling: true });
  assert.deepEqual(all.config.nodes[0].extraMounts, [{ hostPath: '/tmp', containerPath: '/host', readOnly: false }]);
});

test('JoinConfiguration node-labels reach the joining nodes, InitConfiguration only the first control plane', () => {
  const { config, warnings } = parseClusterConfig(`
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
kubeadmConfigPatches:
- |
  kind: JoinConfiguration
  nodeRegistration:
    kubeletExtraArgs:
      node-labels: "tier=join,zone=a"
nodes:
- role: control-plane
- role: worker
  labels: { disk: ssd }
`);
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.nodes[0].labels, {});
  assert.deepEqual(config.nodes[1].labels, { tier: 'join', zone: 'a', disk: 'ssd' });
});

test('defaults: one control-plane node, loopback API address, free port, loopback subnets', () => {
  const c = defaultClusterConfig();
  assert.equal(c.name, 'skiff');
  assert.deepEqual(c.nodes, [{ name: 'skiff-control-plane', role: 'control-plane', labels: {}, extraPortMappings: [], extraMounts: [] }]);
  assert.deepEqual(c.networking, {
    ipFamily: 'ipv4', apiServerAddress: '127.0.0.1', apiServerPort: 0,
    podSubnet: DEFAULT_POD_SUBNET, serviceSubnet: DEFAULT_SERVICE_SUBNET, disableDefaultCNI: false,
  });
  assert.equal(firstServiceIP(DEFAULT_SERVICE_SUBNET), '127.96.0.1');
  assert.equal(firstServiceIP('10.96.0.0/12'), '10.96.0.1');
  assert.equal(firstServiceIP('fd00:10:96::/112'), 'fd00:10:96::1');
  const pinned = parseClusterConfig(seed('k8s-workshop-history/istio/setup/gamma-cluster-3-nodes.yaml')).config;
  assert.equal(pinned.networking.apiServerPort, 6443);
  assert.deepEqual(pinned.nodes[0].extraPortMappings[2], { containerPort: 30002, hostPort: 15021, listenAddress: '127.0.0.1', protocol: 'TCP' });
  assert.deepEqual(nodeNamesFor('k', ['worker', 'control-plane', 'worker']), ['k-worker', 'k-control-plane', 'k-worker2']);
});

test('invalid configs fail with a clear one-line ConfigError', () => {
  const base = 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n';
  const cases: [string, RegExp][] = [
    ['kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n', /unsupported apiVersion "kind.x-k8s.io\/v1alpha3"/],
    ['kind: Pod\napiVersion: kind.x-k8s.io/v1alpha4\n', /kind must be "Cluster", got "Pod"/],
    [base + 'nodez: []\n', /unknown field "nodez"/],
    [base + 'nodes:\n- role: control-plane\n  rol: worker\n', /nodes\[0\]: unknown field "rol"/],
    [base + 'nodes:\n- role: control-plane\n- role: master\n', /nodes\[1\]\.role: "master" is not one of control-plane, worker/],
    [base + 'nodes:\n- role: worker\n', /at least one node must have role control-plane/],
    [base + 'networking: { podSubnet: 127.0.0.0/8, serviceSubnet: 127.96.0.0/12 }\n', /podSubnet 127.0.0.0\/8 overlaps networking.serviceSubnet/],
    [base + 'networking: { podSubnet: 10.0.0.0/33 }\n', /networking.podSubnet: "10.0.0.0\/33" is not a valid CIDR/],
    [base + 'networking: { apiServerAddress: localhost }\n', /apiServerAddress: "localhost" is not an IP address/],
    [base + 'networking: { apiServerPort: 70000 }\n', /apiServerPort: expected an integer between -1 and 65535/],
    [base + 'nodes:\n- role: control-plane\n  labels: { ready: true }\n', /nodes\[0\]\.labels\.ready: expected a string/],
    [base + 'nodes: [\n', /invalid YAML at line/],
    [base + 'name: Bad_Name\n', /invalid cluster name "Bad_Name"/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseClusterConfig(text, { source: 'c.yaml' }), (e: Error) => {
      assert.ok(e instanceof ConfigError, `${text}: ${e}`);
      assert.match(e.message, re);
      assert.ok(e.message.startsWith('c.yaml: '));
      assert.ok(!e.message.includes('\n'), `multi-line message: ${e.message}`);
      return true;
    });
  }
});
