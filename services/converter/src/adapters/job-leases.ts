import type { JobStore } from '@mp3converter/shared/storage';
import type { Claim, JobLeases } from '../domain/ports.js';

/** The shared job store seen by one worker: every lease is taken in this worker's name. */
export class StoreJobLeases implements JobLeases {
  constructor(
    private readonly store: JobStore,
    private readonly worker: string,
    private readonly leaseMs: number,
  ) {}

  async claim(videoFid: string, owner: string): Promise<Claim> {
    const result = await this.store.claim(videoFid, owner, this.worker, this.leaseMs);
    return { status: result.status };
  }

  renew(videoFid: string): Promise<void> {
    return this.store.renewLease(videoFid, this.worker, this.leaseMs);
  }

  release(videoFid: string, reason: string | null): Promise<void> {
    return this.store.release(videoFid, this.worker, reason);
  }

  markDone(videoFid: string, mp3Fid: string): Promise<void> {
    return this.store.markDone(videoFid, mp3Fid);
  }

  markFailed(videoFid: string, reason: string): Promise<void> {
    return this.store.markFailed(videoFid, reason);
  }
}
