export { CronJobController, type CronJobControllerOptions, SCHEDULED_TIMESTAMP_ANNOTATION, INSTANTIATE_ANNOTATION } from './controller.js';
export { parseSchedule, formatInZone, type Schedule } from './schedule.js';
