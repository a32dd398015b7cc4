import { deleteGridFsFile, parseObjectId } from '@mp3converter/shared/storage';
import type { Db } from 'mongodb';
import type { VideoFiles } from '../domain/ports.js';

export class GridFsVideoFiles implements VideoFiles {
  constructor(private readonly db: Db) {}

  async delete(videoFid: string): Promise<void> {
    const id = parseObjectId(videoFid);
    if (id) await deleteGridFsFile(this.db, id);
  }
}
