import type { Db, ObjectId } from 'mongodb';
import { MAX_SPLIT_PARTS } from '@mp3converter/shared/contracts';
import { deleteGridFsFile, ensureGridFsIndexes, parseObjectId } from '@mp3converter/shared/storage';
import type { Mp3Store, Mp3Upload, StoredPart } from '../domain/ports.js';
import { GridFsFollowingUpload } from './gridfs-following.upload.js';

interface PartFile {
  _id: ObjectId;
  length: number;
  metadata?: { part?: unknown; durationSeconds?: unknown };
}

const isStoredPart = (value: unknown): value is StoredPart => {
  const p = value as Partial<StoredPart> | null;
  return typeof p === 'object' && p !== null && Number.isSafeInteger(p.number) && Number.isSafeInteger(p.of) && typeof p.title === 'string';
};

export class GridFsMp3Store implements Mp3Store {
  constructor(private readonly db: Db) {}

  async sizeOf(mp3Fid: string): Promise<number | undefined> {
    const doc = await this.db.collection<{ length: number }>('fs.files').findOne({ _id: parseObjectId(mp3Fid)! }, { projection: { length: 1 } });
    return doc?.length;
  }

  async delete(mp3Fid: string): Promise<void> {
    await deleteGridFsFile(this.db, parseObjectId(mp3Fid)!);
  }

  async partsOf(videoFid: string): Promise<{ mp3Fid: string; sizeBytes: number; durationSeconds: number | null; part: StoredPart }[]> {
    const files = this.db.collection<PartFile>('fs.files');
    // Read on a retry only, and bounded by the parts of one video.
    const docs = await files
      .find({ 'metadata.videoFid': videoFid.toLowerCase(), 'metadata.part': { $exists: true } })
      .limit(MAX_SPLIT_PARTS + 1)
      .toArray();
    return docs.flatMap((doc) => {
      const { part, durationSeconds } = doc.metadata ?? {};
      if (!isStoredPart(part)) return [];
      return [{ mp3Fid: doc._id.toHexString(), sizeBytes: doc.length, durationSeconds: typeof durationSeconds === 'number' ? durationSeconds : null, part }];
    });
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
