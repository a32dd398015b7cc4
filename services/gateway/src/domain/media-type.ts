import { fileTypeFromBuffer } from 'file-type';

/** Bytes read from the start of an upload to recognise its container (file-type's own sample size). */
export const SNIFF_BYTES = 4_100;

/**
 * The detected MIME type when the bytes start a video or audio container (MP4/MOV, Matroska/WebM, AVI,
 * MPEG-TS/PS, FLV, Ogg, 3GP, MP3, WAV, …), otherwise undefined. The client's declared type is not trusted.
 */
export async function detectMediaType(head: Buffer): Promise<string | undefined> {
  const detected = await fileTypeFromBuffer(head);
  if (!detected) return undefined;
  const { mime } = detected;
  return mime.startsWith('video/') || mime.startsWith('audio/') || mime === 'application/ogg' ? mime : undefined;
}
