import { type JobDocument, jobsCollection } from '@mp3converter/shared/jobs';
import { type Collection, type MongoClient, ObjectId } from 'mongodb';
import type { Claim, JobLeases, Progress } from '../domain/ports.js';

/**
 * The job store as one worker sees it: every lease is taken in this worker's name. A claim counts the
 * attempt on the job document in the same update that takes the lease, so every delivery that got as far
 * as a claim counts, whoever redelivered it.
 */
export class MongoJobLeases implements JobLeases {
  private readonly jobs: Collection<JobDocument>;
  /** Per job, the end of its chain of writes (see `inTurn`). */
  private readonly lastWrite = new Map<string, Promise<unknown>>();

  constructor(
    client: MongoClient,
    private readonly worker: string,
    private readonly leaseMs: number,
  ) {
    this.jobs = jobsCollection(client);
  }

  claim(videoFid: string, owner: string, options: { maxAttempts: number; revive: boolean }): Promise<Claim> {
    return this.inTurn(videoFid, () => this.claimNow(videoFid, owner, options));
  }

  /** `claim`, in its turn: it may call itself, never `claim` (which would wait for its own turn). */
  private async claimNow(videoFid: string, owner: string, { maxAttempts, revive }: { maxAttempts: number; revive: boolean }): Promise<Claim> {
    const _id = new ObjectId(videoFid);
    const now = new Date();
    const lease = { lease_until: new Date(now.getTime() + this.leaseMs), worker: this.worker, updated_at: now };
    const existing = await this.jobs.findOne({ _id });
    if (!existing) {
      // The original's gateway recorded no job: the first claim records it.
      try {
        await this.jobs.insertOne({
          _id,
          owner,
          filename: null,
          state: 'converting',
          reason: null,
          mp3_fid: null,
          attempts: 1,
          cancel_requested_at: null,
          finishing: false,
          deleted_at: null,
          created_at: now,
          queued_at: now,
          started_at: now,
          finished_at: null,
          ...lease,
        });
        return { status: 'claimed', attempt: 1 };
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
        return { status: 'held' };
      }
    }
    // The owner is the store's: a message naming someone else (forged, or sent by a client that got it
    // wrong) neither takes the lease nor counts an attempt, so it cannot disturb the owner's job.
    if (existing.owner !== owner) return { status: 'not-owner' };
    if (revive && existing.state === 'failed' && !existing.deleted_at) {
      // An operator replayed it from the dead letters: a fresh set of attempts.
      await this.jobs.updateOne(
        { _id, state: 'failed' },
        { $set: { state: 'queued', attempts: 0, reason: null, last_error: null, finished_at: null, updated_at: now } },
      );
      return this.claimNow(videoFid, owner, { maxAttempts, revive: false });
    }
    if (existing.deleted_at || !['queued', 'converting'].includes(existing.state)) return { status: 'finished', state: existing.state };
    const taken = await this.jobs.findOneAndUpdate(
      {
        _id,
        state: { $in: ['queued', 'converting'] },
        $or: [{ lease_until: null }, { lease_until: { $exists: false } }, { lease_until: { $lt: now } }, { worker: this.worker }],
      },
      { $set: { state: 'converting', started_at: now, finishing: false, ...lease }, $inc: { attempts: 1 } },
      { returnDocument: 'after' },
    );
    if (!taken) {
      const now2 = await this.jobs.findOne({ _id }, { projection: { state: 1 } });
      return now2 && !['queued', 'converting'].includes(now2.state) ? { status: 'finished', state: now2.state } : { status: 'held' };
    }
    const attempts = taken.attempts ?? 1;
    if (attempts > maxAttempts) return { status: 'exhausted', attempts, lastError: taken.last_error ?? null };
    return { status: 'claimed', attempt: attempts };
  }

  renew(videoFid: string): Promise<{ cancelRequested: boolean }> {
    return this.inTurn(videoFid, async () => {
      // No projection: FerretDB refuses findAndModify with `fields`, which would make every renewal fail.
      const doc = await this.jobs.findOneAndUpdate(
        { _id: new ObjectId(videoFid), worker: this.worker },
        { $set: { lease_until: new Date(Date.now() + this.leaseMs) } },
        { returnDocument: 'after' },
      );
      return { cancelRequested: Boolean(doc?.cancel_requested_at) };
    });
  }

  recordDuration(videoFid: string, durationSeconds: number): Promise<void> {
    return this.inTurn(videoFid, async () => {
      await this.jobs.updateOne({ _id: new ObjectId(videoFid) }, { $set: { duration_seconds: durationSeconds } });
    });
  }

  recordProgress(videoFid: string, progress: Progress): Promise<void> {
    return this.inTurn(videoFid, async () => {
      const now = new Date();
      await this.jobs.updateOne(
        { _id: new ObjectId(videoFid), worker: this.worker, state: 'converting' },
        { $set: { progress: { percent: progress.percent, speed: progress.speed, eta_seconds: progress.etaSeconds, at: now }, updated_at: now } },
      );
    });
  }

  markFinishing(videoFid: string): Promise<boolean> {
    return this.inTurn(videoFid, async () => {
      const result = await this.jobs.updateOne(
        { _id: new ObjectId(videoFid), state: 'converting', cancel_requested_at: null },
        { $set: { finishing: true, updated_at: new Date() } },
      );
      return result.matchedCount === 1;
    });
  }

  markDone(videoFid: string, mp3Fid: string, { sizeBytes, expiresAt }: { sizeBytes: number; expiresAt: Date }): Promise<void> {
    return this.inTurn(videoFid, async () => {
      const now = new Date();
      await this.jobs.updateOne(
        { _id: new ObjectId(videoFid) },
        {
          $set: {
            state: 'done',
            mp3_fid: mp3Fid,
            mp3_size: sizeBytes,
            expires_at: expiresAt,
            reason: null,
            progress: null,
            lease_until: null,
            worker: null,
            updated_at: now,
            finished_at: now,
          },
        },
      );
    });
  }

  markFailed(videoFid: string, reason: string, expiresAt: Date): Promise<void> {
    return this.end(videoFid, { state: 'failed', reason, expires_at: expiresAt });
  }

  markCancelled(videoFid: string): Promise<void> {
    return this.end(videoFid, { state: 'cancelled', reason: 'cancelled by its owner' });
  }

  /** A job still to run or running ends without an MP3: no lease, no progress, nobody's any more. */
  private end(videoFid: string, outcome: Pick<JobDocument, 'state' | 'reason'> & { expires_at?: Date }): Promise<void> {
    return this.inTurn(videoFid, async () => {
      const now = new Date();
      await this.jobs.updateOne(
        { _id: new ObjectId(videoFid), state: { $in: ['queued', 'converting'] } },
        { $set: { ...outcome, progress: null, lease_until: null, worker: null, finishing: false, updated_at: now, finished_at: now } },
      );
    });
  }

  release(videoFid: string, { lastError, refund }: { lastError: string | null; refund: boolean }): Promise<void> {
    return this.inTurn(videoFid, async () => {
      const now = new Date();
      await this.jobs.updateOne(
        { _id: new ObjectId(videoFid), worker: this.worker, state: 'converting' },
        {
          $set: {
            state: 'queued',
            progress: null,
            lease_until: null,
            worker: null,
            finishing: false,
            updated_at: now,
            // A retry joins the end of the line; a job handed back at shutdown keeps its place.
            ...(refund ? {} : { queued_at: now }),
            ...(lastError ? { last_error: lastError } : {}),
          },
          ...(refund ? { $inc: { attempts: -1 } } : {}),
        },
      );
    });
  }

  /**
   * One job's writes go to the store one after the other, in the order they were asked for. The lease's
   * renewal, the encoder's progress and the runner's own steps write the same document from timers of their
   * own, and a MongoDB-wire server that applies an update as a read and then a write of the whole document
   * (FerretDB v1) lets a write that read before another and wrote after it undo that one: a renewal in flight
   * took a job marked done back to `converting`.
   */
  private inTurn<T>(videoFid: string, write: () => Promise<T>): Promise<T> {
    const key = videoFid.toLowerCase();
    const run = (this.lastWrite.get(key) ?? Promise.resolve()).then(write, write);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.lastWrite.set(key, settled);
    void settled.then(() => {
      if (this.lastWrite.get(key) === settled) this.lastWrite.delete(key);
    });
    return run;
  }
}
