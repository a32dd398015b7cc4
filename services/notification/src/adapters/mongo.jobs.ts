import { jobsCollection } from '@mp3converter/shared/jobs';
import { parseObjectId } from '@mp3converter/shared/storage';
import type { MongoClient } from 'mongodb';
import type { KnownJob } from '../domain/recipient.js';

/** The jobs as the notification reads them (read only): whose a video's job is, and its MP3. */
export function jobFinder(client: MongoClient): (videoFid: string) => Promise<KnownJob | undefined> {
  const jobs = jobsCollection(client);
  return async (videoFid) => {
    const id = parseObjectId(videoFid);
    const doc = id ? await jobs.findOne({ _id: id }, { projection: { owner: 1, mp3_fid: 1 } }) : null;
    return doc ? { owner: doc.owner, mp3Fid: doc.mp3_fid ?? null } : undefined;
  };
}
