import type { Db } from 'mongodb';
import { deleteGridFsFile, ensureGridFsIndexes, parseObjectId } from '@mp3converter/shared/storage';
import type { Mp3Store, Mp3Upload } from '../domain/ports.js';
import { GridFsFollowingUpload } from './gridfs-following.upload.js';

export class GridFsMp3Store implements Mp3Store {
  constructor(private readonly db: Db) {}

  async sizeOf(mp3Fid: string): Promise<number | undefined> {
    const doc = await this.db.collection<{ length: number }>('fs.files').findOne({ _id: parseObjectId(mp3Fid)! }, { projection: { length: 1 } });
    return doc?.length;
  }

  async delete(mp3Fid: string): Promise<void> {
    await deleteGridFsFile(this.db, parseObjectId(mp3Fid)!);
  }

  async follow(mp3Fid: string, path: string, { leftovers }: { leftovers: boolean }): Promise<Mp3Upload> {
    const id = parseObjectId(mp3Fid)!;
    // Its chunks are written directly, not through the driver's upload stream that makes these.
    await ensureGridFsIndexes(this.db);
    // Chunks of an attempt that died mid-write (no files document) would collide with ours.
    if (leftovers) await deleteGridFsFile(this.db, id);
    return GridFsFollowingUpload.start(this.db, id, path);
  }
}
