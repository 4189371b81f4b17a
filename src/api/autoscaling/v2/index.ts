// autoscaling/v2 kinds.
import type { KindSpec } from '../../types.js';
import { hpaV2Kind } from './hpa.js';

export const autoscalingV2Kinds: KindSpec[] = [hpaV2Kind];
