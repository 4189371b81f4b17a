// Every built-in kind Skiff serves: core/v1 plus each group/version folder's list.
import type { KindSpec } from './types.js';
import { coreV1Kinds } from './core/v1/index.js';
import { appsV1Kinds } from './apps/v1/index.js';
import { batchV1Kinds } from './batch/v1/index.js';
import { autoscalingV1Kinds } from './autoscaling/v1/index.js';
import { autoscalingV2Kinds } from './autoscaling/v2/index.js';
import { networkingV1Kinds } from './networking/v1/index.js';
import { policyV1Kinds } from './policy/v1/index.js';
import { rbacV1Kinds } from './rbac/v1/index.js';
import { storageV1Kinds } from './storage/v1/index.js';
import { coordinationV1Kinds } from './coordination/v1/index.js';
import { schedulingV1Kinds } from './scheduling/v1/index.js';
import { discoveryV1Kinds } from './discovery/v1/index.js';
import { eventsV1Kinds, viaCoreEventColumns } from './events/v1/index.js';
import { apiextensionsV1Kinds } from './apiextensions/v1/index.js';
import { apiregistrationV1Kinds } from './apiregistration/v1/index.js';
import { settingsV1alpha1Kinds } from './settings/v1alpha1/index.js';
import { authorizationV1Kinds } from './authorization/v1/index.js';
import { authenticationV1Kinds } from './authentication/v1/index.js';

export function builtinKinds(): KindSpec[] {
  // events.k8s.io Events print like core Events; reuse the core columns through the conversion.
  const coreEventTable = coreV1Kinds.find((k) => k.kind === 'Event')?.table;
  const events = eventsV1Kinds.map((k) => (coreEventTable ? { ...k, table: viaCoreEventColumns(coreEventTable) } : k));
  return [
    ...coreV1Kinds,
    ...appsV1Kinds,
    ...batchV1Kinds,
    ...autoscalingV2Kinds,
    ...autoscalingV1Kinds,
    ...networkingV1Kinds,
    ...policyV1Kinds,
    ...rbacV1Kinds,
    ...storageV1Kinds,
    ...coordinationV1Kinds,
    ...schedulingV1Kinds,
    ...discoveryV1Kinds,
    ...events,
    ...apiextensionsV1Kinds,
    ...apiregistrationV1Kinds,
    ...settingsV1alpha1Kinds,
    ...authorizationV1Kinds,
    ...authenticationV1Kinds,
  ];
}
