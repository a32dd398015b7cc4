import { type FileHandle, open } from 'node:fs/promises';
import { Binary, type Db, type ObjectId } from 'mongodb';
import { GRIDFS_CHUNK_BYTES, deleteGridFsFile } from '@mp3converter/shared/storage';
import type { ByteSpan, Mp3Details, Mp3Upload } from '../domain/ports.js';

/** How often the file is looked at for more whole chunks while it is written (an fstat). */
const POLL_MS = 50;
/** Chunks per insert: about a megabyte per round trip while following, two at the end. */
const CHUNKS_PER_WRITE = 4;
const CHUNKS_PER_LAST_WRITE = 8;

/**
 * A GridFS file stored while a local file is still being written (the MP3 as ffmpeg writes it): every chunk
 * wholly on disk is stored as it settles, and `finish` stores the rest and then writes the files document,
 * the moment the MP3 exists for readers, as GridFS drivers do. The file only ever grows while it is written,
 * apart from its header, which the encoder writes last: the first chunk, where it lies, is held back until
 * `finish`, and the chunks after it are stored again when the header reached into them (large cover art).
 */
export class GridFsFollowingUpload implements Mp3Upload {
  private handle: FileHandle | undefined;
  /** Chunks 1 … next-1 are in fs.chunks; chunk 0 goes in last. */
  private next = 1;
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
    await untilAborted(signal, this.stop());
    if (this.failure) throw this.failure.error;
    const handle = await this.open();
    if (!handle) throw new Error(`${this.path} was never written`);
    const length = (await handle.stat()).size;
    const chunks = this.db.collection('fs.chunks');
    const rewriteEnd = Math.min(this.next, Math.ceil(rewritten.end / GRIDFS_CHUNK_BYTES));
    for (let n = Math.max(1, Math.floor(rewritten.start / GRIDFS_CHUNK_BYTES)); n < rewriteEnd; n++) {
      const data = await this.readChunk(n, length);
      await untilAborted(signal, chunks.updateOne({ files_id: this.id, n }, { $set: { data: new Binary(data) } }));
    }
    const rest = length > 0 ? [0, ...range(this.next, Math.ceil(length / GRIDFS_CHUNK_BYTES))] : [];
    for (let i = 0; i < rest.length; i += CHUNKS_PER_LAST_WRITE) await this.insert(rest.slice(i, i + CHUNKS_PER_LAST_WRITE), length, signal);
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
          ...(details.part ? { part: details.part } : {}),
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
    if (!handle) return;
    const length = (await handle.stat()).size;
    const settled = Math.floor(length / GRIDFS_CHUNK_BYTES);
    while (this.next < settled && !this.stopped) {
      const batch = range(this.next, Math.min(this.next + CHUNKS_PER_WRITE, settled));
      await this.insert(batch, length);
      this.next += batch.length;
    }
  }

  /** Chunks `ns` of the file (`length` bytes now), in one insert. */
  private async insert(ns: number[], length: number, signal?: AbortSignal): Promise<void> {
    const docs: { files_id: ObjectId; n: number; data: Binary }[] = [];
    for (const n of ns) docs.push({ files_id: this.id, n, data: new Binary(await this.readChunk(n, length)) });
    await untilAborted(signal, this.db.collection('fs.chunks').insertMany(docs, { ordered: true }));
  }

  private async readChunk(n: number, length: number): Promise<Buffer> {
    const handle = (await this.open())!;
    const start = n * GRIDFS_CHUNK_BYTES;
    const buffer = Buffer.allocUnsafe(Math.min(GRIDFS_CHUNK_BYTES, length - start));
    for (let at = 0; at < buffer.length; ) {
      const { bytesRead } = await handle.read(buffer, at, buffer.length - at, start + at);
      if (bytesRead === 0) throw new Error(`${this.path} shrank while it was stored`);
      at += bytesRead;
    }
    return buffer;
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

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

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
