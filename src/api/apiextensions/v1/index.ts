// apiextensions.k8s.io/v1 kinds.
import type { KindSpec } from '../../types.js';
import { crdKind } from './crd.js';

export const apiextensionsV1Kinds: KindSpec[] = [crdKind];
