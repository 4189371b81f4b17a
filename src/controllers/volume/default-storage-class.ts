// Upstream's DefaultStorageClass admission: a claim created without spec.storageClassName (and
// without the beta class annotation) gets the cluster's default class — the class annotated
// `storageclass.kubernetes.io/is-default-class: "true"`, the newest one when several are (as
// upstream since 1.26). An explicit "" means "no class" and is left alone. Also: the default
// class Skiff bootstraps, kind's `standard` served by the local-path provisioner.
import type { KindSpec } from '../../api/types.js';
import type { KObject } from '../../machinery/object.js';
import type { AdmissionPlugin, Operation, Resources } from '../../apiserver/resources.js';
import { isDefaultStorageClass } from '../../api/storage/v1/index.js';
import { asObj } from '../../api/common/shape.js';
import { ANN_BETA_STORAGE_CLASS } from './util.js';

export const LOCAL_PATH_PROVISIONER = 'rancher.io/local-path';
export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';

/** The StorageClass to bootstrap (as kind ships it): `standard`, default, local-path, Delete, WaitForFirstConsumer. */
export function defaultStorageClass(): KObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'standard', annotations: { [DEFAULT_CLASS_ANNOTATION]: 'true' } },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
}

/** The default class among these (the newest default; ties broken by name, as upstream). */
export function pickDefaultClass(classes: KObject[]): KObject | undefined {
  const defaults = classes.filter(isDefaultStorageClass);
  defaults.sort((a, b) => {
    const ta = String(a.metadata.creationTimestamp ?? '');
    const tb = String(b.metadata.creationTimestamp ?? '');
    if (ta !== tb) return ta < tb ? 1 : -1;
    return a.metadata.name! < b.metadata.name! ? -1 : 1;
  });
  return defaults[0];
}

export const defaultStorageClassAdmission: AdmissionPlugin = {
  name: 'DefaultStorageClass',
  async admit(op: Operation, spec: KindSpec, obj: KObject, _old, _ctx, svc: Resources) {
    if (op !== 'CREATE' || spec.group !== '' || spec.plural !== 'persistentvolumeclaims') return;
    const claimSpec = asObj(obj.spec);
    if (!claimSpec) return; // validation reports it
    if (claimSpec.storageClassName !== undefined && claimSpec.storageClassName !== null) return;
    if (asObj(obj.metadata.annotations)?.[ANN_BETA_STORAGE_CLASS] !== undefined) return;
    const scSpec = svc.registry.lookup('storage.k8s.io', 'v1', 'storageclasses');
    if (!scSpec) return;
    const { items } = await svc.list(scSpec, undefined);
    const def = pickDefaultClass(items);
    if (def) claimSpec.storageClassName = def.metadata.name;
  },
};
