/** The longest file name most file systems accept, in UTF-8 bytes. */
export const MAX_FILENAME_BYTES = 255;

/**
 * Control characters (C0, DEL, C1) and the bidirectional controls that let `clip‮3pm.exe` display as
 * `clipexe.mp3`. Every other character, in any script, is kept.
 */
const INVISIBLE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
const PATH_SEPARATORS = /[/\\]/g;

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, cut between characters, never inside one. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    bytes += Buffer.byteLength(char);
    if (bytes > maxBytes) break;
    out += char;
  }
  return out;
}

/**
 * A user's file name made safe to store, show and hand back as a download name, UTF-8 kept as it is
 * (NFC-normalised, so a name typed on macOS matches the same name typed elsewhere): path separators become
 * `_`, invisible controls go, surrounding blanks are trimmed, and the result fits in `maxBytes`.
 */
export function safeFilename(name: string, maxBytes = MAX_FILENAME_BYTES): string {
  const cleaned = name.normalize('NFC').replace(INVISIBLE, '').replace(PATH_SEPARATORS, '_').trim();
  return truncateUtf8(cleaned, maxBytes).trim();
}

/** Characters Windows refuses in a name (`:` would also name an NTFS stream). */
const WINDOWS_RESERVED = /[<>:"|?*]/g;
/** Line and paragraph separators: blanks in a name. */
const LINE_SEPARATORS = /[\u2028\u2029]/g;
/** Windows' device names, which name the device whatever the extension. */
const DEVICE = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])$/i;

/**
 * A name (from a file's contents, such as a chapter title) made a plain file name on every file system, for
 * files handed out or extracted as they are named: what `safeFilename` does (no path separators, no invisible
 * controls, NFC), and Windows' reserved characters become `_`, runs of dots one dot (no `..`), leading dots go
 * (no hidden files), trailing dots and blanks go (Windows drops them), device names (`CON`, `nul.txt`, …) get
 * a leading `_`; at most `maxBytes` of UTF-8. May be empty: the caller names what it has no name for.
 */
export function portableFilename(name: string, maxBytes = MAX_FILENAME_BYTES): string {
  const tidy = (text: string) =>
    text
      .replace(WINDOWS_RESERVED, '_')
      .replace(/\.{2,}/g, '.')
      .replace(/^[\s.]+/u, '')
      .replace(/[\s.]+$/u, '');
  let cleaned = tidy(safeFilename(name.replace(LINE_SEPARATORS, ' '), Number.POSITIVE_INFINITY));
  if (DEVICE.test(cleaned.split('.')[0]!.trim())) cleaned = `_${cleaned}`;
  return tidy(truncateUtf8(cleaned, maxBytes));
}

/**
 * A plain-ASCII stand-in for clients that do not read RFC 6266's `filename*`: accents dropped (`é` → `e`),
 * dashes and quotes made plain, anything else outside printable ASCII, and `"` and `\` (which would need
 * escaping inside the header's quoted string), turned into `_`. A name that keeps no letter or digit
 * becomes `fallback`.
 */
export function asciiFilename(name: string, fallback: string): string {
  const ascii = safeFilename(name)
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[\u2010-\u2015\u2212]/g, '-')
    .replace(/[\u2018\u2019\u201a\u201b]/g, "'")
    .replace(/[^\x20-\x7e]|["\\]/g, '_')
    .replace(/_{2,}/g, '_');
  const stem = ascii.replace(/\.[^.]*$/, '');
  return /[A-Za-z0-9]/.test(stem) ? ascii : fallback;
}
