import { AppError, badRequest, notFound } from '@mp3converter/shared/errors';
import { type DownloadLink, type Job, type JobList, type JobView, mp3FidsOf, stateEventOf, toJobView } from '@mp3converter/shared/jobs';
import type { SignedLink, SignedZipLink } from '@mp3converter/shared/links';
import type { Logger } from '@mp3converter/shared/logger';
import type { JobCancels, JobNotices, JobViews, Mp3Deletion, OwnerLocks, VideoFiles } from './ports.js';

/** Makes signed download links: the absolute URL for a link (to one MP3, or to a ZIP), and how long links last. */
export interface LinkSigner {
  ttlMs: number;
  url(link: SignedLink): string;
  zipUrl(link: SignedZipLink): string;
}

/** What a DELETE did: 200 cancelled at once, 202 stop requested (the worker confirms), 204 files removed. */
export type Removal = { status: 200 | 202; job: JobView } | { status: 204 };

const jobNotFound = () => notFound('no such job', 'job_not_found');

/** A DELETE racing a worker sees the state change under it; this many looks settle any such race. */
const RACE_LOOKS = 3;

/** The job resource: its owner lists, reads, cancels and deletes jobs; nobody else learns they exist. */
export class JobsService {
  constructor(
    private readonly jobs: JobViews & JobCancels,
    private readonly videos: VideoFiles,
    private readonly mp3s: Mp3Deletion,
    private readonly notices: JobNotices,
    private readonly locks: OwnerLocks,
    private readonly logger: Logger,
  ) {}

  async view(owner: string, videoFid: string): Promise<JobView> {
    const job = await this.jobs.get(videoFid);
    if (!job || job.owner !== owner) throw jobNotFound();
    return this.present(job);
  }

  async list(owner: string, { limit, cursor }: { limit: number; cursor?: string | undefined }): Promise<JobList> {
    const page = await this.jobs.list(owner, { limit, before: cursor });
    // A cursor is a job of the owner's; nobody learns whether someone else's id exists.
    if (!page) throw badRequest('invalid_cursor', 'cursor: not one of your jobs (use the next_cursor of the page before)');
    return {
      jobs: await Promise.all(page.jobs.map((job) => this.present(job))),
      next_cursor: page.more ? (page.jobs.at(-1)?.videoFid ?? null) : null,
    };
  }

  /**
   * DELETE: whatever the job's state, its owner no longer wants it.
   * - queued: cancelled before any worker starts it; its video is removed (200, the job);
   * - converting: the worker holding it is asked to stop; it kills ffmpeg, keeps nothing, sends no email
   *   and marks the job cancelled (202, the job with `cancel_requested`); asking again changes nothing;
   * - finishing (the MP3 is stored and being announced): 409, delete it once it is done;
   * - done, failed or cancelled: its MP3s (every part of a split) and video are removed and the job is gone
   *   from every view (204);
   *   asking again answers 204 too.
   */
  async remove(owner: string, videoFid: string): Promise<Removal> {
    for (let look = 0; look < RACE_LOOKS; look++) {
      const job = await this.jobs.get(videoFid, { includeDeleted: true });
      if (!job || job.owner !== owner) throw jobNotFound();
      if (job.deleted) return { status: 204 };
      switch (job.state) {
        case 'queued': {
          // Under the owner's lock: the dispatcher may be releasing this very job (FerretDB keeps only one of
          // two updates made to a document at once).
          const cancelled = await this.locks.withLock(owner, () => this.jobs.cancelQueued(videoFid));
          if (!cancelled) continue;
          await this.videos.delete(videoFid).catch((err: unknown) => this.logger.warn({ err, videoFid }, 'could not remove the video of a cancelled job'));
          this.notices.publish(stateEventOf(cancelled));
          return { status: 200, job: toJobView(cancelled) };
        }
        case 'converting': {
          if (job.finishing) throw new AppError(409, 'job_finishing', 'the job is finishing; delete it once it is done');
          const asked = job.cancelRequested ? job : await this.jobs.requestCancel(videoFid);
          if (!asked) continue;
          await this.notices
            .sendCancel(videoFid)
            .catch((err: unknown) => this.logger.warn({ err, videoFid }, 'cancel request not sent; the worker reads the flag'));
          return { status: 202, job: toJobView(asked) };
        }
        default:
          for (const mp3Fid of mp3FidsOf(job)) await this.mp3s.delete(mp3Fid);
          await this.videos.delete(videoFid);
          await this.jobs.markDeleted(videoFid);
          return { status: 204 };
      }
    }
    throw new AppError(409, 'job_busy', 'the job changed while it was being deleted; try again');
  }

  /**
   * A fresh signed link to a done job's MP3, or to the ZIP of all its MP3s when it was split into several, for
   * its owner: it expires after the link lifetime or with the MP3s, whichever comes first. 409 for a job that
   * is not done, 410 for one whose MP3s expired.
   */
  async link(owner: string, videoFid: string, links: LinkSigner, now = Date.now()): Promise<DownloadLink> {
    const job = await this.jobs.get(videoFid);
    if (!job || job.owner !== owner) throw jobNotFound();
    const mp3s = mp3FidsOf(job);
    if (job.state !== 'done' || mp3s.length === 0) throw new AppError(409, 'job_not_done', `the job is ${job.state}: only a done job has an MP3`);
    if (job.expiredAt) throw new AppError(410, 'mp3_expired', 'this MP3 expired and was removed');
    const expires = Math.floor(Math.min(now + links.ttlMs, job.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY) / 1000);
    const url = mp3s.length > 1 ? links.zipUrl({ videoFids: [job.videoFid], owner, expires }) : links.url({ mp3Fid: mp3s[0]!, owner, expires });
    return { url, expires_at: new Date(expires * 1000).toISOString() };
  }

  private async present(job: Job): Promise<JobView> {
    // Only a queued job has a place in line: the others need no read (a page lists up to 100 jobs).
    return toJobView(job, job.state === 'queued' ? await this.jobs.positionOf(job) : null);
  }
}
