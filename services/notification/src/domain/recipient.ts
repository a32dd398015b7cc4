import { type JobLookup, mp3FidsOf } from '@mp3converter/shared/jobs';

/** What the job store records of a video's job: whose it is, and its MP3s once done (one, or each part of a split). */
export interface KnownJob {
  owner: string;
  mp3Fids: string[];
}

/** A video's job as the store records it (a deleted one too: its owner is still its owner). */
export const jobFinder =
  (jobs: JobLookup) =>
  async (videoFid: string): Promise<KnownJob | undefined> => {
    const job = await jobs.get(videoFid, { includeDeleted: true });
    return job ? { owner: job.owner, mp3Fids: mp3FidsOf(job) } : undefined;
  };

/** What an MP3's metadata says it belongs to; null on files stored before it was recorded. */
export interface Mp3Origin {
  owner: string | null;
  videoFid?: string | null;
}

export interface RecipientQuestion {
  /** The `username` the message names. */
  named: string;
  videoFid: string;
  /** null on a failure notice, which names no MP3. */
  mp3Fid: string | null;
  /** The video's job, when the store has one (our gateway recorded it, or a converter did for the original's message). */
  job?: KnownJob | undefined;
  /** The MP3's metadata, when it is stored. */
  file?: Mp3Origin | undefined;
}

export type Recipient = { ok: true; to: string } | { ok: false; reason: string };

/**
 * Whom a notification goes to: the owner the store records. A message may name only that owner, and only an
 * MP3 of that owner and of that video; otherwise nobody is written to (the real owner neither: a forged
 * message tells them nothing true, and would let anyone who can publish make the service mail them).
 * What the store does not know (the original's gateway recorded no job, old files no owner) the message
 * decides, as in the original.
 */
export function recipientOf({ named, videoFid, mp3Fid, job, file }: RecipientQuestion): Recipient {
  if (job && job.owner !== named) return { ok: false, reason: "owner_mismatch: the message names another user than the job's owner" };
  if (file?.owner && file.owner !== named) return { ok: false, reason: 'owner_mismatch: the MP3 belongs to another user than the message names' };
  if (file?.videoFid && file.videoFid.toLowerCase() !== videoFid.toLowerCase()) {
    return { ok: false, reason: 'mp3_mismatch: the MP3 was made from another video than the message names' };
  }
  if (job && mp3Fid !== null) {
    const made = job.mp3Fids.map((f) => f.toLowerCase());
    if (made.length > 0 && !made.includes(mp3Fid.toLowerCase())) return { ok: false, reason: 'mp3_mismatch: the MP3 is not one the job made' };
    if (!file) return { ok: false, reason: "mp3_mismatch: the job's MP3 is not stored under that id" };
  }
  return { ok: true, to: job?.owner ?? file?.owner ?? named };
}
