// A container's environment, as upstream's kubelet builds it (kubelet_pods.go
// makeEnvironmentVariables): service variables first (the `kubernetes` service of the default
// namespace always; the pod namespace's services when enableServiceLinks), then envFrom in
// order, then env in order with `$(VAR)` expansion against what is defined so far. Also the
// downward API values (fieldRef, resourceFieldRef) that env and downwardAPI volumes share.
import os from 'node:os';
import type { ApiClient } from '../../client/client.js';
import { R } from '../../client/client.js';
import { StatusError } from '../../machinery/errors.js';
import type { KObject } from '../../machinery/object.js';
import { asArr, asObj, asStr, dig, type Obj } from '../../api/common/shape.js';
import { parseQuantity } from '../../api/common/quantity.js';
import { containersOf } from './util.js';

/** A container cannot be configured (upstream's CreateContainerConfigError). */
export class ConfigError extends Error {}

export interface NodeCapacity {
  cpuMillis: number;
  memoryBytes: number;
}

export function hostCapacity(): NodeCapacity {
  return { cpuMillis: os.cpus().length * 1000, memoryBytes: os.totalmem() };
}

export interface PodFacts {
  pod: KObject;
  podIP: string;
  hostIP: string;
  capacity: NodeCapacity;
}

// ---------------------------------------------------------------------------------------------
// $(VAR) expansion (upstream third_party/forked/golang/expansion)

/**
 * Expand `$(NAME)` references: defined names are replaced, undefined ones are left as written,
 * `$$` is an escaped `$`, anything else after `$` is kept literally.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  if (!input.includes('$')) return input;
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      i++;
      continue;
    }
    const nx = input[i + 1];
    if (nx === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (nx === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const v = name === '' ? undefined : lookup(name);
      out += v === undefined ? `$(${name})` : v;
      i = close + 1;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Service variables (upstream pkg/kubelet/envvars)

function envName(s: string): string {
  return s.toUpperCase().replace(/-/g, '_');
}

function serviceVars(svc: KObject, out: Record<string, string>): void {
  const ip = asStr(dig(svc, 'spec', 'clusterIP'));
  if (!ip || ip === 'None') return;
  const name = envName(svc.metadata.name!);
  const ports = asArr(dig(svc, 'spec', 'ports')).map(asObj).filter((p): p is Obj => !!p);
  out[`${name}_SERVICE_HOST`] = ip;
  if (ports.length) out[`${name}_SERVICE_PORT`] = String(ports[0].port);
  for (const p of ports) if (asStr(p.name)) out[`${name}_SERVICE_PORT_${envName(p.name as string)}`] = String(p.port);
  // Docker link variables.
  ports.forEach((p, i) => {
    const proto = (asStr(p.protocol) ?? 'TCP').toLowerCase();
    const url = `${proto}://${ip}:${p.port}`;
    const prefix = `${name}_PORT_${p.port}_${proto.toUpperCase()}`;
    if (i === 0) out[`${name}_PORT`] = url;
    out[prefix] = url;
    out[`${prefix}_PROTO`] = proto;
    out[`${prefix}_PORT`] = String(p.port);
    out[`${prefix}_ADDR`] = ip;
  });
}

/** The service variables a pod in `namespace` sees. */
export async function serviceEnv(client: ApiClient, namespace: string, enableServiceLinks: boolean): Promise<Record<string, string>> {
  const chosen = new Map<string, KObject>();
  if (enableServiceLinks) {
    for (const s of (await client.list(R.services, namespace)).items) chosen.set(s.metadata.name!, s);
  }
  if (namespace !== 'default' || !enableServiceLinks) {
    try {
      const k = await client.get(R.services, 'default', 'kubernetes');
      if (!chosen.has('kubernetes')) chosen.set('kubernetes', k);
    } catch (e) {
      if (!(e instanceof StatusError && e.code === 404)) throw e;
    }
  }
  const out: Record<string, string> = {};
  for (const name of [...chosen.keys()].sort()) serviceVars(chosen.get(name)!, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Downward API values

function formatMap(m: unknown): string {
  const o = asObj(m) ?? {};
  return Object.keys(o)
    .sort()
    .map((k) => `${k}=${JSON.stringify(String(o[k]))}`)
    .join('\n');
}

/** A fieldRef's value; throws ConfigError for paths the downward API does not offer. */
export function fieldRefValue(facts: PodFacts, fieldPath: string): string {
  const { pod } = facts;
  const sub = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath) ?? /^metadata\.(labels|annotations)\["(.*)"\]$/.exec(fieldPath);
  if (sub) return asStr(asObj(pod.metadata[sub[1] as 'labels'])?.[sub[2]]) ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'metadata.labels':
      return formatMap(pod.metadata.labels);
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations);
    case 'spec.nodeName':
      return asStr(dig(pod, 'spec', 'nodeName')) ?? '';
    case 'spec.serviceAccountName':
      return asStr(dig(pod, 'spec', 'serviceAccountName')) ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
      return facts.hostIP;
    case 'status.podIP':
    case 'status.podIPs':
      return facts.podIP;
  }
  throw new ConfigError(`unsupported fieldPath: ${fieldPath}`);
}

/** A resourceFieldRef's value (limits fall back to the node's capacity, as upstream uses allocatable). */
export function resourceFieldValue(facts: PodFacts, containerName: string, resource: string, divisor: unknown): string {
  const spec = facts.pod.spec;
  const c = [...containersOf(spec, 'containers'), ...containersOf(spec, 'initContainers')].find((x) => x.name === containerName);
  if (!c) throw new ConfigError(`container ${containerName} not found for resourceFieldRef`);
  const m = /^(limits|requests)\.(.+)$/.exec(resource);
  if (!m) throw new ConfigError(`unsupported container resource: ${resource}`);
  const [, kind, name] = m;
  const q = parseQuantity(dig(c, 'resources', kind, name));
  const div = parseQuantity(divisor ?? '1') ?? parseQuantity('1')!;
  const divValue = Number(div.nanos) / 1e9 || 1;
  let value: number;
  if (q) value = Number(q.nanos) / 1e9;
  else if (kind === 'limits' && name === 'cpu') value = facts.capacity.cpuMillis / 1000;
  else if (kind === 'limits' && name === 'memory') value = facts.capacity.memoryBytes;
  else value = 0;
  if (name === 'cpu') {
    // Upstream divides milli-values and rounds up.
    const milli = Math.ceil(value * 1000 - 1e-9);
    const divMilli = Math.max(1, Math.ceil(divValue * 1000 - 1e-9));
    return String(Math.ceil(milli / divMilli));
  }
  return String(Math.ceil(value / divValue - 1e-9));
}

// ---------------------------------------------------------------------------------------------
// Container environment

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

async function getOptional(client: ApiClient, r: typeof R.configmaps, ns: string, name: string): Promise<KObject | undefined> {
  try {
    return await client.get(r, ns, name);
  } catch (e) {
    if (e instanceof StatusError && e.code === 404) return undefined;
    throw e;
  }
}

function dataOf(obj: KObject, secret: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObj(obj.data) ?? {})) {
    if (typeof v !== 'string') continue;
    out[k] = secret ? Buffer.from(v, 'base64').toString('utf8') : v;
  }
  return out;
}

export interface ContainerEnv {
  env: Record<string, string>;
  /** envFrom keys that are not valid variable names (skipped; upstream reports them in an Event). */
  invalidNames: string[];
}

/** The environment of one container; throws ConfigError for a missing non-optional source. */
export async function containerEnv(client: ApiClient, facts: PodFacts, container: Obj, services: Record<string, string>): Promise<ContainerEnv> {
  const ns = facts.pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = {};
  const invalidNames: string[] = [];
  const cache = new Map<string, KObject | undefined>();
  const fetch = async (kind: 'configmap' | 'secret', name: string) => {
    const key = `${kind}/${name}`;
    if (!cache.has(key)) cache.set(key, await getOptional(client, kind === 'configmap' ? R.configmaps : R.secrets, ns, name));
    return cache.get(key);
  };

  for (const from of asArr(container.envFrom).map(asObj)) {
    if (!from) continue;
    const prefix = asStr(from.prefix) ?? '';
    const cmRef = asObj(from.configMapRef);
    const secRef = asObj(from.secretRef);
    const ref = cmRef ?? secRef;
    if (!ref) continue;
    const kind = cmRef ? 'configmap' : 'secret';
    const name = asStr(ref.name) ?? '';
    const obj = await fetch(kind, name);
    if (!obj) {
      if (ref.optional === true) continue;
      throw new ConfigError(`${kind} "${name}" not found`);
    }
    for (const [k, v] of Object.entries(dataOf(obj, kind === 'secret'))) {
      const n = prefix + k;
      if (!ENV_NAME.test(n)) {
        invalidNames.push(n);
        continue;
      }
      env[n] = v;
    }
  }

  const lookup = (name: string) => env[name] ?? services[name];
  for (const e of asArr(container.env).map(asObj)) {
    if (!e) continue;
    const name = asStr(e.name);
    if (!name) continue;
    const from = asObj(e.valueFrom);
    if (!from) {
      env[name] = expand(asStr(e.value) ?? '', lookup);
      continue;
    }
    const fieldRef = asObj(from.fieldRef);
    const resRef = asObj(from.resourceFieldRef);
    const cmKey = asObj(from.configMapKeyRef);
    const secKey = asObj(from.secretKeyRef);
    if (fieldRef) env[name] = fieldRefValue(facts, asStr(fieldRef.fieldPath) ?? '');
    else if (resRef)
      env[name] = resourceFieldValue(facts, asStr(resRef.containerName) || (container.name as string), asStr(resRef.resource) ?? '', resRef.divisor);
    else if (cmKey || secKey) {
      const ref = (cmKey ?? secKey)!;
      const kind = cmKey ? 'configmap' : 'secret';
      const objName = asStr(ref.name) ?? '';
      const key = asStr(ref.key) ?? '';
      const obj = await fetch(kind, objName);
      if (!obj) {
        if (ref.optional === true) continue;
        throw new ConfigError(`${kind} "${objName}" not found`);
      }
      const data = dataOf(obj, kind === 'secret');
      if (!(key in data)) {
        if (ref.optional === true) continue;
        throw new ConfigError(kind === 'configmap' ? `couldn't find key ${key} in ConfigMap ${ns}/${objName}` : `couldn't find key ${key} in Secret ${ns}/${objName}`);
      }
      env[name] = data[key];
    }
  }
  for (const [k, v] of Object.entries(services)) if (!(k in env)) env[k] = v;
  return { env, invalidNames };
}
