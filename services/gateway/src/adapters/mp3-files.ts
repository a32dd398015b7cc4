import { Readable } from 'node:stream';
import { type GridFsFile, deleteGridFsFile, parseObjectId, readGridFsChunks, withDeadline } from '@mp3converter/shared/storage';
import { type Db, type GridFSFile, ObjectId } from 'mongodb';
import type { Mp3Deletion } from '../domain/ports.js';
import type { Mp3Reads, StoredMp3 } from '../domain/zip-download.js';

export interface Mp3File {
  file: GridFsFile;
  length: number;
  filename: string;
  owner: string | undefined;
  uploadDate: Date;
}

/** An MP3 as a ZIP download reads it: its files document is kept for reading its chunks. */
export interface GridFsStoredMp3 extends StoredMp3 {
  file: GridFsFile;
}

/** How long a download's mark holds without renewal, ms. */
const DOWNLOAD_MARK_MS = 60_000;

/** MP3s in GridFS `mp3s`; every read has a deadline (`timeoutMs`), so a hanging MongoDB fails it instead of hanging it. */
export class GridFsMp3Files implements Mp3Deletion, Mp3Reads<GridFsStoredMp3> {
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
   * Marks the MP3s as being downloaded until the returned function is called (renewed meanwhile), so that
   * the retention sweep, on any gateway, does not remove them under a reader. A gateway that dies leaves
   * marks that run out by themselves.
   */
  async holdForDownload(mp3Fids: string | readonly string[]): Promise<() => void> {
    const hold = new ObjectId();
    const until = () => new Date(Date.now() + DOWNLOAD_MARK_MS);
    const marks = this.db.collection<{ _id: ObjectId; hold: ObjectId; mp3_fid: string; until: Date }>('downloads');
    const fids = typeof mp3Fids === 'string' ? [mp3Fids] : mp3Fids;
    const first = until();
    await withDeadline(
      this.timeoutMs,
      () => marks.insertMany(fids.map((mp3_fid) => ({ _id: new ObjectId(), hold, mp3_fid, until: first }))),
      'marking a download',
    );
    const renewal = setInterval(() => void marks.updateMany({ hold }, { $set: { until: until() } }).catch(() => undefined), DOWNLOAD_MARK_MS / 3);
    renewal.unref();
    return () => {
      clearInterval(renewal);
      void marks.deleteMany({ hold }).catch(() => undefined);
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

  /** Those of `mp3Fids` that are stored, in one query. */
  async stat(mp3Fids: readonly string[]): Promise<Map<string, GridFsStoredMp3>> {
    const ids = mp3Fids.map((fid) => parseObjectId(fid)).filter((id): id is ObjectId => id !== undefined);
    const docs = ids.length
      ? await withDeadline(
          this.timeoutMs,
          (signal) =>
            this.db
              .collection<GridFSFile>('fs.files')
              .find({ _id: { $in: ids } }, { signal })
              .toArray(),
          'reading mp3s',
        )
      : [];
    const byId = new Map(docs.map((doc) => [doc._id.toHexString(), doc]));
    const found = new Map<string, GridFsStoredMp3>();
    for (const mp3Fid of mp3Fids) {
      const doc = byId.get(mp3Fid.toLowerCase());
      if (!doc) continue;
      const crc = (doc.metadata as { crc32?: unknown } | undefined)?.crc32;
      found.set(mp3Fid, { mp3Fid, length: doc.length, storedAt: doc.uploadDate, crc32: Number.isSafeInteger(crc) ? (crc as number) : undefined, file: doc });
    }
    return found;
  }

  /**
   * Bytes `start` (inclusive) to `end` (exclusive), for a ZIP: chunk by chunk (readGridFsChunks), since FerretDB
   * answers a query for a range of chunks only once it has read the whole file (the first read of a 128 MiB
   * MP3 in a 2 GiB ZIP missed the read deadline that way).
   */
  read(mp3: GridFsStoredMp3, start: number, end: number): Readable {
    return Readable.from(readGridFsChunks(this.db, mp3.file, { start, end, timeoutMs: this.timeoutMs }), { objectMode: false });
  }

  /**
   * Keeps the MP3's CRC-32 beside it (`metadata.crc32`), computed by a ZIP download that read it whole: a
   * later download resuming past it writes it without reading the MP3 again. It goes with the MP3.
   */
  async rememberCrc(mp3: GridFsStoredMp3, crc: number): Promise<void> {
    await withDeadline(
      this.timeoutMs,
      () => this.db.collection<GridFSFile>('fs.files').updateOne({ _id: mp3.file._id }, { $set: { 'metadata.crc32': crc } }),
      'remembering a CRC',
    );
  }

  /** Bytes `start` to `end` inclusive, chunk by chunk (as `read`). */
  open(mp3: Mp3File, start: number, end: number): Readable {
    return Readable.from(readGridFsChunks(this.db, mp3.file, { start, end: end + 1, timeoutMs: this.timeoutMs }), { objectMode: false });
  }
}
