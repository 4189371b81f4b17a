// PersistentVolume (cluster-scoped storage) and PersistentVolumeClaim (a namespaced request for
// it). Both tables abbreviate access modes (RWO/ROX/RWX/RWOP) as upstream does.
import type { KObject } from '../../../machinery/object.js';
import { deepCopy, jsonEqual } from '../../../machinery/object.js';
import { FieldError, checkName, fieldErr, names } from '../../../machinery/validation.js';
import type { KindSpec } from '../../types.js';
import { asArr, asObj, asStr, dig, setDefault, type Obj } from '../../common/shape.js';
import { ageColumn, column, nameColumn } from '../../common/table.js';
import { canonicalQuantity, compareQuantities, parseQuantity } from '../../common/quantity.js';

const ACCESS_MODES: [string, string][] = [
  ['ReadWriteOnce', 'RWO'],
  ['ReadOnlyMany', 'ROX'],
  ['ReadWriteMany', 'RWX'],
  ['ReadWriteOncePod', 'RWOP'],
];
const ACCESS_MODE_NAMES = ACCESS_MODES.map(([m]) => m).sort();
const RECLAIM_POLICIES = ['Delete', 'Recycle', 'Retain'];
const VOLUME_MODES = ['Block', 'Filesystem'];
const STORAGE_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';

/** Access modes abbreviated in upstream's fixed order, e.g. `RWO,ROX`. */
export function accessModesCell(modes: unknown): string {
  const list = asArr(modes);
  return ACCESS_MODES.filter(([m]) => list.includes(m))
    .map(([, short]) => short)
    .join(',');
}

/** The beta annotation still wins over spec.storageClassName, as upstream's helper decides. */
function storageClass(obj: KObject): string {
  return asStr(dig(obj, 'metadata', 'annotations', STORAGE_CLASS_ANNOTATION)) ?? asStr(dig(obj, 'spec', 'storageClassName')) ?? '';
}

function validateAccessModes(errs: FieldError[], modes: unknown, field: string): void {
  if (modes !== undefined && modes !== null && !Array.isArray(modes)) return void errs.push(fieldErr.invalid(field, modes, 'must be a list'));
  const list = asArr(modes);
  if (list.length === 0) return void errs.push(fieldErr.required(field));
  for (const m of list) if (!ACCESS_MODE_NAMES.includes(m as string)) errs.push(fieldErr.notSupported(field, m, ACCESS_MODE_NAMES));
  if (list.includes('ReadWriteOncePod') && list.length > 1)
    errs.push(fieldErr.forbidden(field, 'may not use ReadWriteOncePod with other access modes'));
}

function validateCommonSpec(errs: FieldError[], spec: Obj): void {
  if (spec.volumeMode !== undefined && spec.volumeMode !== null && !VOLUME_MODES.includes(spec.volumeMode as string))
    errs.push(fieldErr.notSupported('spec.volumeMode', spec.volumeMode, VOLUME_MODES));
  const sc = spec.storageClassName;
  if (sc !== undefined && sc !== null && sc !== '') {
    if (typeof sc !== 'string') errs.push(fieldErr.invalid('spec.storageClassName', sc, 'must be a string'));
    else checkName(errs, 'spec.storageClassName', sc, names.dns1123Subdomain);
  }
}

// ---------------------------------------------------------------------------------------------
// PersistentVolume

const PV_SOURCES = [
  'gcePersistentDisk', 'awsElasticBlockStore', 'hostPath', 'glusterfs', 'nfs', 'rbd', 'iscsi', 'cinder', 'cephfs', 'fc',
  'flocker', 'flexVolume', 'azureFile', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'portworxVolume',
  'scaleIO', 'local', 'storageos', 'csi',
];
const PV_SOURCE_REQUIRED: Record<string, string[]> = {
  hostPath: ['path'],
  local: ['path'],
  nfs: ['server', 'path'],
  csi: ['driver', 'volumeHandle'],
};

function validatePV(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [obj.spec === undefined ? fieldErr.required('spec') : fieldErr.invalid('spec', obj.spec, 'must be a map')];
  validateAccessModes(errs, spec.accessModes, 'spec.accessModes');
  const capacity = spec.capacity;
  if (capacity === undefined || capacity === null || Object.keys(asObj(capacity) ?? {}).length === 0) errs.push(fieldErr.required('spec.capacity'));
  else if (!asObj(capacity)) errs.push(fieldErr.invalid('spec.capacity', capacity, 'must be a map'));
  else
    for (const [name, q] of Object.entries(capacity as Obj)) {
      if (name !== 'storage') errs.push(fieldErr.notSupported('spec.capacity', name, ['storage']));
      else {
        const parsed = parseQuantity(q);
        if (!parsed) errs.push(fieldErr.invalid('spec.capacity[storage]', q, 'must be a valid quantity'));
        else if (parsed.nanos <= 0n) errs.push(fieldErr.invalid('spec.capacity[storage]', q, 'must be greater than zero'));
      }
    }
  if (spec.persistentVolumeReclaimPolicy !== undefined && !RECLAIM_POLICIES.includes(spec.persistentVolumeReclaimPolicy as string))
    errs.push(fieldErr.notSupported('spec.persistentVolumeReclaimPolicy', spec.persistentVolumeReclaimPolicy, RECLAIM_POLICIES));
  validateCommonSpec(errs, spec);
  const sources = PV_SOURCES.filter((k) => spec[k] !== undefined && spec[k] !== null);
  if (sources.length === 0) errs.push(fieldErr.required('spec', 'must specify a volume type'));
  for (const k of sources.slice(1)) errs.push(fieldErr.forbidden(`spec.${k}`, 'may not specify more than 1 volume type'));
  for (const k of sources) {
    const src = asObj(spec[k]);
    if (!src) {
      errs.push(fieldErr.invalid(`spec.${k}`, spec[k], 'must be a map'));
      continue;
    }
    for (const req of PV_SOURCE_REQUIRED[k] ?? []) if (!asStr(src[req])) errs.push(fieldErr.required(`spec.${k}.${req}`));
  }
  // A local volume lives on one node; without affinity the scheduler could not place its pods.
  if (sources.includes('local') && !asObj(spec.nodeAffinity)) errs.push(fieldErr.required('spec.nodeAffinity', 'Local volume requires node affinity'));
  const claimRef = spec.claimRef;
  if (claimRef !== undefined && claimRef !== null) {
    if (!asObj(claimRef)) errs.push(fieldErr.invalid('spec.claimRef', claimRef, 'must be a map'));
    else if (!asStr((claimRef as Obj).name)) errs.push(fieldErr.required('spec.claimRef.name'));
  }
  if (old) {
    const oldSpec = asObj(old.spec) ?? {};
    const sourceOf = (s: Obj) => Object.fromEntries(PV_SOURCES.filter((k) => s[k] !== undefined).map((k) => [k, s[k]]));
    if (!jsonEqual(sourceOf(spec), sourceOf(oldSpec)))
      errs.push(fieldErr.forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
    if (oldSpec.volumeMode !== undefined && spec.volumeMode !== oldSpec.volumeMode) errs.push(fieldErr.immutable('spec.volumeMode', spec.volumeMode ?? null));
    if (oldSpec.nodeAffinity !== undefined && !jsonEqual(spec.nodeAffinity, oldSpec.nodeAffinity))
      errs.push(fieldErr.immutable('spec.nodeAffinity', spec.nodeAffinity ?? null));
  }
  return errs;
}

const PV_PHASES = ['Pending', 'Available', 'Bound', 'Released', 'Failed'];

function phaseCell(obj: KObject): string {
  return asStr(dig(obj, 'metadata', 'deletionTimestamp')) ? 'Terminating' : (asStr(dig(obj, 'status', 'phase')) ?? '');
}

const unsetOr = (v: unknown) => asStr(v) ?? '<unset>';

export const persistentVolumeKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolume',
  plural: 'persistentvolumes',
  singular: 'persistentvolume',
  shortNames: ['pv'],
  namespaced: false,
  subresources: { status: true },
  defaults(obj) {
    const spec = asObj(obj.spec);
    if (spec) {
      setDefault(spec, 'persistentVolumeReclaimPolicy', 'Retain');
      setDefault(spec, 'volumeMode', 'Filesystem');
    }
    if (obj.status === undefined || obj.status === null) obj.status = {};
    const status = asObj(obj.status);
    if (status && !status.phase) status.phase = 'Pending';
  },
  prepareForCreate(obj) {
    obj.status = { phase: 'Pending' };
  },
  validate: validatePV,
  validateStatus(obj) {
    const phase = dig(obj, 'status', 'phase');
    return phase !== undefined && !PV_PHASES.includes(phase as string) ? [fieldErr.notSupported('status.phase', phase, PV_PHASES)] : [];
  },
  table: [
    nameColumn,
    column('Capacity', (o) => canonicalQuantity(dig(o, 'spec', 'capacity', 'storage')) ?? '0', { description: 'capacity is the description of the persistent volume\'s resources and capacity.' }),
    column('Access Modes', (o) => accessModesCell(dig(o, 'spec', 'accessModes')), { description: 'accessModes contains all ways the volume can be mounted.' }),
    column('Reclaim Policy', (o) => asStr(dig(o, 'spec', 'persistentVolumeReclaimPolicy')) ?? '', { description: 'persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.' }),
    column('Status', phaseCell, { description: 'phase indicates if a volume is available, bound to a claim, or released by a claim.' }),
    column(
      'Claim',
      (o) => {
        const ref = asObj(dig(o, 'spec', 'claimRef'));
        return ref ? `${asStr(ref.namespace) ?? ''}/${asStr(ref.name) ?? ''}` : '';
      },
      { description: 'claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.' },
    ),
    column('StorageClass', storageClass, { description: 'storageClassName is the name of StorageClass to which this persistent volume belongs.' }),
    column('VolumeAttributesClass', (o) => unsetOr(dig(o, 'spec', 'volumeAttributesClassName')), { description: 'Name of VolumeAttributesClass to which this persistent volume belongs.' }),
    column('Reason', (o) => asStr(dig(o, 'status', 'reason')) ?? '', { description: 'reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.' }),
    ageColumn,
    column('VolumeMode', (o) => unsetOr(dig(o, 'spec', 'volumeMode')), { wide: true, description: 'volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.' }),
  ],
};

// ---------------------------------------------------------------------------------------------
// PersistentVolumeClaim

const PVC_IMMUTABLE = 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims';

function validatePVC(obj: KObject, old?: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = asObj(obj.spec);
  if (!spec) return [obj.spec === undefined ? fieldErr.required('spec') : fieldErr.invalid('spec', obj.spec, 'must be a map')];
  validateAccessModes(errs, spec.accessModes, 'spec.accessModes');
  const resources = spec.resources;
  if (resources !== undefined && resources !== null && !asObj(resources)) errs.push(fieldErr.invalid('spec.resources', resources, 'must be a map'));
  const storage = dig(spec, 'resources', 'requests', 'storage');
  if (storage === undefined || storage === null) errs.push(fieldErr.required('spec.resources[storage]'));
  else {
    const q = parseQuantity(storage);
    if (!q) errs.push(fieldErr.invalid('spec.resources[storage]', storage, 'must be a valid quantity'));
    else if (q.nanos <= 0n) errs.push(fieldErr.invalid('spec.resources[storage]', storage, 'must be greater than zero'));
  }
  validateCommonSpec(errs, spec);
  if (spec.volumeName !== undefined && spec.volumeName !== '' && typeof spec.volumeName !== 'string')
    errs.push(fieldErr.invalid('spec.volumeName', spec.volumeName, 'must be a string'));
  if (old) errs.push(...validatePVCUpdate(obj, old));
  return errs;
}

/** Claims are frozen so quota and limits cannot be gamed; binding (volumeName once) and growing storage are the exceptions. */
function validatePVCUpdate(obj: KObject, old: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = asObj(obj.spec);
  const oldSpec = asObj(old.spec);
  if (!spec || !oldSpec) return errs;
  const munged = deepCopy(oldSpec);
  if (!oldSpec.volumeName) munged.volumeName = spec.volumeName;
  munged.volumeAttributesClassName = spec.volumeAttributesClassName;
  // Legacy annotation-based classes may be written into the field once.
  if (oldSpec.storageClassName === undefined && asStr(dig(old, 'metadata', 'annotations', STORAGE_CLASS_ANNOTATION)) === spec.storageClassName)
    munged.storageClassName = spec.storageClassName;
  const bound = dig(obj, 'status', 'phase') === 'Bound' || dig(old, 'status', 'phase') === 'Bound';
  if (bound) {
    const res = asObj(munged.resources) ?? {};
    const req = asObj(res.requests) ?? {};
    req.storage = dig(spec, 'resources', 'requests', 'storage');
    res.requests = req;
    munged.resources = res;
  }
  if (!jsonEqual(spec, munged)) errs.push(fieldErr.forbidden('spec', PVC_IMMUTABLE));
  const newSize = parseQuantity(dig(spec, 'resources', 'requests', 'storage'));
  const oldSize = parseQuantity(dig(oldSpec, 'resources', 'requests', 'storage'));
  if (newSize && oldSize && compareQuantities(newSize, oldSize) < 0)
    errs.push(fieldErr.forbidden('spec.resources.requests.storage', 'field can not be less than previous value'));
  return errs;
}

const PVC_PHASES = ['Pending', 'Bound', 'Lost'];

export const persistentVolumeClaimKind: KindSpec = {
  group: '',
  version: 'v1',
  kind: 'PersistentVolumeClaim',
  plural: 'persistentvolumeclaims',
  singular: 'persistentvolumeclaim',
  shortNames: ['pvc'],
  namespaced: true,
  subresources: { status: true },
  defaults(obj) {
    const spec = asObj(obj.spec);
    if (spec) setDefault(spec, 'volumeMode', 'Filesystem');
    if (obj.status === undefined || obj.status === null) obj.status = {};
    const status = asObj(obj.status);
    if (status && !status.phase) status.phase = 'Pending';
  },
  prepareForCreate(obj) {
    obj.status = { phase: 'Pending' };
  },
  validate: validatePVC,
  validateStatus(obj) {
    const phase = dig(obj, 'status', 'phase');
    return phase !== undefined && !PVC_PHASES.includes(phase as string) ? [fieldErr.notSupported('status.phase', phase, PVC_PHASES)] : [];
  },
  table: [
    nameColumn,
    column('Status', phaseCell, { description: 'phase represents the current phase of PersistentVolumeClaim.' }),
    column('Volume', (o) => asStr(dig(o, 'spec', 'volumeName')) ?? '', { description: 'volumeName is the binding reference to the PersistentVolume backing this claim.' }),
    // Capacity and modes are only meaningful once bound: they are the volume's, reported in status.
    column('Capacity', (o) => (asStr(dig(o, 'spec', 'volumeName')) ? (canonicalQuantity(dig(o, 'status', 'capacity', 'storage')) ?? '0') : ''), {
      description: 'capacity represents the actual resources of the underlying volume.',
    }),
    column('Access Modes', (o) => (asStr(dig(o, 'spec', 'volumeName')) ? accessModesCell(dig(o, 'status', 'accessModes')) : ''), {
      description: 'accessModes contains the actual access modes the volume backing the PVC has.',
    }),
    column('StorageClass', storageClass, { description: 'storageClassName is the name of the StorageClass required by the claim.' }),
    column('VolumeAttributesClass', (o) => unsetOr(dig(o, 'spec', 'volumeAttributesClassName')), { description: 'volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.' }),
    ageColumn,
    column('VolumeMode', (o) => unsetOr(dig(o, 'spec', 'volumeMode')), { wide: true, description: 'volumeMode defines what type of volume is required by the claim.' }),
  ],
};
