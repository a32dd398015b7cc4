import type { Job, JobEvent, NewJob } from '@mp3converter/shared/jobs';
import type { JobNotices, JobRepository, Mp3Deletion, OwnerLocks, UploadLeases, VideoFiles } from './ports.js';

type StoredJob = Job & { deleted: boolean };

/**
 * A store that holds videos, MP3s, jobs and leases in memory (with the job store's rules: one-step state
 * changes, tombstones) and can be switched off like an unreachable MongoDB; it also records the notices.
 */
export class FakeStore implements VideoFiles, JobRepository, UploadLeases, JobNotices, Mp3Deletion, OwnerLocks {
  videos = new Set<string>();
  mp3s = new Set<string>();
  jobs = new Map<string, StoredJob>();
  leases = new Map<string, Date>();
  events: JobEvent[] = [];
  cancelRequests: string[] = [];
  down = false;

  private check(): void {
    if (this.down) throw new Error('store unavailable');
  }

  private change(videoFid: string, fields: Partial<StoredJob>): StoredJob {
    const job = { ...this.jobs.get(videoFid)!, ...fields, updatedAt: new Date() };
    this.jobs.set(videoFid, job);
    return job;
  }

  async delete(id: string): Promise<void> {
    this.check();
    this.videos.delete(id);
    this.mp3s.delete(id);
  }
  async create(job: NewJob): Promise<Job> {
    this.check();
    const now = new Date();
    const created: StoredJob = {
      ...job,
      durationSeconds: null,
      options: job.options ?? {},
      traceparent: job.traceparent ?? null,
      mp3Size: null,
      expiresAt: null,
      expiredAt: null,
      dispatch: job.dispatch ?? 'published',
      dispatchedAt: now,
      state: 'queued',
      mp3Fid: null,
      reason: null,
      progress: null,
      attempts: 0,
      cancelRequested: false,
      finishing: false,
      createdAt: now,
      updatedAt: now,
      queuedAt: now,
      startedAt: null,
      finishedAt: null,
      deleted: false,
    };
    this.jobs.set(job.videoFid, created);
    return created;
  }
  async get(videoFid: string, { includeDeleted = false }: { includeDeleted?: boolean } = {}): Promise<StoredJob | undefined> {
    this.check();
    const job = this.jobs.get(videoFid);
    return job && (!job.deleted || includeDeleted) ? job : undefined;
  }
  async remove(videoFid: string): Promise<void> {
    this.check();
    this.jobs.delete(videoFid);
  }
  async list(owner: string, { limit, before }: { limit: number; before?: string | undefined }): Promise<Job[] | undefined> {
    this.check();
    if (before !== undefined && this.jobs.get(before)?.owner !== owner) return undefined;
    return [...this.jobs.values()]
      .filter((j) => j.owner === owner && !j.deleted && (before === undefined || j.videoFid < before))
      .sort((a, b) => (a.videoFid < b.videoFid ? 1 : -1))
      .slice(0, limit);
  }
  async positionOf(job: Job): Promise<number | null> {
    this.check();
    if (job.state !== 'queued') return null;
    return [...this.jobs.values()].filter((j) => j.state === 'queued' && !j.deleted && j.queuedAt < job.queuedAt).length + 1;
  }
  async changedSince(owner: string, since: Date): Promise<Job[]> {
    return [...this.jobs.values()].filter((j) => j.owner === owner && !j.deleted && j.updatedAt > since);
  }
  async queuedOf(owners: readonly string[]): Promise<Job[]> {
    return [...this.jobs.values()].filter((j) => owners.includes(j.owner) && j.state === 'queued' && !j.deleted);
  }
  async cancelQueued(videoFid: string): Promise<Job | undefined> {
    this.check();
    const job = this.jobs.get(videoFid);
    if (job?.state !== 'queued' || job.deleted) return undefined;
    return this.change(videoFid, { state: 'cancelled', reason: 'cancelled by its owner', finishedAt: new Date() });
  }
  async requestCancel(videoFid: string): Promise<Job | undefined> {
    this.check();
    const job = this.jobs.get(videoFid);
    if (job?.state !== 'converting' || job.finishing || job.deleted) return undefined;
    return this.change(videoFid, { cancelRequested: true });
  }
  async markDeleted(videoFid: string): Promise<void> {
    this.check();
    this.change(videoFid, { deleted: true });
  }
  async usageOf(owner: string): Promise<{ bytes: number; inFlight: number }> {
    this.check();
    let bytes = 0;
    let inFlight = 0;
    for (const j of this.jobs.values()) {
      if (j.owner !== owner || j.deleted || j.expiredAt) continue;
      if (j.state === 'done') bytes += j.mp3Size ?? 0;
      else if (j.state === 'queued' || j.state === 'converting') {
        inFlight++;
        bytes += j.size ?? 0;
      }
    }
    return { bytes, inFlight };
  }
  async findByMp3(mp3Fid: string): Promise<Job | undefined> {
    return [...this.jobs.values()].find((j) => j.mp3Fid === mp3Fid);
  }
  async expiring(now: Date, limit: number): Promise<Job[]> {
    return [...this.jobs.values()].filter((j) => j.expiresAt && j.expiresAt < now && !j.expiredAt && !j.deleted).slice(0, limit);
  }
  async markExpired(videoFid: string): Promise<void> {
    this.change(videoFid, { expiredAt: new Date() });
  }
  async dispatchedCount(owner: string): Promise<number> {
    return [...this.jobs.values()].filter((j) => j.owner === owner && !j.deleted && (j.state === 'queued' || j.state === 'converting') && j.dispatch !== 'held')
      .length;
  }
  async held(owner: string, _queue: string, limit: number): Promise<Job[]> {
    return [...this.jobs.values()].filter((j) => j.owner === owner && j.state === 'queued' && j.dispatch === 'held').slice(0, limit);
  }
  confirmed = new Set<string>();
  async releaseHeld(videoFid: string): Promise<boolean> {
    this.check();
    if (this.jobs.get(videoFid)?.dispatch !== 'held') return false;
    this.change(videoFid, { dispatch: 'pending', dispatchedAt: new Date() });
    return true;
  }
  async confirmDispatch(videoFid: string): Promise<void> {
    this.check();
    this.confirmed.add(videoFid);
  }
  async ownersToDispatch(_queue: string, staleBefore: Date): Promise<string[]> {
    return [
      ...new Set(
        [...this.jobs.values()]
          .filter((j) => j.state === 'queued' && (j.dispatch === 'held' || (j.dispatch === 'pending' && (j.dispatchedAt ?? j.queuedAt) < staleBefore)))
          .map((j) => j.owner),
      ),
    ];
  }
  async stalePending(owner: string, _queue: string, staleBefore: Date): Promise<Job[]> {
    return [...this.jobs.values()].filter(
      (j) => j.owner === owner && j.state === 'queued' && j.dispatch === 'pending' && (j.dispatchedAt ?? j.queuedAt) < staleBefore,
    );
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
  upload(videoFid: string, leaseUntil: Date, job = false): void {
    this.videos.add(videoFid);
    this.leases.set(videoFid, leaseUntil);
    if (job) void this.create({ videoFid, owner: 'someone@example.test', filename: 'clip.mp4', size: 1, contentType: 'video/mp4' });
  }

  has(videoFid: string): boolean {
    return this.videos.has(videoFid) || this.jobs.has(videoFid) || this.leases.has(videoFid);
  }
}
