import { randomUUID } from 'node:crypto';
import { delay } from '@mp3converter/shared/lifecycle';
import { StorageTimeoutError } from '@mp3converter/shared/storage';
import type { Collection, Db } from 'mongodb';
import type { OwnerLocks } from '../domain/ports.js';

interface LockDocument {
  _id: string;
  holder: string;
  until: Date;
}

/**
 * Per-owner locks as documents in `videos.owner_locks`: taken by inserting (or by taking over one whose time
 * ran out, its holder having died), released by deleting it. Held for one short decision, never long.
 */
export class MongoOwnerLocks implements OwnerLocks {
  private readonly locks: Collection<LockDocument>;

  constructor(
    db: Db,
    /** How long a lock holds at most; a holder that dies frees it after this, ms. */
    private readonly leaseMs = 10_000,
    /** How long to wait for a lock another holds, ms. */
    private readonly waitMs = 5_000,
  ) {
    this.locks = db.collection<LockDocument>('owner_locks');
  }

  async withLock<T>(owner: string, work: () => Promise<T>): Promise<T> {
    const holder = randomUUID();
    const deadline = Date.now() + this.waitMs;
    while (!(await this.take(owner, holder))) {
      if (Date.now() > deadline) throw new StorageTimeoutError(this.waitMs, 'waiting for the owner lock');
      await delay(25 + Math.random() * 50);
    }
    try {
      return await work();
    } finally {
      await this.locks.deleteOne({ _id: owner, holder }).catch(() => undefined);
    }
  }

  private async take(owner: string, holder: string): Promise<boolean> {
    const now = new Date();
    const until = new Date(now.getTime() + this.leaseMs);
    try {
      await this.locks.insertOne({ _id: owner, holder, until });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
    const taken = await this.locks.findOneAndUpdate({ _id: owner, until: { $lt: now } }, { $set: { holder, until } });
    return taken !== null;
  }
}
