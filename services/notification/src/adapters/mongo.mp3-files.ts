import { GRIDFS_DATABASES } from '@mp3converter/shared/contracts';
import { parseObjectId } from '@mp3converter/shared/storage';
import type { MongoClient } from 'mongodb';
import type { Mp3File } from '../domain/emails.js';

interface Mp3FilesDocument {
  filename?: string;
  length: number;
  metadata?: { owner?: unknown; videoFid?: unknown; durationSeconds?: unknown; expiresAt?: unknown };
}

/** The MP3s' GridFS files documents (read only): what the email says of the file. */
export function mp3FileFinder(client: MongoClient): (mp3Fid: string) => Promise<Mp3File | undefined> {
  const files = client.db(GRIDFS_DATABASES.mp3s).collection<Mp3FilesDocument>('fs.files');
  return async (mp3Fid) => {
    const id = parseObjectId(mp3Fid);
    const doc = id ? await files.findOne({ _id: id as never }) : null;
    if (!doc) return undefined;
    const { owner, videoFid, durationSeconds, expiresAt } = doc.metadata ?? {};
    return {
      filename: doc.filename || `${mp3Fid}.mp3`,
      sizeBytes: doc.length,
      durationSeconds: typeof durationSeconds === 'number' ? durationSeconds : null,
      owner: typeof owner === 'string' ? owner : null,
      videoFid: typeof videoFid === 'string' ? videoFid : null,
      expiresAt: expiresAt instanceof Date ? expiresAt : null,
    };
  };
}
