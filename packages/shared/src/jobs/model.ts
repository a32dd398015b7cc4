import { z } from 'zod';
import type { ConversionOptions } from '../contracts/conversion-options.js';
import { JOB_STATES, type JobState } from '../contracts/job-states.js';

/** Where jobs live: database `videos` beside the GridFS bucket of the videos, keyed by the video's id. */
export const JOBS = { database: 'videos', collection: 'jobs' } as const;

export { ACTIVE_STATES, FINAL_STATES, JOB_STATES, type JobState, isFinal } from '../contracts/job-states.js';

/** A job's state on the wire (see JOB_STATES). */
export const jobStateSchema = z.enum(JOB_STATES).meta({ id: 'JobState', description: 'queued → converting → done | failed | cancelled.' });

/** How far a conversion is; kept on the job as a snapshot at most every few seconds, sent live as events. */
export interface JobProgress {
  /** Of the audio kept (the source's, or the trimmed part of it), 0–100; 100 only once the job is done. */
  percent: number;
  /** × realtime. */
  speed: number | null;
  etaSeconds: number | null;
  at: Date;
}

/** One MP3 a done job made: its only one, or one part of a split by chapters. */
export interface JobMp3 {
  fid: string;
  /** The part's title (its chapter's); the MP3's title tag for a job of one MP3, null when it has none. */
  title: string | null;
  /** Of the MP3; unknown (null) for jobs done before their MP3s were listed. */
  durationSeconds: number | null;
  /** Bytes. */
  size: number;
}

export interface Job {
  videoFid: string;
  owner: string;
  filename: string | null;
  /** Of the uploaded video, bytes; unknown for a video stored by the original's gateway. */
  size: number | null;
  contentType: string | null;
  /** Of the audio kept (the source's, or the trimmed part of it), once a worker measured it. */
  durationSeconds: number | null;
  /** What the owner asked for (bitrate, sample rate, …); empty for the defaults. */
  options: ConversionOptions;
  /** Of the MP3, once done. */
  mp3Size: number | null;
  /** When the MP3 and the job are removed (a finished job only). */
  expiresAt: Date | null;
  /** Set once they were: downloads answer 410. */
  expiredAt: Date | null;
  state: JobState;
  reason: string | null;
  /** The MP3, once done, when the job made one; null for a job split into several (see `mp3s`). */
  mp3Fid: string | null;
  /** Every MP3 the job made, in order (the parts of a split by chapters); empty until done. */
  mp3s: JobMp3[];
  progress: JobProgress | null;
  /** Deliveries a worker claimed, counted at claim time so redeliveries by the broker count too. */
  attempts: number;
  /** The owner asked to stop it while a worker had it; the worker stops within one lease renewal. */
  cancelRequested: boolean;
  /** Past the point of no return: the MP3 is stored and announced, so cancelling is refused (409). */
  finishing: boolean;
  /** Where its message stands (see JobDispatch). */
  dispatch: JobDispatch;
  dispatchedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** When it (last) entered the queue: its place in line. */
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The W3C `traceparent` of the upload that made it: its message, published now or later, continues that trace. */
  traceparent: string | null;
}

/**
 * Whether a queued job's message is on the broker's queue: `held` (the owner already has their share of jobs
 * in the queue or converting; it waits in the store), `pending` (released: its message is published, or being
 * published — the confirm is recorded apart, and the dispatch sweep publishes again a release a crash cut
 * short) or `published` (a job from the original's three-field message, published by someone else).
 */
export type JobDispatch = 'held' | 'pending' | 'published';

/**
 * The stored form; snake_case as the rest of the wire. `_id` is the video's id as 24-character lowercase hex
 * (MongoDB stores it as an ObjectId: the MongoDB collection converts).
 */
export interface JobDocument {
  _id: string;
  owner: string;
  /** The owner's list page the job is on (JobStore.list); absent on jobs recorded before pages existed until ensureJobIndexes. */
  list_page?: number;
  filename: string | null;
  size?: number | null;
  content_type?: string | null;
  duration_seconds?: number | null;
  options?: ConversionOptions;
  mp3_size?: number | null;
  expires_at?: Date | null;
  expired_at?: Date | null;
  state: JobState;
  reason: string | null;
  mp3_fid: string | null;
  /** Every MP3 of a done job, in order; absent on jobs done before parts existed (their one is `mp3_fid`). */
  mp3s?: { fid: string; title: string | null; duration_seconds: number | null; size: number }[];
  progress?: { percent: number; speed: number | null; eta_seconds: number | null; at: Date } | null;
  attempts?: number;
  /** The last transient failure, for the reason given when the attempts run out. */
  last_error?: string | null;
  cancel_requested_at?: Date | null;
  finishing?: boolean;
  dispatch?: JobDispatch;
  /** The queue its message goes to (the gateway's VIDEO_QUEUE): held jobs are released there. */
  queue?: string;
  /** When the dispatch last changed: a `pending` one older than a few seconds was interrupted. */
  dispatched_at?: Date | null;
  /** Set when the owner deleted a finished job: its files are gone, the document answers a repeated DELETE. */
  deleted_at?: Date | null;
  created_at: Date;
  updated_at: Date;
  queued_at?: Date;
  started_at?: Date | null;
  finished_at?: Date | null;
  /** A worker holds the job until this time; another may take it over after. */
  lease_until?: Date | null;
  worker?: string | null;
  traceparent?: string | null;
}

export const toJob = (d: JobDocument): Job => ({
  videoFid: d._id,
  owner: d.owner,
  filename: d.filename ?? null,
  size: d.size ?? null,
  contentType: d.content_type ?? null,
  durationSeconds: d.duration_seconds ?? null,
  options: d.options ?? {},
  mp3Size: d.mp3_size ?? null,
  expiresAt: d.expires_at ?? null,
  expiredAt: d.expired_at ?? null,
  state: d.state,
  reason: d.reason ?? null,
  mp3Fid: d.mp3_fid ?? null,
  mp3s: mp3sOf(d),
  progress: d.progress ? { percent: d.progress.percent, speed: d.progress.speed, etaSeconds: d.progress.eta_seconds, at: d.progress.at } : null,
  attempts: d.attempts ?? 0,
  cancelRequested: Boolean(d.cancel_requested_at),
  finishing: d.finishing === true,
  dispatch: d.dispatch ?? 'published',
  dispatchedAt: d.dispatched_at ?? null,
  createdAt: d.created_at,
  updatedAt: d.updated_at,
  queuedAt: d.queued_at ?? d.created_at,
  startedAt: d.started_at ?? null,
  finishedAt: d.finished_at ?? null,
  traceparent: d.traceparent ?? null,
});

/** The MP3s of a stored job; for one done before they were listed, its one MP3, as far as the job knows it. */
function mp3sOf(d: JobDocument): JobMp3[] {
  if (d.mp3s) return d.mp3s.map((m) => ({ fid: m.fid, title: m.title, durationSeconds: m.duration_seconds, size: m.size }));
  return d.mp3_fid ? [{ fid: d.mp3_fid, title: null, durationSeconds: null, size: d.mp3_size ?? 0 }] : [];
}

/** The ids of every MP3 a job made: what removing its files removes. */
export const mp3FidsOf = (job: Pick<Job, 'mp3Fid' | 'mp3s'>): string[] => [...new Set([...(job.mp3Fid ? [job.mp3Fid] : []), ...job.mp3s.map((m) => m.fid)])];
