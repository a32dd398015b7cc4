import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { FollowedFile } from '../domain/ports.js';

/** Bytes read at a time: what a pipe takes in a few writes. */
const READ_BYTES = 256 * 1024;

/**
 * A local file as a stream from its first byte on, following it as it is written: each read waits until
 * there is more, and the stream ends with the file. Reads are pulled, so a slow reader never has more than
 * a read's worth in memory; destroying the stream stops it and closes the file. The file is opened once its
 * first bytes are there (or it is complete), so a reader may start before the writer has made it.
 */
export function followFile(file: FollowedFile): Readable {
  async function* read(): AsyncGenerator<Buffer> {
    let available = await file.available(0);
    if (available <= 0) return;
    const handle = await open(file.path, 'r');
    try {
      for (let offset = 0; available > offset; available = await file.available(offset)) {
        const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, available - offset));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) throw new Error(`${file.path} is shorter than the ${available} bytes written to it`);
        offset += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }
  return Readable.from(read(), { objectMode: false });
}
