import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/utils';
import type { Collection, Db } from 'mongodb';

interface LockDoc {
  _id: string;
  holder: string;
  until: Date;
  /** Another request wants the upload: the holder ends its request and lets go. */
  release_requested: boolean;
}

export interface MongoTusLockerOptions {
  /** How long a lock lasts unless renewed (a gateway that died lets go after this), ms. */
  leaseMs: number;
  /** How long a request waits for a lock before it gives up, ms. */
  acquireTimeoutMs: number;
  /** How often a waiting request looks again, ms. */
  pollMs?: number;
}

/**
 * tus locks held in MongoDB, so that several gateway replicas can serve one upload without sticky sessions:
 * a lease document per upload with an expiry, renewed while held. A request that finds the upload locked
 * asks the holder to release it (a flag the holder reads at its next renewal, then it ends its request, as
 * tus wants for half-open connections) and waits until the lock is free or its lease ran out.
 */
export class MongoTusLocker implements Locker {
  private readonly locks: Collection<LockDoc>;

  constructor(
    db: Db,
    private readonly options: MongoTusLockerOptions,
  ) {
    this.locks = db.collection<LockDoc>('resumable_upload_locks');
  }

  newLock(id: string): Lock {
    return new MongoTusLock(this.locks, id, this.options);
  }
}

class MongoTusLock implements Lock {
  private readonly holder = randomUUID();
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly locks: Collection<LockDoc>,
    private readonly id: string,
    private readonly options: MongoTusLockerOptions,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const { acquireTimeoutMs, pollMs = 100 } = this.options;
    const deadline = Date.now() + acquireTimeoutMs;
    let asked = false;
    while (!(await this.take())) {
      if (!asked) {
        await this.locks.updateOne({ _id: this.id, holder: { $ne: this.holder } }, { $set: { release_requested: true } });
        asked = true;
      }
      if (signal.aborted) throw ERRORS.ABORTED;
      if (Date.now() > deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
      await sleep(pollMs);
    }
    const { leaseMs } = this.options;
    this.renewal = setInterval(() => {
      this.locks
        .findOneAndUpdate({ _id: this.id, holder: this.holder }, { $set: { until: new Date(Date.now() + leaseMs) } })
        .then((held) => {
          if (held?.release_requested) void requestRelease();
        })
        .catch(() => undefined);
    }, leaseMs / 3);
    this.renewal.unref();
  }

  async unlock(): Promise<void> {
    clearInterval(this.renewal);
    await this.locks.deleteOne({ _id: this.id, holder: this.holder });
  }

  /** Takes a free lock, or one whose lease ran out. */
  private async take(): Promise<boolean> {
    const until = new Date(Date.now() + this.options.leaseMs);
    try {
      await this.locks.insertOne({ _id: this.id, holder: this.holder, until, release_requested: false });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
    const taken = await this.locks.updateOne({ _id: this.id, until: { $lt: new Date() } }, { $set: { holder: this.holder, until, release_requested: false } });
    return taken.modifiedCount === 1;
  }
}
