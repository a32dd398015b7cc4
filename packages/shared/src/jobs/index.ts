/**
 * The job: its entity, its views, its events, its transitions and the roles of its store. Free of drivers;
 * the store itself is `@mp3converter/shared/jobs/store` (over `…/jobs/mongo` or `…/jobs/memory`), the events
 * on the broker `…/jobs/amqp`.
 */
export {
  ACTIVE_STATES,
  FINAL_STATES,
  JOB_STATES,
  JOBS,
  type Job,
  type JobDispatch,
  type JobDocument,
  type JobMp3,
  type JobProgress,
  type JobState,
  isFinal,
  mp3FidsOf,
  jobStateSchema,
  toJob,
} from './model.js';
export {
  downloadLinkSchema,
  downloadUrlOf,
  fidSchema,
  jobListQuerySchema,
  jobListSchema,
  jobMp3ViewSchema,
  jobViewSchema,
  toJobView,
  uploadAcceptedSchema,
  type DownloadLink,
  type JobList,
  type JobMp3View,
  type JobView,
  type UploadAccepted,
} from './view.js';
export {
  JOB_CONTROL_EXCHANGE,
  JOB_EVENTS_EXCHANGE,
  jobControlSchema,
  jobEventSchema,
  routingKeyOf,
  stateEventOf,
  streamedJobEventSchema,
  type JobControl,
  type JobEvent,
  type StreamedJobEvent,
} from './events.js';
export type {
  Claim,
  JobCancels,
  JobDispatchQueue,
  JobExpiry,
  JobLeases,
  JobListPage,
  JobLookup,
  JobRecords,
  JobUsage,
  JobViews,
  NewJob,
  Progress,
  StoredJob,
} from './ports.js';
export { JOB_TRANSITIONS, type Transition, type TransitionName } from './transitions.js';
