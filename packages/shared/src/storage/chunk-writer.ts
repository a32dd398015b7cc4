import { Binary, type Db, type ObjectId } from 'mongodb';
import { withDeadline } from './deadline.js';
import type { WriteGate } from './write-gate.js';

/** Chunk inserts on their way at once: while one is written, the next chunks are read and sent. */
const IN_FLIGHT = 4;

export interface ChunkWriterOptions {
  chunkSize: number;
  /** An insert that takes longer, from its turn on, fails the file with a StorageTimeoutError, ms. */
  timeoutMs: number;
  /** Where the inserts of every writer of the process wait their turn; none: each goes at once. */
  gate?: WriteGate;
  bucketName?: string;
  /** Where a file written before goes on: its whole chunks so far, and the bytes held after them. */
  resume?: { chunks: number; tail: Buffer };
}

/**
 * A GridFS file's chunks, inserted as the bytes arrive: each chunk goes in once it is whole, without waiting
 * for the one before, up to four at a time (`write` waits when four are on their way, waiting for their turn
 * at the gate included). The driver's upload
 * stream inserts one write's chunks together but takes the next write only when they are in, so fed an
 * upload's small pieces it wrote one chunk after the other, each waiting for the one before: on FerretDB,
 * half the speed of a raw write. The files document is the caller's: it goes in after `end`.
 */
export class GridFsChunkWriter {
  private readonly chunks;
  private held: Buffer[];
  private heldBytes: number;
  private sent: number;
  private readonly pending: Promise<unknown>[] = [];
  private failure: { error: unknown } | undefined;

  constructor(
    db: Db,
    private readonly id: ObjectId,
    private readonly options: ChunkWriterOptions,
  ) {
    this.chunks = db.collection(`${options.bucketName ?? 'fs'}.chunks`);
    this.held = options.resume ? [options.resume.tail] : [];
    this.heldBytes = options.resume?.tail.length ?? 0;
    this.sent = options.resume?.chunks ?? 0;
  }

  /** Chunks sent so far; all of them are in once `drain` has resolved. */
  get chunkCount(): number {
    return this.sent;
  }

  /** The bytes after the last whole chunk, not sent yet. */
  tail(): Buffer {
    if (this.held.length !== 1) this.held = [Buffer.concat(this.held, this.heldBytes)];
    return this.held[0]!;
  }

  async write(piece: Buffer): Promise<void> {
    this.held.push(piece);
    this.heldBytes += piece.length;
    const { chunkSize } = this.options;
    if (this.heldBytes < chunkSize) return;
    const bytes = this.tail();
    let at = 0;
    for (; bytes.length - at >= chunkSize; at += chunkSize) await this.send(bytes.subarray(at, at + chunkSize));
    this.held = [bytes.subarray(at)];
    this.heldBytes = bytes.length - at;
  }

  /** Sends what is held as the last, short chunk, and waits until every chunk is in. */
  async end(): Promise<void> {
    if (this.heldBytes > 0) await this.send(this.tail());
    this.held = [];
    this.heldBytes = 0;
    await this.drain();
  }

  /** Waits until every chunk sent is in; once one has failed, every later call fails with its error. */
  async drain(): Promise<void> {
    await this.settle();
    if (this.failure) throw this.failure.error;
  }

  /** Waits until every insert sent has succeeded or failed, whichever: before the file's chunks are removed. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.pending.splice(0));
  }

  private async send(data: Buffer): Promise<void> {
    if (this.failure) throw this.failure.error;
    if (this.pending.length >= IN_FLIGHT) await this.pending.shift();
    const doc = { files_id: this.id, n: this.sent++, data: new Binary(data) };
    const { timeoutMs, gate } = this.options;
    const timed = () => withDeadline(timeoutMs, () => this.chunks.insertOne(doc), 'writing a GridFS chunk');
    // Waiting for a turn counts among the four on their way: a writer that waits stops reading its source.
    const insert = gate ? gate.run(timed) : timed();
    // Its failure is kept for `send` and `drain`, never left as an unhandled rejection.
    insert.catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.pending.push(insert);
  }
}
