import type { Readable } from 'node:stream';
import { type GridFsFile, deleteGridFsFile, openGridFsDownload, parseObjectId, withDeadline } from '@mp3converter/shared/storage';
import type { Db, GridFSFile } from 'mongodb';
import type { Mp3Deletion } from '../domain/ports.js';

export interface Mp3File {
  file: GridFsFile;
  length: number;
  filename: string;
  owner: string | undefined;
  uploadDate: Date;
}

/** MP3s in GridFS `mp3s`; every read has a deadline (`timeoutMs`), so a hanging MongoDB fails it instead of hanging it. */
export class GridFsMp3Files implements Mp3Deletion {
  constructor(
    private readonly db: Db,
    private readonly timeoutMs: number,
  ) {}

  async find(fid: string): Promise<Mp3File | undefined> {
    const id = parseObjectId(fid);
    if (!id) return undefined;
    const doc = await withDeadline(this.timeoutMs, (signal) => this.db.collection<GridFSFile>('fs.files').findOne({ _id: id }, { signal }), 'reading an mp3');
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

  /** No deadline: deleting chunks is a scan on FerretDB, and giving up on one would only start it again. */
  async delete(mp3Fid: string): Promise<void> {
    const id = parseObjectId(mp3Fid);
    if (id) await deleteGridFsFile(this.db, id);
  }

  /** Bytes `start` to `end` inclusive. */
  open(mp3: Mp3File, start: number, end: number): Readable {
    return openGridFsDownload(this.db, mp3.file, { start, end: end + 1, batchTimeoutMs: this.timeoutMs });
  }
}
