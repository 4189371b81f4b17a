// apps/v1 kinds.
import type { KindSpec } from '../../types.js';
import { controllerRevisionKind } from './controllerrevision.js';
import { daemonSetKind } from './daemonset.js';
import { deploymentKind } from './deployment.js';
import { replicaSetKind } from './replicaset.js';
import { statefulSetKind } from './statefulset.js';

export const appsV1Kinds: KindSpec[] = [deploymentKind, replicaSetKind, statefulSetKind, daemonSetKind, controllerRevisionKind];
