import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type GridFSBucket, type GridFsFile, deleteGridFsFile, openGridFsDownload, parseObjectId } from '@mp3converter/shared/storage';
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
    return doc ? new FoundVideo(doc.filename || null, doc) : undefined;
  }

  async copyTo(videoFid: string, path: string, signal: AbortSignal, onBytes?: (bytes: number) => void, known?: VideoInfo): Promise<void> {
    const file = known instanceof FoundVideo ? known.file : await this.bucket.find({ _id: parseObjectId(videoFid)! }, { limit: 1 }).next();
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

/** What `info` found, with the files document `copyTo` reads the chunks by. */
class FoundVideo implements VideoInfo {
  readonly length: number;

  constructor(
    readonly filename: string | null,
    readonly file: GridFsFile,
  ) {
    this.length = file.length;
  }
}
