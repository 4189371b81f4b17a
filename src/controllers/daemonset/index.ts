export { DaemonSetController, planRollingUpdate, type DaemonSetControllerOptions, type NodePods, type RolloutPlan } from './controller.js';
export * from './util.js';
