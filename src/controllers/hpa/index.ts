export {
  HorizontalPodAutoscalerController,
  HPA_RESOURCE,
  type HorizontalPodAutoscalerControllerOptions,
  type PodMetric,
  type PodMetricsSource,
} from './controller.js';
export { ScalingHistory, behaviorOf, DEFAULT_SCALE_UP, DEFAULT_SCALE_DOWN, type Behavior, type ScalingRules } from './behavior.js';
export { calculateResourceReplicas, podRequests, milliValue, type ResourceCalculation, type PodResourceMetric } from './replicas.js';
