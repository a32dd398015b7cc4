import type { Collection, MongoClient } from 'mongodb';
import type { ClaimResult, SentLog } from '../domain/ports.js';

interface SentDocument {
  _id: string;
  /** `pending`: claimed before, released after a failed send; may be claimed again. */
  state: 'sending' | 'pending' | 'sent';
  claimed_at: Date | null;
  attempts?: number;
  last_error?: string | null;
  sent_at?: Date;
}

/**
 * One document per notification in database `notifications`. A claim older than `claimTtlMs` belongs to a
 * worker that died mid-send and may be taken over: in that one case an email can go out twice, never zero
 * times. Every claim counts an attempt on the document, so redeliveries by the broker count too.
 */
export class MongoSentLog implements SentLog {
  private readonly docs: Collection<SentDocument>;

  constructor(
    client: MongoClient,
    private readonly claimTtlMs = 120_000,
  ) {
    this.docs = client.db('notifications').collection<SentDocument>('sent');
  }

  async claim(key: string, { maxAttempts, revive }: { maxAttempts: number; revive: boolean }): Promise<ClaimResult> {
    const now = new Date();
    try {
      await this.docs.insertOne({ _id: key, state: 'sending', claimed_at: now, attempts: 1, last_error: null });
      return maxAttempts < 1 ? { status: 'exhausted', attempts: 1, lastError: null } : { status: 'claimed', attempt: 1 };
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
    const takeover = await this.docs.findOneAndUpdate(
      { _id: key, $or: [{ state: 'pending' }, { state: 'sending', claimed_at: { $lt: new Date(now.getTime() - this.claimTtlMs) } }] },
      revive ? { $set: { state: 'sending', claimed_at: now, attempts: 1 } } : { $set: { state: 'sending', claimed_at: now }, $inc: { attempts: 1 } },
      { returnDocument: 'after' },
    );
    if (takeover) {
      const attempts = takeover.attempts ?? 1;
      if (attempts > maxAttempts) {
        await this.docs.updateOne({ _id: key, state: 'sending' }, { $set: { state: 'pending', claimed_at: null } });
        return { status: 'exhausted', attempts, lastError: takeover.last_error ?? null };
      }
      return { status: 'claimed', attempt: attempts };
    }
    const doc = await this.docs.findOne({ _id: key });
    if (doc?.state === 'sent') return { status: 'sent' };
    return doc ? { status: 'in-progress' } : this.claim(key, { maxAttempts, revive });
  }

  /**
   * Removes what no redelivery needs any more: entries sent, or last claimed, before `before` (FerretDB
   * has no TTL indexes, so a periodic sweep does it). A message redelivered later than that could send again.
   */
  async prune(before: Date): Promise<number> {
    const { deletedCount } = await this.docs.deleteMany({
      $or: [
        { state: 'sent', sent_at: { $lt: before } },
        { state: { $ne: 'sent' }, claimed_at: { $lt: before } },
      ],
    });
    return deletedCount;
  }

  async markSent(key: string): Promise<void> {
    await this.docs.updateOne({ _id: key }, { $set: { state: 'sent', sent_at: new Date() } });
  }

  async release(key: string, lastError: string): Promise<void> {
    await this.docs.updateOne({ _id: key, state: 'sending' }, { $set: { state: 'pending', claimed_at: null, last_error: lastError } });
  }
}
