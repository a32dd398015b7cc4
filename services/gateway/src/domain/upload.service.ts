import type { Logger } from '@mp3converter/shared/logger';
import type { ConversionOptions } from '@mp3converter/shared/contracts';
import { type Job, stateEventOf } from '@mp3converter/shared/jobs';
import { type Dispatcher, messageOf } from './dispatcher.js';
import type { LeftoverCleaner } from './leftover-cleaner.js';
import type { JobDispatchQueue, JobNotices, JobRecords, OwnerLocks, UploadLeases, VideoQueue } from './ports.js';

export interface StoredVideo {
  videoFid: string;
  filename: string | null;
  size: number;
  contentType: string;
}

/**
 * What happens once a video is in GridFS: record the job, and publish the original's message when the owner
 * has a free share of the queue (see Dispatcher); otherwise the job is held and published later. If recording
 * or publishing fails the video and its job are removed before the error goes on, so a failed upload leaves
 * nothing behind and an accepted one is either on the queue or held for it.
 */
export class UploadService {
  constructor(
    private readonly jobs: JobRecords & Pick<JobDispatchQueue, 'confirmDispatch'>,
    private readonly queue: VideoQueue,
    private readonly dispatcher: Dispatcher,
    private readonly locks: OwnerLocks,
    private readonly leases: UploadLeases,
    private readonly cleaner: LeftoverCleaner,
    private readonly notices: JobNotices,
    private readonly logger: Logger,
  ) {}

  /**
   * `recorded`: runs under the owner's lock once the job is recorded, where the upload gives back its share of
   * the owner's limits: an admission made after the job counts the job alone, never the job and its upload.
   */
  async enqueue(video: StoredVideo, username: string, options: ConversionOptions = {}, recorded?: () => Promise<void>): Promise<void> {
    try {
      await this.locks.withLock(username, async () => {
        const job = await this.createJob(video, username, options);
        await recorded?.();
        if (job) await this.dispatchNow(job);
      });
    } catch (err) {
      await this.cleaner.discard(video.videoFid);
      throw err;
    }
    // Accepted: a lease left behind would only be dropped by a later sweep, which finds the job.
    await this.leases.release(video.videoFid).catch((err: unknown) => {
      this.logger.warn({ err, videoFid: video.videoFid }, 'could not release the lease of an accepted upload');
    });
  }

  /**
   * The job of a resumable upload whose bytes are all stored: recorded once (a second call finds it and does
   * nothing), and published when the owner has a free share. The video is never dropped here: the client
   * already holds a finished upload, so a publish that fails (a broker away) leaves the job `pending` and the
   * dispatcher's sweep publishes it once the broker is back (the converter's claim takes a job once, so a
   * repeat is safe).
   */
  async record(video: StoredVideo, username: string, options: ConversionOptions = {}, recorded?: () => Promise<void>): Promise<void> {
    await this.locks.withLock(username, async () => {
      if (await this.jobs.get(video.videoFid, { includeDeleted: true })) return recorded?.();
      const job = await this.createJob(video, username, options);
      await recorded?.();
      if (!job) return;
      await this.dispatchNow(job).catch((err: unknown) => {
        // Recorded as `pending`: whatever stopped the publish (a broker away, the store), the sweep redoes it.
        this.logger.warn({ err, videoFid: video.videoFid }, 'job recorded, publish left for the dispatch sweep');
      });
    });
  }

  /** Records the job, `pending` when the owner has a free share (returned, to be published) or else held. */
  private async createJob(video: StoredVideo, username: string, options: ConversionOptions): Promise<Job | undefined> {
    const now = await this.dispatcher.hasFreeSlot(username);
    const created = await this.jobs.create({
      videoFid: video.videoFid,
      owner: username,
      filename: video.filename,
      size: video.size,
      contentType: video.contentType,
      options,
      dispatch: now ? 'pending' : 'held',
      queue: this.dispatcher.target,
    });
    // Told before the message goes out, so that watchers hear `queued` before a worker's `converting`.
    this.notices.publish(stateEventOf(created));
    return now ? created : undefined;
  }

  private async dispatchNow(job: Job): Promise<void> {
    await this.queue.publish(messageOf(job), job.traceparent);
    await this.jobs.confirmDispatch(job.videoFid);
  }
}
