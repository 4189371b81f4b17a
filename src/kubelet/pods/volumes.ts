// Pod volumes on the host: `<rootDir>/pods/<uid>/volumes/<name>` for emptyDir, configMap, secret,
// downwardAPI and projected; hostPath uses the host path itself. File contents are (re)written
// in place and files a source no longer has are removed, tracked by a small manifest. A
// persistentVolumeClaim resolves claim → bound PersistentVolume → its hostPath or local path
// (read-write unless the pod's volume says readOnly); until the claim is bound the volume fails
// to set up, so the pod waits with FailedMount events.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ApiClient } from '../../client/client.js';
import { R } from '../../client/client.js';
import { StatusError } from '../../machinery/errors.js';
import type { KObject } from '../../machinery/object.js';
import { asArr, asNum, asObj, asStr, type Obj } from '../../api/common/shape.js';
import { fieldRefValue, resourceFieldValue, type PodFacts } from './env.js';
import { containersOf } from './util.js';

const MANIFEST = '.skiff-files';
/** What a projected serviceAccountToken holds until the API issues tokens (documented gap). */
export const PLACEHOLDER_TOKEN = 'skiff-placeholder-token: service account tokens are not issued yet\n';

export interface PreparedVolume {
  name: string;
  /** Host directory (or file, for a hostPath file) the mounts point at. */
  hostPath: string;
  readOnly: boolean;
  kind: string;
}

export interface VolumeSetup {
  volumes: Map<string, PreparedVolume>;
  /** Volumes that could not be set up: `MountVolume.SetUp failed for volume "x" : …`. */
  errors: string[];
  /** Volume types this kubelet cannot provide (an Event says so; they are empty directories). */
  unsupported: string[];
}

export function podDir(rootDir: string, uid: string): string {
  return path.join(rootDir, 'pods', uid);
}

interface FileSpec {
  data: Buffer;
  mode: number;
}

class MissingSource extends Error {}

async function getOptional(client: ApiClient, r: typeof R.configmaps, ns: string, name: string): Promise<KObject | undefined> {
  try {
    return await client.get(r, ns, name);
  } catch (e) {
    if (e instanceof StatusError && e.code === 404) return undefined;
    throw e;
  }
}

function keyData(obj: KObject, secret: boolean): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(asObj(obj.data) ?? {})) if (typeof v === 'string') out.set(k, secret ? Buffer.from(v, 'base64') : Buffer.from(v, 'utf8'));
  if (!secret) for (const [k, v] of Object.entries(asObj(obj.binaryData) ?? {})) if (typeof v === 'string') out.set(k, Buffer.from(v, 'base64'));
  return out;
}

/** Files of a configMap or secret source (keys, or the listed items with their paths and modes). */
async function keyFiles(client: ApiClient, ns: string, src: Obj, secret: boolean, defaultMode: number, files: Map<string, FileSpec>): Promise<void> {
  const name = asStr(secret ? (src.secretName ?? src.name) : src.name) ?? '';
  const obj = await getOptional(client, secret ? R.secrets : R.configmaps, ns, name);
  const optional = src.optional === true;
  if (!obj) {
    if (optional) return;
    throw new MissingSource(`${secret ? 'secret' : 'configmap'} "${name}" not found`);
  }
  const data = keyData(obj, secret);
  const items = asArr(src.items).map(asObj).filter((i): i is Obj => !!i);
  if (!items.length) {
    for (const [k, v] of data) files.set(k, { data: v, mode: defaultMode });
    return;
  }
  for (const it of items) {
    const key = asStr(it.key) ?? '';
    const v = data.get(key);
    if (!v) {
      if (optional) continue;
      throw new MissingSource(`configmap references non-existent config key: ${key}`.replace('configmap', secret ? 'secret' : 'configmap'));
    }
    files.set(asStr(it.path) ?? key, { data: v, mode: asNum(it.mode) ?? defaultMode });
  }
}

function downwardFiles(facts: PodFacts, src: Obj, defaultMode: number, files: Map<string, FileSpec>): void {
  for (const it of asArr(src.items).map(asObj)) {
    if (!it) continue;
    const p = asStr(it.path);
    if (!p) continue;
    const fieldRef = asObj(it.fieldRef);
    const resRef = asObj(it.resourceFieldRef);
    let value = '';
    if (fieldRef) value = fieldRefValue(facts, asStr(fieldRef.fieldPath) ?? '');
    else if (resRef) {
      const cname = asStr(resRef.containerName) || (containersOf(facts.pod.spec, 'containers')[0]?.name as string) || '';
      value = resourceFieldValue(facts, cname, asStr(resRef.resource) ?? '', resRef.divisor);
    }
    files.set(p, { data: Buffer.from(value), mode: asNum(it.mode) ?? defaultMode });
  }
}

async function tokenFor(client: ApiClient, pod: KObject, src: Obj): Promise<Buffer> {
  const sa = asStr(asObj(pod.spec)?.serviceAccountName) || 'default';
  try {
    const res = await client.createSubresource(R.serviceaccounts, pod.metadata.namespace, sa, 'token', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: {},
      spec: {
        audiences: asStr(src.audience) ? [src.audience] : [],
        expirationSeconds: asNum(src.expirationSeconds) ?? 3600,
        boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod.metadata.name, uid: pod.metadata.uid },
      },
    });
    const token = asStr(asObj(res.status)?.token);
    if (token) return Buffer.from(token);
  } catch {
    /* tokens are not issued yet: fall through to the placeholder */
  }
  return Buffer.from(PLACEHOLDER_TOKEN);
}

async function writeFiles(dir: string, files: Map<string, FileSpec>): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  let previous: string[] = [];
  try {
    previous = JSON.parse(await fs.readFile(path.join(dir, MANIFEST), 'utf8')) as string[];
  } catch {
    /* first time */
  }
  for (const [rel, f] of files) {
    const target = path.join(dir, rel);
    if (!target.startsWith(dir + path.sep)) continue; // validation forbids "..", but never escape the volume
    await fs.mkdir(path.dirname(target), { recursive: true });
    let same = false;
    try {
      same = (await fs.readFile(target)).equals(f.data);
    } catch {
      /* absent */
    }
    if (!same) {
      const tmp = `${target}.skiff-tmp`;
      await fs.writeFile(tmp, f.data, { mode: f.mode });
      await fs.chmod(tmp, f.mode);
      await fs.rename(tmp, target);
    } else await fs.chmod(target, f.mode);
  }
  for (const rel of previous) if (!files.has(rel)) await fs.rm(path.join(dir, rel), { force: true });
  await fs.writeFile(path.join(dir, MANIFEST), JSON.stringify([...files.keys()]));
}

async function hostPathVolume(src: Obj): Promise<void> {
  const p = asStr(src.path) ?? '';
  const type = asStr(src.type) ?? '';
  const st = await fs.stat(p).catch(() => undefined);
  switch (type) {
    case 'DirectoryOrCreate':
      if (!st) await fs.mkdir(p, { recursive: true, mode: 0o755 });
      return;
    case 'FileOrCreate':
      if (!st) {
        await fs.mkdir(path.dirname(p), { recursive: true });
        await fs.writeFile(p, '', { mode: 0o644 });
      }
      return;
    case 'Directory':
      if (!st?.isDirectory()) throw new MissingSource(`hostPath type check failed: ${p} is not a directory`);
      return;
    case 'File':
      if (!st?.isFile()) throw new MissingSource(`hostPath type check failed: ${p} is not a file`);
      return;
    case 'Socket':
      if (!st?.isSocket()) throw new MissingSource(`hostPath type check failed: ${p} is not a socket file`);
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) throw new MissingSource(`hostPath type check failed: ${p} is not a character device`);
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) throw new MissingSource(`hostPath type check failed: ${p} is not a block device`);
      return;
  }
}

export interface ClaimVolume {
  /** The host directory the claim's data lives in. */
  hostPath: string;
  /** The bound PersistentVolume. */
  volume: KObject;
  /** Set when the volume's type has no host path: a node-local directory stands in for it. */
  standIn?: string;
}

/**
 * Where a claim's data lives on this host: the claim must be Bound to a PersistentVolume whose
 * claimRef is the claim; hostPath and local volumes use their path, other volume types (nfs,
 * csi, cloud disks…) a directory `<rootDir>/persistentvolumes/<pv>` that stands in for them.
 */
export async function resolveClaimVolume(client: ApiClient, namespace: string, claimName: string, rootDir: string): Promise<ClaimVolume> {
  let claim: KObject;
  try {
    claim = await client.get(R.persistentvolumeclaims, namespace, claimName);
  } catch (e) {
    if (e instanceof StatusError && e.code === 404) throw new MissingSource(`persistentvolumeclaim "${claimName}" not found`);
    throw e;
  }
  const phase = asStr(asObj(claim.status)?.phase) ?? '';
  const volumeName = asStr(asObj(claim.spec)?.volumeName) ?? '';
  if (claim.metadata.deletionTimestamp) throw new MissingSource(`persistentvolumeclaim "${claimName}" is being deleted`);
  if (phase !== 'Bound' || !volumeName)
    throw new MissingSource(`PVC ${namespace}/${claimName} has non-bound phase ("${phase}") or empty pvc.Spec.VolumeName ("${volumeName}")`);
  let pv: KObject;
  try {
    pv = await client.get(R.persistentvolumes, undefined, volumeName);
  } catch (e) {
    if (e instanceof StatusError && e.code === 404) throw new MissingSource(`persistentvolume "${volumeName}" not found`);
    throw e;
  }
  const pvSpec = asObj(pv.spec) ?? {};
  const ref = asObj(pvSpec.claimRef);
  if (!ref) throw new MissingSource(`found PV object "${volumeName}" but it has a nil or empty ClaimRef`);
  if (asStr(ref.uid) !== claim.metadata.uid)
    throw new MissingSource(`found PV object "${volumeName}" but its ClaimRef.UID ("${asStr(ref.uid) ?? ''}") does not point to claim.UID ("${claim.metadata.uid}")`);
  if (asObj(pvSpec.hostPath)) {
    const src = asObj(pvSpec.hostPath)!;
    // A PersistentVolume's host directory is made when missing, as a bind mount would.
    await hostPathVolume({ ...src, type: asStr(src.type) || 'DirectoryOrCreate' });
    return { hostPath: asStr(src.path)!, volume: pv };
  }
  if (asObj(pvSpec.local)) {
    const p = asStr(asObj(pvSpec.local)!.path) ?? '';
    const st = await fs.stat(p).catch(() => undefined);
    if (!st) throw new MissingSource(`path "${p}" does not exist`);
    return { hostPath: p, volume: pv };
  }
  const type = Object.keys(pvSpec).find((k) => PV_NON_SOURCES.indexOf(k) < 0) ?? 'unknown';
  const dir = path.join(rootDir, 'persistentvolumes', volumeName);
  await fs.mkdir(dir, { recursive: true });
  return { hostPath: dir, volume: pv, standIn: type };
}

const PV_NON_SOURCES = [
  'accessModes', 'capacity', 'claimRef', 'persistentVolumeReclaimPolicy', 'storageClassName', 'mountOptions', 'volumeMode', 'nodeAffinity',
  'volumeAttributesClassName',
];

const SUPPORTED = ['emptyDir', 'configMap', 'secret', 'downwardAPI', 'projected', 'hostPath', 'persistentVolumeClaim'];

/** Prepare (or refresh) every volume of a pod. */
export async function setupVolumes(client: ApiClient, facts: PodFacts, rootDir: string): Promise<VolumeSetup> {
  const { pod } = facts;
  const ns = pod.metadata.namespace ?? 'default';
  const base = path.join(podDir(rootDir, pod.metadata.uid!), 'volumes');
  const volumes = new Map<string, PreparedVolume>();
  const errors: string[] = [];
  const unsupported: string[] = [];
  for (const v of asArr(asObj(pod.spec)?.volumes).map(asObj)) {
    if (!v) continue;
    const name = asStr(v.name);
    if (!name) continue;
    const dir = path.join(base, name);
    try {
      if (asObj(v.hostPath)) {
        await hostPathVolume(asObj(v.hostPath)!);
        volumes.set(name, { name, hostPath: asStr(asObj(v.hostPath)!.path)!, readOnly: false, kind: 'hostPath' });
        continue;
      }
      if (asObj(v.persistentVolumeClaim)) {
        const src = asObj(v.persistentVolumeClaim)!;
        const res = await resolveClaimVolume(client, ns, asStr(src.claimName) ?? '', rootDir);
        if (res.standIn)
          unsupported.push(`volume "${name}" (PersistentVolume "${res.volume.metadata.name}", ${res.standIn}) is not supported yet: a directory on this node stands in for it`);
        volumes.set(name, { name, hostPath: res.hostPath, readOnly: src.readOnly === true, kind: 'persistentVolumeClaim' });
        continue;
      }
      const files = new Map<string, FileSpec>();
      let kind = Object.keys(v).find((k) => k !== 'name') ?? 'emptyDir';
      let readOnly = true;
      if (asObj(v.configMap)) await keyFiles(client, ns, asObj(v.configMap)!, false, asNum(asObj(v.configMap)!.defaultMode) ?? 0o644, files);
      else if (asObj(v.secret)) await keyFiles(client, ns, asObj(v.secret)!, true, asNum(asObj(v.secret)!.defaultMode) ?? 0o644, files);
      else if (asObj(v.downwardAPI)) downwardFiles(facts, asObj(v.downwardAPI)!, asNum(asObj(v.downwardAPI)!.defaultMode) ?? 0o644, files);
      else if (asObj(v.projected)) {
        const proj = asObj(v.projected)!;
        const mode = asNum(proj.defaultMode) ?? 0o644;
        for (const s of asArr(proj.sources).map(asObj)) {
          if (!s) continue;
          if (asObj(s.configMap)) await keyFiles(client, ns, asObj(s.configMap)!, false, mode, files);
          else if (asObj(s.secret)) await keyFiles(client, ns, asObj(s.secret)!, true, mode, files);
          else if (asObj(s.downwardAPI)) downwardFiles(facts, asObj(s.downwardAPI)!, mode, files);
          else if (asObj(s.serviceAccountToken)) {
            const sat = asObj(s.serviceAccountToken)!;
            files.set(asStr(sat.path) ?? 'token', { data: await tokenFor(client, pod, sat), mode });
          }
        }
      } else {
        readOnly = false;
        if (!asObj(v.emptyDir)) {
          if (!SUPPORTED.includes(kind)) unsupported.push(`volume "${name}" (${kind}) is not supported yet: an empty directory stands in for it`);
          kind = 'emptyDir';
        }
      }
      if (kind === 'emptyDir') await fs.mkdir(dir, { recursive: true });
      else await writeFiles(dir, files);
      volumes.set(name, { name, hostPath: dir, readOnly, kind });
    } catch (e) {
      errors.push(`MountVolume.SetUp failed for volume "${name}" : ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { volumes, errors, unsupported };
}

/** Remove a pod's volume directories (hostPath volumes are never touched: they live elsewhere). */
export async function removePodDir(rootDir: string, uid: string): Promise<void> {
  await fs.rm(podDir(rootDir, uid), { recursive: true, force: true });
}
