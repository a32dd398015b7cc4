import { createHash } from 'node:crypto';

/**
 * The MP3's GridFS id, derived from the video's: the same video always gives the same MP3 id, so a
 * redelivered message finds the MP3 an earlier attempt stored instead of making a second one. The first
 * four bytes (an ObjectId's timestamp) are the video's, the rest a hash, so it stays a valid, distinct id.
 */
export function mp3IdFor(videoFid: string): string {
  const tail = createHash('sha256').update(`mp3:${videoFid.toLowerCase()}`).digest().subarray(0, 8).toString('hex');
  return `${videoFid.slice(0, 8).toLowerCase()}${tail}`;
}

/** `holiday clip.mp4` → `holiday clip.mp3`; no name → `<videoFid>.mp3` as the original's download name. */
export function mp3FilenameFor(videoFilename: string | null, videoFid: string): string {
  const base = (videoFilename ?? '')
    .replace(/[/\\]/g, '_')
    .replace(/\.[^.]{1,8}$/, '')
    .trim();
  return `${base || videoFid}.mp3`;
}
