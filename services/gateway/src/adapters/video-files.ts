import { deleteGridFsFile, parseObjectId } from '@mp3converter/shared/storage';
import type { Db } from 'mongodb';
import type { VideoFiles } from '../domain/ports.js';

/**
 * No deadline here: on FerretDB a chunk delete scans the whole chunks collection and may take long on a
 * big store, and abandoning it would only start the same scan again. A server that hangs still fails it,
 * once the driver's monitor gives the server up.
 */
export class GridFsVideoFiles implements VideoFiles {
  constructor(private readonly db: Db) {}

  async delete(videoFid: string): Promise<void> {
    const id = parseObjectId(videoFid);
    if (id) await deleteGridFsFile(this.db, id);
  }
}
