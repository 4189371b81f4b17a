// Every core/v1 kind Skiff serves, for registration at start-up.
import type { KindSpec } from '../../types.js';
import { configMapKind } from './configmap.js';
import { endpointsKind } from './endpoints.js';
import { eventKind } from './event.js';
import { namespaceKind } from './namespace.js';
import { nodeKind } from './node.js';
import { persistentVolumeClaimKind, persistentVolumeKind } from './persistentvolume.js';
import { podKind } from './pod.js';
import { limitRangeKind, resourceQuotaKind } from './resourcequota.js';
import { secretKind } from './secret.js';
import { serviceKind } from './service.js';
import { serviceAccountKind } from './serviceaccount.js';

export const coreV1Kinds: KindSpec[] = [
  namespaceKind,
  nodeKind,
  podKind,
  serviceKind,
  endpointsKind,
  configMapKind,
  secretKind,
  serviceAccountKind,
  eventKind,
  resourceQuotaKind,
  limitRangeKind,
  persistentVolumeKind,
  persistentVolumeClaimKind,
];

export {
  configMapKind,
  endpointsKind,
  eventKind,
  limitRangeKind,
  namespaceKind,
  nodeKind,
  persistentVolumeClaimKind,
  persistentVolumeKind,
  podKind,
  resourceQuotaKind,
  secretKind,
  serviceAccountKind,
  serviceKind,
};
export { prepareServiceUpdate, needsClusterIP, needsNodePorts, isHeadless } from './service.js';
export { ClusterIPAllocator, NodePortAllocator, AllocationError } from './service-allocator.js';
