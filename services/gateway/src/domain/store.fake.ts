import type { JobEvent, JobLeases } from '@mp3converter/shared/jobs';
import { type MemoryJobCollections, memoryJobStore } from '@mp3converter/shared/jobs/memory';
import type { JobStore } from '@mp3converter/shared/jobs/store';
import type { JobNotices, Mp3Deletion, OwnerLocks, UploadLeases, VideoFiles } from './ports.js';

/** The worker whose claims the tests' jobs are taken under, to bring them to `converting` and beyond. */
const WORKER = { id: 'test-worker', leaseMs: 60_000 };

/**
 * A store that holds videos, MP3s, jobs and leases in memory and can be switched off like an unreachable
 * MongoDB; it also records the notices. Its jobs are the in-memory job store, with the rules of the real one
 * (the same transition table, the same contract test); `worker` moves a job as a converter would.
 */
export class FakeStore implements VideoFiles, UploadLeases, JobNotices, Mp3Deletion, OwnerLocks {
  videos = new Set<string>();
  mp3s = new Set<string>();
  readonly jobs: JobStore;
  /** The jobs' store as a converter sees it. */
  readonly worker: JobLeases;
  leases = new Map<string, Date>();
  events: JobEvent[] = [];
  cancelRequests: string[] = [];
  /** The jobs' documents, as the store keeps them. */
  readonly collections: MemoryJobCollections;
  private isDown = false;

  constructor() {
    const { store, collections } = memoryJobStore({ worker: WORKER });
    this.jobs = store;
    this.worker = store;
    this.collections = collections;
  }

  get down(): boolean {
    return this.isDown;
  }
  set down(down: boolean) {
    this.isDown = down;
    for (const c of Object.values(this.collections)) c.down = down;
  }

  private check(): void {
    if (this.down) throw new Error('store unavailable');
  }

  async delete(id: string): Promise<void> {
    this.check();
    this.videos.delete(id);
    this.mp3s.delete(id);
  }
  /** One owner at a time, in this process. */
  async withLock<T>(_owner: string, work: () => Promise<T>): Promise<T> {
    this.check();
    return work();
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
  downloading = new Set<string>();
  async beingDownloaded(mp3Fid: string): Promise<boolean> {
    return this.downloading.has(mp3Fid);
  }
  publish(event: JobEvent): void {
    this.events.push(event);
  }
  async sendCancel(videoFid: string): Promise<void> {
    this.cancelRequests.push(videoFid);
  }

  /** What an upload left: its video, its job and its lease. */
  async upload(videoFid: string, leaseUntil: Date, job = false): Promise<void> {
    this.videos.add(videoFid);
    this.leases.set(videoFid, leaseUntil);
    if (job) await this.jobs.create({ videoFid, owner: 'someone@example.test', filename: 'clip.mp4', size: 1, contentType: 'video/mp4' });
  }

  /** A worker takes the job, as a converter would: it is converting. */
  async convert(videoFid: string): Promise<void> {
    const job = await this.jobs.get(videoFid);
    if (!job) throw new Error(`no job ${videoFid}`);
    const claim = await this.worker.claim(videoFid, job.owner, { maxAttempts: 10, revive: false });
    if (claim.status !== 'claimed') throw new Error(`job ${videoFid} not claimed: ${claim.status}`);
  }

  /** The job is done, as a converter ends one: its MP3 (or, given several, its parts) stored, expiring at `expiresAt`. */
  async finish(videoFid: string, mp3Fids: string | readonly string[], expiresAt = new Date(Date.now() + 86_400_000)): Promise<void> {
    await this.convert(videoFid);
    await this.worker.markFinishing(videoFid);
    const mp3s = (typeof mp3Fids === 'string' ? [mp3Fids] : mp3Fids).map((fid) => ({ fid, title: null, durationSeconds: 1, size: 1 }));
    await this.worker.markDone(videoFid, { mp3s, expiresAt });
  }

  async has(videoFid: string): Promise<boolean> {
    return this.videos.has(videoFid) || this.leases.has(videoFid) || (await this.jobs.get(videoFid, { includeDeleted: true })) !== undefined;
  }
}
