import { z } from 'zod';
import { type Job, jobStateSchema } from './model.js';

const objectIdHex = z.string().regex(/^[0-9a-f]{24}$/, 'a 24-character hex id');
const isoDate = z.iso.datetime();

/** A job as its owner sees it: `/status`, `GET /jobs/{video_fid}` and each item of `GET /jobs`. */
export const jobViewSchema = z.object({
  video_fid: objectIdHex,
  state: jobStateSchema,
  filename: z.string().nullable(),
  size: z.number().int().nonnegative().nullable(),
  content_type: z.string().nullable(),
  duration_seconds: z.number().nonnegative().nullable(),
  mp3_fid: objectIdHex.nullable(),
  download_url: z.string().nullable(),
  reason: z.string().nullable(),
  /** 1 for the next job a worker takes; only while queued. */
  position: z.number().int().positive().nullable(),
  percent: z.number().min(0).max(100).nullable(),
  /** × realtime, while converting. */
  speed: z.number().nonnegative().nullable(),
  eta_seconds: z.number().nonnegative().nullable(),
  cancel_requested: z.boolean(),
  /** The options asked for at upload; `{}` for the defaults. */
  options: z.record(z.string(), z.union([z.string(), z.number()])),
  mp3_size: z.number().int().nonnegative().nullable(),
  /** When the MP3 and the job will be removed; after that, downloads answer 410. */
  expires_at: isoDate.nullable(),
  expired: z.boolean(),
  created_at: isoDate,
  updated_at: isoDate,
  started_at: isoDate.nullable(),
  finished_at: isoDate.nullable(),
});
export type JobView = z.infer<typeof jobViewSchema>;

/** `GET /jobs`: newest first; `next_cursor` fetches the following page, null on the last. */
export const jobListSchema = z.object({ jobs: z.array(jobViewSchema), next_cursor: z.string().nullable() });
export type JobList = z.infer<typeof jobListSchema>;

export const jobListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: objectIdHex.optional(),
});

export const downloadUrlOf = (mp3Fid: string | null): string | null => (mp3Fid ? `/download?fid=${mp3Fid}` : null);

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

export function toJobView(job: Job, position: number | null = null): JobView {
  const converting = job.state === 'converting';
  const progress = converting ? job.progress : null;
  return {
    video_fid: job.videoFid,
    state: job.state,
    filename: job.filename,
    size: job.size,
    content_type: job.contentType,
    duration_seconds: job.durationSeconds === null ? null : round(job.durationSeconds, 3),
    mp3_fid: job.mp3Fid,
    download_url: job.expiredAt ? null : downloadUrlOf(job.mp3Fid),
    reason: job.reason,
    position: job.state === 'queued' ? position : null,
    percent: job.state === 'done' ? 100 : converting ? round(progress?.percent ?? 0, 1) : null,
    speed: progress?.speed ?? null,
    eta_seconds: progress?.etaSeconds ?? null,
    cancel_requested: job.cancelRequested,
    options: job.options,
    mp3_size: job.mp3Size,
    expires_at: job.expiresAt?.toISOString() ?? null,
    expired: job.expiredAt !== null,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    started_at: job.startedAt?.toISOString() ?? null,
    finished_at: job.finishedAt?.toISOString() ?? null,
  };
}
