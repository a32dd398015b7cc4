import { AppError } from '@mp3converter/shared/errors';
import type { JobUsage, OwnerLocks, UploadReservations } from './ports.js';

export interface UploadLimits {
  /** Largest single upload, bytes. */
  maxUploadBytes: number;
  /** What one user may keep at once: the MP3s of their finished jobs and the videos still waiting, bytes. */
  storageQuotaBytes: number;
  /** Jobs one user may have queued or converting at once; uploads in progress count as jobs to come. */
  maxJobsInFlight: number;
}

/** An upload's share of its owner's limits, held from its admission until it is released. */
export interface Reservation {
  /** The most the upload may bring: what it reserved. */
  maxBytes: number;
  /** True when the quota (not the per-upload limit) set `maxBytes`. */
  byQuota: boolean;
  /** Gives the share back; once the upload's job is recorded, or when it failed. Safe to call twice. */
  release(): Promise<void>;
}

export interface ReserveOptions {
  /** Until when the share is held unless renewed, ms from now. */
  holdMs: number;
  /** Renewed every third of `holdMs` until released (an upload whose bytes are arriving); otherwise held until then. */
  renew: boolean;
}

const mib = (bytes: number) => `${Math.round((bytes / 1024 ** 2) * 10) / 10} MiB`;

export interface AdmissionLog {
  warn(fields: object, message: string): void;
}

/**
 * Whether a user may upload now, decided before a byte of the body is read, and the share of their limits
 * the upload then holds: a job slot and its bytes (what it declares, else the most it may be). The shares of
 * all uploads in progress, multipart and resumable, on every gateway, count with the jobs already recorded,
 * so a burst of uploads started together never passes MAX_JOBS_IN_FLIGHT or the storage quota. A refusal
 * says what the limit is.
 *
 * Why it holds: each decision is made under the owner's lock, which an upload's job is also recorded under;
 * the upload's share is released only after its job is recorded, so an upload becoming a job is counted
 * once or twice (a moment, on the safe side), never not at all.
 */
export class UploadAdmission {
  constructor(
    private readonly jobs: JobUsage,
    private readonly limits: UploadLimits,
    private readonly reservations: UploadReservations,
    private readonly locks: OwnerLocks,
    private readonly log: AdmissionLog,
  ) {}

  /**
   * `declaredBytes`: what the client says it will send (Content-Length, Upload-Length), if it says; exact for
   * a resumable upload, an upper bound for a multipart one. Throws the refusal (429, 413) when there is no room.
   */
  async reserve(owner: string, uploadId: string, declaredBytes: number | undefined, options: ReserveOptions): Promise<Reservation> {
    const { maxUploadBytes, storageQuotaBytes, maxJobsInFlight } = this.limits;
    const limits = await this.locks.withLock(owner, async () => {
      const [reserved, usage] = await Promise.all([this.reservations.read(owner), this.jobs.usageOf(owner)]);
      const inFlight = usage.inFlight + reserved.count;
      if (inFlight >= maxJobsInFlight) throw this.tooManyJobs(inFlight, reserved.count);
      const left = storageQuotaBytes - usage.bytes - reserved.bytes;
      const wanted = Math.min(declaredBytes ?? Number.POSITIVE_INFINITY, maxUploadBytes);
      // A declared size within the per-upload limit that does not fit is refused now; an undeclared one (or
      // one over the limit, refused later for that) may take what is left.
      if (left <= 0 || (declaredBytes !== undefined && declaredBytes <= maxUploadBytes && declaredBytes > left)) {
        throw quotaExceeded(storageQuotaBytes, usage.bytes, reserved);
      }
      const bytes = Math.min(wanted, left);
      await this.reservations.hold(owner, { id: uploadId, bytes, until: new Date(Date.now() + options.holdMs) });
      return { maxBytes: bytes, byQuota: bytes < wanted };
    });
    return this.held(uploadId, limits, options);
  }

  private held(id: string, limits: { maxBytes: number; byQuota: boolean }, { holdMs, renew }: ReserveOptions): Reservation {
    const renewal = renew
      ? setInterval(() => {
          this.reservations.renew(id, new Date(Date.now() + holdMs)).catch((err: unknown) => {
            this.log.warn({ err, uploadId: id }, 'could not renew an upload reservation');
          });
        }, holdMs / 3)
      : undefined;
    renewal?.unref();
    let released: Promise<void> | undefined;
    return {
      ...limits,
      release: () => {
        clearInterval(renewal);
        released ??= this.reservations.release(id).catch((err: unknown) => {
          // Left to its expiry, which the owner's next admission clears.
          this.log.warn({ err, uploadId: id }, 'could not release an upload reservation');
        });
        return released;
      },
    };
  }

  /** The refusal for one job too many; `unfinished` of the `inFlight` are uploads in progress. */
  private tooManyJobs(inFlight: number, unfinished: number): AppError {
    const { maxJobsInFlight } = this.limits;
    const note = unfinished > 0 ? ` (${unfinished} of them uploads in progress)` : '';
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
      (usage) => quotaExceeded(this.limits.storageQuotaBytes, usage.bytes, undefined),
      () => quotaExceeded(this.limits.storageQuotaBytes, undefined, undefined),
    );
  }
}

/**
 * 413, as for any upload too large for what is left; with `Retry-After` when uploads in progress hold part of
 * the quota, since their end (or failure) may leave room (RFC 9110: a temporary condition).
 */
function quotaExceeded(quota: number, used: number | undefined, reserved: { count: number; bytes: number } | undefined): AppError {
  const inProgress = reserved && reserved.count > 0 ? `, ${mib(reserved.bytes)} held by ${reserved.count} uploads in progress` : '';
  const detail = used === undefined ? '' : ` (${mib(used)} in use${inProgress})`;
  const wait = inProgress ? ': wait for them to finish, or delete finished jobs to make room' : ': delete finished jobs to make room';
  return new AppError(
    413,
    'quota_exceeded',
    `this upload would pass your storage quota of ${mib(quota)}${detail}${wait}`,
    inProgress ? { 'Retry-After': '30' } : {},
  );
}
