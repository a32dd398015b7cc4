import type { Readable } from 'node:stream';
import { type GridFsFile, deleteGridFsFile, openGridFsDownload, parseObjectId, withDeadline } from '@mp3converter/shared/storage';
import { type Db, type GridFSFile, ObjectId } from 'mongodb';
import type { Mp3Deletion } from '../domain/ports.js';

export interface Mp3File {
  file: GridFsFile;
  length: number;
  filename: string;
  owner: string | undefined;
  uploadDate: Date;
}

/** How long a download's mark holds without renewal, ms. */
const DOWNLOAD_MARK_MS = 60_000;

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

  /**
   * Marks the MP3 as being downloaded until the returned function is called (renewed meanwhile), so that the
   * retention sweep, on any gateway, does not remove it under a reader. A gateway that dies leaves a mark
   * that runs out by itself.
   */
  async holdForDownload(mp3Fid: string): Promise<() => void> {
    const id = new ObjectId();
    const until = () => new Date(Date.now() + DOWNLOAD_MARK_MS);
    const marks = this.db.collection<{ _id: ObjectId; mp3_fid: string; until: Date }>('downloads');
    await withDeadline(this.timeoutMs, () => marks.insertOne({ _id: id, mp3_fid: mp3Fid, until: until() }), 'marking a download');
    const renewal = setInterval(() => void marks.updateOne({ _id: id }, { $set: { until: until() } }).catch(() => undefined), DOWNLOAD_MARK_MS / 3);
    renewal.unref();
    return () => {
      clearInterval(renewal);
      void marks.deleteOne({ _id: id }).catch(() => undefined);
    };
  }

  /** Whether anyone is downloading the MP3 now. */
  async beingDownloaded(mp3Fid: string): Promise<boolean> {
    return (await this.db.collection('downloads').countDocuments({ mp3_fid: mp3Fid, until: { $gt: new Date() } }, { limit: 1 })) > 0;
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
