import type { Job } from '@mp3converter/shared/contracts';
import { type JobStore, withDeadline } from '@mp3converter/shared/storage';
import type { JobRepository } from '../domain/ports.js';

/** The shared job store with a deadline on every call: a hanging MongoDB gives 503, never a hung request. */
export class BoundedJobRepository implements JobRepository {
  constructor(
    private readonly store: JobStore,
    private readonly timeoutMs: number,
  ) {}

  create(videoFid: string, owner: string, filename: string | null): Promise<void> {
    return withDeadline(this.timeoutMs, () => this.store.create(videoFid, owner, filename), 'recording a job');
  }

  get(videoFid: string): Promise<Job | undefined> {
    return withDeadline(this.timeoutMs, (signal) => this.store.get(videoFid, { signal }), 'reading a job');
  }

  remove(videoFid: string): Promise<void> {
    return withDeadline(this.timeoutMs, () => this.store.remove(videoFid), 'removing a job');
  }
}
