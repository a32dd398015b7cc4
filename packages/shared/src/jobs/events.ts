import { z } from 'zod';
import { type Job, jobStateSchema } from './model.js';

/**
 * Job changes travel as events on this topic exchange, with routing key `job.<state>` (`job.progress` for
 * progress ticks): workers and gateways publish, every gateway replica reads them through a queue of its own
 * and hands each to its owner's event streams. Progress ticks are short-lived and not persistent; a reader
 * that misses one finds the job's snapshot in the store.
 */
export const JOB_EVENTS_EXCHANGE = 'job.events';
/** Requests to workers about a running job (cancel), with routing key `job.<action>`. */
export const JOB_CONTROL_EXCHANGE = 'job.control';

const objectIdHex = z.string().regex(/^[0-9a-f]{24}$/, 'a 24-character hex id');

export const jobEventSchema = z.object({
  /** `progress` for a tick while converting, `state` for any other change. */
  type: z.enum(['state', 'progress']),
  video_fid: objectIdHex,
  owner: z.string().min(1),
  state: jobStateSchema,
  /** When it happened, ISO 8601 with milliseconds; the event stream's `id:` is its epoch milliseconds. */
  at: z.iso.datetime(),
  percent: z.number().min(0).max(100).nullable().optional(),
  speed: z.number().nonnegative().nullable().optional(),
  eta_seconds: z.number().nonnegative().nullable().optional(),
  position: z.number().int().positive().nullable().optional(),
  reason: z.string().nullable().optional(),
  mp3_fid: objectIdHex.nullable().optional(),
  cancel_requested: z.boolean().optional(),
});
export type JobEvent = z.infer<typeof jobEventSchema>;

/** A job event as its owner's event stream (`GET /events`) sends it: the `data` of each `job` event. */
export const streamedJobEventSchema = jobEventSchema
  .omit({ owner: true })
  .meta({ id: 'JobEvent', description: "The `data` of an `event: job` on the event stream: what changed in one of the user's jobs." });
export type StreamedJobEvent = z.infer<typeof streamedJobEventSchema>;

export const jobControlSchema = z.object({ action: z.literal('cancel'), video_fid: objectIdHex });
export type JobControl = z.infer<typeof jobControlSchema>;

export const routingKeyOf = (event: JobEvent): string => `job.${event.type === 'progress' ? 'progress' : event.state}`;

/** The state event that says where `job` stands now (a replay after a reconnect, a change just written). */
export function stateEventOf(job: Job, position: number | null = null): JobEvent {
  return {
    type: 'state',
    video_fid: job.videoFid,
    owner: job.owner,
    state: job.state,
    at: job.updatedAt.toISOString(),
    percent: job.state === 'done' ? 100 : job.state === 'converting' ? (job.progress?.percent ?? 0) : null,
    position: job.state === 'queued' ? position : null,
    reason: job.reason,
    mp3_fid: job.mp3Fid,
    cancel_requested: job.cancelRequested,
  };
}
