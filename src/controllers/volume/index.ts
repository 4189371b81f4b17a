export { PersistentVolumeController, type PersistentVolumeControllerOptions } from './pv-controller.js';
export { LocalPathProvisioner, type LocalPathProvisionerOptions } from './local-path-provisioner.js';
export { defaultStorageClassAdmission, defaultStorageClass, pickDefaultClass, LOCAL_PATH_PROVISIONER, DEFAULT_CLASS_ANNOTATION } from './default-storage-class.js';
export * from './util.js';
export { StorageProtectionController, storageObjectInUseProtection, PVC_PROTECTION, PV_PROTECTION } from './protection.js';
