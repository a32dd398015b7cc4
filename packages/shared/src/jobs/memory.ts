import { type DocumentCollection, DuplicateKeyError, type Keyed, type ReadOptions } from './collection.js';
import type { JobDocument } from './model.js';
import { type Filter, type Update, applyUpdate, compareBy, matches } from './query.js';
import { type DispatchConfirm, type JobStoreOptions, JobStore, type ListHead, type ListVersion } from './store.js';

/**
 * A collection held in memory that applies filters and updates as MongoDB does (query.ts). It can be made
 * unreachable, as a MongoDB that went away: every call then fails.
 */
export class MemoryCollection<T extends Keyed> implements DocumentCollection<T> {
  readonly docs = new Map<string, T>();
  down = false;

  private check(): void {
    if (this.down) throw new Error('store unavailable');
  }

  private all(filter: Filter<T>): T[] {
    this.check();
    return [...this.docs.values()].filter((d) => matches(d, filter));
  }

  async insertOne(doc: T): Promise<void> {
    this.check();
    if (this.docs.has(doc._id)) throw new DuplicateKeyError(doc._id);
    this.docs.set(doc._id, structuredClone(doc));
  }

  async findOne(filter: Filter<T>): Promise<T | undefined> {
    const [doc] = this.all(filter);
    return doc && structuredClone(doc);
  }

  async find(filter: Filter<T>, { sort, limit }: ReadOptions<T> = {}): Promise<T[]> {
    const docs = this.all(filter);
    if (sort) docs.sort(compareBy(sort));
    return docs.slice(0, limit || undefined).map((d) => structuredClone(d));
  }

  async count(filter: Filter<T>): Promise<number> {
    return this.all(filter).length;
  }

  async distinct<K extends keyof T & string>(field: K, filter: Filter<T>): Promise<T[K][]> {
    return [...new Set(this.all(filter).map((d) => d[field]))];
  }

  async updateOne(filter: Filter<T>, update: Update<T>, options: { upsert?: boolean } = {}): Promise<boolean> {
    return (await this.findOneAndUpdate(filter, update, options)) !== undefined;
  }

  async findOneAndUpdate(filter: Filter<T>, update: Update<T>, { upsert = false }: { upsert?: boolean } = {}): Promise<T | undefined> {
    const [doc] = this.all(filter);
    if (doc) {
      const next = applyUpdate(doc, update);
      this.docs.set(doc._id, next);
      return structuredClone(next);
    }
    if (!upsert) return undefined;
    // As MongoDB upserts: the filter's equalities make the new document, then the update applies.
    const seed = Object.fromEntries(
      Object.entries(filter).filter(([k, v]) => !k.startsWith('$') && (typeof v !== 'object' || v === null || v instanceof Date)),
    );
    const created = applyUpdate(seed as unknown as T, update);
    await this.insertOne(created);
    return structuredClone(created);
  }

  async deleteOne(filter: Filter<T>): Promise<void> {
    const [doc] = this.all(filter);
    if (doc) this.docs.delete(doc._id);
  }
}

export interface MemoryJobCollections {
  jobs: MemoryCollection<JobDocument>;
  dispatches: MemoryCollection<DispatchConfirm>;
  listHeads: MemoryCollection<ListHead>;
  listVersions: MemoryCollection<ListVersion>;
}

/** The job store in memory, with the same rules as MongoDB's: for tests of the services that use it. */
export function memoryJobStore(options: JobStoreOptions = {}): { store: JobStore; collections: MemoryJobCollections } {
  const collections = {
    jobs: new MemoryCollection<JobDocument>(),
    dispatches: new MemoryCollection<DispatchConfirm>(),
    listHeads: new MemoryCollection<ListHead>(),
    listVersions: new MemoryCollection<ListVersion>(),
  };
  return { store: new JobStore(collections, options), collections };
}
