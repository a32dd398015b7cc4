import { type Collection, type Document, type MongoClient, ObjectId } from 'mongodb';
import { withDeadline } from '../storage/deadline.js';
import { type DocumentCollection, DuplicateKeyError, type Keyed, type ReadOptions } from './collection.js';
import { JOBS, type JobDocument } from './model.js';
import type { Filter, Update } from './query.js';
import { type DispatchConfirm, type JobStoreOptions, JobStore, LAST_LIST_PAGE, type ListHead, type ListVersion } from './store.js';

/** The jobs as MongoDB stores them: keyed by the video's ObjectId. */
export type StoredJobDocument = Omit<JobDocument, '_id'> & { _id: ObjectId };

export const jobsCollection = (client: MongoClient): Collection<StoredJobDocument> => client.db(JOBS.database).collection<StoredJobDocument>(JOBS.collection);

export interface MongoJobStoreOptions extends JobStoreOptions {
  /** Every call to MongoDB fails with a StorageTimeoutError after this long (ms); none when absent. */
  timeoutMs?: number;
  /** Where the jobs live; `videos` (JOBS.database) but in tests that need a store of their own. */
  database?: string;
}

/** The job store on MongoDB (database `videos`: `jobs`, `job_dispatches`, `job_list_heads`, `job_list_versions`). */
export function mongoJobStore(client: MongoClient, options: MongoJobStoreOptions = {}): JobStore {
  const db = client.db(options.database ?? JOBS.database);
  const timeoutMs = options.timeoutMs;
  return new JobStore(
    {
      jobs: new MongoDocumentCollection<JobDocument>(db.collection(JOBS.collection), { objectIds: true, timeoutMs }),
      dispatches: new MongoDocumentCollection<DispatchConfirm>(db.collection('job_dispatches'), { objectIds: true, timeoutMs }),
      listHeads: new MongoDocumentCollection<ListHead>(db.collection('job_list_heads'), { objectIds: false, timeoutMs }),
      listVersions: new MongoDocumentCollection<ListVersion>(db.collection('job_list_versions'), { objectIds: false, timeoutMs }),
    },
    options,
  );
}

/**
 * Indexes for the owner's list, the queue order, MP3 lookups (each part of a split too) and expiry; FerretDB
 * and MongoDB both take them. Jobs recorded before list pages existed go on the last list page, which the list
 * reads by equality like the others. This runs at every start, not once: a gateway of the version before,
 * still serving during a rolling update, records jobs without a page, and the next start moves them too. It
 * reads the whole collection (no index leads with list_page), which expiry keeps bounded.
 */
export async function ensureJobIndexes(client: MongoClient, database: string = JOBS.database): Promise<void> {
  const jobs = client.db(database).collection<StoredJobDocument>(JOBS.collection);
  await jobs.createIndex({ owner: 1, list_page: -1, _id: -1 });
  await jobs.updateMany({ list_page: { $exists: false } }, { $set: { list_page: LAST_LIST_PAGE } });
  await jobs.createIndex({ state: 1, queued_at: 1 });
  await jobs.createIndex({ mp3_fid: 1 });
  await jobs.createIndex({ 'mp3s.fid': 1 });
  await jobs.createIndex({ expires_at: 1 });
}

/**
 * A MongoDB collection as the job store's DocumentCollection: the filter and update language of query.ts is
 * MongoDB's own, so it goes as it is, but for `_id`, which the store speaks as hex and MongoDB may keep as an
 * ObjectId (`objectIds`).
 */
class MongoDocumentCollection<T extends Keyed> implements DocumentCollection<T> {
  constructor(
    private readonly collection: Collection<Document>,
    private readonly options: { objectIds: boolean; timeoutMs: number | undefined },
  ) {}

  private bounded<R>(what: string, op: (signal: AbortSignal | undefined) => Promise<R>): Promise<R> {
    const { timeoutMs } = this.options;
    return timeoutMs === undefined ? op(undefined) : withDeadline(timeoutMs, op, `${what} on ${this.collection.collectionName}`);
  }

  private id(value: unknown): unknown {
    if (!this.options.objectIds) return value;
    if (typeof value === 'string') return ObjectId.createFromHexString(value);
    if (value && typeof value === 'object' && !(value instanceof Date)) {
      return Object.fromEntries(Object.entries(value).map(([op, v]) => [op, Array.isArray(v) ? v.map((x) => this.id(x)) : this.id(v)]));
    }
    return value;
  }

  private toMongo(filter: Filter<T>): Document {
    const out: Document = {};
    for (const [key, value] of Object.entries(filter)) {
      if (key === '$or') out.$or = (value as Filter<T>[]).map((f) => this.toMongo(f));
      else out[key] = key === '_id' ? this.id(value) : value;
    }
    return out;
  }

  private fromMongo(doc: Document | null): T | undefined {
    if (!doc) return undefined;
    return { ...doc, _id: doc._id instanceof ObjectId ? doc._id.toHexString() : doc._id } as unknown as T;
  }

  private signalOf(signal: AbortSignal | undefined) {
    return signal ? { signal } : {};
  }

  insertOne(doc: T): Promise<void> {
    return this.bounded('insert', async () => {
      try {
        await this.collection.insertOne({ ...doc, _id: this.id(doc._id) } as Document);
      } catch (err) {
        if ((err as { code?: unknown }).code === 11000) throw new DuplicateKeyError(doc._id, { cause: err });
        throw err;
      }
    });
  }

  findOne(filter: Filter<T>): Promise<T | undefined> {
    return this.bounded('findOne', async (signal) => this.fromMongo(await this.collection.findOne(this.toMongo(filter), this.signalOf(signal))));
  }

  find(filter: Filter<T>, { sort, limit }: ReadOptions<T> = {}): Promise<T[]> {
    return this.bounded('find', async (signal) => {
      const docs = await this.collection
        .find(this.toMongo(filter), { ...(sort ? { sort: sort as Document } : {}), ...(limit ? { limit } : {}), ...this.signalOf(signal) })
        .toArray();
      return docs.map((d) => this.fromMongo(d) as T);
    });
  }

  count(filter: Filter<T>): Promise<number> {
    return this.bounded('count', () => this.collection.countDocuments(this.toMongo(filter)));
  }

  distinct<K extends keyof T & string>(field: K, filter: Filter<T>): Promise<T[K][]> {
    return this.bounded('distinct', () => this.collection.distinct(field, this.toMongo(filter)) as Promise<T[K][]>);
  }

  updateOne(filter: Filter<T>, update: Update<T>, { upsert = false }: { upsert?: boolean } = {}): Promise<boolean> {
    return this.bounded('update', async () => {
      const result = await this.collection.updateOne(this.toMongo(filter), update as Document, { upsert });
      return result.matchedCount + result.upsertedCount > 0;
    });
  }

  findOneAndUpdate(filter: Filter<T>, update: Update<T>, { upsert = false }: { upsert?: boolean } = {}): Promise<T | undefined> {
    // No projection: FerretDB refuses findAndModify with `fields`.
    return this.bounded('findOneAndUpdate', async () => {
      try {
        return this.fromMongo(await this.collection.findOneAndUpdate(this.toMongo(filter), update as Document, { upsert, returnDocument: 'after' }));
      } catch (err) {
        if ((err as { code?: unknown }).code === 11000) throw new DuplicateKeyError(String(filter._id), { cause: err });
        throw err;
      }
    });
  }

  deleteOne(filter: Filter<T>): Promise<void> {
    return this.bounded('delete', async () => {
      await this.collection.deleteOne(this.toMongo(filter));
    });
  }
}
