import { createHash } from 'node:crypto';
import { MAX_FILENAME_BYTES, safeFilename } from '@mp3converter/shared/filenames';

/**
 * The MP3's GridFS id, derived from the video's: the same video always gives the same MP3 id, so a
 * redelivered message finds the MP3 an earlier attempt stored instead of making a second one. The first
 * four bytes (an ObjectId's timestamp) are the video's, the rest a hash, so it stays a valid, distinct id.
 */
export function mp3IdFor(videoFid: string): string {
  return derivedId(videoFid, `mp3:${videoFid.toLowerCase()}`);
}

const derivedId = (videoFid: string, seed: string) =>
  `${videoFid.slice(0, 8).toLowerCase()}${createHash('sha256').update(seed).digest().subarray(0, 8).toString('hex')}`;

/** The id of part `number` (1, 2, …) of a split by chapters: derived, as the MP3's, so that a retry finds it. */
export function mp3PartIdFor(videoFid: string, number: number): string {
  if (!Number.isSafeInteger(number) || number < 1) throw new RangeError(`not a part number: ${number}`);
  return derivedId(videoFid, `mp3:${videoFid.toLowerCase()}:part:${number}`);
}

/**
 * `holiday clip.mp4` → `holiday clip.mp3`, `видео – тест ✓.mp4` → `видео – тест ✓.mp3`: UTF-8 kept, only
 * path separators and invisible controls taken out, and short enough for any file system. No name →
 * `<videoFid>.mp3`, the original's download name.
 */
export function mp3FilenameFor(videoFilename: string | null, videoFid: string): string {
  const stem = (videoFilename ?? '').replace(/\.[^./\\]{1,8}$/, '');
  return `${safeFilename(stem, MAX_FILENAME_BYTES - '.mp3'.length) || videoFid}.mp3`;
}
