import { randomUUID } from 'node:crypto';
import { delay } from '@mp3converter/shared/lifecycle';
import { StorageTimeoutError, withDeadline } from '@mp3converter/shared/storage';
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
 *
 * A waiter waits its turn as long as the lock changes hands: ten uploads of one user that end together take
 * it one after the other, each decision slower on a busy store. It gives up when one holder keeps it past
 * `waitMs` (a stalled store or a dead holder whose lease has not run out), or after `maxWaitMs` in all.
 */
export class MongoOwnerLocks implements OwnerLocks {
  private readonly locks: Collection<LockDocument>;

  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly maxWaitMs: number;
  private readonly timeoutMs: number;

  constructor(
    db: Db,
    {
      leaseMs = 10_000,
      waitMs = 5_000,
      maxWaitMs = 60_000,
      timeoutMs = 5_000,
    }: {
      /** How long a lock holds at most; a holder that dies frees it after this, ms. */
      leaseMs?: number;
      /** How long to wait for a lock one other holder keeps, ms. */
      waitMs?: number;
      /** How long to wait in all, whoever holds it, ms: below the time a client waits for an answer. */
      maxWaitMs?: number;
      /** Deadline of each call to the store: one that hangs fails the wait (503), ms. */
      timeoutMs?: number;
    } = {},
  ) {
    this.locks = db.collection<LockDocument>('owner_locks');
    this.leaseMs = leaseMs;
    this.waitMs = waitMs;
    this.maxWaitMs = maxWaitMs;
    this.timeoutMs = timeoutMs;
  }

  async withLock<T>(owner: string, work: () => Promise<T>): Promise<T> {
    const holder = randomUUID();
    const started = Date.now();
    let seen: { holder: string | undefined; since: number } = { holder: undefined, since: started };
    for (let attempt = 0; !(await this.take(owner, holder)); attempt++) {
      const now = Date.now();
      const current = (
        await withDeadline(this.timeoutMs, (signal) => this.locks.findOne({ _id: owner }, { projection: { holder: 1 }, signal }), 'reading the owner lock')
      )?.holder;
      if (current !== seen.holder) seen = { holder: current, since: now };
      if (now - seen.since > this.waitMs) throw new StorageTimeoutError(this.waitMs, 'waiting for the owner lock (one holder kept it)');
      if (now - started > this.maxWaitMs) throw new StorageTimeoutError(this.maxWaitMs, 'waiting for the owner lock');
      await delay(Math.min(25 * 2 ** Math.min(attempt, 3), 200) + Math.random() * 50);
    }
    const release = () => withDeadline(this.timeoutMs, () => this.locks.deleteOne({ _id: owner, holder }), 'releasing the owner lock').catch(() => undefined);
    let result: T;
    try {
      result = await work();
    } catch (err) {
      // Not waited for: when the store is what failed, the answer should not wait on it again (the lease ends it).
      void release();
      throw err;
    }
    await release();
    return result;
  }

  private take(owner: string, holder: string): Promise<boolean> {
    return withDeadline(this.timeoutMs, () => this.tryTake(owner, holder), 'taking the owner lock');
  }

  private async tryTake(owner: string, holder: string): Promise<boolean> {
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
