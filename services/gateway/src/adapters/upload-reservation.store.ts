import { ObjectId, withDeadline } from '@mp3converter/shared/storage';
import type { Collection, Db } from 'mongodb';
import type { ReservedNow, UploadReservations } from '../domain/ports.js';

interface HoldDocument {
  /** The upload's id. */
  _id: ObjectId;
  owner: string;
  bytes: number;
  expires_at: Date;
}

/**
 * Collection `upload_reservations` in the `videos` database: one document per upload in progress. Plain
 * inserts, reads and deletes by id: the decisions that use them are made under the owner's lock, because
 * FerretDB 1.x applies an update as a read and a write that other updates of the same document can come
 * between, so a conditional update of a per-owner counter would not hold a limit there (it does on MongoDB).
 */
export class MongoUploadReservations implements UploadReservations {
  private readonly holds: Collection<HoldDocument>;

  constructor(
    db: Db,
    private readonly timeoutMs: number,
  ) {
    this.holds = db.collection<HoldDocument>('upload_reservations');
  }

  async ensureIndexes(): Promise<void> {
    await this.holds.createIndex({ owner: 1 });
  }

  read(owner: string): Promise<ReservedNow> {
    return withDeadline(
      this.timeoutMs,
      async (signal) => {
        // Holds of uploads whose gateway died: their renewal stopped.
        await this.holds.deleteMany({ owner, expires_at: { $lt: new Date() } });
        const live = await this.holds.find({ owner }, { projection: { bytes: 1 }, signal }).toArray();
        return { count: live.length, bytes: live.reduce((sum, h) => sum + h.bytes, 0) };
      },
      'reading upload reservations',
    );
  }

  async hold(owner: string, hold: { id: string; bytes: number; until: Date }): Promise<void> {
    const doc = { _id: new ObjectId(hold.id), owner, bytes: hold.bytes, expires_at: hold.until };
    await withDeadline(this.timeoutMs, () => this.holds.insertOne(doc), 'reserving an upload');
  }

  async renew(id: string, until: Date): Promise<void> {
    await withDeadline(
      this.timeoutMs,
      () => this.holds.updateOne({ _id: new ObjectId(id) }, { $set: { expires_at: until } }),
      'renewing an upload reservation',
    );
  }

  async release(id: string): Promise<void> {
    await withDeadline(this.timeoutMs, () => this.holds.deleteOne({ _id: new ObjectId(id) }), 'releasing an upload reservation');
  }
}
