import type { Readable } from 'node:stream';
import { type GridFSBucket, parseObjectId } from '@mp3converter/shared/storage';

export interface Mp3File {
  length: number;
  filename: string;
  owner: string | undefined;
  uploadDate: Date;
}

export class GridFsMp3Files {
  constructor(private readonly bucket: GridFSBucket) {}

  async find(fid: string): Promise<Mp3File | undefined> {
    const id = parseObjectId(fid);
    if (!id) return undefined;
    const doc = await this.bucket.find({ _id: id }, { limit: 1 }).next();
    if (!doc) return undefined;
    const owner = (doc.metadata as { owner?: unknown } | undefined)?.owner;
    return {
      length: doc.length,
      filename: doc.filename || `${fid}.mp3`,
      owner: typeof owner === 'string' ? owner : undefined,
      uploadDate: doc.uploadDate,
    };
  }

  /** Bytes `start` to `end` inclusive. */
  open(fid: string, start: number, end: number): Readable {
    return this.bucket.openDownloadStream(parseObjectId(fid)!, { start, end: end + 1 });
  }
}
