import type { Collection, MongoClient } from 'mongodb';
import type { ClaimResult, SentLog } from '../domain/ports.js';

interface SentDocument {
  _id: string;
  state: 'sending' | 'sent';
  claimed_at: Date;
  sent_at?: Date;
}

/**
 * One document per notification in database `notifications`. A claim older than `claimTtlMs` belongs to a
 * worker that died mid-send and may be taken over: in that one case an email can go out twice, never zero times.
 */
export class MongoSentLog implements SentLog {
  private readonly docs: Collection<SentDocument>;

  constructor(
    client: MongoClient,
    private readonly claimTtlMs = 120_000,
  ) {
    this.docs = client.db('notifications').collection<SentDocument>('sent');
  }

  async claim(key: string): Promise<ClaimResult> {
    const now = new Date();
    try {
      await this.docs.insertOne({ _id: key, state: 'sending', claimed_at: now });
      return 'claimed';
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
    const stale = await this.docs.findOneAndUpdate(
      { _id: key, state: 'sending', claimed_at: { $lt: new Date(now.getTime() - this.claimTtlMs) } },
      { $set: { claimed_at: now } },
    );
    if (stale) return 'claimed';
    const doc = await this.docs.findOne({ _id: key });
    return doc?.state === 'sent' ? 'sent' : doc ? 'in-progress' : this.claim(key);
  }

  async markSent(key: string): Promise<void> {
    await this.docs.updateOne({ _id: key }, { $set: { state: 'sent', sent_at: new Date() } });
  }

  async release(key: string): Promise<void> {
    await this.docs.deleteOne({ _id: key, state: 'sending' });
  }
}
