import { AppError } from '@mp3converter/shared/errors';
import type { JobRepository } from './ports.js';

export interface UploadLimits {
  /** Largest single upload, bytes. */
  maxUploadBytes: number;
  /** What one user may keep at once: the MP3s of their finished jobs and the videos still waiting, bytes. */
  storageQuotaBytes: number;
  /** Jobs one user may have queued or converting at once. */
  maxJobsInFlight: number;
}

/** What a user's unfinished resumable uploads will add once complete. */
export interface Reserved {
  uploads: number;
  bytes: number;
}

/** Where the owner's unfinished resumable uploads are counted (the tus store). */
export interface ReservedUploads {
  reserved(owner: string): Promise<Reserved>;
}

const mib = (bytes: number) => `${Math.round((bytes / 1024 ** 2) * 10) / 10} MiB`;

/**
 * Whether a user may upload now, decided before a byte of the body is stored, and how large the upload may
 * then be: the per-upload limit or what is left of the user's quota, whichever is smaller. A refusal says
 * what the limit is.
 */
export class UploadAdmission {
  constructor(
    private readonly jobs: Pick<JobRepository, 'usageOf'>,
    private readonly limits: UploadLimits,
    private readonly unfinished: ReservedUploads,
  ) {}

  /**
   * `declaredBytes`: what the client says it will send (Content-Length, Upload-Length), if it says. The
   * owner's unfinished resumable uploads count too, whichever way this upload comes: each is a job to come
   * and bytes to come.
   */
  async admit(owner: string, declaredBytes?: number): Promise<{ maxBytes: number; byQuota: boolean; jobSlots: number }> {
    const { maxUploadBytes, storageQuotaBytes, maxJobsInFlight } = this.limits;
    const [usage, reserved] = await Promise.all([this.jobs.usageOf(owner), this.unfinished.reserved(owner)]);
    const inFlight = usage.inFlight + reserved.uploads;
    if (inFlight >= maxJobsInFlight) throw this.tooManyJobs(inFlight, reserved.uploads);
    const left = storageQuotaBytes - usage.bytes - reserved.bytes;
    if (left <= 0 || (declaredBytes !== undefined && declaredBytes > left && declaredBytes <= maxUploadBytes)) {
      throw quotaExceeded(storageQuotaBytes, usage.bytes);
    }
    return { maxBytes: Math.min(maxUploadBytes, left), byQuota: left < maxUploadBytes, jobSlots: maxJobsInFlight - usage.inFlight };
  }

  /** The refusal for one job too many; `unfinished` of the `inFlight` are resumable uploads not yet complete. */
  private tooManyJobs(inFlight: number, unfinished = 0): AppError {
    const { maxJobsInFlight } = this.limits;
    const note = unfinished > 0 ? ` (${unfinished} of them unfinished uploads)` : '';
    return new AppError(
      429,
      'too_many_jobs',
      `you have ${inFlight} jobs queued or converting${note}; the limit is ${maxJobsInFlight}: wait for one to finish`,
      { 'Retry-After': '30' },
    );
  }

  /** The refusal for an upload that passed what was left of the quota while it arrived. */
  quotaExceeded(owner: string): Promise<AppError> {
    return this.jobs.usageOf(owner).then(
      (usage) => quotaExceeded(this.limits.storageQuotaBytes, usage.bytes),
      () => quotaExceeded(this.limits.storageQuotaBytes, undefined),
    );
  }
}

function quotaExceeded(quota: number, used: number | undefined): AppError {
  const detail = used === undefined ? '' : ` (${mib(used)} in use)`;
  return new AppError(413, 'quota_exceeded', `this upload would pass your storage quota of ${mib(quota)}${detail}: delete finished jobs to make room`);
}
