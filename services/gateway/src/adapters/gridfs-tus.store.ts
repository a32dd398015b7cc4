import type { Readable } from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/utils';
import { MEDIA_SNIFF_BYTES, inspectMediaHead } from '@mp3converter/shared/media';
import {
  GRIDFS_CHUNK_BYTES as CHUNK_BYTES,
  GridFsChunkWriter,
  ObjectId,
  type WriteGate,
  deleteGridFsFile,
  ensureGridFsIndexes,
  withDeadline,
} from '@mp3converter/shared/storage';
import { Binary, type Collection, type Db } from 'mongodb';
import type { UploadReservations } from '../domain/ports.js';
import { NotMediaError } from '../domain/not-media.js';

/** A document is written back at least every this many chunks, so a crash loses little of a long PATCH. */
const CHECKPOINT_CHUNKS = 32;

/** A resumable upload while it arrives: `videos.resumable_uploads`. */
export interface ResumableUploadDoc {
  _id: ObjectId;
  owner: string;
  size: number;
  /** Bytes received: `chunks` whole chunks in `fs.chunks`, then `tail`. */
  offset: number;
  chunks: number;
  tail: Binary;
  filename: string | null;
  /** What the client declared (`filetype`), and what the first bytes showed (null until they were read). */
  declared_type: string | null;
  detected_type: string | null;
  metadata: Record<string, string | null>;
  /** The output options asked at creation, passed on to the job. */
  options: Record<string, unknown>;
  created_at: Date;
  expires_at: Date;
  /** A PATCH is (or was, when it died) writing chunks past `chunks`: the next one clears them first. */
  dirty?: boolean;
  /** All bytes are in and the `fs.files` document is written. */
  completed: boolean;
  /** The job is recorded (its message published or left to the dispatcher's sweep). */
  job_recorded: boolean;
}

/** Metadata the server sets at creation (the client's own values for these keys are replaced), not kept. */
const INTERNAL_METADATA = new Set(['owner', 'options']);

export interface GridFsTusStoreOptions {
  /** How long an unfinished upload is kept, ms. */
  expiryMs: number;
  /** A chunk write (from its turn at the gate on) or a document update that takes longer fails the PATCH (the client resumes), ms. */
  writeTimeoutMs: number;
  /** The process's GridFS writes, bounded: a PATCH waits its turn there, its body held back meanwhile. */
  gate: WriteGate;
}

/**
 * A tus DataStore writing straight into the `videos` GridFS bucket: chunks go into `fs.chunks` as they
 * arrive, the partial last chunk and the offset live in the upload's document (updated only where the offset
 * is the one expected), and `fs.files` is written only once the last byte is in, so no reader (the
 * original's included) ever sees a partial file. The upload's id is the future `video_fid`. Never more than
 * one chunk (or, before the content is known, the media head) in memory; nothing on disk.
 */
export class GridFsTusStore extends DataStore {
  readonly docs: Collection<ResumableUploadDoc>;
  private readonly chunks: Collection<{ files_id: ObjectId; n: number; data: Binary }>;
  private readonly files: Collection;

  constructor(
    private readonly db: Db,
    /** The owners' shares of their limits: an upload's goes once it is recorded as a job or gone. */
    private readonly reservations: Pick<UploadReservations, 'release'>,
    private readonly options: GridFsTusStoreOptions,
  ) {
    super();
    this.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration'];
    this.docs = db.collection<ResumableUploadDoc>('resumable_uploads');
    this.chunks = db.collection('fs.chunks');
    this.files = db.collection('fs.files');
  }

  async ensureIndexes(): Promise<void> {
    // The chunks go in directly, never through the driver's upload stream that would make the GridFS ones.
    await ensureGridFsIndexes(this.db);
    await this.docs.createIndex({ owner: 1, completed: 1 });
    await this.docs.createIndex({ expires_at: 1 });
  }

  override getExpiration(): number {
    return this.options.expiryMs;
  }

  /** The document of an upload, or undefined for a malformed or unknown id. */
  async find(id: string): Promise<ResumableUploadDoc | undefined> {
    if (!/^[0-9a-f]{24}$/i.test(id)) return undefined;
    return (await this.docs.findOne({ _id: new ObjectId(id) })) ?? undefined;
  }

  override async create(upload: Upload): Promise<Upload> {
    const meta = upload.metadata ?? {};
    const created = new Date();
    const owner = String(meta.owner);
    try {
      await this.docs.insertOne({
        _id: new ObjectId(upload.id),
        owner,
        size: upload.size ?? 0,
        offset: 0,
        chunks: 0,
        tail: new Binary(Buffer.alloc(0)),
        filename: meta.filename ?? null,
        declared_type: meta.filetype ?? null,
        detected_type: null,
        metadata: Object.fromEntries(Object.entries(meta).filter(([k]) => !INTERNAL_METADATA.has(k))),
        options: meta.options ? (JSON.parse(meta.options) as Record<string, unknown>) : {},
        created_at: created,
        expires_at: new Date(created.getTime() + this.options.expiryMs),
        completed: false,
        job_recorded: false,
      });
    } catch (err) {
      // The admission reserved its share before this: an upload that never existed gives it back.
      await this.reservations.release(upload.id).catch(() => undefined);
      throw err;
    }
    upload.creation_date = created.toISOString();
    return upload;
  }

  override async getUpload(id: string): Promise<Upload> {
    const doc = await this.find(id);
    if (!doc) throw ERRORS.FILE_NOT_FOUND;
    return toUpload(doc);
  }

  override async remove(id: string): Promise<void> {
    const doc = await this.find(id);
    if (!doc) throw ERRORS.FILE_NOT_FOUND;
    await this.discard(doc);
  }

  /**
   * The file's chunks (and files document) first, then the upload's (a sweep that finds it can finish the
   * job), then its owner's share of their limits.
   */
  async discard(doc: Pick<ResumableUploadDoc, '_id' | 'owner'>): Promise<void> {
    await deleteGridFsFile(this.db, doc._id);
    await this.docs.deleteOne({ _id: doc._id });
    await this.reservations.release(doc._id.toHexString());
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const doc = await this.find(id);
    if (!doc) throw ERRORS.FILE_NOT_FOUND;
    if (doc.offset !== offset) throw ERRORS.INVALID_OFFSET;
    const { writeTimeoutMs } = this.options;
    // Chunks past what the document records were written by a PATCH that died before it checkpointed. Only
    // then is fs.chunks queried (a query FerretDB on SQLite answers by reading the whole collection).
    if (doc.dirty) {
      await withDeadline(writeTimeoutMs, () => this.chunks.deleteMany({ files_id: doc._id, n: { $gte: doc.chunks } }), 'clearing a cut-off write');
    }
    const marked = await withDeadline(writeTimeoutMs, () => this.docs.updateOne({ _id: doc._id, offset }, { $set: { dirty: true } }), 'starting a write');
    if (marked.matchedCount !== 1) throw ERRORS.INVALID_OFFSET;
    const state = { offset: doc.offset, detected: doc.detected_type };
    // Until the first bytes have shown media, nothing goes into fs.chunks: the head is kept whole, here.
    let head: Buffer[] = state.detected ? [] : [Buffer.from(doc.tail.buffer)];
    let headBytes = head[0]?.length ?? 0;
    const joinedHead = (): Buffer => {
      if (head.length !== 1) head = [Buffer.concat(head, headBytes)];
      return head[0]!;
    };
    const writer = new GridFsChunkWriter(this.db, doc._id, {
      chunkSize: CHUNK_BYTES,
      timeoutMs: writeTimeoutMs,
      gate: this.options.gate,
      resume: { chunks: doc.chunks, tail: state.detected ? Buffer.from(doc.tail.buffer) : Buffer.alloc(0) },
    });
    let received = 0;
    let checkpointed = doc.chunks;

    // Only chunks that are in count: the inserts on their way are waited for first.
    const checkpoint = async (last = false) => {
      await writer.drain();
      const next = { offset: offset + received, chunks: writer.chunkCount, dirty: !last };
      const tail = state.detected ? writer.tail() : joinedHead();
      const saved = await withDeadline(
        writeTimeoutMs,
        () => this.docs.updateOne({ _id: doc._id, offset: state.offset }, { $set: { ...next, tail: new Binary(tail), detected_type: state.detected } }),
        'saving an upload offset',
      );
      if (saved.matchedCount !== 1) throw ERRORS.INVALID_OFFSET;
      state.offset = next.offset;
      checkpointed = next.chunks;
    };
    const decide = async () => {
      if (state.detected || headBytes < Math.min(MEDIA_SNIFF_BYTES, doc.size)) return;
      const bytes = joinedHead();
      const verdict = await inspectMediaHead(bytes, headBytes >= doc.size);
      if (verdict.kind === 'not-media') throw new NotMediaError(verdict.reason);
      if (verdict.kind !== 'media') return;
      state.detected = verdict.mimeType;
      head = [];
      headBytes = 0;
      await writer.write(bytes);
    };

    try {
      for await (const piece of stream as AsyncIterable<Buffer>) {
        received += piece.length;
        if (state.detected) await writer.write(piece);
        else {
          head.push(piece);
          headBytes += piece.length;
          await decide();
        }
        if (writer.chunkCount - checkpointed >= CHECKPOINT_CHUNKS) await checkpoint();
      }
    } catch (err) {
      await writer.settle();
      if (err instanceof NotMediaError) {
        await this.discard(doc);
        throw err;
      }
      // What arrived before the cut is kept: the client resumes from there (unless a chunk of it failed: then
      // from the last checkpoint). Still dirty: a chunk write that timed out may yet land, so the next PATCH
      // clears what lies past the recorded chunks.
      await checkpoint().catch(() => undefined);
      throw err;
    }
    const done = offset + received === doc.size;
    if (done) {
      if (!state.detected) {
        await decide();
        if (!state.detected) {
          await this.discard(doc);
          throw new NotMediaError('too short to be a video or audio file');
        }
      }
      await writer.end();
    }
    await checkpoint(true);
    if (done) await this.complete(doc, state.detected!);
    return offset + received;
  }

  /** The files document, as the multipart path writes it; the upload document says so afterwards. */
  private async complete(doc: ResumableUploadDoc, detected: string): Promise<void> {
    const contentType = contentTypeOf({ ...doc, detected_type: detected });
    await withDeadline(
      this.options.writeTimeoutMs,
      () =>
        this.files.updateOne(
          { _id: doc._id },
          {
            $setOnInsert: {
              length: doc.size,
              chunkSize: CHUNK_BYTES,
              uploadDate: new Date(),
              filename: doc.filename ?? '',
              metadata: { owner: doc.owner, contentType, detectedType: detected, resumable: true },
            },
          },
          { upsert: true },
        ),
      'writing the files document',
    );
    await this.docs.updateOne({ _id: doc._id }, { $set: { completed: true, detected_type: detected } });
  }

  /** Unfinished uploads past their expiry: chunks and documents removed. Returns how many. */
  override async deleteExpired(now = new Date()): Promise<number> {
    const expired = await this.docs.find({ completed: false, expires_at: { $lt: now } }, { projection: { _id: 1, owner: 1 } }).toArray();
    for (const doc of expired) await this.discard(doc);
    // Finished ones keep their document (a client's HEAD still finds the upload whole) until it expires too.
    await this.docs.deleteMany({ completed: true, job_recorded: true, expires_at: { $lt: now } });
    return expired.length;
  }

  /**
   * Uploads whose last byte is in but whose files document was never written (the store failed at that
   * moment): the client's HEAD already shows them whole, so they are finished here. Returns how many.
   */
  async finishStragglers(olderThan: Date): Promise<number> {
    const open = await this.docs
      .find({ completed: false, created_at: { $lt: olderThan } })
      .limit(500)
      .toArray();
    let finished = 0;
    for (const doc of open) {
      if (doc.offset !== doc.size || doc.dirty || !doc.detected_type) continue;
      await this.complete(doc, doc.detected_type);
      finished++;
    }
    return finished;
  }

  /** Completed uploads whose job was not recorded (the store failed right after the last byte). */
  async unrecorded(olderThan: Date): Promise<ResumableUploadDoc[]> {
    return this.docs
      .find({ completed: true, job_recorded: false, created_at: { $lt: olderThan } })
      .limit(100)
      .toArray();
  }

  /** The job is recorded: it counts against the owner's limits now, in place of the upload's share. */
  async markRecorded(doc: Pick<ResumableUploadDoc, '_id' | 'owner'>): Promise<void> {
    await this.docs.updateOne({ _id: doc._id }, { $set: { job_recorded: true } });
    await this.reservations.release(doc._id.toHexString());
  }
}

/** The type the job and the files document carry: the client's, unless it said nothing useful. */
export const contentTypeOf = (doc: Pick<ResumableUploadDoc, 'declared_type' | 'detected_type'>): string =>
  doc.declared_type && doc.declared_type !== 'application/octet-stream' ? doc.declared_type : (doc.detected_type ?? 'application/octet-stream');

function toUpload(doc: ResumableUploadDoc): Upload {
  return new Upload({
    id: doc._id.toHexString(),
    size: doc.size,
    offset: doc.offset,
    metadata: doc.metadata,
    creation_date: doc.created_at.toISOString(),
  });
}
