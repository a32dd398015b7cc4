export {
  FINAL_STATES,
  JOB_STATES,
  JOBS,
  type Job,
  type JobDispatch,
  type JobDocument,
  type JobProgress,
  type JobState,
  isFinal,
  jobStateSchema,
  toJob,
} from './model.js';
export { downloadUrlOf, jobListQuerySchema, jobListSchema, jobViewSchema, toJobView, type JobList, type JobView } from './view.js';
export {
  JOB_CONTROL_EXCHANGE,
  JOB_EVENTS_EXCHANGE,
  jobControlSchema,
  jobEventSchema,
  routingKeyOf,
  stateEventOf,
  type JobControl,
  type JobEvent,
} from './events.js';
export { JobStore, jobsCollection, type NewJob } from './store.js';
