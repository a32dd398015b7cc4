import { type Collection, type MongoClient, ObjectId } from 'mongodb';
import type { ConversionOptions } from '../contracts/index.js';
import { type Job, type JobDispatch, type JobDocument, JOBS, toJob } from './model.js';

export const jobsCollection = (client: MongoClient): Collection<JobDocument> => client.db(JOBS.database).collection<JobDocument>(JOBS.collection);

const live = { deleted_at: null } as const;

/**
 * Jobs per list page: each job is recorded on one of its owner's list pages, numbered from 1 up, a new one
 * every this many jobs. A listing reads whole pages from the newest down (see JobStore.list), so this bounds
 * what it reads whatever the owner's history.
 */
export const LIST_PAGE_JOBS = 20;

/** How many jobs the owner has recorded: which list page the next one goes on. */
interface ListHead {
  _id: string;
  recorded: number;
}

const pageOf = (recorded: number) => Math.max(1, Math.ceil(recorded / LIST_PAGE_JOBS));

export interface NewJob {
  videoFid: string;
  owner: string;
  filename: string | null;
  size: number | null;
  contentType: string | null;
  options?: ConversionOptions;
  /** `held` waits for the owner's share of the queue; `pending` is about to be published; default `published` (by the caller). */
  dispatch?: JobDispatch;
  /** The queue its message goes to. */
  queue?: string;
  /** The upload's trace, for its message (see Job.traceparent). */
  traceparent?: string | null;
}

/**
 * The jobs as the gateway reads and changes them: recorded at upload, listed and shown to their owner,
 * cancelled and deleted. The workers' claims and leases are the converter's own (its JobLeases port).
 */
export class JobStore {
  readonly jobs: Collection<JobDocument>;
  /** Which pending jobs' messages the broker confirmed (see confirmDispatch). */
  private readonly confirms: Collection<{ _id: ObjectId; at: Date }>;
  private readonly listHeads: Collection<ListHead>;

  constructor(client: MongoClient) {
    this.jobs = jobsCollection(client);
    this.confirms = client.db(JOBS.database).collection('job_dispatches');
    this.listHeads = client.db(JOBS.database).collection<ListHead>('job_list_heads');
  }

  /** Indexes for the owner's list and the queue order; FerretDB and MongoDB both take them. */
  async ensureIndexes(): Promise<void> {
    await this.jobs.createIndex({ owner: 1, list_page: -1, _id: -1 });
    await this.jobs.createIndex({ state: 1, queued_at: 1 });
    await this.jobs.createIndex({ mp3_fid: 1 });
    await this.jobs.createIndex({ expires_at: 1 });
  }

  async create(job: NewJob): Promise<Job> {
    const recorded = await this.countRecorded(job.owner);
    const listPage = pageOf(recorded);
    const now = new Date();
    const doc: JobDocument = {
      _id: new ObjectId(job.videoFid),
      owner: job.owner,
      list_page: listPage,
      filename: job.filename,
      size: job.size,
      content_type: job.contentType,
      duration_seconds: null,
      options: job.options ?? {},
      traceparent: job.traceparent ?? null,
      mp3_size: null,
      expires_at: null,
      expired_at: null,
      state: 'queued',
      reason: null,
      mp3_fid: null,
      progress: null,
      attempts: 0,
      cancel_requested_at: null,
      finishing: false,
      dispatch: job.dispatch ?? 'published',
      ...(job.queue ? { queue: job.queue } : {}),
      dispatched_at: now,
      deleted_at: null,
      created_at: now,
      updated_at: now,
      queued_at: now,
      started_at: null,
      finished_at: null,
    };
    await this.jobs.insertOne(doc);
    // FerretDB reads, then writes, an increment: one that read before ours and wrote after it took the count
    // back, and the list, which starts at the count's page, would not reach this job's.
    await this.listHeads.updateOne({ _id: job.owner, recorded: { $lt: recorded } }, { $set: { recorded } });
    return toJob(doc);
  }

  /** The job, unless its owner deleted it (then `deleted` says so when asked for). */
  async get(
    videoFid: string,
    { signal, includeDeleted = false }: { signal?: AbortSignal; includeDeleted?: boolean } = {},
  ): Promise<(Job & { deleted: boolean }) | undefined> {
    const doc = await this.jobs.findOne({ _id: new ObjectId(videoFid) }, signal ? { signal } : {});
    if (!doc || (doc.deleted_at && !includeDeleted)) return undefined;
    return { ...toJob(doc), deleted: Boolean(doc.deleted_at) };
  }

  async remove(videoFid: string): Promise<void> {
    await this.jobs.deleteOne({ _id: new ObjectId(videoFid) });
  }

  /**
   * Counts a new job of the owner's: its list page follows from the count. Two uploads of one owner at the
   * same moment may both take a page's last place (FerretDB can lose one of two increments made at once), so
   * a page holds about, not exactly, LIST_PAGE_JOBS jobs.
   */
  private async countRecorded(owner: string): Promise<number> {
    const count = () => this.listHeads.findOneAndUpdate({ _id: owner }, { $inc: { recorded: 1 } }, { upsert: true, returnDocument: 'after' });
    // The owner's first two uploads at once: both upserts insert, one collides; the head is there on a second try.
    const head = await count().catch((err: unknown) => ((err as { code?: unknown }).code === 11000 ? count() : Promise.reject(err)));
    return head?.recorded ?? 1;
  }

  /**
   * A page of the owner's jobs, newest first, from just after the owner's job `before` on; undefined when
   * `before` is not one of the owner's jobs. Newest first is by list page, then by id (ids grow with time)
   * within a page; jobs recorded before list pages existed come last.
   *
   * Every read is an equality on owner and list page plus a sort of that page: FerretDB v1 on PostgreSQL
   * hands only equalities on top-level fields to PostgreSQL, then filters and sorts what it gets back itself
   * and never passes a sort or a limit on, so a sort over the owner's whole history would read and decode all
   * of it on every request; one list page is at most about LIST_PAGE_JOBS documents. (FerretDB v1 matches
   * with jsonb containment, which its indexes cannot answer: PostgreSQL scans the table, which costs far less
   * than decoding the documents.) MongoDB answers each read from the index on (owner, list_page, _id). Only
   * the last read of a list that reaches its end, of the jobs without a page, goes through all the owner's
   * jobs on FerretDB (the absence of a field is not handed on).
   */
  async list(owner: string, { limit, before }: { limit: number; before?: string | undefined }, signal?: AbortSignal): Promise<Job[] | undefined> {
    const options = signal ? { signal } : {};
    let page: number | null; // null: the jobs recorded before list pages existed, which have none
    let after: ObjectId | undefined;
    if (before) {
      const cursor = await this.jobs.findOne({ _id: new ObjectId(before), owner }, { projection: { list_page: 1 }, ...options });
      if (!cursor) return undefined;
      page = cursor.list_page ?? null;
      after = cursor._id;
    } else {
      const head = await this.listHeads.findOne({ _id: owner }, options);
      page = head ? pageOf(head.recorded) : null;
    }
    const found: JobDocument[] = [];
    while (found.length < limit) {
      const filter = { owner, list_page: page ?? { $exists: false }, ...live, ...(after ? { _id: { $lt: after } } : {}) };
      found.push(...(await this.jobs.find(filter, { sort: { _id: -1 }, limit: limit - found.length, ...options }).toArray()));
      if (page === null) break;
      page = page > 1 ? page - 1 : null;
      after = undefined;
    }
    return found.map(toJob);
  }

  /** The owner's jobs changed after `since`, oldest change first: what an event stream missed. */
  async changedSince(owner: string, since: Date, limit = 500): Promise<Job[]> {
    const docs = await this.jobs.find({ owner, updated_at: { $gt: since } }, { sort: { updated_at: 1 }, limit }).toArray();
    return docs.filter((d) => !d.deleted_at).map(toJob);
  }

  /** The queued jobs of these owners. */
  async queuedOf(owners: readonly string[]): Promise<Job[]> {
    if (owners.length === 0) return [];
    const docs = await this.jobs.find({ owner: { $in: [...owners] }, state: 'queued', ...live }).toArray();
    return docs.map(toJob);
  }

  /**
   * The job's place in line, 1 for the next job a converter takes; null unless it is queued. Jobs on the
   * broker's queue go first, in the order they were published. Held jobs come after, released one per user
   * each time one of that user's jobs ends, so their order is round robin across users: a user's k-th held
   * job waits behind the first k held jobs of every other user (older first within a round) and its own
   * k - 1.
   */
  async positionOf(job: Job): Promise<number | null> {
    if (job.state !== 'queued') return null;
    const onQueue = { state: 'queued' as const, ...live, dispatch: { $ne: 'held' as const } };
    if (job.dispatch !== 'held') {
      const at = job.dispatchedAt ?? job.queuedAt;
      // Jobs recorded before dispatch was tracked have no dispatched_at: their queued_at stands in.
      const before = { $or: [{ dispatched_at: { $lt: at } }, { dispatched_at: null, queued_at: { $lt: at } }] };
      return (await this.jobs.countDocuments({ ...onQueue, ...before })) + 1;
    }
    const published = await this.jobs.countDocuments(onQueue);
    const held = await this.jobs
      .find({ state: 'queued', ...live, dispatch: 'held' }, { projection: { owner: 1, queued_at: 1 }, sort: { queued_at: 1 } })
      .toArray();
    const roundOf = new Map<string, number>();
    const ranked = held.map((d) => {
      const round = (roundOf.get(d.owner) ?? 0) + 1;
      roundOf.set(d.owner, round);
      return { id: d._id.toHexString(), round, at: d.queued_at ?? d.created_at };
    });
    const mine = ranked.find((r) => r.id === job.videoFid);
    if (!mine) return published + 1;
    const ahead = ranked.filter((r) => r.round < mine.round || (r.round === mine.round && r.at < mine.at)).length;
    return published + ahead + 1;
  }

  /** The owner's jobs whose message is (or is being put) on the queue, or that a worker converts. */
  async dispatchedCount(owner: string): Promise<number> {
    return this.jobs.countDocuments({ owner, ...live, state: { $in: ['queued', 'converting'] }, dispatch: { $ne: 'held' } });
  }

  /** The owner's held jobs bound for `queue`, oldest first. */
  async held(owner: string, queue: string, limit: number): Promise<Job[]> {
    const docs = await this.jobs.find({ owner, queue, ...live, state: 'queued', dispatch: 'held' }, { sort: { queued_at: 1 }, limit }).toArray();
    return docs.map(toJob);
  }

  /** Held → pending: the job is about to be published. False when it was not held (any more). */
  async release(videoFid: string): Promise<boolean> {
    const now = new Date();
    const result = await this.jobs.updateOne({ _id: new ObjectId(videoFid), dispatch: 'held' }, { $set: { dispatch: 'pending', dispatched_at: now } });
    return result.matchedCount === 1;
  }

  /**
   * Records that the broker confirmed the job's message. Kept apart from the job itself: by then a converter
   * may be writing the job, and FerretDB, unlike MongoDB, loses one of two updates made to one document at
   * the same moment.
   */
  async confirmDispatch(videoFid: string): Promise<void> {
    await this.confirms.updateOne({ _id: new ObjectId(videoFid) }, { $set: { at: new Date() } }, { upsert: true });
  }

  /** Owners with held jobs bound for `queue`, or with ones left `pending` since before `staleBefore` (maybe a publish cut short). */
  async ownersToDispatch(queue: string, staleBefore: Date): Promise<string[]> {
    const held = await this.jobs.distinct('owner', { queue, state: 'queued', ...live, dispatch: 'held' });
    const stale = await this.jobs.distinct('owner', { queue, state: 'queued', ...live, dispatch: 'pending', dispatched_at: { $lt: staleBefore } });
    return [...new Set([...held, ...stale])];
  }

  /** The owner's jobs bound for `queue` left `pending` since before `staleBefore`, their publish never confirmed. */
  async stalePending(owner: string, queue: string, staleBefore: Date): Promise<Job[]> {
    const docs = await this.jobs.find({ owner, queue, state: 'queued', ...live, dispatch: 'pending', dispatched_at: { $lt: staleBefore } }).toArray();
    const confirmed = new Set((await this.confirms.find({ _id: { $in: docs.map((d) => d._id) } }).toArray()).map((c) => c._id.toHexString()));
    return docs.filter((d) => !confirmed.has(d._id.toHexString())).map(toJob);
  }

  /** Queued → cancelled, in one step: no worker can have started it. The job after, or undefined if it was not queued. */
  async cancelQueued(videoFid: string): Promise<Job | undefined> {
    const now = new Date();
    const doc = await this.jobs.findOneAndUpdate(
      { _id: new ObjectId(videoFid), state: 'queued', ...live },
      { $set: { state: 'cancelled', reason: 'cancelled by its owner', updated_at: now, finished_at: now, progress: null } },
      { returnDocument: 'after' },
    );
    return doc ? toJob(doc) : undefined;
  }

  /** Asks the worker converting it to stop; not once it is finishing. The job after, or undefined if that does not apply. */
  async requestCancel(videoFid: string): Promise<Job | undefined> {
    const now = new Date();
    const doc = await this.jobs.findOneAndUpdate(
      { _id: new ObjectId(videoFid), state: 'converting', finishing: { $ne: true }, ...live },
      { $set: { cancel_requested_at: now, updated_at: now } },
      { returnDocument: 'after' },
    );
    return doc ? toJob(doc) : undefined;
  }

  /** What the owner stores now: the MP3s of finished jobs and the videos of pending ones, and how many are pending. */
  async usageOf(owner: string, signal?: AbortSignal): Promise<{ bytes: number; inFlight: number }> {
    const docs = await this.jobs
      .find(
        { owner, ...live, expired_at: null, state: { $in: ['queued', 'converting', 'done'] } },
        { projection: { state: 1, size: 1, mp3_size: 1 }, ...(signal ? { signal } : {}) },
      )
      .toArray();
    let bytes = 0;
    let inFlight = 0;
    for (const d of docs) {
      if (d.state === 'done') bytes += d.mp3_size ?? 0;
      else {
        inFlight++;
        bytes += d.size ?? 0;
      }
    }
    return { bytes, inFlight };
  }

  async findByMp3(mp3Fid: string, signal?: AbortSignal): Promise<Job | undefined> {
    const doc = await this.jobs.findOne({ mp3_fid: mp3Fid.toLowerCase() }, signal ? { signal } : {});
    return doc ? toJob(doc) : undefined;
  }

  /** Finished jobs past their expiry whose files are still there, oldest first. */
  async expiring(now: Date, limit: number): Promise<Job[]> {
    const docs = await this.jobs
      .find({ expires_at: { $lt: now }, expired_at: null, ...live, state: { $in: ['done', 'failed', 'cancelled'] } }, { sort: { expires_at: 1 }, limit })
      .toArray();
    return docs.map(toJob);
  }

  async markExpired(videoFid: string): Promise<void> {
    const now = new Date();
    await this.jobs.updateOne({ _id: new ObjectId(videoFid) }, { $set: { expired_at: now, updated_at: now } });
  }

  /** A finished job whose files were removed: kept so that a repeated DELETE is answered the same. */
  async markDeleted(videoFid: string): Promise<void> {
    const now = new Date();
    await this.jobs.updateOne({ _id: new ObjectId(videoFid), state: { $in: ['done', 'failed', 'cancelled'] } }, { $set: { deleted_at: now, updated_at: now } });
  }
}
