import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Db } from 'mongodb';
import { GridFSBucket, deleteGridFsFile, parseObjectId } from '@mp3converter/shared/storage';
import type { Mp3Details, Mp3Store } from '../domain/ports.js';

export class GridFsMp3Store implements Mp3Store {
  private readonly bucket: GridFSBucket;

  constructor(private readonly db: Db) {
    this.bucket = new GridFSBucket(db);
  }

  async sizeOf(mp3Fid: string): Promise<number | undefined> {
    const doc = await this.db.collection<{ length: number }>('fs.files').findOne({ _id: parseObjectId(mp3Fid)! }, { projection: { length: 1 } });
    return doc?.length;
  }

  async delete(mp3Fid: string): Promise<void> {
    await deleteGridFsFile(this.db, parseObjectId(mp3Fid)!);
  }

  async save(mp3Fid: string, path: string, details: Mp3Details, signal: AbortSignal, { leftovers }: { leftovers: boolean }): Promise<void> {
    const id = parseObjectId(mp3Fid)!;
    // Chunks of an attempt that died mid-write (no files document) would collide with ours.
    if (leftovers) await deleteGridFsFile(this.db, id);
    const upload = this.bucket.openUploadStreamWithId(id, details.filename, {
      metadata: {
        owner: details.owner,
        videoFid: details.videoFid,
        contentType: 'audio/mpeg',
        durationSeconds: details.durationSeconds,
        bitRate: details.bitRate,
        expiresAt: details.expiresAt,
      },
    });
    try {
      await pipeline(createReadStream(path), upload, { signal });
    } catch (err) {
      await deleteGridFsFile(this.db, id).catch(() => undefined);
      throw err;
    }
  }
}
