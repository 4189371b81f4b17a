export { JobController, type JobControllerOptions } from './controller.js';
export { TTLAfterFinishedController, type TTLAfterFinishedControllerOptions } from './ttl.js';
export { JOB_TRACKING_FINALIZER, COMPLETION_INDEX_KEY, isJobFinished } from './util.js';
