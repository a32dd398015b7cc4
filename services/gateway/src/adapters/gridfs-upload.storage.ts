import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { AppError } from '@mp3converter/shared/errors';
import { type GridFSBucket, ObjectId, deleteGridFsFile } from '@mp3converter/shared/storage';
import type { Db } from 'mongodb';
import { SNIFF_BYTES, detectMediaType } from '../domain/media-type.js';

/** What multer adds to `req.file` once this engine has stored an upload. */
export interface StoredUpload {
  id: ObjectId;
  size: number;
  contentType: string;
}

/** Reads up to `bytes` from the stream's start; the iterator goes on from there. */
async function readHead(iterator: AsyncIterator<Buffer>, bytes: number): Promise<{ head: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) return { head: Buffer.concat(chunks), ended: true };
    chunks.push(next.value);
    length += next.value.length;
  }
  return { head: Buffer.concat(chunks), ended: false };
}

/**
 * A multer storage engine that streams each upload straight into GridFS as it arrives: never whole in memory,
 * never on disk. The first bytes decide whether it is media at all (415 otherwise, nothing written). A failed
 * or cut-off upload deletes whatever chunks it wrote; multer calls `_removeFile` for files it gives up on
 * (size limit, second file), which deletes them too.
 */
export class GridFsUploadStorage implements StorageEngine {
  constructor(
    private readonly bucket: GridFSBucket,
    private readonly db: Db,
    private readonly ownerOf: (req: Request) => string,
  ) {}

  _handleFile(req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<Express.Multer.File> & Partial<StoredUpload>) => void): void {
    this.store(req, file).then(
      (info) => callback(null, info),
      (err: unknown) => callback(err),
    );
  }

  _removeFile(_req: Request, file: Express.Multer.File & Partial<StoredUpload>, callback: (error: Error | null) => void): void {
    if (!file.id) {
      callback(null);
      return;
    }
    deleteGridFsFile(this.db, file.id).then(
      () => callback(null),
      (err: Error) => callback(err),
    );
  }

  private async store(req: Request, file: Express.Multer.File): Promise<StoredUpload> {
    const source = file.stream as Readable;
    const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const { head, ended } = await readHead(iterator, SNIFF_BYTES);
    const detected = await detectMediaType(head);
    if (!detected) {
      throw new AppError(415, 'unsupported_media_type', 'the file is neither a video nor an audio container');
    }
    const declared = file.mimetype && file.mimetype !== 'application/octet-stream' ? file.mimetype : undefined;
    const contentType = declared ?? detected;
    const id = new ObjectId();
    let size = 0;
    const upload = this.bucket.openUploadStreamWithId(id, file.originalname, {
      metadata: { owner: this.ownerOf(req), contentType, detectedType: detected, fieldname: file.fieldname },
    });
    async function* body() {
      size += head.length;
      yield head;
      if (ended) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        size += next.value.length;
        yield next.value;
      }
    }
    try {
      await pipeline(body, upload);
    } catch (err) {
      await deleteGridFsFile(this.db, id).catch(() => undefined);
      throw err;
    }
    return { id, size, contentType };
  }
}
