import type { ConversionOptions } from '@mp3converter/shared/contracts';
import type { Job } from '@mp3converter/shared/jobs';
import type { Logger } from '@mp3converter/shared/logger';
import type { JobDispatchQueue, OwnerLocks, VideoQueue } from './ports.js';

export interface DispatchSettings {
  /** The queue this gateway publishes to: it releases the held jobs bound for it. */
  queue: string;
  /** Jobs one user may have on the broker's queue and converting at once; more wait, held, in the store. */
  slotsPerUser: number;
  /** A publish left `pending` this long was cut short (a crash between the steps) and is made again, ms. */
  staleMs: number;
}

/** The `video` message of a job: the original's three fields, and its options when there are some. */
export const messageOf = (job: Pick<Job, 'videoFid' | 'owner' | 'options'>) => {
  const options: ConversionOptions = job.options;
  return { video_fid: job.videoFid, mp3_fid: null, username: job.owner, ...(Object.keys(options).length > 0 ? { options } : {}) };
};

/**
 * Fair shares of the queue: each user has at most `slotsPerUser` jobs on the broker's queue and converting;
 * further uploads are accepted and stored, their jobs held, and published one by one as that user's earlier
 * jobs end, so the broker's first-come-first-served queue interleaves users round robin and one user's
 * backlog never makes everyone else wait for all of it. Nothing is refused for this, and nothing waits
 * forever: every job's end (an event), and a periodic sweep for what events missed (a gateway that crashed
 * between steps, a lost event), release what should be released. Decisions for one user are taken under that
 * user's lock, so replicas deciding at once never exceed the share.
 */
export class Dispatcher {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly jobs: JobDispatchQueue,
    private readonly queue: VideoQueue,
    private readonly locks: OwnerLocks,
    private readonly settings: DispatchSettings,
    private readonly logger: Logger,
  ) {}

  /** The queue whose held jobs this dispatcher releases. */
  get target(): string {
    return this.settings.queue;
  }

  /** Whether a new job of `owner` may go on the queue now; call it under the owner's lock. */
  async hasFreeSlot(owner: string): Promise<boolean> {
    return (await this.jobs.dispatchedCount(owner)) < this.settings.slotsPerUser;
  }

  /** Publishes the owner's held jobs their share allows, and redoes publishes that were cut short. */
  async dispatch(owner: string): Promise<number> {
    return this.locks.withLock(owner, async () => {
      let published = 0;
      for (const job of await this.jobs.stalePending(owner, this.settings.queue, new Date(Date.now() - this.settings.staleMs))) {
        // Published or not before the cut: publishing again is safe, the converter's claim takes a job once.
        await this.publish(job);
        published++;
      }
      const free = this.settings.slotsPerUser - (await this.jobs.dispatchedCount(owner));
      if (free <= 0) return published;
      for (const job of await this.jobs.held(owner, this.settings.queue, free)) {
        if (!(await this.jobs.releaseHeld(job.videoFid))) continue;
        await this.publish(job);
        published++;
      }
      return published;
    });
  }

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.sweep(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round over every owner with something to release; errors are logged, the next round tries again. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        for (const owner of await this.jobs.ownersToDispatch(this.settings.queue, new Date(Date.now() - this.settings.staleMs))) {
          await this.dispatch(owner).catch((err: unknown) => this.logger.warn({ err }, 'held jobs not dispatched yet'));
        }
      } catch (err) {
        this.logger.warn({ err }, 'dispatch sweep failed');
      } finally {
        this.sweeping = undefined;
      }
    })();
    return this.sweeping;
  }

  private async publish(job: Job): Promise<void> {
    await this.queue.publish(messageOf(job), job.traceparent);
    await this.jobs.confirmDispatch(job.videoFid);
    this.logger.info({ videoFid: job.videoFid }, 'held job dispatched');
  }
}
