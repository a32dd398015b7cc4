import { mp3FidsOf } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import type { JobExpiry, Mp3Deletion, VideoFiles } from './ports.js';

/**
 * Nothing is kept forever: a finished job's MP3s (its one, or every part of a split) and any video left are
 * removed once the job expires, and the job stays only to answer 410 for its downloads. A job one of whose
 * MP3s someone is downloading right now is left for the next round, but only within `downloadGraceMs` of its
 * expiry: a client that stops reading (or reads a byte a minute) would otherwise keep it forever; past the
 * grace it is removed and such a download is cut short. Every gateway runs it; each removal is idempotent, so
 * replicas racing on one job do no harm.
 */
export class RetentionSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly jobs: JobExpiry,
    private readonly mp3s: Mp3Deletion,
    private readonly videos: VideoFiles,
    private readonly logger: Logger,
    private readonly downloadGraceMs: number,
  ) {}

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.sweep().catch((err: unknown) => this.logger.warn({ err }, 'retention sweep failed')), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round; resolves with how many jobs expired. */
  sweep(now = new Date()): Promise<number> {
    this.running ??= this.round(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(now: Date): Promise<number> {
    let expired = 0;
    for (const job of await this.jobs.expiring(now, 100)) {
      const inGrace = job.expiresAt !== null && now.getTime() - job.expiresAt.getTime() < this.downloadGraceMs;
      // Every MP3 of it: its one, or each part of a split.
      const mp3s = mp3FidsOf(job);
      if (inGrace && (await this.anyBeingDownloaded(mp3s))) continue;
      for (const mp3Fid of mp3s) await this.mp3s.delete(mp3Fid);
      await this.videos.delete(job.videoFid);
      await this.jobs.markExpired(job.videoFid);
      expired++;
    }
    if (expired > 0) this.logger.info({ expired }, 'expired jobs removed');
    return expired;
  }

  private async anyBeingDownloaded(mp3Fids: readonly string[]): Promise<boolean> {
    for (const mp3Fid of mp3Fids) if (await this.mp3s.beingDownloaded(mp3Fid)) return true;
    return false;
  }
}
