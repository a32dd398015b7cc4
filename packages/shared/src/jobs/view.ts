import { z } from 'zod';
import { conversionOptionsSchema } from '../contracts/conversion-options.js';
import { type Job, jobStateSchema } from './model.js';

const objectIdHex = z.string().regex(/^[0-9a-f]{24}$/, 'a 24-character hex id');
const isoDate = z.iso.datetime();

/** A `fid` as clients may send it (query or path): a 24-character hex id, in either case. */
export const fidSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{24}$/, 'a 24-character hex id')
  .meta({ description: 'A 24-character hex id.', examples: ['6650f0c2a1b2c3d4e5f60718'] });

/** One MP3 of a done job: its only one, or a part of a split by chapters. */
export const jobMp3ViewSchema = z
  .object({
    fid: objectIdHex.meta({ description: 'Its id, for `/download?fid=…`.' }),
    title: z.string().nullable().meta({ description: "A part's title (its chapter's); the MP3's title tag otherwise, null without one." }),
    duration: z.number().nonnegative().nullable().meta({ description: 'Seconds; null for jobs done before MP3s were listed.' }),
    size: z.number().int().nonnegative().meta({ description: 'Bytes.' }),
  })
  .meta({ id: 'JobMp3', description: 'An MP3 a job made.' });
export type JobMp3View = z.infer<typeof jobMp3ViewSchema>;

/** A job as its owner sees it: `/status`, `GET /jobs/{video_fid}` and each item of `GET /jobs`. */
export const jobViewSchema = z
  .object({
    video_fid: objectIdHex.meta({ description: "The uploaded video's id; the job's key." }),
    state: jobStateSchema,
    filename: z.string().nullable(),
    size: z.number().int().nonnegative().nullable().meta({ description: 'Of the video, bytes.' }),
    content_type: z.string().nullable(),
    duration_seconds: z
      .number()
      .nonnegative()
      .nullable()
      .meta({ description: "Of the audio kept: the source's, or the part between `start` and `end` when trimmed; once a converter measured it." }),
    mp3_fid: objectIdHex.nullable().meta({ description: 'The MP3 of a done job that made one; null for a job split into several (see `mp3s`).' }),
    mp3s: z.array(jobMp3ViewSchema).meta({ description: 'Every MP3 the job made, in order: one, or one per chapter with `split=chapters`; empty until done.' }),
    download_url: z.string().nullable().meta({
      description: '`/download?fid=<mp3_fid>` once done, or `/download.zip?fid=<video_fid>` (all its MP3s) for a job split into several; null once expired.',
    }),
    reason: z.string().nullable().meta({ description: 'Why the job failed, for people.' }),
    position: z.number().int().positive().nullable().meta({ description: '1 for the next job a converter takes; only while queued.' }),
    percent: z.number().min(0).max(100).nullable().meta({ description: 'Of the audio kept (the trimmed part, when trimmed); 100 only once done.' }),
    speed: z.number().nonnegative().nullable().meta({ description: '× realtime, while converting.' }),
    eta_seconds: z.number().nonnegative().nullable(),
    cancel_requested: z.boolean(),
    options: z.record(z.string(), z.union([z.string(), z.number()])).meta({ description: 'The options asked for at upload; `{}` for the defaults.' }),
    mp3_size: z.number().int().nonnegative().nullable().meta({ description: 'Of the MP3, bytes.' }),
    expires_at: isoDate.nullable().meta({ description: 'When the MP3 and the job will be removed; after that, downloads answer 410.' }),
    expired: z.boolean(),
    created_at: isoDate,
    updated_at: isoDate,
    started_at: isoDate.nullable(),
    finished_at: isoDate.nullable(),
  })
  .meta({ id: 'JobView', description: 'A job as its owner sees it.' });
export type JobView = z.infer<typeof jobViewSchema>;

/** `GET /jobs`: newest first; `next_cursor` fetches the following page, null on the last. */
export const jobListSchema = z
  .object({
    jobs: z.array(jobViewSchema),
    next_cursor: z.string().nullable().meta({ description: 'The `cursor` of the next page; null on the last.' }),
  })
  .meta({ id: 'JobList', description: "The user's jobs, newest first." });
export type JobList = z.infer<typeof jobListSchema>;

export const jobListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'Jobs per page.' }),
  cursor: objectIdHex.optional().meta({ description: 'The `next_cursor` of the page before.' }),
});

/** The answer to an upload (multipart `/upload`): the job just recorded, and where to follow it. */
export const uploadAcceptedSchema = z
  .object({
    video_fid: objectIdHex,
    state: z.literal('queued'),
    filename: z.string().nullable(),
    size: z.number().int().nonnegative().meta({ description: 'Bytes stored.' }),
    content_type: z.string(),
    options: conversionOptionsSchema.meta({ description: 'The output options, as checked; `{}` for the defaults.' }),
    status_url: z.string().meta({ description: '`/status?fid=<video_fid>`, also in `Location`.' }),
    webhook: z
      .object({
        id: z.string().meta({ description: 'The endpoint made for `notify_url`: `GET /webhooks/{id}` and its deliveries.' }),
        secret: z.string().meta({ description: 'Its signing secret (`whsec_…`), shown this once.' }),
      })
      .optional()
      .meta({ description: 'Only with `notify_url`: where the end of this job is sent, signed with this secret.' }),
  })
  .meta({ id: 'UploadAccepted', description: 'An upload accepted: its job is queued.' });
export type UploadAccepted = z.infer<typeof uploadAcceptedSchema>;

/** `POST /jobs/{video_fid}/link`: a signed download link that needs no token, until it expires. */
export const downloadLinkSchema = z
  .object({
    url: z.url().meta({ description: 'The absolute download URL, signed: `…/download?fid=…&expires=…&sig=…`.' }),
    expires_at: isoDate,
  })
  .meta({ id: 'DownloadLink', description: 'A signed download link.' });
export type DownloadLink = z.infer<typeof downloadLinkSchema>;

export const downloadUrlOf = (mp3Fid: string | null): string | null => (mp3Fid ? `/download?fid=${mp3Fid}` : null);

/** Where a done job's MP3s are downloaded: its one MP3, or the ZIP of all of them for a job split into several. */
const resultUrlOf = (job: Job): string | null =>
  job.mp3s.length > 1 ? `/download.zip?fid=${job.videoFid}` : downloadUrlOf(job.mp3Fid ?? job.mp3s[0]?.fid ?? null);

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
    mp3s: job.mp3s.map((m) => ({ fid: m.fid, title: m.title, duration: m.durationSeconds === null ? null : round(m.durationSeconds, 3), size: m.size })),
    download_url: job.expiredAt ? null : resultUrlOf(job),
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
