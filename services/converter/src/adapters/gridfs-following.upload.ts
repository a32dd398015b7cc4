import { type FileHandle, open } from 'node:fs/promises';
import { Binary, type Db, type ObjectId } from 'mongodb';
import { GRIDFS_CHUNK_BYTES, deleteGridFsFile } from '@mp3converter/shared/storage';
import type { ByteSpan, Mp3Details, Mp3Upload } from '../domain/ports.js';

/** How often the file is looked at for more whole chunks while it is written. */
const POLL_MS = 200;
/** Chunks per insert: about a megabyte per round trip. */
const CHUNKS_PER_WRITE = 4;

/**
 * A GridFS file stored while a local file is still being written (the MP3 as ffmpeg writes it): every chunk
 * wholly on disk is stored as it settles, and `finish` stores the rest, stores the header chunks again (the
 * encoder wrote them last) and then writes the files document, the moment the MP3 exists for readers, as
 * GridFS drivers do. The file only ever grows while it is written, apart from its header.
 */
export class GridFsFollowingUpload implements Mp3Upload {
  private handle: FileHandle | undefined;
  /** Chunks 0 … stored-1 are in fs.chunks. */
  private stored = 0;
  private failure: { error: unknown } | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private readonly id: ObjectId,
    private readonly path: string,
  ) {}

  static start(db: Db, id: ObjectId, path: string): GridFsFollowingUpload {
    const upload = new GridFsFollowingUpload(db, id, path);
    upload.schedule();
    return upload;
  }

  async finish(details: Mp3Details, rewritten: ByteSpan, signal: AbortSignal): Promise<void> {
    await this.stop();
    if (this.failure) throw this.failure.error;
    const handle = await this.open();
    if (!handle) throw new Error(`${this.path} was never written`);
    const length = (await handle.stat()).size;
    const settled = this.stored;
    await this.storeUpTo(length, true, signal);
    const chunks = this.db.collection('fs.chunks');
    const first = Math.floor(rewritten.start / GRIDFS_CHUNK_BYTES);
    const last = Math.min(settled, Math.ceil(rewritten.end / GRIDFS_CHUNK_BYTES));
    for (let n = first; n < last; n++) {
      const [data] = await this.read(n, 1, length);
      await untilAborted(signal, chunks.updateOne({ files_id: this.id, n }, { $set: { data: new Binary(data) } }));
    }
    await untilAborted(
      signal,
      this.db.collection('fs.files').insertOne({
        _id: this.id,
        length,
        chunkSize: GRIDFS_CHUNK_BYTES,
        uploadDate: new Date(),
        filename: details.filename,
        metadata: {
          owner: details.owner,
          videoFid: details.videoFid,
          contentType: 'audio/mpeg',
          durationSeconds: details.durationSeconds,
          bitRate: details.bitRate,
          expiresAt: details.expiresAt,
        },
      }),
    );
    await this.close();
  }

  async abort(): Promise<void> {
    await this.stop();
    await this.close();
    await deleteGridFsFile(this.db, this.id);
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.pass = this.storeSettled().then(
        () => {
          if (!this.stopped) this.schedule();
        },
        (error: unknown) => {
          this.failure = { error };
        },
      );
    }, POLL_MS);
  }

  private async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** The whole chunks on disk so far. */
  private async storeSettled(): Promise<void> {
    const handle = await this.open();
    if (handle) await this.storeUpTo((await handle.stat()).size, false);
  }

  /** Stores the chunks below `length` not stored yet; with `all`, the last partial one too. */
  private async storeUpTo(length: number, all: boolean, signal?: AbortSignal): Promise<void> {
    const end = all ? Math.ceil(length / GRIDFS_CHUNK_BYTES) : Math.floor(length / GRIDFS_CHUNK_BYTES);
    while (this.stored < end && (all || !this.stopped)) {
      const count = Math.min(CHUNKS_PER_WRITE, end - this.stored);
      const pieces = await this.read(this.stored, count, length);
      const docs = pieces.map((data, i) => ({ files_id: this.id, n: this.stored + i, data: new Binary(data) }));
      await untilAborted(signal, this.db.collection('fs.chunks').insertMany(docs, { ordered: true }));
      this.stored += count;
    }
  }

  /** Chunks `from` … from+count-1 of the file, which is `length` bytes now. */
  private async read(from: number, count: number, length: number): Promise<Buffer[]> {
    const handle = (await this.open())!;
    const start = from * GRIDFS_CHUNK_BYTES;
    const bytes = Math.min(count * GRIDFS_CHUNK_BYTES, length - start);
    const buffer = Buffer.allocUnsafe(bytes);
    for (let at = 0; at < bytes; ) {
      const { bytesRead } = await handle.read(buffer, at, bytes - at, start + at);
      if (bytesRead === 0) throw new Error(`${this.path} shrank while it was stored`);
      at += bytesRead;
    }
    return Array.from({ length: count }, (_, i) => buffer.subarray(i * GRIDFS_CHUNK_BYTES, (i + 1) * GRIDFS_CHUNK_BYTES));
  }

  /** The file, once the encoder has made it. */
  private async open(): Promise<FileHandle | undefined> {
    if (this.handle) return this.handle;
    try {
      this.handle = await open(this.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return this.handle;
  }

  private async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

/** `op`, or the signal's reason as soon as it aborts (the write itself, which takes no signal, is abandoned). */
function untilAborted<T>(signal: AbortSignal | undefined, op: Promise<T>): Promise<T> {
  if (!signal) return op;
  signal.throwIfAborted();
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([op, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
