import type { Job } from '@mp3converter/shared/contracts';
import type { JobRepository, UploadLeases, VideoFiles } from './ports.js';

/** A store that holds videos, jobs and leases in memory and can be switched off like an unreachable MongoDB. */
export class FakeStore implements VideoFiles, JobRepository, UploadLeases {
  videos = new Set<string>();
  jobs = new Map<string, Job>();
  leases = new Map<string, Date>();
  down = false;

  private check(): void {
    if (this.down) throw new Error('store unavailable');
  }

  async delete(videoFid: string): Promise<void> {
    this.check();
    this.videos.delete(videoFid);
  }
  async create(videoFid: string, owner: string, filename: string | null): Promise<void> {
    this.check();
    const now = new Date();
    this.jobs.set(videoFid, { videoFid, owner, filename, state: 'queued', mp3Fid: null, reason: null, createdAt: now, updatedAt: now });
  }
  async get(videoFid: string): Promise<Job | undefined> {
    this.check();
    return this.jobs.get(videoFid);
  }
  async remove(videoFid: string): Promise<void> {
    this.check();
    this.jobs.delete(videoFid);
  }
  async hold(videoFid: string, _owner: string, until: Date): Promise<void> {
    this.check();
    this.leases.set(videoFid, until);
  }
  async renew(videoFid: string, until: Date): Promise<void> {
    this.check();
    this.leases.set(videoFid, until);
  }
  async release(videoFid: string): Promise<void> {
    this.check();
    this.leases.delete(videoFid);
  }
  async expired(now: Date, limit: number): Promise<string[]> {
    this.check();
    return [...this.leases]
      .filter(([, until]) => until < now)
      .map(([id]) => id)
      .slice(0, limit);
  }

  /** What an upload left: its video, its job and its lease. */
  upload(videoFid: string, leaseUntil: Date, job = false): void {
    this.videos.add(videoFid);
    this.leases.set(videoFid, leaseUntil);
    if (job) void this.create(videoFid, 'someone@example.test', 'clip.mp4');
  }

  has(videoFid: string): boolean {
    return this.videos.has(videoFid) || this.jobs.has(videoFid) || this.leases.has(videoFid);
  }
}
