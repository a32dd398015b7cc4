import { open } from 'node:fs/promises';
import { Readable, addAbortSignal } from 'node:stream';
import { type GridFSBucket, type GridFsFile, deleteGridFsFile, openGridFsDownload, parseObjectId, readGridFsChunks } from '@mp3converter/shared/storage';
import type { Db } from 'mongodb';
import type { ServedVideo, VideoInfo, VideoSource } from '../domain/ports.js';
import { RangeServer } from './range.server.js';

export class GridFsVideoSource implements VideoSource {
  constructor(
    private readonly bucket: GridFSBucket,
    private readonly db: Db,
  ) {}

  async info(videoFid: string): Promise<VideoInfo | undefined> {
    const id = parseObjectId(videoFid);
    if (!id) return undefined;
    const doc = await this.bucket.find({ _id: id }, { limit: 1 }).next();
    // The original's gateway stored no filename: the files document then has none (or an empty one).
    return doc ? new FoundVideo(doc.filename || null, doc) : undefined;
  }

  /** The video's files document: the one `info` found, or looked up again. */
  private async fileOf(videoFid: string, known: VideoInfo | undefined): Promise<GridFsFile> {
    const file = known instanceof FoundVideo ? known.file : await this.bucket.find({ _id: parseObjectId(videoFid)! }, { limit: 1 }).next();
    if (!file) throw new Error(`video ${videoFid} disappeared`);
    return file;
  }

  async copyTo(videoFid: string, path: string, signal: AbortSignal, onData?: (piece: Uint8Array) => void, known?: VideoInfo): Promise<void> {
    const file = await this.fileOf(videoFid, known);
    const out = await open(path, 'w');
    try {
      // Each piece is told once written, never before: readers follow the copy up to what they heard of.
      // An upload's chunks were written in order, give or take a few places: read as stored, the first ones
      // come while the rest is read.
      const chunks = openGridFsDownload(this.db, file, { asStored: true });
      for await (const piece of addAbortSignal(signal, chunks) as AsyncIterable<Buffer>) {
        for (let at = 0; at < piece.length; ) at += (await out.write(piece, at)).bytesWritten;
        onData?.(piece);
      }
    } finally {
      await out.close();
    }
  }

  async serve(videoFid: string, known: VideoInfo, options: { signal: AbortSignal; readTimeoutMs: number; onData?: () => void }): Promise<ServedVideo> {
    const { signal, readTimeoutMs, onData } = options;
    signal.throwIfAborted();
    const file = await this.fileOf(videoFid, known);
    const server = await RangeServer.start(
      file.length,
      // Chunk by chunk (readGridFsChunks): ffmpeg asks for "from here to the end" and drops the connection once it seeks.
      (span, stop) => Readable.from(readGridFsChunks(this.db, file, { ...span, timeoutMs: readTimeoutMs, stop }), { objectMode: false }),
      onData,
    );
    const close = () => void server.close();
    signal.addEventListener('abort', close, { once: true });
    return server;
  }

  async delete(videoFid: string): Promise<void> {
    const id = parseObjectId(videoFid);
    if (id) await deleteGridFsFile(this.db, id);
  }
}

/** What `info` found, with the files document `copyTo` reads the chunks by. */
class FoundVideo implements VideoInfo {
  readonly length: number;

  constructor(
    readonly filename: string | null,
    readonly file: GridFsFile,
  ) {
    this.length = file.length;
  }
}
