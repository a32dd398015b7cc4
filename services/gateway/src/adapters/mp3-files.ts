import type { Readable } from 'node:stream';
import { type GridFSBucket, type GridFsFile, openGridFsDownload, parseObjectId } from '@mp3converter/shared/storage';
import type { Db } from 'mongodb';

export interface Mp3File {
  file: GridFsFile;
  length: number;
  filename: string;
  owner: string | undefined;
  uploadDate: Date;
}

export class GridFsMp3Files {
  constructor(
    private readonly bucket: GridFSBucket,
    private readonly db: Db,
  ) {}

  async find(fid: string): Promise<Mp3File | undefined> {
    const id = parseObjectId(fid);
    if (!id) return undefined;
    const doc = await this.bucket.find({ _id: id }, { limit: 1 }).next();
    if (!doc) return undefined;
    const owner = (doc.metadata as { owner?: unknown } | undefined)?.owner;
    return {
      file: doc,
      length: doc.length,
      filename: doc.filename || `${fid}.mp3`,
      owner: typeof owner === 'string' ? owner : undefined,
      uploadDate: doc.uploadDate,
    };
  }

  /** Bytes `start` to `end` inclusive. */
  open(mp3: Mp3File, start: number, end: number): Readable {
    return openGridFsDownload(this.db, mp3.file, { start, end: end + 1 });
  }
}
