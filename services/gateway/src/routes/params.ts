import { badRequest } from '@mp3converter/shared/errors';
import { asciiFilename, safeFilename } from '@mp3converter/shared/filenames';
import { fidSchema } from '@mp3converter/shared/jobs';
import { create as contentDisposition } from 'content-disposition';

/** What routes read from requests and write into answers, in one place. */

/** A `fid` (query or path): 400 when missing or not a 24-hex id (the original answered 500); lowercase. */
export function requireFid(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw badRequest('fid_required', 'fid is required');
  if (!fidSchema.safeParse(value).success) throw badRequest('invalid_fid', 'fid must be a 24-character hex id');
  return value.toLowerCase();
}

/** `attachment` with the UTF-8 name in RFC 6266's `filename*` and a plain-ASCII `filename` for older clients. */
export function attachment(name: string, fallback = 'audio.mp3'): string {
  const filename = safeFilename(name) || fallback;
  return contentDisposition(filename, { fallback: asciiFilename(filename, fallback) });
}
