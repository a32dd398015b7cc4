import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import type { Readable } from 'node:stream';
import type { Logger } from '@mp3converter/shared/logger';
import { MEDIA_SNIFF_BYTES, inspectMediaHead } from '@mp3converter/shared/media';
import { GRIDFS_CHUNK_BYTES, GridFsChunkWriter, ObjectId, type WriteGate, ensureGridFsIndexes, withDeadline } from '@mp3converter/shared/storage';
import type { Db } from 'mongodb';
import type { LeftoverCleaner } from '../domain/leftover-cleaner.js';
import type { UploadLeases } from '../domain/ports.js';
import { NotMediaError } from '../domain/not-media.js';

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
    if (verdict.kind === 'not-media') throw new NotMediaError(verdict.reason);
    ({ head, ended } = await readHead(iterator, verdict.bytes, head));
  }
}

export interface UploadStorageOptions {
  /** A chunk insert (from its turn at the gate on) or the closing files document that takes longer fails the upload (503), ms. */
  writeTimeoutMs: number;
  /** The process's GridFS writes, bounded: an upload waits its turn there, its body held back meanwhile. */
  gate: WriteGate;
  /** How long an upload's lease lasts; it is renewed every third of it while the upload is written, ms. */
  leaseMs: number;
}

/**
 * A multer storage engine that streams each upload straight into GridFS as it arrives: never whole in memory,
 * never on disk. The first bytes decide whether it is media at all (415 otherwise, nothing written): behind
 * ID3 tags too, up to MEDIA_HEAD_MAX_BYTES, where playlists hide from a first-bytes check. The
 * upload holds a lease while it is written, so no sweep takes it for a leftover. A failed or cut-off upload
 * is discarded (its chunks, files document and lease, retried until MongoDB answers); multer calls
 * `_removeFile` for files it gives up on (size limit, second file, a bad part after the file), which
 * discards them too.
 */
export class GridFsUploadStorage implements StorageEngine {
  /** Each file multer handed over: its id, and whether it ended stored (true) or failed and discarded (false). */
  private readonly handled = new WeakMap<object, { id: ObjectId; stored: Promise<boolean> }>();

  constructor(
    /** The `videos` database: its default GridFS bucket. */
    private readonly db: Db,
    private readonly leases: UploadLeases,
    private readonly cleaner: LeftoverCleaner,
    private readonly ownerOf: (req: Request) => string,
    private readonly options: UploadStorageOptions,
    private readonly logger: Logger,
  ) {}

  _handleFile(req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<Express.Multer.File> & Partial<StoredUpload>) => void): void {
    const id = new ObjectId();
    // When the file's stream fails (the body cut short), multer answers without waiting for the engine and
    // removes only files that have a `path`: with one, it calls `_removeFile`, which waits for this upload
    // to settle, so the answer leaves after the cleanup.
    file.path = `gridfs:videos/${id.toHexString()}`;
    const stored = this.store(req, file, id);
    this.handled.set(file, {
      id,
      stored: stored.then(
        () => true,
        () => false,
      ),
    });
    stored.then(
      (info) => callback(null, info),
      (err: unknown) => callback(err),
    );
  }

  _removeFile(_req: Request, file: Express.Multer.File & Partial<StoredUpload>, callback: (error: Error | null) => void): void {
    const handled = this.handled.get(file) ?? (file.id ? { id: file.id, stored: Promise.resolve(true) } : undefined);
    if (!handled) {
      callback(null);
      return;
    }
    // A failed upload has already discarded itself; a stored one multer gives up on is discarded here.
    void handled.stored.then((stored) => (stored ? this.cleaner.discard(handled.id.toHexString()) : undefined)).then(() => callback(null));
  }

  private async store(req: Request, file: Express.Multer.File, id: ObjectId): Promise<StoredUpload> {
    const source = file.stream as Readable;
    const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const { head, ended, detected } = await sniff(iterator);
    const declared = file.mimetype && file.mimetype !== 'application/octet-stream' ? file.mimetype : undefined;
    const contentType = declared ?? detected;
    const videoFid = id.toHexString();
    const owner = this.ownerOf(req);
    const { writeTimeoutMs, leaseMs, gate } = this.options;
    // Before the first chunk: a store that cannot take the lease gets no chunk either.
    await this.leases.hold(videoFid, owner, new Date(Date.now() + leaseMs));
    const written = this.cleaner.writing(videoFid);
    const renewal = setInterval(() => {
      this.leases.renew(videoFid, new Date(Date.now() + leaseMs)).catch((err: unknown) => {
        this.logger.warn({ err, videoFid }, 'could not renew an upload lease');
      });
    }, leaseMs / 3);
    renewal.unref();
    // A slow client is the idle timeout's business; a store that hangs is the inserts' deadline's.
    const writer = new GridFsChunkWriter(this.db, id, { chunkSize: GRIDFS_CHUNK_BYTES, timeoutMs: writeTimeoutMs, gate });
    let size = head.length;
    try {
      await withDeadline(writeTimeoutMs, () => ensureGridFsIndexes(this.db), 'making the GridFS indexes');
      await writer.write(head);
      if (!ended) {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          size += next.value.length;
          await writer.write(next.value);
        }
      }
      await writer.end();
      // Last, as GridFS drivers do: the file exists for readers once it is whole.
      await withDeadline(
        writeTimeoutMs,
        () =>
          this.db.collection('fs.files').insertOne({
            _id: id,
            length: size,
            chunkSize: GRIDFS_CHUNK_BYTES,
            uploadDate: new Date(),
            filename: file.originalname,
            metadata: { owner, contentType, detectedType: detected, fieldname: file.fieldname },
          }),
        'writing the files document',
      );
    } catch (err) {
      // Inserts still on their way would land after the removal.
      await writer.settle();
      await this.cleaner.discard(videoFid);
      throw err;
    } finally {
      clearInterval(renewal);
      written();
    }
    return { id, size, contentType };
  }
}
