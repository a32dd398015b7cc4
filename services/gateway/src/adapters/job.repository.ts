import type { Job, JobStore, NewJob } from '@mp3converter/shared/jobs';
import { withDeadline } from '@mp3converter/shared/storage';
import { traceHeaders } from '@mp3converter/shared/tracing';
import type { JobRepository } from '../domain/ports.js';

/** The shared job store with a deadline on every call: a hanging MongoDB gives 503, never a hung request. */
export class BoundedJobRepository implements JobRepository {
  constructor(
    private readonly store: JobStore,
    private readonly timeoutMs: number,
  ) {}

  private bounded<T>(what: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.timeoutMs, op, what);
  }

  /** The job remembers the trace it was recorded in (the upload's request), for its message. */
  create(job: NewJob): Promise<Job> {
    const traceparent = job.traceparent ?? traceHeaders().traceparent ?? null;
    return this.bounded('recording a job', () => this.store.create({ ...job, traceparent }));
  }

  get(videoFid: string, { includeDeleted = false }: { includeDeleted?: boolean } = {}) {
    return this.bounded('reading a job', (signal) => this.store.get(videoFid, { signal, includeDeleted }));
  }

  remove(videoFid: string): Promise<void> {
    return this.bounded('removing a job', () => this.store.remove(videoFid));
  }

  list(owner: string, page: { limit: number; before?: string | undefined }): Promise<Job[] | undefined> {
    return this.bounded('listing jobs', (signal) => this.store.list(owner, page, signal));
  }

  positionOf(job: Job): Promise<number | null> {
    return this.bounded('reading the queue', () => this.store.positionOf(job));
  }

  changedSince(owner: string, since: Date): Promise<Job[]> {
    return this.bounded('reading jobs', () => this.store.changedSince(owner, since));
  }

  queuedOf(owners: readonly string[]): Promise<Job[]> {
    return this.bounded('reading the queue', () => this.store.queuedOf(owners));
  }

  cancelQueued(videoFid: string): Promise<Job | undefined> {
    return this.bounded('cancelling a job', () => this.store.cancelQueued(videoFid));
  }

  requestCancel(videoFid: string): Promise<Job | undefined> {
    return this.bounded('cancelling a job', () => this.store.requestCancel(videoFid));
  }

  usageOf(owner: string): Promise<{ bytes: number; inFlight: number }> {
    return this.bounded('reading the storage used', (signal) => this.store.usageOf(owner, signal));
  }

  findByMp3(mp3Fid: string): Promise<Job | undefined> {
    return this.bounded('reading a job', (signal) => this.store.findByMp3(mp3Fid, signal));
  }

  expiring(now: Date, limit: number): Promise<Job[]> {
    return this.bounded('reading expired jobs', () => this.store.expiring(now, limit));
  }

  markExpired(videoFid: string): Promise<void> {
    return this.bounded('expiring a job', () => this.store.markExpired(videoFid));
  }

  dispatchedCount(owner: string): Promise<number> {
    return this.bounded('reading the queue', () => this.store.dispatchedCount(owner));
  }

  held(owner: string, queue: string, limit: number): Promise<Job[]> {
    return this.bounded('reading held jobs', () => this.store.held(owner, queue, limit));
  }

  releaseHeld(videoFid: string): Promise<boolean> {
    return this.bounded('dispatching a job', () => this.store.release(videoFid));
  }

  confirmDispatch(videoFid: string): Promise<void> {
    return this.bounded('dispatching a job', () => this.store.confirmDispatch(videoFid));
  }

  ownersToDispatch(queue: string, staleBefore: Date): Promise<string[]> {
    return this.bounded('reading held jobs', () => this.store.ownersToDispatch(queue, staleBefore));
  }

  stalePending(owner: string, queue: string, staleBefore: Date): Promise<Job[]> {
    return this.bounded('reading held jobs', () => this.store.stalePending(owner, queue, staleBefore));
  }

  markDeleted(videoFid: string): Promise<void> {
    return this.bounded('deleting a job', () => this.store.markDeleted(videoFid));
  }
}
