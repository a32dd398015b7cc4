import { Readable } from 'node:stream';
import { type Binary, GridFSBucket, MongoClient, ObjectId, type Db } from 'mongodb';
import { GRIDFS_DATABASES } from '../contracts/index.js';
import type { Logger } from '../logger/index.js';
import { StorageTimeoutError, withDeadline } from './deadline.js';
import { HeartbeatWatch } from './heartbeat-watch.js';

export { StorageTimeoutError, withDeadline };
export { GridFsChunkWriter } from './chunk-writer.js';
export { WriteGate } from './write-gate.js';
export { HeartbeatWatch } from './heartbeat-watch.js';

export { GridFSBucket, MongoClient, ObjectId };

/** The chunk size GridFS drivers use by default (255 KiB), and so every file of ours, whoever writes it. */
export const GRIDFS_CHUNK_BYTES = 255 * 1024;

/**
 * A client that reconnects on its own; short selection timeout so a dead server fails requests fast. With a
 * logger, a HeartbeatWatch reconnects it should the driver's server monitor hang, or the driver keep the
 * closed topology of a first connect that failed.
 */
export function createMongoClient(url: string, appName: string, logger?: Logger): MongoClient {
  const client = new MongoClient(url, {
    appName,
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    socketTimeoutMS: 120_000,
    maxPoolSize: 20,
    retryWrites: false,
  });
  if (logger) {
    // The watch closes and connects the client itself; its owner's close ends the watch first.
    const own = { close: client.close.bind(client), connect: client.connect.bind(client) };
    const watch = new HeartbeatWatch({ on: client.on.bind(client), ...own }, logger);
    client.close = (force?: boolean) => {
      watch.stop();
      return own.close(force);
    };
  }
  return client;
}

export async function pingMongo(client: MongoClient): Promise<void> {
  await client.db('admin').command({ ping: 1 });
}

export const videosBucket = (client: MongoClient): GridFSBucket => new GridFSBucket(client.db(GRIDFS_DATABASES.videos));

/** An ObjectId from the wire's 24-hex form, or undefined for anything else. */
export function parseObjectId(hex: unknown): ObjectId | undefined {
  return typeof hex === 'string' && /^[0-9a-fA-F]{24}$/.test(hex) ? new ObjectId(hex) : undefined;
}

/**
 * Deletes a GridFS file and its chunks. Unlike `bucket.delete` it does not fail when the files document is
 * missing, which is exactly the case of an upload cut short: chunks written, no files document yet.
 */
export async function deleteGridFsFile(db: Db, id: ObjectId, bucketName = 'fs'): Promise<void> {
  await db.collection(`${bucketName}.files`).deleteOne({ _id: id });
  await db.collection(`${bucketName}.chunks`).deleteMany({ files_id: id });
}

const gridFsIndexes = new WeakMap<Db, Promise<unknown>>();

/**
 * The indexes a driver's GridFS upload makes before a bucket's first file, for writers that insert chunks
 * themselves: once per database and process, tried again after a failure.
 */
export function ensureGridFsIndexes(db: Db): Promise<unknown> {
  let made = gridFsIndexes.get(db);
  if (!made) {
    made = Promise.all([
      db.collection('fs.files').createIndex({ filename: 1, uploadDate: 1 }),
      db.collection('fs.chunks').createIndex({ files_id: 1, n: 1 }, { unique: true }),
    ]).catch((err: unknown) => {
      gridFsIndexes.delete(db);
      throw err;
    });
    gridFsIndexes.set(db, made);
  }
  return made;
}

/** What reading a GridFS file needs from its files document. */
export interface GridFsFile {
  _id: ObjectId;
  length: number;
  chunkSize: number;
}

/** Chunks fetched per round trip when reading: about 2 MiB with the default 255 KiB chunks. */
const CHUNKS_PER_BATCH = 8;

/** Chunks an as-stored read holds back while an earlier one is still to come (2 MiB), before it sorts instead. */
const REORDER_WINDOW = 8;

type Chunk = { files_id: ObjectId; n: number; data: Binary };

const missingChunk = (file: GridFsFile, n: number) => new Error(`chunk ${n} of GridFS file ${file._id.toHexString()} is missing`);

/** What chunk `n` of `file` holds of bytes `start` (inclusive) to `end` (exclusive), without a copy. */
function chunkBytes({ n, data }: Pick<Chunk, 'n' | 'data'>, file: GridFsFile, start: number, end: number): Buffer {
  const b = data.buffer;
  const bytes = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const offset = n * file.chunkSize;
  return bytes.subarray(Math.max(start - offset, 0), Math.min(end - offset, bytes.length));
}

/**
 * Bytes `start` (inclusive) to `end` (exclusive) of a GridFS file, as a stream. The driver's download stream
 * leaves the batch size to the server, and FerretDB answers with everything that is left, so a large file
 * came back whole in memory; here a few chunks travel at a time and memory stays flat whatever the size.
 * A missing chunk fails the stream instead of yielding a shorter file. With `batchTimeoutMs`, a fetch from
 * the server that takes longer fails the stream with a StorageTimeoutError (a hanging server).
 *
 * `asStored` is for files whose chunks were written one after the other (an upload's, by a GridFsChunkWriter
 * whose four inserts on their way may land a few places out of order): they are asked for in no order, and
 * put back in order in a window of eight chunks. A query sorted by `n` answers at once on
 * MongoDB (its `files_id, n` index gives that order), but FerretDB reads and sorts every match before the
 * first one comes back (296 of 382 ms on 14 MiB), and a reader that feeds ffmpeg as it reads waits for all
 * of it; unsorted, FerretDB hands the chunks over in their stored order as it reads them. Chunks further out
 * of place than the window end that read, and the rest of the file is read sorted.
 */
export function openGridFsDownload(
  db: Db,
  file: GridFsFile,
  { start = 0, end = file.length, batchTimeoutMs, asStored = false }: { start?: number; end?: number; batchTimeoutMs?: number; asStored?: boolean } = {},
  bucketName = 'fs',
): Readable {
  const chunks = db.collection<Chunk>(`${bucketName}.chunks`);
  const first = Math.floor(start / file.chunkSize);
  const last = Math.floor((end - 1) / file.chunkSize);
  const missing = (n: number) => missingChunk(file, n);

  // Each fetch races a deadline; a cursor left waiting on a hanging server is then closed unawaited.
  async function* fetch(from: number, sorted: boolean): AsyncGenerator<Chunk> {
    const cursor = chunks.find(
      { files_id: file._id, n: { $gte: from, $lte: last } },
      { ...(sorted ? { sort: { n: 1 } } : {}), batchSize: CHUNKS_PER_BATCH, projection: { n: 1, data: 1 } },
    );
    const next = () => (batchTimeoutMs ? withDeadline(batchTimeoutMs, () => cursor.next(), 'reading a GridFS chunk') : cursor.next());
    try {
      for (let chunk = await next(); chunk; chunk = await next()) yield chunk;
    } finally {
      // Not awaited: after a timeout the close itself would wait on the server that does not answer.
      cursor.close().catch(() => undefined);
    }
  }

  const bytes = (chunk: Chunk): Buffer => chunkBytes(chunk, file, start, end);

  async function* read(): AsyncGenerator<Buffer> {
    if (end <= start) return;
    let expected = first;
    if (asStored) {
      const early = new Map<number, Chunk>();
      let reordered = true;
      for await (const chunk of fetch(first, false)) {
        if (chunk.n < expected || early.has(chunk.n)) throw new Error(`chunk ${chunk.n} of GridFS file ${file._id.toHexString()} came twice`);
        if (chunk.n > expected) {
          if (early.size === REORDER_WINDOW) {
            reordered = false;
            break;
          }
          early.set(chunk.n, chunk);
          continue;
        }
        yield bytes(chunk);
        for (expected++; early.has(expected); expected++) {
          yield bytes(early.get(expected)!);
          early.delete(expected);
        }
      }
      if (reordered) {
        if (expected !== last + 1) throw missing(expected);
        return;
      }
    }
    for await (const chunk of fetch(expected, true)) {
      if (chunk.n !== expected) throw missing(expected);
      yield bytes(chunk);
      expected++;
    }
    if (expected !== last + 1) throw new Error(`GridFS file ${file._id.toHexString()} ends at chunk ${expected}, expected ${last + 1}`);
  }
  return Readable.from(read(), { objectMode: false });
}

/** Chunks readGridFsChunks asks for ahead of the one it hands over. */
const CHUNKS_AHEAD = 4;

/**
 * Bytes `start` (inclusive) to `end` (exclusive) of a GridFS file, asked for chunk by chunk by file and number
 * (two equalities, which MongoDB answers from its `files_id, n` index and FerretDB hands to PostgreSQL whole,
 * where start.sh gives it an index), the next few asked for while one is used. For reads that must start at
 * once wherever they start (a range of a large file): a query for a range of numbers has FerretDB read every
 * chunk of the file, as it passes on only the equality on the file, before its first chunk comes back. Each
 * chunk has `timeoutMs` (a StorageTimeoutError past it); `stop` ends the read early.
 */
export async function* readGridFsChunks(
  db: Db,
  file: GridFsFile,
  { start = 0, end = file.length, timeoutMs, stop }: { start?: number; end?: number; timeoutMs: number; stop?: AbortSignal },
  bucketName = 'fs',
): AsyncGenerator<Buffer> {
  const chunks = db.collection<Chunk>(`${bucketName}.chunks`);
  const fetch = (n: number) => {
    const found = withDeadline(timeoutMs, (signal) => chunks.findOne({ files_id: file._id, n }, { projection: { data: 1 }, signal }), 'reading a GridFS chunk');
    // A fetch left behind when the reader stops fails unheard.
    found.catch(() => undefined);
    return found;
  };
  if (start >= end) return;
  const last = Math.floor((end - 1) / file.chunkSize);
  const first = Math.floor(start / file.chunkSize);
  // CHUNKS_AHEAD fetches under way at once (about 1 MiB): one round trip at a time would leave the store idle.
  const ahead: Promise<Chunk | null>[] = [];
  let asked = first;
  for (let n = first; n <= last && !stop?.aborted; n++) {
    while (asked <= last && ahead.length < CHUNKS_AHEAD) ahead.push(fetch(asked++));
    const chunk = await ahead.shift()!;
    if (!chunk) throw missingChunk(file, n);
    const { length } = chunk.data.buffer;
    if (length !== Math.min(file.chunkSize, file.length - n * file.chunkSize))
      throw new Error(`chunk ${n} of GridFS file ${file._id.toHexString()} has ${length} bytes`);
    yield chunkBytes({ n, data: chunk.data }, file, start, end);
  }
}

/** Server error codes that mean "not now" (no primary, shutting down, network), as the driver's retry rules have them. */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);

/** Socket errors the driver lets through unwrapped (e.g. EPIPE when it writes to a connection the server closed). */
const SOCKET_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN']);

/**
 * True for errors of a MongoDB call that mean "MongoDB cannot be reached now" (answer 503 / retry), not a
 * bug. Only for errors that came out of the driver: a bare socket error means nothing more than that.
 */
export function isMongoUnavailable(err: unknown): boolean {
  const { name, code } = (err ?? {}) as { name?: unknown; code?: unknown };
  if (typeof name !== 'string') return false;
  if (name === 'Error' && typeof code === 'string') return SOCKET_CODES.has(code);
  if (name === 'MongoServerError' || name === 'MongoWriteConcernError') return typeof code === 'number' && UNAVAILABLE_CODES.has(code);
  return [
    'MongoServerSelectionError',
    'MongoNetworkError',
    'MongoNetworkTimeoutError',
    'MongoTopologyClosedError',
    'MongoPoolClearedError',
    'PoolClearedOnNetworkError',
    'MongoOperationTimeoutError',
    'MongoNotConnectedError',
    'StorageTimeoutError',
  ].includes(name);
}
