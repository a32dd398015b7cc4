import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { AppError } from '@mp3converter/shared/errors';
import { MEDIA_SNIFF_BYTES, inspectMediaHead } from '@mp3converter/shared/media';
import { type GridFSBucket, ObjectId, deleteGridFsFile } from '@mp3converter/shared/storage';
import type { Db } from 'mongodb';

/** What multer adds to `req.file` once this engine has stored an upload. */
export interface StoredUpload {
  id: ObjectId;
  size: number;
  contentType: string;
}

/** Reads on until `head` holds at least `bytes` bytes or the stream ends; the iterator goes on from there. */
async function readHead(iterator: AsyncIterator<Buffer>, bytes: number, head: Buffer = Buffer.alloc(0)): Promise<{ head: Buffer; ended: boolean }> {
  const chunks: Buffer[] = [head];
  let length = head.length;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) return { head: Buffer.concat(chunks), ended: true };
    chunks.push(next.value);
    length += next.value.length;
  }
  return { head: Buffer.concat(chunks), ended: false };
}

/** The upload's first bytes and its detected type; 415 when they show it is no video or audio file. */
async function sniff(iterator: AsyncIterator<Buffer>): Promise<{ head: Buffer; ended: boolean; detected: string }> {
  let { head, ended } = await readHead(iterator, MEDIA_SNIFF_BYTES);
  for (;;) {
    const verdict = await inspectMediaHead(head, ended);
    if (verdict.kind === 'media') return { head, ended, detected: verdict.mimeType };
    if (verdict.kind === 'not-media') throw new AppError(415, 'unsupported_media_type', `the file is ${verdict.reason}`);
    ({ head, ended } = await readHead(iterator, verdict.bytes, head));
  }
}

/**
 * A multer storage engine that streams each upload straight into GridFS as it arrives: never whole in memory,
 * never on disk. The first bytes decide whether it is media at all (415 otherwise, nothing written): behind
 * ID3 tags too, up to MEDIA_HEAD_MAX_BYTES, where playlists hide from a first-bytes check. A failed
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
    const { head, ended, detected } = await sniff(iterator);
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
