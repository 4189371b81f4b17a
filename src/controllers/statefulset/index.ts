export { StatefulSetController, type StatefulSetControllerOptions } from './controller.js';
export * from './util.js';
