// The Deployment controller and its helpers.
export { DeploymentController, type DeploymentControllerOptions } from './controller.js';
export { computeHash, equalIgnoreHash, POD_TEMPLATE_HASH, REVISION, CHANGE_CAUSE, DESIRED_REPLICAS, MAX_REPLICAS } from './util.js';
