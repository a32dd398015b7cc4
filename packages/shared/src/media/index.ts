import { isUtf8 } from 'node:buffer';

/** Bytes read from the start of an upload to recognise its container (file-type's own sample size). */
export const MEDIA_SNIFF_BYTES = 4_100;

/**
 * How far the check reads to see past ID3 tags. ffmpeg's own format probing looks no further than 1 MiB, so
 * what hides behind a longer tag is no playlist to ffmpeg either.
 */
export const MEDIA_HEAD_MAX_BYTES = 1 << 20;

/** Bytes looked at behind the wrappers. */
const PAYLOAD_SAMPLE_BYTES = 4_096;
const ID3_HEADER_BYTES = 10;

export type MediaHeadVerdict =
  /** A video or audio container, as far as its first bytes tell. */
  | { kind: 'media'; mimeType: string }
  /** Not media; `reason` completes "the file is …", e.g. "an HLS playlist". */
  | { kind: 'not-media'; reason: string }
  /** Ask again with the first `bytes` bytes (or all of them if the file is shorter). */
  | { kind: 'need-more'; bytes: number };

/**
 * The size of the ID3v2 tag starting at `offset` (header, body and footer), or undefined when no complete
 * tag header is there. The size is four 7-bit bytes, as in ffmpeg's `ff_id3v2_tag_len`.
 */
export function id3v2TagLength(head: Buffer, offset = 0): number | undefined {
  if (head.length < offset + ID3_HEADER_BYTES) return undefined;
  if (head.toString('latin1', offset, offset + 3) !== 'ID3') return undefined;
  const [major, minor, flags, s0, s1, s2, s3] = head.subarray(offset + 3, offset + ID3_HEADER_BYTES);
  if (major === 0xff || minor === 0xff) return undefined;
  if (((s0 ?? 0) | (s1 ?? 0) | (s2 ?? 0) | (s3 ?? 0)) & 0x80) return undefined;
  const body = ((s0 ?? 0) << 21) | ((s1 ?? 0) << 14) | ((s2 ?? 0) << 7) | (s3 ?? 0);
  const footer = (flags ?? 0) & 0x10 ? ID3_HEADER_BYTES : 0;
  return ID3_HEADER_BYTES + body + footer;
}

/** Where the content starts behind any ID3v2 tags, which may lie beyond the bytes at hand. */
function payloadOffset(head: Buffer): number {
  let offset = 0;
  for (let length = id3v2TagLength(head); length !== undefined; length = id3v2TagLength(head, offset)) offset += length;
  return offset;
}

/** The bytes from `offset` up to the first NUL: what ffmpeg's text probes (DASH, IMF) search. */
function textRun(head: Buffer, offset: number): string {
  const end = head.indexOf(0, offset);
  return head.toString('latin1', offset, end === -1 ? head.length : end);
}

/**
 * Formats that make ffmpeg open other files or URLs, where ffmpeg's probes look for them: HLS and ffconcat
 * at the start (behind any ID3 tag), DASH and IMF anywhere before the first NUL byte. A little stricter than
 * ffmpeg (any `#EXTM3U`, any `<MPD`): no video or audio file starts that way.
 */
function playlistIn(head: Buffer, offset: number): string | undefined {
  const start = head.toString('latin1', offset, offset + 32);
  if (start.startsWith('#EXTM3U')) return 'an HLS playlist';
  if (start.startsWith('ffconcat version')) return 'an ffconcat list';
  const run = textRun(head, offset);
  if (run.toLowerCase().includes('<mpd')) return 'a DASH manifest';
  if (run.includes('<CompositionPlaylist')) return 'an IMF composition playlist';
  return undefined;
}

/** True when `bytes` read as text: UTF-8 without control characters other than tab, newline, form feed, return. */
export function looksLikeText(bytes: Buffer, complete: boolean): boolean {
  if (bytes.length === 0) return false;
  // A sample may end inside a multi-byte character.
  const candidates = complete ? [bytes] : [0, 1, 2, 3].map((cut) => bytes.subarray(0, bytes.length - cut));
  if (!candidates.some((c) => c.length > 0 && isUtf8(c))) return false;
  for (const byte of bytes) {
    if (byte === 0x7f || (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0c && byte !== 0x0d)) return false;
  }
  return true;
}

/** Text where a container's binary structure should be: behind an ID3 tag, or behind a RIFF header. */
function textBehindWrapper(head: Buffer, offset: number, ended: boolean): string | undefined {
  const sampleAt = (from: number) => {
    const sample = head.subarray(from, from + PAYLOAD_SAMPLE_BYTES);
    return looksLikeText(sample, ended && from + PAYLOAD_SAMPLE_BYTES >= head.length);
  };
  if (offset > 0 && sampleAt(offset)) return 'text behind an ID3 tag';
  if (head.toString('latin1', offset, offset + 4) === 'RIFF' && sampleAt(offset + 12)) return 'text behind a RIFF header';
  return undefined;
}

/**
 * Decides from an upload's first bytes whether it can be a video or audio file. `head` is the start of the
 * file and `ended` says whether it is the whole file. The answer may be `need-more` when ID3 tags hide what
 * follows them; the caller reads that many bytes (at most MEDIA_HEAD_MAX_BYTES) and asks again.
 *
 * Refused: what is not a known video or audio container, and playlists, manifests and concatenation lists
 * however they are wrapped (an ID3 tag ffmpeg skips, a RIFF header that makes the start look like a WAV),
 * since ffmpeg would fetch other files or URLs for them. This is a first filter at the door; the converter,
 * which lets ffmpeg read only whitelisted containers from a local file, is the real gate.
 */
export async function inspectMediaHead(head: Buffer, ended: boolean): Promise<MediaHeadVerdict> {
  const offset = payloadOffset(head);
  const wanted = Math.min(offset + PAYLOAD_SAMPLE_BYTES, MEDIA_HEAD_MAX_BYTES);
  if (!ended && head.length < wanted) return { kind: 'need-more', bytes: wanted };

  const hidden = offset < head.length ? (playlistIn(head, offset) ?? textBehindWrapper(head, offset, ended)) : undefined;
  if (hidden) return { kind: 'not-media', reason: hidden };

  // Loaded at the first upload, not at start: its parsers are a tenth of an idle gateway's memory.
  const { fileTypeFromBuffer } = await import('file-type');
  const detected = await fileTypeFromBuffer(head.subarray(0, MEDIA_SNIFF_BYTES));
  const mime = detected?.mime;
  if (mime && (mime.startsWith('video/') || mime.startsWith('audio/') || mime === 'application/ogg')) return { kind: 'media', mimeType: mime };
  return { kind: 'not-media', reason: 'neither a video nor an audio container' };
}
