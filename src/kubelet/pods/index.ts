// The kubelet's pod lifecycle (see pod-manager.ts).
export { PodManager, type PodManagerOptions } from './pod-manager.js';
export { PodIPAllocator } from './ipam.js';
export { RestartBackoff, type BackoffOptions } from './backoff.js';
export { expand } from './env.js';
export { podPhase, podConditions } from './status.js';
