import type { Logger } from '@mp3converter/shared/logger';
import type { JobRepository, VideoFiles, VideoQueue } from './ports.js';

export interface StoredVideo {
  videoFid: string;
  filename: string | null;
}

/**
 * What happens once a video is in GridFS: record the job, then publish the original's message. If either
 * step fails the video and its job are removed before the error goes on, so a failed upload leaves nothing
 * behind and an accepted one is always on the queue.
 */
export class UploadService {
  constructor(
    private readonly jobs: JobRepository,
    private readonly videos: VideoFiles,
    private readonly queue: VideoQueue,
    private readonly logger: Logger,
  ) {}

  async enqueue(video: StoredVideo, username: string): Promise<void> {
    let jobCreated = false;
    try {
      await this.jobs.create(video.videoFid, username, video.filename);
      jobCreated = true;
      await this.queue.publish({ video_fid: video.videoFid, mp3_fid: null, username });
    } catch (err) {
      await this.compensate(video.videoFid, jobCreated);
      throw err;
    }
  }

  async compensate(videoFid: string, jobCreated = true): Promise<void> {
    const steps = [this.videos.delete(videoFid), ...(jobCreated ? [this.jobs.remove(videoFid)] : [])];
    for (const result of await Promise.allSettled(steps)) {
      if (result.status === 'rejected') {
        this.logger.error({ err: result.reason, videoFid }, 'could not remove the video of a failed upload');
      }
    }
  }
}
