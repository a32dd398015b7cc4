/**
 * A job's life: `queued` (stored, its message on the queue, with its place in line) → `converting` (a worker
 * holds it: percent, speed and ETA) → `done` (the MP3's id) | `failed` (a reason people can read) |
 * `cancelled` (its owner called it off). The last three are final. Free of zod and drivers, so that the page
 * and the CLI read the same list as the services.
 */
export const JOB_STATES = ['queued', 'converting', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const FINAL_STATES: readonly JobState[] = ['done', 'failed', 'cancelled'];
/** Still to run or running: what counts against the owner's jobs in flight. */
export const ACTIVE_STATES: readonly JobState[] = ['queued', 'converting'];
/** Final: nothing more will happen to the job. Takes any string, as clients read states off the wire. */
export const isFinal = (state: string): boolean => (FINAL_STATES as readonly string[]).includes(state);
