import type { Filter, Sort, Update } from './query.js';

/** A document keyed by `_id`: for jobs, the video's id as 24-character lowercase hex. */
export interface Keyed {
  _id: string;
}

export interface ReadOptions<T> {
  sort?: Sort<T>;
  limit?: number;
  signal?: AbortSignal;
}

/**
 * The few operations the job store makes on one collection, each applying a filter and an update of the
 * language in query.ts. The MongoDB collection and the in-memory one implement it alike; the store's rules
 * live above it, once.
 */
export interface DocumentCollection<T extends Keyed> {
  /** Throws DuplicateKeyError when a document with its `_id` exists. */
  insertOne(doc: T): Promise<void>;
  findOne(filter: Filter<T>, options?: { signal?: AbortSignal }): Promise<T | undefined>;
  find(filter: Filter<T>, options?: ReadOptions<T>): Promise<T[]>;
  count(filter: Filter<T>): Promise<number>;
  distinct<K extends keyof T & string>(field: K, filter: Filter<T>): Promise<T[K][]>;
  /** Whether a document matched (and was changed). */
  updateOne(filter: Filter<T>, update: Update<T>, options?: { upsert?: boolean }): Promise<boolean>;
  /** The first matching document after the update; undefined when none matched (and no upsert). */
  findOneAndUpdate(filter: Filter<T>, update: Update<T>, options?: { upsert?: boolean }): Promise<T | undefined>;
  deleteOne(filter: Filter<T>): Promise<void>;
}

/** Another document already has this `_id` (MongoDB's error 11000). */
export class DuplicateKeyError extends Error {
  readonly code = 11000;
  constructor(id: string, options?: { cause?: unknown }) {
    super(`a document with _id ${id} exists`, options);
    this.name = 'DuplicateKeyError';
  }
}
