// kind's `kind.x-k8s.io/v1alpha4` Cluster config, read strictly (unknown fields are errors, as in
// kind) and defaulted for Skiff. Fields Skiff cannot honour yet are kept where a later piece
// could use them, and every one is named in `warnings` so nothing is dropped silently.
import net from 'node:net';
import { yaml } from '../machinery/yaml.js';

export type NodeRole = 'control-plane' | 'worker';

export interface PortMapping {
  containerPort: number;
  /** 0 = pick a free host port. */
  hostPort: number;
  listenAddress: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Mount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

export interface NodeConfig {
  /** kind's naming: <cluster>-control-plane, <cluster>-control-plane2, <cluster>-worker, <cluster>-worker2, … */
  name: string;
  role: NodeRole;
  labels: Record<string, string>;
  extraPortMappings: PortMapping[];
  /** Not honoured yet (warned): nodes are not built from node images. */
  image?: string;
  /** Not honoured yet (warned). */
  extraMounts: Mount[];
}

export interface NetworkingConfig {
  ipFamily: 'ipv4' | 'ipv6' | 'dual';
  apiServerAddress: string;
  /** 0 = pick a free port at create time (then recorded, so restarts reuse it). */
  apiServerPort: number;
  podSubnet: string;
  serviceSubnet: string;
  disableDefaultCNI: boolean;
  kubeProxyMode?: string;
}

export interface ClusterConfig {
  name: string;
  nodes: NodeConfig[];
  networking: NetworkingConfig;
  featureGates: Record<string, boolean>;
  runtimeConfig: Record<string, string>;
}

export interface ParsedClusterConfig {
  config: ClusterConfig;
  warnings: string[];
  /** networking.serviceSubnet came from the file (else it is the default, which create may replace). */
  serviceSubnetGiven: boolean;
}

export const KIND_API_VERSION = 'kind.x-k8s.io/v1alpha4';
export const DEFAULT_CLUSTER_NAME = 'skiff';
// Skiff's process runtime gives each pod its own loopback address and routes service VIPs on the
// host, so the defaults sit inside 127.0.0.0/8, mirroring kind's 10.244.0.0/16 and 10.96.0.0/12.
// 127.0.0.0/16 is left alone (127.0.0.1, systemd-resolved's 127.0.0.53, …).
export const DEFAULT_POD_SUBNET = '127.244.0.0/16';
export const DEFAULT_SERVICE_SUBNET = '127.96.0.0/12';

export class ConfigError extends Error {}

function isLoopbackRange(c: { family: 4 | 6; base: bigint; bits: number }): boolean {
  return c.family === 4 && c.bits >= 8 && c.base >> 24n === 127n;
}

const CLUSTER_FIELDS = ['kind', 'apiVersion', 'name', 'nodes', 'networking', 'featureGates', 'runtimeConfig',
  'kubeadmConfigPatches', 'kubeadmConfigPatchesJSON6902', 'containerdConfigPatches', 'containerdConfigPatchesJSON6902'];
const NODE_FIELDS = ['role', 'image', 'labels', 'extraMounts', 'extraPortMappings', 'gpus',
  'kubeadmConfigPatches', 'kubeadmConfigPatchesJSON6902'];
const NETWORKING_FIELDS = ['ipFamily', 'apiServerPort', 'apiServerAddress', 'podSubnet', 'serviceSubnet',
  'disableDefaultCNI', 'kubeProxyMode', 'dnsSearch'];
const PORT_FIELDS = ['containerPort', 'hostPort', 'listenAddress', 'protocol'];
const MOUNT_FIELDS = ['containerPath', 'hostPath', 'readOnly', 'selinuxRelabel', 'propagation'];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objectAt(v: unknown, where: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ConfigError(`${where}: expected a mapping`);
  return v;
}

function listAt(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ConfigError(`${where}: expected a list`);
  return v;
}

function strictFields(o: Obj, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ConfigError(`${where ? where + ': ' : ''}unknown field "${k}"`);
  }
}

function str(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(`${where}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function int(v: unknown, where: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${where}: expected an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function stringMap(v: unknown, where: string, coerce: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(objectAt(v, where))) {
    if (typeof val === 'string') out[k] = val;
    else if (coerce && (typeof val === 'boolean' || typeof val === 'number')) out[k] = String(val);
    else throw new ConfigError(`${where}.${k}: expected a string, got ${JSON.stringify(val)} (quote it)`);
  }
  return out;
}

/** Parse an IPv4/IPv6 CIDR; throws ConfigError naming `where`. */
export function parseCidr(cidr: string, where: string): { family: 4 | 6; base: bigint; bits: number } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
  const family = m ? net.isIP(m[1]) : 0;
  const bits = m ? Number(m[2]) : -1;
  if (!m || !family || bits > (family === 4 ? 32 : 128)) throw new ConfigError(`${where}: "${cidr}" is not a valid CIDR`);
  return { family: family as 4 | 6, base: ipToBigInt(m[1]), bits };
}

function ipToBigInt(ip: string): bigint {
  if (net.isIPv4(ip)) return ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  // An embedded dotted quad (::ffff:1.2.3.4) stands for two groups.
  const expand = (gs: string[]) => gs.flatMap((g) => (g.includes('.') ? [(ipToBigInt(g) >> 16n).toString(16), (ipToBigInt(g) & 0xffffn).toString(16)] : [g]));
  const hh = expand(h);
  const tt = expand(t);
  const groups = tail === undefined ? hh : [...hh, ...Array(8 - hh.length - tt.length).fill('0'), ...tt];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigIntToIp(n: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((n >> BigInt((7 - i) * 16)) & 0xffffn).toString(16));
  // The WHATWG URL parser prints IPv6 in canonical (RFC 5952) form.
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

function network(c: { family: 4 | 6; base: bigint; bits: number }): { start: bigint; end: bigint } {
  const width = BigInt(c.family === 4 ? 32 : 128);
  const host = (1n << (width - BigInt(c.bits))) - 1n;
  return { start: c.base & ~host, end: (c.base & ~host) | host };
}

/** The first usable address of a service CIDR: where the `kubernetes` Service lives. */
export function firstServiceIP(serviceSubnet: string): string {
  const c = parseCidr(serviceSubnet, 'serviceSubnet');
  return bigIntToIp(network(c).start + 1n, c.family);
}

/** kind's node names, derived from the cluster name and the order of roles. */
export function nodeNamesFor(clusterName: string, roles: NodeRole[]): string[] {
  const seen: Record<NodeRole, number> = { 'control-plane': 0, worker: 0 };
  return roles.map((r) => {
    const n = ++seen[r];
    return `${clusterName}-${r}${n === 1 ? '' : n}`;
  });
}

/** Cluster names become directory names and kubeconfig entries, so they stay DNS-label-like. */
export function validateClusterName(name: string): void {
  if (!/^[a-z0-9]([a-z0-9.-]{0,48}[a-z0-9])?$/.test(name)) {
    throw new ConfigError(`invalid cluster name "${name}": use up to 50 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`);
  }
}

/** The config used when no --config is given: one control-plane node, loopback networking. */
export function defaultClusterConfig(name = DEFAULT_CLUSTER_NAME): ClusterConfig {
  return parseClusterConfig(`kind: Cluster\napiVersion: ${KIND_API_VERSION}\n`, { name }).config;
}

interface KubeadmPatchOutcome {
  labels: Record<string, string>;
  warning?: string;
}

// kind users label nodes through kubeadm patches (`node-labels` in nodeRegistration.kubeletExtraArgs);
// those labels are honoured. kubeadm's InitConfiguration reaches only the first control-plane node,
// JoinConfiguration every other node, so each patch applies by the same rule.
function kubeadmPatch(text: unknown, where: string, bootstrapNode: boolean): KubeadmPatchOutcome {
  if (typeof text !== 'string') throw new ConfigError(`${where}: expected a YAML string`);
  const doc = yaml().parseDocument(text);
  if (doc.errors.length) throw new ConfigError(`${where}: invalid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const patch = doc.toJS() as unknown;
  if (!isObj(patch) || typeof patch.kind !== 'string') throw new ConfigError(`${where}: a kubeadm patch needs a "kind"`);
  const ignored = `${where} (${patch.kind}) is ignored: Skiff does not run kubeadm`;
  if (patch.kind !== 'InitConfiguration' && patch.kind !== 'JoinConfiguration') return { labels: {}, warning: ignored };
  const rest = { ...patch };
  delete rest.kind;
  delete rest.apiVersion;
  const reg = isObj(rest.nodeRegistration) ? { ...rest.nodeRegistration } : undefined;
  const args = reg?.kubeletExtraArgs;
  let value: unknown;
  if (isObj(args) && Object.keys(args).length === 1) value = args['node-labels'];
  // kubeadm v1beta4 spells extra args as a list of {name, value}.
  if (Array.isArray(args) && args.length === 1 && isObj(args[0]) && args[0].name === 'node-labels') value = args[0].value;
  if (typeof value !== 'string' || !reg || Object.keys(reg).length !== 1 || Object.keys(rest).length !== 1) {
    return { labels: {}, warning: `${ignored} (only nodeRegistration.kubeletExtraArgs.node-labels is honoured)` };
  }
  const applies = (patch.kind === 'InitConfiguration') === bootstrapNode;
  const labels: Record<string, string> = {};
  for (const pair of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new ConfigError(`${where}: node-labels entry "${pair}" is not key=value`);
    labels[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return { labels: applies ? labels : {} };
}

/**
 * Parse a kind Cluster config. `name` (from --name) overrides the file's name, as in kind.
 * Throws ConfigError with a one-line message on anything invalid.
 */
export function parseClusterConfig(text: string, opts: { name?: string; source?: string } = {}): ParsedClusterConfig {
  const prefix = opts.source ? `${opts.source}: ` : '';
  try {
    return parse(text, opts.name);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(prefix + e.message);
    throw e;
  }
}

function parse(text: string, nameOverride: string | undefined): ParsedClusterConfig {
  const doc = yaml().parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) {
    const err = doc.errors[0];
    const line = err.linePos?.[0].line;
    throw new ConfigError(`invalid YAML${line ? ` at line ${line}` : ''}: ${err.message.split('\n')[0]}`);
  }
  const raw = doc.toJS() as unknown;
  if (!isObj(raw)) throw new ConfigError('expected a kind Cluster mapping');
  if (raw.kind !== 'Cluster') throw new ConfigError(`kind must be "Cluster", got ${JSON.stringify(raw.kind ?? null)}`);
  if (raw.apiVersion !== KIND_API_VERSION) {
    throw new ConfigError(`unsupported apiVersion ${JSON.stringify(raw.apiVersion ?? null)}: Skiff reads ${KIND_API_VERSION} Cluster configs`);
  }
  strictFields(raw, CLUSTER_FIELDS, '');
  const warnings: string[] = [];
  const name = nameOverride ?? str(raw.name, 'name') ?? DEFAULT_CLUSTER_NAME;
  validateClusterName(name);

  const netIn = objectAt(raw.networking, 'networking');
  strictFields(netIn, NETWORKING_FIELDS, 'networking');
  const ipFamily = str(netIn.ipFamily, 'networking.ipFamily') ?? 'ipv4';
  if (!['ipv4', 'ipv6', 'dual'].includes(ipFamily)) throw new ConfigError(`networking.ipFamily: "${ipFamily}" is not one of ipv4, ipv6, dual`);
  if (ipFamily !== 'ipv4') warnings.push(`networking.ipFamily ${ipFamily} is not honoured: Skiff networks are IPv4`);
  const apiServerAddress = str(netIn.apiServerAddress, 'networking.apiServerAddress') ?? '127.0.0.1';
  if (!net.isIP(apiServerAddress)) throw new ConfigError(`networking.apiServerAddress: "${apiServerAddress}" is not an IP address`);
  // kind's -1 means "let the backend choose"; for Skiff that is the same as unset.
  const apiServerPort = Math.max(0, int(netIn.apiServerPort, 'networking.apiServerPort', -1, 65535) ?? 0);
  let podSubnet = str(netIn.podSubnet, 'networking.podSubnet') ?? DEFAULT_POD_SUBNET;
  const givenServiceSubnet = str(netIn.serviceSubnet, 'networking.serviceSubnet');
  let serviceSubnet = givenServiceSubnet ?? DEFAULT_SERVICE_SUBNET;
  let podCidr = parseCidr(podSubnet, 'networking.podSubnet');
  let svcCidr = parseCidr(serviceSubnet, 'networking.serviceSubnet');
  // Pods and service VIPs live on the host's loopback network in the process runtime: a range
  // elsewhere (kind's 10.244.0.0/16, the workshop's 178.16.0.0/12) would not be reachable.
  if (!isLoopbackRange(podCidr)) {
    warnings.push(`networking.podSubnet ${podSubnet} is outside 127.0.0.0/8: Skiff's process runtime gives pods loopback addresses, so ${DEFAULT_POD_SUBNET} is used`);
    podSubnet = DEFAULT_POD_SUBNET;
    podCidr = parseCidr(podSubnet, 'networking.podSubnet');
  }
  if (!isLoopbackRange(svcCidr)) {
    warnings.push(`networking.serviceSubnet ${serviceSubnet} is outside 127.0.0.0/8: Skiff serves service IPs on the host's loopback network, so ${DEFAULT_SERVICE_SUBNET} is used`);
    serviceSubnet = DEFAULT_SERVICE_SUBNET;
    svcCidr = parseCidr(serviceSubnet, 'networking.serviceSubnet');
  }
  const pod = network(podCidr);
  const svc = network(svcCidr);
  if (podCidr.family === svcCidr.family && pod.start <= svc.end && svc.start <= pod.end) {
    throw new ConfigError(`networking.podSubnet ${podSubnet} overlaps networking.serviceSubnet ${serviceSubnet}`);
  }
  const disableDefaultCNI = netIn.disableDefaultCNI ?? false;
  if (typeof disableDefaultCNI !== 'boolean') throw new ConfigError('networking.disableDefaultCNI: expected true or false');
  if (disableDefaultCNI) warnings.push('networking.disableDefaultCNI is not honoured: Skiff always provides pod networking itself');
  const kubeProxyMode = str(netIn.kubeProxyMode, 'networking.kubeProxyMode');
  if (kubeProxyMode !== undefined) warnings.push(`networking.kubeProxyMode "${kubeProxyMode}" is not honoured: Skiff uses its own service proxy`);
  if (netIn.dnsSearch !== undefined) warnings.push('networking.dnsSearch is not honoured yet');

  const featureGates: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(objectAt(raw.featureGates, 'featureGates'))) {
    if (typeof v !== 'boolean') throw new ConfigError(`featureGates.${k}: expected true or false`);
    featureGates[k] = v;
  }
  if (Object.keys(featureGates).length) warnings.push(`featureGates (${Object.keys(featureGates).join(', ')}) are recorded but not honoured yet`);
  const runtimeConfig = stringMap(raw.runtimeConfig, 'runtimeConfig', true);
  if (Object.keys(runtimeConfig).length) warnings.push('runtimeConfig is not honoured yet: every API Skiff implements is served');
  for (const f of ['containerdConfigPatches', 'containerdConfigPatchesJSON6902'] as const) {
    if (listAt(raw[f], f).length) warnings.push(`${f} are ignored: Skiff does not run containerd`);
  }
  if (listAt(raw.kubeadmConfigPatchesJSON6902, 'kubeadmConfigPatchesJSON6902').length) {
    warnings.push('kubeadmConfigPatchesJSON6902 are ignored: Skiff does not run kubeadm');
  }

  const nodesIn = raw.nodes === undefined || raw.nodes === null ? [{ role: 'control-plane' }] : listAt(raw.nodes, 'nodes');
  if (nodesIn.length === 0) throw new ConfigError('nodes: at least one node is required');
  const roles = nodesIn.map((n, i): NodeRole => {
    if (!isObj(n)) throw new ConfigError(`nodes[${i}]: expected a mapping`);
    const role = n.role ?? 'control-plane';
    if (role !== 'control-plane' && role !== 'worker') {
      throw new ConfigError(`nodes[${i}].role: ${JSON.stringify(role)} is not one of control-plane, worker`);
    }
    return role;
  });
  if (!roles.includes('control-plane')) throw new ConfigError('nodes: at least one node must have role control-plane');
  const bootstrap = roles.indexOf('control-plane');
  const names = nodeNamesFor(name, roles);
  const clusterPatches = listAt(raw.kubeadmConfigPatches, 'kubeadmConfigPatches');

  const nodes = nodesIn.map((n, i): NodeConfig => {
    const w = `nodes[${i}]`;
    const node = n as Obj;
    strictFields(node, NODE_FIELDS, w);
    const labels: Record<string, string> = {};
    const applyPatches = (patches: unknown[], where: string) => patches.forEach((p, j) => {
      const out = kubeadmPatch(p, `${where}[${j}]`, i === bootstrap);
      Object.assign(labels, out.labels);
      if (out.warning && !warnings.includes(out.warning)) warnings.push(out.warning);
    });
    // Cluster-level patches apply first, node-level ones after, as in kind.
    applyPatches(clusterPatches, 'kubeadmConfigPatches');
    applyPatches(listAt(node.kubeadmConfigPatches, `${w}.kubeadmConfigPatches`), `${w}.kubeadmConfigPatches`);
    Object.assign(labels, stringMap(node.labels, `${w}.labels`, false));
    if (listAt(node.kubeadmConfigPatchesJSON6902, `${w}.kubeadmConfigPatchesJSON6902`).length) {
      warnings.push(`${w}.kubeadmConfigPatchesJSON6902 are ignored: Skiff does not run kubeadm`);
    }
    const image = str(node.image, `${w}.image`);
    if (image) warnings.push(`${w}.image (${image}) is ignored: Skiff nodes are processes, not node images`);
    if (node.gpus !== undefined) warnings.push(`${w}.gpus is not honoured`);
    const extraMounts = listAt(node.extraMounts, `${w}.extraMounts`).map((m, j): Mount => {
      const mw = `${w}.extraMounts[${j}]`;
      const mo = objectAt(m, mw);
      strictFields(mo, MOUNT_FIELDS, mw);
      return {
        hostPath: str(mo.hostPath, `${mw}.hostPath`) ?? '',
        containerPath: str(mo.containerPath, `${mw}.containerPath`) ?? '',
        readOnly: mo.readOnly === true,
      };
    });
    if (extraMounts.length) warnings.push(`${w}.extraMounts are not honoured yet`);
    const extraPortMappings = listAt(node.extraPortMappings, `${w}.extraPortMappings`).map((m, j): PortMapping => {
      const pw = `${w}.extraPortMappings[${j}]`;
      const po = objectAt(m, pw);
      strictFields(po, PORT_FIELDS, pw);
      const protocol = str(po.protocol, `${pw}.protocol`)?.toUpperCase() ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
        throw new ConfigError(`${pw}.protocol: "${po.protocol}" is not one of TCP, UDP, SCTP`);
      }
      const listenAddress = str(po.listenAddress, `${pw}.listenAddress`) ?? '0.0.0.0';
      if (!net.isIP(listenAddress)) throw new ConfigError(`${pw}.listenAddress: "${listenAddress}" is not an IP address`);
      const containerPort = int(po.containerPort, `${pw}.containerPort`, 1, 65535);
      if (containerPort === undefined) throw new ConfigError(`${pw}.containerPort is required`);
      return { containerPort, hostPort: Math.max(0, int(po.hostPort, `${pw}.hostPort`, -1, 65535) ?? 0), listenAddress, protocol };
    });
    return { name: names[i], role: roles[i], labels, extraPortMappings, ...(image ? { image } : {}), extraMounts };
  });

  return {
    config: {
      name,
      nodes,
      networking: {
        ipFamily: ipFamily as NetworkingConfig['ipFamily'],
        apiServerAddress, apiServerPort, podSubnet, serviceSubnet, disableDefaultCNI,
        ...(kubeProxyMode !== undefined ? { kubeProxyMode } : {}),
      },
      featureGates,
      runtimeConfig,
    },
    warnings,
    serviceSubnetGiven: givenServiceSubnet !== undefined && serviceSubnet === givenServiceSubnet,
  };
}
