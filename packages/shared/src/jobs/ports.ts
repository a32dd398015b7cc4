import type { JobState } from '../contracts/job-states.js';
import type { ConversionOptions } from '../contracts/conversion-options.js';
import type { Job, JobDispatch, JobMp3 } from './model.js';

/**
 * The job store by role: each service, and each part of one, asks for the roles it uses. One store
 * (JobStore in `@mp3converter/shared/jobs/store`) plays them all, over MongoDB or in memory.
 */

export interface NewJob {
  videoFid: string;
  owner: string;
  filename: string | null;
  size: number | null;
  contentType: string | null;
  options?: ConversionOptions;
  /** `held` waits for the owner's share of the queue; `pending` is about to be published; default `published` (by the caller). */
  dispatch?: JobDispatch;
  /** The queue its message goes to. */
  queue?: string;
  /** The upload's trace, for its message (see Job.traceparent). */
  traceparent?: string | null;
}

/** A stored job, with whether its owner deleted it. */
export type StoredJob = Job & { deleted: boolean };

/** Reading one job: every service. */
export interface JobLookup {
  /** Undefined for an unknown job, and for one its owner deleted unless `includeDeleted`. */
  get(videoFid: string, options?: { includeDeleted?: boolean }): Promise<StoredJob | undefined>;
}

/** Uploads record jobs (and take back one whose message could not be sent). */
export interface JobRecords extends JobLookup {
  create(job: NewJob): Promise<Job>;
  remove(videoFid: string): Promise<void>;
}

/** A page of the owner's job list: the jobs, and whether more follow them. */
export interface JobListPage {
  jobs: Job[];
  more: boolean;
}

/** What owners see of their jobs. */
export interface JobViews extends JobLookup {
  /**
   * Up to `limit` of the owner's jobs, newest first, from just before `before` on, and whether more follow;
   * undefined when `before` is not one of the owner's jobs.
   */
  list(owner: string, page: { limit: number; before?: string | undefined }): Promise<JobListPage | undefined>;
  /** 1 for the next job a converter takes; null unless queued. */
  positionOf(job: Job): Promise<number | null>;
  /** The owner's jobs changed after `since`, oldest change first. */
  changedSince(owner: string, since: Date): Promise<Job[]>;
  /** The queued jobs of these owners. */
  queuedOf(owners: readonly string[]): Promise<Job[]>;
  /** The job whose MP3 (or one of whose MP3s) this is, deleted or expired ones included. */
  findByMp3(mp3Fid: string): Promise<Job | undefined>;
}

/** Owners cancel and delete their jobs. */
export interface JobCancels extends JobLookup {
  /** Queued → cancelled in one step; undefined when it was not queued any more. */
  cancelQueued(videoFid: string): Promise<Job | undefined>;
  /** Asks the worker converting it to stop; undefined when it is not converting or already finishing. */
  requestCancel(videoFid: string): Promise<Job | undefined>;
  markDeleted(videoFid: string): Promise<void>;
}

/** What an owner's jobs hold of their limits. */
export interface JobUsage {
  /** The MP3s of finished jobs and the videos of pending ones, in bytes, and how many are pending. */
  usageOf(owner: string): Promise<{ bytes: number; inFlight: number }>;
}

/** Fair shares: held jobs wait in the store until their owner has a slot on the queue. */
export interface JobDispatchQueue {
  /** The owner's jobs on the broker's queue (or being put there) and converting. */
  dispatchedCount(owner: string): Promise<number>;
  /** The owner's held jobs bound for `queue`, oldest first. */
  held(owner: string, queue: string, limit: number): Promise<Job[]>;
  /** Held → pending, before its message is published; false when it was not held (any more). */
  releaseHeld(videoFid: string): Promise<boolean>;
  /** The broker confirmed the job's message. */
  confirmDispatch(videoFid: string): Promise<void>;
  /** Owners with held jobs bound for `queue`, or with a publish there left `pending` since before `staleBefore`. */
  ownersToDispatch(queue: string, staleBefore: Date): Promise<string[]>;
  /** The owner's jobs bound for `queue` left `pending` since before `staleBefore`, their publish never confirmed. */
  stalePending(owner: string, queue: string, staleBefore: Date): Promise<Job[]>;
}

/** Finished jobs' files are removed at their expiry. */
export interface JobExpiry {
  /** Finished jobs past their expiry whose files are still there, oldest first, at most `limit`. */
  expiring(now: Date, limit: number): Promise<Job[]>;
  markExpired(videoFid: string): Promise<void>;
}

export type Claim =
  /** This worker holds the job now; `attempt` counts every claim of it, this one included. */
  | { status: 'claimed'; attempt: number }
  /** Another worker holds an unexpired lease on it. */
  | { status: 'held' }
  /** Done, failed or cancelled already: nothing to do (a duplicate message, or cancelled while queued). */
  | { status: 'finished'; state: JobState }
  /** Claimed more often than the limit allows: give up, with the last transient failure met if any. */
  | { status: 'exhausted'; attempts: number; lastError: string | null }
  /** The store records another owner for this job than the message names: nothing is taken or changed. */
  | { status: 'not-owner' };

export interface Progress {
  percent: number;
  speed: number | null;
  etaSeconds: number | null;
}

/** The job store as one worker sees it: every lease is taken in this worker's name. */
export interface JobLeases {
  /**
   * `owner`: whom the message names. A job the store knows is claimed only for its recorded owner; a video it
   * does not know (the original's gateway recorded none) becomes a job of `owner`.
   * `revive`: the message was replayed from the dead letters, so a failed job may start again with fresh attempts.
   */
  claim(videoFid: string, owner: string, options: { maxAttempts: number; revive: boolean }): Promise<Claim>;
  /** Extends the lease; says whether the owner asked to cancel meanwhile. */
  renew(videoFid: string): Promise<{ cancelRequested: boolean }>;
  recordDuration(videoFid: string, durationSeconds: number): Promise<void>;
  recordProgress(videoFid: string, progress: Progress): Promise<void>;
  /** Past the point of no return (the MP3 is stored): false when a cancel came first, and then the job is not finishing. */
  markFinishing(videoFid: string): Promise<boolean>;
  /** `mp3s`: every MP3 it made, in order (one, or the parts of a split); `expiresAt`: when they (and the job) will be removed. */
  markDone(videoFid: string, result: { mp3s: readonly JobMp3[]; expiresAt: Date }): Promise<void>;
  markFailed(videoFid: string, reason: string, expiresAt: Date): Promise<void>;
  markCancelled(videoFid: string): Promise<void>;
  /** Back to the queue: a transient failure (`lastError`) or a shutdown (`refund`: the attempt does not count). */
  release(videoFid: string, options: { lastError: string | null; refund: boolean }): Promise<void>;
}
