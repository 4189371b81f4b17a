// The scheduler's public surface.
export { Scheduler, defaultPlugins, DEFAULT_WEIGHTS, DEFAULT_SCHEDULER_NAME, type SchedulerOptions } from './scheduler.js';
export { Framework, fitErrorMessage, MAX_NODE_SCORE, type Plugin, type Status, type CycleState, type ScheduleResult } from './framework.js';
export { SchedulerCache } from './cache.js';
export { SchedulingQueue, type ClusterEvent, type QueuedPod } from './queue.js';
export { PodInfo, NodeInfo, tolerates, toleratedBy } from './types.js';
export { podRequests, resFromList, type Res } from './resources.js';
