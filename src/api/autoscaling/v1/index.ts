// autoscaling/v1 kinds.
import type { KindSpec } from '../../types.js';
import { hpaV1Kind } from './hpa.js';

export const autoscalingV1Kinds: KindSpec[] = [hpaV1Kind];
