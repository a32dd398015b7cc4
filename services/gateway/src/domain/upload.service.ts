import type { Logger } from '@mp3converter/shared/logger';
import type { ConversionOptions } from '@mp3converter/shared/contracts';
import { stateEventOf } from '@mp3converter/shared/jobs';
import type { LeftoverCleaner } from './leftover-cleaner.js';
import type { JobNotices, JobRepository, UploadLeases, VideoQueue } from './ports.js';

export interface StoredVideo {
  videoFid: string;
  filename: string | null;
  size: number;
  contentType: string;
}

/**
 * What happens once a video is in GridFS: record the job, then publish the original's message. If either
 * step fails the video and its job are removed before the error goes on, so a failed upload leaves nothing
 * behind and an accepted one is always on the queue.
 */
export class UploadService {
  constructor(
    private readonly jobs: JobRepository,
    private readonly queue: VideoQueue,
    private readonly leases: UploadLeases,
    private readonly cleaner: LeftoverCleaner,
    private readonly notices: JobNotices,
    private readonly logger: Logger,
  ) {}

  async enqueue(video: StoredVideo, username: string, options: ConversionOptions = {}): Promise<void> {
    try {
      const job = await this.jobs.create({
        videoFid: video.videoFid,
        owner: username,
        filename: video.filename,
        size: video.size,
        contentType: video.contentType,
        options,
      });
      // The original's three fields, and the options only when there are some.
      await this.queue.publish({ video_fid: video.videoFid, mp3_fid: null, username, ...(Object.keys(options).length > 0 ? { options } : {}) });
      this.notices.publish(stateEventOf(job));
    } catch (err) {
      await this.cleaner.discard(video.videoFid);
      throw err;
    }
    // Accepted: a lease left behind would only be dropped by a later sweep, which finds the job.
    await this.leases.release(video.videoFid).catch((err: unknown) => {
      this.logger.warn({ err, videoFid: video.videoFid }, 'could not release the lease of an accepted upload');
    });
  }
}
