// PodSpec and PodTemplateSpec defaulting and validation, shared by Pods and every workload kind
// that embeds a pod template (Deployments, Jobs, ...). Mirrors upstream's SetDefaults_PodSpec /
// ValidatePodSpec in meaning; wording of errors follows upstream so kubectl users see familiar text.
import { FieldError, checkName, fieldErr, names, validateLabels, validateAnnotations } from '../../../machinery/validation.js';
import { asArr, asObj, asStr, setDefault, type Obj } from '../../common/shape.js';
import { compareQuantities, parseQuantity, type Quantity } from '../../common/quantity.js';

// ---------------------------------------------------------------------------------------------
// Defaulting

/** Upstream pulls `:latest` (or untagged, undigested) images every time; anything pinned only if absent. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) return 'Always';
  return lastSegment.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(probe: unknown): void {
  const p = asObj(probe);
  if (!p) return;
  setDefault(p, 'timeoutSeconds', 1);
  setDefault(p, 'periodSeconds', 10);
  setDefault(p, 'successThreshold', 1);
  setDefault(p, 'failureThreshold', 3);
  defaultHandler(p);
}

function defaultHandler(h: Obj): void {
  const http = asObj(h.httpGet);
  if (http) {
    if (http.path === undefined || http.path === '') http.path = '/';
    setDefault(http, 'scheme', 'HTTP');
  }
}

function defaultFieldRef(ref: unknown): void {
  const r = asObj(ref);
  if (r) setDefault(r, 'apiVersion', 'v1');
}

function defaultContainer(container: unknown, hostNetwork: boolean): void {
  const c = asObj(container);
  if (!c) return;
  const image = asStr(c.image);
  if (image !== undefined) setDefault(c, 'imagePullPolicy', defaultPullPolicy(image));
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  setDefault(c, 'resources', {});
  for (const port of asArr(c.ports)) {
    const p = asObj(port);
    if (!p) continue;
    setDefault(p, 'protocol', 'TCP');
    // Host-network pods bind container ports on the host itself, so the two must agree.
    if (hostNetwork && p.hostPort === undefined && p.containerPort !== undefined) p.hostPort = p.containerPort;
  }
  for (const env of asArr(c.env)) defaultFieldRef(asObj(asObj(env)?.valueFrom)?.fieldRef);
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  const lifecycle = asObj(c.lifecycle);
  if (lifecycle) {
    for (const k of ['postStart', 'preStop']) {
      const h = asObj(lifecycle[k]);
      if (h) defaultHandler(h);
    }
  }
}

const FILE_MODE_DEFAULT = 0o644; // 420, what upstream stores for projected/secret/configMap files

function defaultVolume(volume: unknown): void {
  const v = asObj(volume);
  if (!v) return;
  for (const k of ['secret', 'configMap', 'projected', 'downwardAPI']) {
    const src = asObj(v[k]);
    if (src) setDefault(src, 'defaultMode', FILE_MODE_DEFAULT);
  }
  for (const item of asArr(asObj(v.downwardAPI)?.items)) defaultFieldRef(asObj(item)?.fieldRef);
  for (const source of asArr(asObj(v.projected)?.sources)) {
    for (const item of asArr(asObj(asObj(source)?.downwardAPI)?.items)) defaultFieldRef(asObj(item)?.fieldRef);
    const sat = asObj(asObj(source)?.serviceAccountToken);
    if (sat) setDefault(sat, 'expirationSeconds', 3600);
  }
  const hostPath = asObj(v.hostPath);
  if (hostPath) setDefault(hostPath, 'type', '');
}

/** Fill PodSpec defaults in place (the fields upstream shows on every stored pod template). */
export function defaultPodSpec(spec: unknown): void {
  const s = asObj(spec);
  if (!s) return;
  setDefault(s, 'dnsPolicy', 'ClusterFirst');
  setDefault(s, 'restartPolicy', 'Always');
  setDefault(s, 'terminationGracePeriodSeconds', 30);
  setDefault(s, 'schedulerName', 'default-scheduler');
  if (!asObj(s.securityContext)) setDefault(s, 'securityContext', {});
  const hostNetwork = s.hostNetwork === true;
  for (const k of ['containers', 'initContainers']) for (const c of asArr(s[k])) defaultContainer(c, hostNetwork);
  for (const c of asArr(s.ephemeralContainers)) defaultContainer(c, false);
  for (const v of asArr(s.volumes)) defaultVolume(v);
}

/** Defaults for a pod template (workload kinds): the template's spec. */
export function defaultPodTemplateSpec(tpl: unknown): void {
  const t = asObj(tpl);
  if (t) defaultPodSpec(t.spec);
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

const PORT_RANGE = 'must be between 1 and 65535, inclusive';
const NON_NEGATIVE = 'must be greater than or equal to 0';

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Type check for an optional field; pushes an error and returns false when present with the wrong type. */
function optType(errs: FieldError[], v: unknown, field: string, kind: 'string' | 'integer' | 'boolean' | 'object' | 'array'): boolean {
  if (v === undefined || v === null) return false;
  const ok =
    kind === 'string' ? typeof v === 'string'
    : kind === 'integer' ? isInt(v)
    : kind === 'boolean' ? typeof v === 'boolean'
    : kind === 'object' ? asObj(v) !== undefined
    : Array.isArray(v);
  if (!ok) errs.push(fieldErr.invalid(field, v, `must be ${kind === 'integer' ? 'an' : 'a'} ${kind === 'object' ? 'map' : kind}`));
  return ok;
}

function nonNegative(errs: FieldError[], v: unknown, field: string): void {
  if (optType(errs, v, field, 'integer') && (v as number) < 0) errs.push(fieldErr.invalid(field, v, NON_NEGATIVE));
}

/** IANA service names used as port names: ≤15 chars, lowercase alphanumerics and single inner hyphens, ≥1 letter. */
export function portNameProblems(name: string): string[] {
  const out: string[] = [];
  if (name.length > 15) out.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name)) out.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (name.includes('--')) out.push('must not contain consecutive hyphens');
  if (name.length > 0 && (name.startsWith('-') || name.endsWith('-'))) out.push('must not begin or end with a hyphen');
  if (!/[a-z]/.test(name)) out.push('must contain at least one letter (a-z)');
  return out;
}

export function isValidPort(v: unknown): boolean {
  return isInt(v) && v >= 1 && v <= 65535;
}

/** A port given as number or named (`intstr`): numbers 1-65535, names as IANA service names. */
function validatePortNumOrName(errs: FieldError[], v: unknown, field: string): void {
  if (typeof v === 'number') {
    if (!isValidPort(v)) errs.push(fieldErr.invalid(field, v, PORT_RANGE));
  } else if (typeof v === 'string') {
    if (v === '') errs.push(fieldErr.required(field));
    else for (const m of portNameProblems(v)) errs.push(fieldErr.invalid(field, v, m));
  } else if (v === undefined || v === null) {
    errs.push(fieldErr.required(field));
  } else {
    errs.push(fieldErr.invalid(field, v, 'must be an integer or a string'));
  }
}

const STANDARD_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage', 'storage', 'pods']);

/** Container resource names: the standard ones and hugepages-*. */
export function isStandardContainerResource(name: string): boolean {
  return STANDARD_RESOURCES.has(name) || name.startsWith('hugepages-');
}

/** Resource names: standard ones (per `isStandard`) or a domain-qualified extended resource. */
function validateResourceName(errs: FieldError[], name: string, field: string, isStandard: (n: string) => boolean): void {
  if (isStandard(name)) return;
  const problems = names.qualifiedName(name);
  if (problems.length) for (const m of problems) errs.push(fieldErr.invalid(field, name, m));
  else if (!name.includes('/')) errs.push(fieldErr.invalid(field, name, 'must be a standard resource type or fully qualified'));
}

/** A map of resource name → quantity (`field[name]` paths); returns the parsed quantities for cross-checks. */
export function validateResourceList(
  errs: FieldError[],
  list: unknown,
  field: string,
  isStandard: (name: string) => boolean = isStandardContainerResource,
): Map<string, Quantity> {
  const out = new Map<string, Quantity>();
  if (list === undefined || list === null) return out;
  const m = asObj(list);
  if (!m) {
    errs.push(fieldErr.invalid(field, list, 'must be a map of resource name to quantity'));
    return out;
  }
  for (const [name, raw] of Object.entries(m)) {
    const f = `${field}[${name}]`;
    validateResourceName(errs, name, f, isStandard);
    const q = parseQuantity(raw);
    if (!q) {
      errs.push(fieldErr.invalid(f, raw, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
      continue;
    }
    if (q.nanos < 0n) errs.push(fieldErr.invalid(f, raw, NON_NEGATIVE));
    out.set(name, q);
  }
  return out;
}

function validateResources(errs: FieldError[], res: unknown, field: string): void {
  if (res === undefined || res === null) return;
  if (!asObj(res)) {
    errs.push(fieldErr.invalid(field, res, 'must be a map'));
    return;
  }
  const r = res as Obj;
  const limits = validateResourceList(errs, r.limits, `${field}.limits`);
  const requests = validateResourceList(errs, r.requests, `${field}.requests`);
  for (const [name, req] of requests) {
    const lim = limits.get(name);
    if (lim && compareQuantities(req, lim) > 0)
      errs.push(
        fieldErr.invalid(`${field}.requests[${name}]`, (r.requests as Obj)[name], `must be less than or equal to ${name} limit of ${String((r.limits as Obj)[name])}`),
      );
  }
}

const HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc'] as const;

function validateHandler(errs: FieldError[], h: Obj, field: string, allowed: readonly string[]): void {
  const present = allowed.filter((k) => h[k] !== undefined && h[k] !== null);
  if (present.length === 0) errs.push(fieldErr.required(field, 'must specify a handler type'));
  for (const k of present.slice(1)) errs.push(fieldErr.forbidden(`${field}.${k}`, 'may not specify more than 1 handler type'));
  for (const k of present) {
    const v = h[k];
    const f = `${field}.${k}`;
    if (!asObj(v)) {
      errs.push(fieldErr.invalid(f, v, 'must be a map'));
      continue;
    }
    const o = v as Obj;
    if (k === 'exec') {
      if (asArr(o.command).length === 0) errs.push(fieldErr.required(`${f}.command`));
    } else if (k === 'httpGet') {
      validatePortNumOrName(errs, o.port, `${f}.port`);
      if (o.scheme !== undefined && o.scheme !== 'HTTP' && o.scheme !== 'HTTPS')
        errs.push(fieldErr.notSupported(`${f}.scheme`, o.scheme, ['HTTP', 'HTTPS']));
      optType(errs, o.path, `${f}.path`, 'string');
    } else if (k === 'tcpSocket') {
      validatePortNumOrName(errs, o.port, `${f}.port`);
    } else if (k === 'grpc') {
      if (!isValidPort(o.port)) errs.push(fieldErr.invalid(`${f}.port`, o.port, PORT_RANGE));
    } else if (k === 'sleep') {
      nonNegative(errs, o.seconds, `${f}.seconds`);
    }
  }
}

function validateProbe(errs: FieldError[], probe: unknown, field: string, mustSucceedOnce: boolean): void {
  if (probe === undefined || probe === null) return;
  const p = asObj(probe);
  if (!p) {
    errs.push(fieldErr.invalid(field, probe, 'must be a map'));
    return;
  }
  validateHandler(errs, p, field, HANDLERS);
  for (const k of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold', 'terminationGracePeriodSeconds'])
    nonNegative(errs, p[k], `${field}.${k}`);
  // Liveness and startup probes decide on the first success; a higher threshold means nothing.
  if (mustSucceedOnce && p.successThreshold !== undefined && p.successThreshold !== 1)
    errs.push(fieldErr.invalid(`${field}.successThreshold`, p.successThreshold, 'must be 1'));
}

function validateEnv(errs: FieldError[], env: unknown, field: string): void {
  if (!optType(errs, env, field, 'array')) return;
  (env as unknown[]).forEach((raw, i) => {
    const f = `${field}[${i}]`;
    const e = asObj(raw);
    if (!e) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
    const name = asStr(e.name);
    if (!name) errs.push(fieldErr.required(`${f}.name`));
    else checkName(errs, `${f}.name`, name, names.envVarName);
    optType(errs, e.value, `${f}.value`, 'string');
    if (e.valueFrom === undefined || e.valueFrom === null) return;
    const vf = asObj(e.valueFrom);
    if (!vf) return void errs.push(fieldErr.invalid(`${f}.valueFrom`, e.valueFrom, 'must be a map'));
    const sources = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef', 'fileKeyRef'].filter((k) => vf[k] !== undefined && vf[k] !== null);
    if (sources.length === 0) errs.push(fieldErr.invalid(`${f}.valueFrom`, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (sources.length > 1)
      errs.push(fieldErr.invalid(`${f}.valueFrom`, '', 'may not have more than one field specified at a time'));
    if (typeof e.value === 'string' && e.value !== '')
      errs.push(fieldErr.invalid(`${f}.valueFrom`, '', 'may not be specified when `value` is not empty'));
    const fr = asObj(vf.fieldRef);
    if (vf.fieldRef !== undefined && fr && !asStr(fr.fieldPath)) errs.push(fieldErr.required(`${f}.valueFrom.fieldRef.fieldPath`));
    const rr = asObj(vf.resourceFieldRef);
    if (vf.resourceFieldRef !== undefined && rr && !asStr(rr.resource)) errs.push(fieldErr.required(`${f}.valueFrom.resourceFieldRef.resource`));
    for (const k of ['configMapKeyRef', 'secretKeyRef']) {
      if (vf[k] === undefined) continue;
      const ref = asObj(vf[k]);
      if (!ref) {
        errs.push(fieldErr.invalid(`${f}.valueFrom.${k}`, vf[k], 'must be a map'));
        continue;
      }
      if (!asStr(ref.key)) errs.push(fieldErr.required(`${f}.valueFrom.${k}.key`));
      if (!asStr(ref.name)) errs.push(fieldErr.required(`${f}.valueFrom.${k}.name`));
    }
  });
}

function validateEnvFrom(errs: FieldError[], envFrom: unknown, field: string): void {
  if (!optType(errs, envFrom, field, 'array')) return;
  (envFrom as unknown[]).forEach((raw, i) => {
    const f = `${field}[${i}]`;
    const e = asObj(raw);
    if (!e) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
    const prefix = asStr(e.prefix);
    if (prefix) checkName(errs, `${f}.prefix`, prefix, names.envVarName);
    const refs = ['configMapRef', 'secretRef'].filter((k) => e[k] !== undefined && e[k] !== null);
    if (refs.length === 0) errs.push(fieldErr.invalid(f, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (refs.length > 1) errs.push(fieldErr.invalid(f, '', 'may not have more than one field specified at a time'));
    for (const k of refs) if (!asStr(asObj(e[k])?.name)) errs.push(fieldErr.required(`${f}.${k}.name`));
  });
}

function validatePorts(errs: FieldError[], ports: unknown, field: string, hostNetwork: boolean): void {
  if (!optType(errs, ports, field, 'array')) return;
  const seenNames = new Set<string>();
  (ports as unknown[]).forEach((raw, i) => {
    const f = `${field}[${i}]`;
    const p = asObj(raw);
    if (!p) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
    if (p.name !== undefined && p.name !== '') {
      const name = p.name;
      if (typeof name !== 'string') errs.push(fieldErr.invalid(`${f}.name`, name, 'must be a string'));
      else {
        for (const m of portNameProblems(name)) errs.push(fieldErr.invalid(`${f}.name`, name, m));
        if (seenNames.has(name)) errs.push(fieldErr.duplicate(`${f}.name`, name));
        seenNames.add(name);
      }
    }
    if (p.containerPort === undefined || p.containerPort === 0) errs.push(fieldErr.required(`${f}.containerPort`));
    else if (!isValidPort(p.containerPort)) errs.push(fieldErr.invalid(`${f}.containerPort`, p.containerPort, PORT_RANGE));
    if (p.hostPort !== undefined && p.hostPort !== 0 && !isValidPort(p.hostPort))
      errs.push(fieldErr.invalid(`${f}.hostPort`, p.hostPort, PORT_RANGE));
    if (hostNetwork && p.hostPort !== undefined && p.hostPort !== p.containerPort)
      errs.push(fieldErr.invalid(`${f}.containerPort`, p.containerPort, 'must match `hostPort` when `hostNetwork` is true'));
    if (p.protocol === undefined || p.protocol === '') errs.push(fieldErr.required(`${f}.protocol`));
    else if (!['TCP', 'UDP', 'SCTP'].includes(p.protocol as string)) errs.push(fieldErr.notSupported(`${f}.protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
  });
}

function validateVolumeMounts(errs: FieldError[], mounts: unknown, field: string, volumes: Set<string>): void {
  if (!optType(errs, mounts, field, 'array')) return;
  const paths = new Set<string>();
  (mounts as unknown[]).forEach((raw, i) => {
    const f = `${field}[${i}]`;
    const m = asObj(raw);
    if (!m) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
    const name = asStr(m.name);
    if (!name) errs.push(fieldErr.required(`${f}.name`));
    // Upstream reports this as "Not found"; the shared FieldError has no such type, so Invalid says why.
    else if (!volumes.has(name)) errs.push(fieldErr.invalid(`${f}.name`, name, 'must match the name of a volume in spec.volumes'));
    const path = asStr(m.mountPath);
    if (!path) errs.push(fieldErr.required(`${f}.mountPath`));
    else {
      if (paths.has(path)) errs.push(fieldErr.invalid(`${f}.mountPath`, path, 'must be unique'));
      paths.add(path);
    }
    optType(errs, m.readOnly, `${f}.readOnly`, 'boolean');
    if (typeof m.subPath === 'string' && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..')))
      errs.push(fieldErr.invalid(`${f}.subPath`, m.subPath, "must be a relative path without '..'"));
  });
}

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];

interface ContainerCtx {
  volumes: Set<string>;
  names: Set<string>;
  hostNetwork: boolean;
  init: boolean;
}

function validateContainer(errs: FieldError[], raw: unknown, f: string, ctx: ContainerCtx): void {
  const c = asObj(raw);
  if (!c) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
  const name = c.name;
  if (name === undefined || name === '' || name === null) errs.push(fieldErr.required(`${f}.name`));
  else if (typeof name !== 'string') errs.push(fieldErr.invalid(`${f}.name`, name, 'must be a string'));
  else {
    checkName(errs, `${f}.name`, name, names.dns1123Label);
    if (ctx.names.has(name)) errs.push(fieldErr.duplicate(`${f}.name`, name));
    ctx.names.add(name);
  }
  const image = c.image;
  if (image === undefined || image === null || image === '') errs.push(fieldErr.required(`${f}.image`));
  else if (typeof image !== 'string') errs.push(fieldErr.invalid(`${f}.image`, image, 'must be a string'));
  else if (image.trim() !== image) errs.push(fieldErr.invalid(`${f}.image`, image, 'must not have leading or trailing whitespace'));
  for (const k of ['command', 'args']) {
    if (optType(errs, c[k], `${f}.${k}`, 'array'))
      (c[k] as unknown[]).forEach((v, i) => {
        if (typeof v !== 'string') errs.push(fieldErr.invalid(`${f}.${k}[${i}]`, v, 'must be a string'));
      });
  }
  optType(errs, c.workingDir, `${f}.workingDir`, 'string');
  validatePorts(errs, c.ports, `${f}.ports`, ctx.hostNetwork);
  validateEnv(errs, c.env, `${f}.env`);
  validateEnvFrom(errs, c.envFrom, `${f}.envFrom`);
  validateVolumeMounts(errs, c.volumeMounts, `${f}.volumeMounts`, ctx.volumes);
  validateResources(errs, c.resources, `${f}.resources`);
  if (c.imagePullPolicy !== undefined && !PULL_POLICIES.includes(c.imagePullPolicy as string))
    errs.push(fieldErr.notSupported(`${f}.imagePullPolicy`, c.imagePullPolicy, PULL_POLICIES));
  if (c.terminationMessagePolicy !== undefined && !TERMINATION_MESSAGE_POLICIES.includes(c.terminationMessagePolicy as string))
    errs.push(fieldErr.notSupported(`${f}.terminationMessagePolicy`, c.terminationMessagePolicy, TERMINATION_MESSAGE_POLICIES));
  const sidecar = ctx.init && c.restartPolicy === 'Always';
  if (c.restartPolicy !== undefined) {
    if (!ctx.init) errs.push(fieldErr.forbidden(`${f}.restartPolicy`, 'may not be set for non-init containers'));
    else if (c.restartPolicy !== 'Always') errs.push(fieldErr.notSupported(`${f}.restartPolicy`, c.restartPolicy, ['Always']));
  }
  if (ctx.init && !sidecar) {
    // Plain init containers run to completion once; probes and lifecycle hooks would never apply.
    for (const k of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe'])
      if (c[k] !== undefined && c[k] !== null) errs.push(fieldErr.forbidden(`${f}.${k}`, 'may not be set for init containers without restartPolicy=Always'));
  } else {
    validateProbe(errs, c.livenessProbe, `${f}.livenessProbe`, true);
    validateProbe(errs, c.readinessProbe, `${f}.readinessProbe`, false);
    validateProbe(errs, c.startupProbe, `${f}.startupProbe`, true);
    const lifecycle = c.lifecycle;
    if (optType(errs, lifecycle, `${f}.lifecycle`, 'object'))
      for (const k of ['postStart', 'preStop']) {
        const h = (lifecycle as Obj)[k];
        if (h === undefined || h === null) continue;
        if (!asObj(h)) errs.push(fieldErr.invalid(`${f}.lifecycle.${k}`, h, 'must be a map'));
        else validateHandler(errs, h as Obj, `${f}.lifecycle.${k}`, ['exec', 'httpGet', 'tcpSocket', 'sleep']);
      }
  }
}

const VOLUME_SOURCES = [
  'hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs',
  'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile', 'configMap',
  'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume', 'scaleIO', 'storageos',
  'csi', 'ephemeral', 'image',
];

/** The field inside each common volume source that upstream insists on. */
const VOLUME_REQUIRED: Record<string, string[]> = {
  hostPath: ['path'],
  secret: ['secretName'],
  configMap: ['name'],
  persistentVolumeClaim: ['claimName'],
  nfs: ['server', 'path'],
  csi: ['driver'],
  image: ['reference'],
};

function validateVolumes(errs: FieldError[], volumes: unknown, field: string): Set<string> {
  const seen = new Set<string>();
  if (!optType(errs, volumes, field, 'array')) return seen;
  (volumes as unknown[]).forEach((raw, i) => {
    const f = `${field}[${i}]`;
    const v = asObj(raw);
    if (!v) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
    const name = asStr(v.name);
    if (!name) errs.push(fieldErr.required(`${f}.name`));
    else {
      checkName(errs, `${f}.name`, name, names.dns1123Label);
      if (seen.has(name)) errs.push(fieldErr.duplicate(`${f}.name`, name));
      seen.add(name);
    }
    const sources = VOLUME_SOURCES.filter((k) => v[k] !== undefined && v[k] !== null);
    if (sources.length === 0) errs.push(fieldErr.required(f, 'must specify a volume type'));
    for (const k of sources.slice(1)) errs.push(fieldErr.forbidden(`${f}.${k}`, 'may not specify more than 1 volume type'));
    for (const k of sources) {
      if (!asObj(v[k])) {
        errs.push(fieldErr.invalid(`${f}.${k}`, v[k], 'must be a map'));
        continue;
      }
      const src = v[k] as Obj;
      for (const req of VOLUME_REQUIRED[k] ?? []) if (!asStr(src[req])) errs.push(fieldErr.required(`${f}.${k}.${req}`));
      const mode = src.defaultMode;
      if (mode !== undefined && (!isInt(mode) || mode < 0 || mode > 0o777))
        errs.push(fieldErr.invalid(`${f}.${k}.defaultMode`, mode, 'must be a number between 0 and 0777 (octal), both inclusive'));
      if (k === 'emptyDir' && src.sizeLimit !== undefined && !parseQuantity(src.sizeLimit))
        errs.push(fieldErr.invalid(`${f}.emptyDir.sizeLimit`, src.sizeLimit, 'must be a valid quantity'));
    }
  });
  return seen;
}

const TOLERATION_OPERATORS = ['Equal', 'Exists'];
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export function validateTolerations(errs: FieldError[], tolerations: unknown, field: string): void {
  if (!optType(errs, tolerations, field, 'array')) return;
  (tolerations as unknown[]).forEach((raw, i) => {
    const f = `${field}[${i}]`;
    const t = asObj(raw);
    if (!t) return void errs.push(fieldErr.invalid(f, raw, 'must be a map'));
    const key = asStr(t.key) ?? '';
    if (key) checkName(errs, `${f}.key`, key, names.qualifiedName);
    const op = t.operator ?? 'Equal';
    if (!key && op !== 'Exists') errs.push(fieldErr.invalid(`${f}.operator`, op, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    if (!TOLERATION_OPERATORS.includes(op as string)) errs.push(fieldErr.notSupported(`${f}.operator`, op, TOLERATION_OPERATORS));
    else if (op === 'Exists' && t.value !== undefined && t.value !== '')
      errs.push(fieldErr.invalid(`${f}.operator`, t.value, 'value must be empty when `operator` is \'Exists\''));
    else if (op === 'Equal' && typeof t.value === 'string' && t.value) checkName(errs, `${f}.value`, t.value, names.labelValue);
    if (t.effect !== undefined && t.effect !== '' && !TAINT_EFFECTS.includes(t.effect as string))
      errs.push(fieldErr.notSupported(`${f}.effect`, t.effect, TAINT_EFFECTS));
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null) {
      if (!isInt(t.tolerationSeconds)) errs.push(fieldErr.invalid(`${f}.tolerationSeconds`, t.tolerationSeconds, 'must be an integer'));
      else if (t.effect !== 'NoExecute') errs.push(fieldErr.invalid(`${f}.effect`, t.effect ?? '', 'effect must be \'NoExecute\' when `tolerationSeconds` is set'));
    }
  });
}

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];

// ---------------------------------------------------------------------------------------------
// Validation entry points

/** Validate a PodSpec found at `field` (e.g. `spec` or `spec.template.spec`). */
/**
 * `claimVolumes` names volumes that come from elsewhere (a StatefulSet's volumeClaimTemplates):
 * mounts may refer to them although spec.volumes does not list them.
 */
export function validatePodSpec(spec: unknown, field: string, claimVolumes: string[] = []): FieldError[] {
  const errs: FieldError[] = [];
  if (spec === undefined || spec === null) return [fieldErr.required(`${field}.containers`)];
  const s = asObj(spec);
  if (!s) return [fieldErr.invalid(field, spec, 'must be a map')];
  const hostNetwork = s.hostNetwork === true;
  optType(errs, s.hostNetwork, `${field}.hostNetwork`, 'boolean');
  const volumes = validateVolumes(errs, s.volumes, `${field}.volumes`);
  for (const v of claimVolumes) volumes.add(v);
  const ctx: ContainerCtx = { volumes, names: new Set(), hostNetwork, init: false };
  if (s.containers !== undefined && s.containers !== null && !Array.isArray(s.containers))
    errs.push(fieldErr.invalid(`${field}.containers`, s.containers, 'must be a list of containers'));
  else if (asArr(s.containers).length === 0) errs.push(fieldErr.required(`${field}.containers`));
  else asArr(s.containers).forEach((c, i) => validateContainer(errs, c, `${field}.containers[${i}]`, ctx));
  // Init containers share the container namespace (names must be unique across both lists).
  if (optType(errs, s.initContainers, `${field}.initContainers`, 'array'))
    asArr(s.initContainers).forEach((c, i) => validateContainer(errs, c, `${field}.initContainers[${i}]`, { ...ctx, init: true }));
  if (s.restartPolicy === undefined || s.restartPolicy === '') errs.push(fieldErr.required(`${field}.restartPolicy`));
  else if (!RESTART_POLICIES.includes(s.restartPolicy as string)) errs.push(fieldErr.notSupported(`${field}.restartPolicy`, s.restartPolicy, RESTART_POLICIES));
  if (s.dnsPolicy !== undefined && !DNS_POLICIES.includes(s.dnsPolicy as string))
    errs.push(fieldErr.notSupported(`${field}.dnsPolicy`, s.dnsPolicy, DNS_POLICIES));
  if (s.dnsPolicy === 'None' && !asObj(s.dnsConfig)) errs.push(fieldErr.required(`${field}.dnsConfig`, 'must provide `dnsConfig` when `dnsPolicy` is None'));
  nonNegative(errs, s.terminationGracePeriodSeconds, `${field}.terminationGracePeriodSeconds`);
  if (s.activeDeadlineSeconds !== undefined && s.activeDeadlineSeconds !== null) {
    const v = s.activeDeadlineSeconds;
    if (!isInt(v) || v < 1 || v > 2147483647) errs.push(fieldErr.invalid(`${field}.activeDeadlineSeconds`, v, 'must be between 1 and 2147483647, inclusive'));
  }
  if (s.nodeSelector !== undefined) errs.push(...validateLabels(s.nodeSelector, `${field}.nodeSelector`));
  for (const k of ['serviceAccountName', 'nodeName', 'priorityClassName']) {
    const v = s[k];
    if (optType(errs, v, `${field}.${k}`, 'string') && v !== '') checkName(errs, `${field}.${k}`, v as string, names.dns1123Subdomain);
  }
  for (const k of ['hostname', 'subdomain']) {
    const v = s[k];
    if (optType(errs, v, `${field}.${k}`, 'string') && v !== '') checkName(errs, `${field}.${k}`, v as string, names.dns1123Label);
  }
  if (optType(errs, s.schedulerName, `${field}.schedulerName`, 'string') && s.schedulerName !== '')
    checkName(errs, `${field}.schedulerName`, s.schedulerName as string, names.dns1123Subdomain);
  validateTolerations(errs, s.tolerations, `${field}.tolerations`);
  if (optType(errs, s.imagePullSecrets, `${field}.imagePullSecrets`, 'array'))
    asArr(s.imagePullSecrets).forEach((r, i) => {
      if (!asStr(asObj(r)?.name)) errs.push(fieldErr.required(`${field}.imagePullSecrets[${i}].name`));
    });
  if (optType(errs, s.readinessGates, `${field}.readinessGates`, 'array'))
    asArr(s.readinessGates).forEach((g, i) => {
      const t = asStr(asObj(g)?.conditionType);
      if (!t) errs.push(fieldErr.required(`${field}.readinessGates[${i}].conditionType`));
      else checkName(errs, `${field}.readinessGates[${i}].conditionType`, t, names.qualifiedName);
    });
  optType(errs, s.securityContext, `${field}.securityContext`, 'object');
  optType(errs, s.enableServiceLinks, `${field}.enableServiceLinks`, 'boolean');
  if (s.priority !== undefined && s.priority !== null && !isInt(s.priority)) errs.push(fieldErr.invalid(`${field}.priority`, s.priority, 'must be an integer'));
  if (s.preemptionPolicy !== undefined && s.preemptionPolicy !== null && !['PreemptLowerPriority', 'Never'].includes(s.preemptionPolicy as string))
    errs.push(fieldErr.notSupported(`${field}.preemptionPolicy`, s.preemptionPolicy, ['Never', 'PreemptLowerPriority']));
  return errs;
}

/** Validate a pod template (`field` is e.g. `spec.template`): its metadata labels/annotations and spec. */
export function validatePodTemplateSpec(tpl: unknown, field: string, claimVolumes: string[] = []): FieldError[] {
  if (tpl === undefined || tpl === null) return [fieldErr.required(field)];
  const t = asObj(tpl);
  if (!t) return [fieldErr.invalid(field, tpl, 'must be a map')];
  const errs: FieldError[] = [];
  const meta = t.metadata;
  if (meta !== undefined && meta !== null) {
    if (!asObj(meta)) errs.push(fieldErr.invalid(`${field}.metadata`, meta, 'must be a map'));
    else {
      errs.push(...validateLabels((meta as Obj).labels, `${field}.metadata.labels`));
      errs.push(...validateAnnotations((meta as Obj).annotations, `${field}.metadata.annotations`));
    }
  }
  errs.push(...validatePodSpec(t.spec, `${field}.spec`, claimVolumes));
  return errs;
}

