import { randomUUID } from 'node:crypto';
import { ACTIVE_STATES, FINAL_STATES, isFinal } from '../contracts/job-states.js';
import type { Logger } from '../logger/index.js';
import { traceHeaders } from '../tracing/index.js';
import { type DocumentCollection, DuplicateKeyError } from './collection.js';
import type { JobListCache } from './list-cache.js';
import { type Job, type JobDocument, type JobMp3, toJob } from './model.js';
import type {
  Claim,
  JobCancels,
  JobDispatchQueue,
  JobExpiry,
  JobLeases,
  JobListPage,
  JobRecords,
  JobUsage,
  JobViews,
  NewJob,
  Progress,
  StoredJob,
} from './ports.js';
import type { Filter } from './query.js';
import { type ParamsOf, type TransitionName, changesListedJobs, transition } from './transitions.js';

/**
 * Jobs per list page: each job is recorded on one of its owner's list pages, numbered from 1 up, a new one
 * every this many jobs. A listing reads whole pages from the newest down (see JobStore.list), so this bounds
 * what it reads whatever the owner's history.
 */
export const LIST_PAGE_JOBS = 20;

/**
 * The list page of the jobs no upload recorded: those a converter's first claim records (the original's
 * gateway recorded none) and those recorded before list pages existed (ensureJobIndexes puts them there). It
 * is listed last, and read by equality like every other page.
 */
export const LAST_LIST_PAGE = 0;

/** How many jobs the owner has recorded: which list page the next one goes on. */
export interface ListHead {
  _id: string;
  recorded: number;
}

/**
 * The version of the owner's job list: new at every write that can change what a listing keeps in its cache
 * (see JobStore.list). Kept apart from the list head: FerretDB
 * applies an update as a read and a write of the whole document, and a new version written at the moment a
 * job was counted would take the count back.
 */
export interface ListVersion {
  _id: string;
  version: string;
}

/** That the broker confirmed a pending job's message. */
export interface DispatchConfirm {
  _id: string;
  at: Date;
}

export interface JobCollections {
  jobs: DocumentCollection<JobDocument>;
  /** Kept apart from the jobs: a converter may be writing the job when the confirm comes (see confirmDispatch). */
  dispatches: DocumentCollection<DispatchConfirm>;
  listHeads: DocumentCollection<ListHead>;
  listVersions: DocumentCollection<ListVersion>;
}

export interface JobStoreOptions {
  /** The worker this store takes leases for (the converter's); without it the JobLeases role is not played. */
  worker?: { id: string; leaseMs: number };
  /** Where listings keep what they read while the owner's list is unchanged (the gateway's); none without it. */
  listCache?: JobListCache;
  /** Told when a list's new version could not be written (see touchList). */
  logger?: Pick<Logger, 'warn'>;
}

/** One of a listing's reads, by what it reads (`key`): see JobStore.listReads. Values are never undefined. */
type ListRead = <T>(key: string, reader: () => Promise<T>, keep?: (value: T) => boolean) => Promise<T>;

const pageOf = (recorded: number) => Math.max(1, Math.ceil(recorded / LIST_PAGE_JOBS));
const live = { deleted_at: null } as const;
const hexId = /^[0-9a-f]{24}$/;
/** The key of a job: its video's id in lowercase; undefined for anything that is not an id. */
const keyOf = (videoFid: string): string | undefined => {
  const key = videoFid.toLowerCase();
  return hexId.test(key) ? key : undefined;
};

/**
 * The job, written once: every change goes through the transition table (transitions.ts), every read is here.
 * The gateway, the converter and the notification service each use the roles they need (ports.ts), over
 * MongoDB (`mongoJobStore`) or in memory (`memoryJobStore`, for tests).
 */
export class JobStore implements JobRecords, JobViews, JobCancels, JobUsage, JobDispatchQueue, JobExpiry, JobLeases {
  /** Per job, the end of its chain of writes (see `inTurn`). */
  private readonly lastWrite = new Map<string, Promise<unknown>>();

  constructor(
    private readonly c: JobCollections,
    private readonly options: JobStoreOptions = {},
  ) {}

  async create(job: NewJob): Promise<Job> {
    const recorded = await this.countRecorded(job.owner);
    const now = new Date();
    const doc: JobDocument = {
      _id: job.videoFid.toLowerCase(),
      owner: job.owner,
      list_page: pageOf(recorded),
      filename: job.filename,
      size: job.size,
      content_type: job.contentType,
      duration_seconds: null,
      options: job.options ?? {},
      // The job remembers the trace it was recorded in (the upload's request), for its message.
      traceparent: job.traceparent ?? traceHeaders().traceparent ?? null,
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
    await this.c.jobs.insertOne(doc);
    // FerretDB reads, then writes, an increment: one that read before ours and wrote after it took the count
    // back, and the list, which starts at the count's page, would not reach this job's.
    await this.c.listHeads.updateOne({ _id: job.owner, recorded: { $lt: recorded } }, { $set: { recorded } });
    await this.touchList(job.owner);
    return toJob(doc);
  }

  async get(videoFid: string, { includeDeleted = false }: { includeDeleted?: boolean } = {}): Promise<StoredJob | undefined> {
    const _id = keyOf(videoFid);
    const doc = _id ? await this.c.jobs.findOne({ _id }) : undefined;
    if (!doc || (doc.deleted_at && !includeDeleted)) return undefined;
    return { ...toJob(doc), deleted: Boolean(doc.deleted_at) };
  }

  async remove(videoFid: string): Promise<void> {
    const _id = keyOf(videoFid);
    const doc = _id ? await this.c.jobs.findOne({ _id }) : undefined;
    if (!doc) return;
    await this.c.jobs.deleteOne({ _id: doc._id });
    await this.touchList(doc.owner);
  }

  /**
   * Gives the owner's list a new version: listings read again what they kept under the one before. Called after
   * the write, so that a listing that reads the new version reads the write too. It never fails the write it
   * follows, which is made: were the new version lost (a store gone at that moment), listings show the write
   * once what they kept is too old (LIST_CACHE_MAX_AGE_MS).
   */
  private async touchList(owner: string): Promise<void> {
    const touch = () => this.c.listVersions.updateOne({ _id: owner }, { $set: { version: randomUUID() } }, { upsert: true });
    // The owner's first two writes at once: both upserts insert, one collides; the version is there on a second try.
    await touch()
      .catch((err: unknown) => (err instanceof DuplicateKeyError ? touch() : Promise.reject(err)))
      .catch((err: unknown) => this.options.logger?.warn({ err, owner }, 'job list version not renewed: listings show the change within a minute'));
  }

  /**
   * Counts a new job of the owner's: its list page follows from the count. Two uploads of one owner at the
   * same moment may both take a page's last place (FerretDB can lose one of two increments made at once), so
   * a page holds about, not exactly, LIST_PAGE_JOBS jobs.
   */
  private async countRecorded(owner: string): Promise<number> {
    const count = () => this.c.listHeads.findOneAndUpdate({ _id: owner }, { $inc: { recorded: 1 } }, { upsert: true });
    // The owner's first two uploads at once: both upserts insert, one collides; the head is there on a second try.
    const head = await count().catch((err: unknown) => (err instanceof DuplicateKeyError ? count() : Promise.reject(err)));
    return head?.recorded ?? 1;
  }

  /**
   * A page of the owner's jobs, newest first, from just after the owner's job `before` on, and whether more
   * follow; undefined when `before` is not one of the owner's jobs. Newest first is by list page, then by id
   * (ids grow with time) within a page; the jobs no upload recorded come last (LAST_LIST_PAGE).
   *
   * Every read is an equality on owner and list page: FerretDB v1 on PostgreSQL hands only equalities on
   * top-level fields to PostgreSQL, then decodes every row it gets back, filters and sorts them itself, and
   * passes no sort or limit on, so a read over the owner's whole history would decode all of it on every
   * request; one list page is about LIST_PAGE_JOBS documents. Whether more follow is not learnt by reading one
   * job more (at a page's end that would decode the whole page below for one job) but by asking the page below
   * for any one live job, unsorted, which FerretDB stops decoding at. MongoDB answers each read from the index
   * on (owner, list_page, _id).
   *
   * With a list cache (the gateway's), what these reads found is kept under the version of the owner's list
   * (ListVersion), and a listing of an unchanged list reads only that version. A job recorded or removed and
   * every transition but the quiet ones (`changesListedJobs`) give the list a new version; a page is kept only
   * once every job on it is finished, since the quiet transitions (progress, lease renewals) change running jobs.
   */
  async list(owner: string, { limit, before }: { limit: number; before?: string | undefined }): Promise<JobListPage | undefined> {
    const read = await this.listReads(owner);
    let page: number;
    let after: string | undefined;
    if (before !== undefined) {
      const _id = keyOf(before);
      const cursor = _id ? await this.c.jobs.findOne({ _id, owner }) : undefined;
      if (!cursor) return undefined;
      page = cursor.list_page ?? LAST_LIST_PAGE;
      after = cursor._id;
    } else {
      const recorded = await read('head', async () => (await this.c.listHeads.findOne({ _id: owner }))?.recorded ?? null);
      page = recorded === null ? LAST_LIST_PAGE : pageOf(recorded);
    }
    const found: JobDocument[] = [];
    for (;;) {
      const wanted = limit - found.length;
      const docs = await this.readPage(owner, page, { after, limit: wanted + 1 }, read);
      found.push(...docs.slice(0, wanted));
      const more = docs.length > wanted;
      if (more || page === LAST_LIST_PAGE) return { jobs: found.map(toJob), more };
      page--;
      after = undefined;
      if (found.length === limit) return { jobs: found.map(toJob), more: await this.anyListedFrom(owner, page, read) };
    }
  }

  /** Up to `limit` of the owner's live jobs on list page `page`, newest first, those older than `after` only. */
  private async readPage(owner: string, page: number, { after, limit }: { after: string | undefined; limit: number }, read: ListRead) {
    if (page === LAST_LIST_PAGE) {
      // Every job no upload recorded, however many: read as far as needed, never kept.
      return this.c.jobs.find({ ...this.onPage(owner, page), ...(after ? { _id: { $lt: after } } : {}) }, { sort: { _id: -1 }, limit });
    }
    const docs = await read(
      `page:${page}`,
      () => this.c.jobs.find(this.onPage(owner, page), { sort: { _id: -1 } }),
      (docs) => docs.every((d) => isFinal(d.state)),
    );
    // Ids are lowercase hex of one length: as strings they sort as MongoDB sorts them.
    return (after ? docs.filter((d) => d._id < after) : docs).slice(0, limit);
  }

  private onPage(owner: string, page: number): Filter<JobDocument> {
    return { owner, list_page: page, ...live };
  }

  /** Whether the owner has a live job on list page `page` or below (pages whose jobs were all deleted are passed). */
  private async anyListedFrom(owner: string, page: number, read: ListRead): Promise<boolean> {
    for (let p = page; p >= LAST_LIST_PAGE; p--) {
      if (await read(`any:${p}`, async () => (await this.c.jobs.find(this.onPage(owner, p), { limit: 1 })).length > 0)) return true;
    }
    return false;
  }

  /**
   * A listing's reads of the owner's list: with a list cache, each is kept under the list's version (read once
   * here) and answered from the cache while the version stays; `keep` says whether what was read may be kept.
   */
  private async listReads(owner: string): Promise<ListRead> {
    const cache = this.options.listCache;
    if (!cache) return (_key, reader) => reader();
    const version = (await this.c.listVersions.findOne({ _id: owner }))?.version ?? '';
    return async <T>(key: string, reader: () => Promise<T>, keep: (value: T) => boolean = () => true): Promise<T> => {
      const kept = cache.get(owner, key, version);
      if (kept !== undefined) return kept as T;
      const value = await reader();
      if (keep(value)) cache.set(owner, key, version, value);
      return value;
    };
  }

  async changedSince(owner: string, since: Date, limit = 500): Promise<Job[]> {
    const docs = await this.c.jobs.find({ owner, updated_at: { $gt: since } }, { sort: { updated_at: 1 }, limit });
    return docs.filter((d) => !d.deleted_at).map(toJob);
  }

  async queuedOf(owners: readonly string[]): Promise<Job[]> {
    if (owners.length === 0) return [];
    return (await this.c.jobs.find({ owner: { $in: owners }, state: 'queued', ...live })).map(toJob);
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
    const onQueue = { state: 'queued' as const, ...live, dispatch: { $ne: 'held' } };
    if (job.dispatch !== 'held') {
      const at = job.dispatchedAt ?? job.queuedAt;
      // Jobs recorded before dispatch was tracked have no dispatched_at: their queued_at stands in.
      return (await this.c.jobs.count({ ...onQueue, $or: [{ dispatched_at: { $lt: at } }, { dispatched_at: null, queued_at: { $lt: at } }] })) + 1;
    }
    const published = await this.c.jobs.count(onQueue);
    const held = await this.c.jobs.find({ state: 'queued', ...live, dispatch: 'held' }, { sort: { queued_at: 1 } });
    const roundOf = new Map<string, number>();
    const ranked = held.map((d) => {
      const round = (roundOf.get(d.owner) ?? 0) + 1;
      roundOf.set(d.owner, round);
      return { id: d._id, round, at: d.queued_at ?? d.created_at };
    });
    const mine = ranked.find((r) => r.id === job.videoFid);
    if (!mine) return published + 1;
    const ahead = ranked.filter((r) => r.round < mine.round || (r.round === mine.round && r.at < mine.at)).length;
    return published + ahead + 1;
  }

  async findByMp3(mp3Fid: string): Promise<Job | undefined> {
    const fid = mp3Fid.toLowerCase();
    const doc = await this.c.jobs.findOne({ $or: [{ mp3_fid: fid }, { 'mp3s.fid': fid }] });
    return doc ? toJob(doc) : undefined;
  }

  async usageOf(owner: string): Promise<{ bytes: number; inFlight: number }> {
    const docs = await this.c.jobs.find({ owner, ...live, expired_at: null, state: { $in: [...ACTIVE_STATES, 'done'] } });
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

  cancelQueued(videoFid: string): Promise<Job | undefined> {
    return this.changeAndRead('cancel', videoFid, { now: new Date() });
  }

  requestCancel(videoFid: string): Promise<Job | undefined> {
    return this.changeAndRead('requestCancel', videoFid, { now: new Date() });
  }

  async markDeleted(videoFid: string): Promise<void> {
    await this.change('delete', videoFid, { now: new Date() });
  }

  async dispatchedCount(owner: string): Promise<number> {
    return this.c.jobs.count({ owner, ...live, state: { $in: ACTIVE_STATES }, dispatch: { $ne: 'held' } });
  }

  async held(owner: string, queue: string, limit: number): Promise<Job[]> {
    return (await this.c.jobs.find({ owner, queue, ...live, state: 'queued', dispatch: 'held' }, { sort: { queued_at: 1 }, limit })).map(toJob);
  }

  releaseHeld(videoFid: string): Promise<boolean> {
    return this.change('dispatch', videoFid, { now: new Date() });
  }

  /**
   * Records that the broker confirmed the job's message. Kept apart from the job itself: by then a converter
   * may be writing the job, and FerretDB, unlike MongoDB, loses one of two updates made to one document at
   * the same moment.
   */
  async confirmDispatch(videoFid: string): Promise<void> {
    const _id = keyOf(videoFid);
    if (_id) await this.c.dispatches.updateOne({ _id }, { $set: { at: new Date() } }, { upsert: true });
  }

  async ownersToDispatch(queue: string, staleBefore: Date): Promise<string[]> {
    const held = await this.c.jobs.distinct('owner', { queue, state: 'queued', ...live, dispatch: 'held' });
    const stale = await this.c.jobs.distinct('owner', this.stale(queue, staleBefore));
    return [...new Set([...held, ...stale])];
  }

  async stalePending(owner: string, queue: string, staleBefore: Date): Promise<Job[]> {
    const docs = await this.c.jobs.find({ owner, ...this.stale(queue, staleBefore) });
    if (docs.length === 0) return [];
    const confirmed = new Set((await this.c.dispatches.find({ _id: { $in: docs.map((d) => d._id) } })).map((c) => c._id));
    return docs.filter((d) => !confirmed.has(d._id)).map(toJob);
  }

  private stale(queue: string, staleBefore: Date): Filter<JobDocument> {
    return { queue, state: 'queued', ...live, dispatch: 'pending', dispatched_at: { $lt: staleBefore } };
  }

  async expiring(now: Date, limit: number): Promise<Job[]> {
    const docs = await this.c.jobs.find(
      { expires_at: { $lt: now }, expired_at: null, ...live, state: { $in: FINAL_STATES } },
      { sort: { expires_at: 1 }, limit },
    );
    return docs.map(toJob);
  }

  async markExpired(videoFid: string): Promise<void> {
    await this.change('expire', videoFid, { now: new Date() });
  }

  // The worker's role (JobLeases).

  claim(videoFid: string, owner: string, options: { maxAttempts: number; revive: boolean }): Promise<Claim> {
    const _id = keyOf(videoFid);
    if (!_id) return Promise.resolve({ status: 'finished', state: 'failed' });
    return this.inTurn(_id, async () => {
      const existing = await this.c.jobs.findOne({ _id });
      if (!existing) return this.recordClaimed(_id, owner);
      // The owner is the store's: a message naming someone else (forged, or sent by a client that got it
      // wrong) neither takes the lease nor counts an attempt, so it cannot disturb the owner's job.
      if (existing.owner !== owner) return { status: 'not-owner' };
      if (options.revive) await this.change('revive', _id, { now: new Date() });
      const { id: worker, leaseMs } = this.workerOf();
      const now = new Date();
      const { filter, update } = transition('claim', _id, { now, worker, leaseUntil: new Date(now.getTime() + leaseMs) });
      const taken = await this.c.jobs.findOneAndUpdate(filter, update);
      if (!taken) {
        const current = await this.c.jobs.findOne({ _id });
        return current && (current.deleted_at || !ACTIVE_STATES.includes(current.state)) ? { status: 'finished', state: current.state } : { status: 'held' };
      }
      await this.touchList(taken.owner);
      const attempts = taken.attempts ?? 1;
      if (attempts > options.maxAttempts) return { status: 'exhausted', attempts, lastError: taken.last_error ?? null };
      return { status: 'claimed', attempt: attempts };
    });
  }

  /** The original's gateway recorded no job for the video: the first claim records it, converting. */
  private async recordClaimed(_id: string, owner: string): Promise<Claim> {
    const { id: worker, leaseMs } = this.workerOf();
    const now = new Date();
    try {
      await this.c.jobs.insertOne({
        _id,
        owner,
        list_page: LAST_LIST_PAGE,
        filename: null,
        state: 'converting',
        reason: null,
        mp3_fid: null,
        attempts: 1,
        cancel_requested_at: null,
        finishing: false,
        deleted_at: null,
        created_at: now,
        updated_at: now,
        queued_at: now,
        started_at: now,
        finished_at: null,
        lease_until: new Date(now.getTime() + leaseMs),
        worker,
      });
      await this.touchList(owner);
      return { status: 'claimed', attempt: 1 };
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      return { status: 'held' };
    }
  }

  async renew(videoFid: string): Promise<{ cancelRequested: boolean }> {
    const { id: worker, leaseMs } = this.workerOf();
    const now = new Date();
    const doc = await this.writeAndRead('renew', videoFid, { now, worker, leaseUntil: new Date(now.getTime() + leaseMs) });
    return { cancelRequested: Boolean(doc?.cancel_requested_at) };
  }

  async recordDuration(videoFid: string, durationSeconds: number): Promise<void> {
    await this.write('measure', videoFid, { durationSeconds });
  }

  async recordProgress(videoFid: string, { percent, speed, etaSeconds }: Progress): Promise<void> {
    await this.write('progress', videoFid, { now: new Date(), worker: this.workerOf().id, percent, speed, etaSeconds });
  }

  markFinishing(videoFid: string): Promise<boolean> {
    return this.write('finishing', videoFid, { now: new Date() });
  }

  async markDone(videoFid: string, { mp3s, expiresAt }: { mp3s: readonly JobMp3[]; expiresAt: Date }): Promise<void> {
    await this.write('done', videoFid, { now: new Date(), mp3s, expiresAt });
  }

  async markFailed(videoFid: string, reason: string, expiresAt: Date): Promise<void> {
    await this.write('failed', videoFid, { now: new Date(), reason, expiresAt });
  }

  async markCancelled(videoFid: string): Promise<void> {
    await this.write('cancelled', videoFid, { now: new Date() });
  }

  async release(videoFid: string, { lastError, refund }: { lastError: string | null; refund: boolean }): Promise<void> {
    await this.write('release', videoFid, { now: new Date(), worker: this.workerOf().id, lastError, refund });
  }

  private workerOf(): { id: string; leaseMs: number } {
    if (!this.options.worker) throw new Error('this job store takes no leases: it was made without a worker');
    return this.options.worker;
  }

  /** Applies a transition; whether it applied. */
  private async change<N extends TransitionName>(name: N, videoFid: string, params: ParamsOf<N>): Promise<boolean> {
    // Its owner, to give the list a new version, comes with the document.
    if (changesListedJobs(name)) return (await this.apply(name, videoFid, params)) !== undefined;
    const _id = keyOf(videoFid);
    if (!_id) return false;
    const { filter, update } = transition(name, _id, params);
    return this.c.jobs.updateOne(filter, update);
  }

  /** Applies a transition; the job after it, or undefined when it did not apply. */
  private async changeAndRead<N extends TransitionName>(name: N, videoFid: string, params: ParamsOf<N>): Promise<Job | undefined> {
    const doc = await this.apply(name, videoFid, params);
    return doc ? toJob(doc) : undefined;
  }

  private async apply<N extends TransitionName>(name: N, videoFid: string, params: ParamsOf<N>): Promise<JobDocument | undefined> {
    const _id = keyOf(videoFid);
    if (!_id) return undefined;
    const { filter, update } = transition(name, _id, params);
    const doc = await this.c.jobs.findOneAndUpdate(filter, update);
    if (doc && changesListedJobs(name)) await this.touchList(doc.owner);
    return doc;
  }

  /** A worker's transition, in its job's turn (see inTurn). */
  private write<N extends TransitionName>(name: N, videoFid: string, params: ParamsOf<N>): Promise<boolean> {
    return this.inTurn(videoFid.toLowerCase(), () => this.change(name, videoFid, params));
  }

  private writeAndRead<N extends TransitionName>(name: N, videoFid: string, params: ParamsOf<N>): Promise<JobDocument | undefined> {
    return this.inTurn(videoFid.toLowerCase(), () => this.apply(name, videoFid, params));
  }

  /**
   * One job's worker writes go to the store one after the other, in the order they were asked for. The
   * lease's renewal, the encoder's progress and the runner's own steps write the same document from timers of
   * their own, and a MongoDB-wire server that applies an update as a read and then a write of the whole
   * document (FerretDB v1) lets a write that read before another and wrote after it undo that one: a renewal
   * in flight took a job marked done back to `converting`. Nothing inside a turn may wait for another turn of
   * the same job.
   */
  private inTurn<T>(key: string, write: () => Promise<T>): Promise<T> {
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
