// batch/v1 kinds.
import type { KindSpec } from '../../types.js';
import { cronJobKind } from './cronjob.js';
import { jobKind } from './job.js';

export const batchV1Kinds: KindSpec[] = [jobKind, cronJobKind];
