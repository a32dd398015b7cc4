import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type GridFSBucket, deleteGridFsFile, openGridFsDownload, parseObjectId } from '@mp3converter/shared/storage';
import type { Db } from 'mongodb';
import type { VideoInfo, VideoSource } from '../domain/ports.js';

export class GridFsVideoSource implements VideoSource {
  constructor(
    private readonly bucket: GridFSBucket,
    private readonly db: Db,
  ) {}

  async info(videoFid: string): Promise<VideoInfo | undefined> {
    const id = parseObjectId(videoFid);
    if (!id) return undefined;
    const doc = await this.bucket.find({ _id: id }, { limit: 1 }).next();
    // The original's gateway stored no filename: the files document then has none (or an empty one).
    return doc ? { filename: doc.filename || null, length: doc.length } : undefined;
  }

  async copyTo(videoFid: string, path: string, signal: AbortSignal, onBytes?: (bytes: number) => void): Promise<void> {
    const file = await this.bucket.find({ _id: parseObjectId(videoFid)! }, { limit: 1 }).next();
    if (!file) throw new Error(`video ${videoFid} disappeared`);
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        onBytes?.(chunk.length);
        done(null, chunk);
      },
    });
    await pipeline(openGridFsDownload(this.db, file), counted, createWriteStream(path), { signal });
  }

  async delete(videoFid: string): Promise<void> {
    const id = parseObjectId(videoFid);
    if (id) await deleteGridFsFile(this.db, id);
  }
}
