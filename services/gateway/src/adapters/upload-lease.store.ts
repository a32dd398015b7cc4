import { ObjectId, parseObjectId, withDeadline } from '@mp3converter/shared/storage';
import type { Collection, Db } from 'mongodb';
import type { UploadLeases } from '../domain/ports.js';

interface LeaseDocument {
  _id: ObjectId;
  owner: string;
  started_at: Date;
  expires_at: Date;
}

/** Collection `uploads` in the `videos` database: one small document per upload being written. */
export class MongoUploadLeases implements UploadLeases {
  private readonly leases: Collection<LeaseDocument>;

  constructor(
    db: Db,
    private readonly timeoutMs: number,
  ) {
    this.leases = db.collection<LeaseDocument>('uploads');
  }

  async hold(videoFid: string, owner: string, until: Date): Promise<void> {
    const doc = { _id: new ObjectId(videoFid), owner, started_at: new Date(), expires_at: until };
    await withDeadline(this.timeoutMs, () => this.leases.insertOne(doc), 'recording an upload');
  }

  async renew(videoFid: string, until: Date): Promise<void> {
    await withDeadline(
      this.timeoutMs,
      () => this.leases.updateOne({ _id: new ObjectId(videoFid) }, { $set: { expires_at: until } }),
      'renewing an upload lease',
    );
  }

  async release(videoFid: string): Promise<void> {
    const id = parseObjectId(videoFid);
    if (id) await withDeadline(this.timeoutMs, () => this.leases.deleteOne({ _id: id }), 'releasing an upload lease');
  }

  async expired(now: Date, limit: number): Promise<string[]> {
    const docs = await withDeadline(
      this.timeoutMs,
      (signal) => this.leases.find({ expires_at: { $lt: now } }, { projection: { _id: 1 }, limit, signal }).toArray(),
      'listing expired upload leases',
    );
    return docs.map((d) => d._id.toHexString());
  }
}
