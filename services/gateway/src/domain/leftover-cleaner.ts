import type { Logger } from '@mp3converter/shared/logger';
import type { JobRecords, UploadLeases, VideoFiles } from './ports.js';

/** Waits between attempts to remove a failed upload, ms; the last one repeats until the store answers. */
export const CLEANUP_RETRY_DELAYS_MS = [500, 1_000, 2_000, 5_000, 10_000];

/** Expired leases looked at per sweep; the rest wait for the next one. */
const SWEEP_BATCH = 100;

/**
 * Makes sure nothing of a failed upload stays in MongoDB: the video's chunks and files document, its job,
 * its upload lease.
 *
 * - `discard` removes them at once; when MongoDB cannot answer (away or hanging), it tries again in the
 *   background until it can.
 * - `sweep` covers a gateway that died before it could: every upload holds a lease while it is written
 *   (renewed as it goes), so an expired lease with no job is an upload nobody writes any more, and it is
 *   removed. One that got its job was accepted, and only its lease goes.
 */
export class LeftoverCleaner {
  private readonly retrying = new Map<string, NodeJS.Timeout>();
  private readonly inProgress = new Set<string>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly videos: VideoFiles,
    private readonly jobs: Pick<JobRecords, 'get' | 'remove'>,
    private readonly leases: UploadLeases,
    private readonly logger: Logger,
    private readonly options: { waitMs: number; retryDelaysMs?: readonly number[] },
  ) {}

  /** Uploads whose removal failed and is waiting for another try. */
  get pending(): number {
    return this.retrying.size;
  }

  /** Marks an upload as being written by this process until the returned function is called; sweeps skip it. */
  writing(videoFid: string): () => void {
    this.inProgress.add(videoFid);
    return () => this.inProgress.delete(videoFid);
  }

  /**
   * Removes a failed upload. Resolves once the first attempt is over, or after `waitMs` while it still runs:
   * a failure is retried in the background, so a request never waits long on a store that does not answer.
   */
  async discard(videoFid: string): Promise<void> {
    if (this.retrying.has(videoFid)) return;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.waitMs);
    });
    await Promise.race([this.attempt(videoFid, 0), waited]);
    clearTimeout(timer);
  }

  /** One pass over expired leases; resolves to the number of uploads removed. */
  sweep(now = new Date()): Promise<number> {
    this.sweeping ??= this.sweepOnce(now).finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** Sweeps every `intervalMs` until `stop()`. */
  start(intervalMs: number): void {
    this.sweeper = setInterval(() => {
      this.sweep().catch((err: unknown) => this.logger.warn({ err }, 'leftover sweep failed; next one later'));
    }, intervalMs);
    this.sweeper.unref();
  }

  /**
   * Stops sweeping and retrying. What is still to remove stays under its lease, which another gateway's
   * sweep (or this one's after a restart) honours once it runs out.
   */
  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const timer of this.retrying.values()) clearTimeout(timer);
    if (this.retrying.size > 0) this.logger.warn({ uploads: [...this.retrying.keys()] }, 'failed uploads left for a later sweep');
    this.retrying.clear();
  }

  private async attempt(videoFid: string, attempt: number): Promise<void> {
    this.retrying.delete(videoFid);
    try {
      // The lease goes last: until the rest is gone, a sweep must still find this upload.
      await this.videos.delete(videoFid);
      await this.jobs.remove(videoFid);
      await this.leases.release(videoFid);
      if (attempt > 0) this.logger.info({ videoFid, attempts: attempt + 1 }, 'failed upload removed');
    } catch (err) {
      if (this.stopped) return;
      const delays = this.options.retryDelaysMs ?? CLEANUP_RETRY_DELAYS_MS;
      const delay = delays[Math.min(attempt, delays.length - 1)] ?? 1_000;
      if (attempt === 0) this.logger.warn({ err, videoFid, retryInMs: delay }, 'could not remove a failed upload; retrying');
      const timer = setTimeout(() => void this.attempt(videoFid, attempt + 1), delay);
      timer.unref();
      this.retrying.set(videoFid, timer);
    }
  }

  private async sweepOnce(now: Date): Promise<number> {
    let removed = 0;
    for (const videoFid of await this.leases.expired(now, SWEEP_BATCH)) {
      if (this.inProgress.has(videoFid) || this.retrying.has(videoFid)) continue;
      if (await this.jobs.get(videoFid)) {
        await this.leases.release(videoFid);
        continue;
      }
      await this.videos.delete(videoFid);
      await this.leases.release(videoFid);
      removed++;
    }
    if (removed > 0) this.logger.info({ removed }, 'removed uploads a stopped gateway left behind');
    return removed;
  }
}
