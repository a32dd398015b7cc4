import { MAX_FILENAME_BYTES, safeFilename, truncateUtf8 } from '@mp3converter/shared/filenames';

/**
 * Names of ZIP entries, which come from users' file names and are extracted as paths: each one becomes a
 * plain file name in the folder it is extracted to, on every system, and no two of them name the same file.
 * - no path: `/` and `\` become `_` (safeFilename), so neither `../x` nor `C:\x` nor `/etc/x` leaves the folder;
 * - nothing a file system refuses or reads specially: control and bidirectional characters go (safeFilename),
 *   line and paragraph separators become blanks, Windows' `<>:"|?*` become `_` (`:` would also name an NTFS
 *   stream), runs of dots become one (no `..`), leading dots go (no hidden files), trailing dots and blanks
 *   go (Windows drops them), and Windows' device names (`CON`, `NUL`, `COM1`, …) get a leading `_`;
 * - at most 255 bytes of UTF-8 (NFC), a name left empty becomes `audio`;
 * - unique without regard to case (Windows and macOS fold it): a name taken gets ` (2)`, ` (3)`, … before its
 *   extension, never a name another entry has as its own.
 */

const SEPARATORS = /[\u2028\u2029]/g;
const WINDOWS_RESERVED = /[<>:"|?*]/g;
const DEVICE = /^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])$/i;
/** An extension worth keeping apart from the stem: a dot and up to 10 letters or digits. */
const EXTENSION = /\.[\p{L}\p{N}]{1,10}$/u;

const tidy = (text: string): string =>
  text
    .replace(WINDOWS_RESERVED, '_')
    .replace(/\.{2,}/g, '.')
    .replace(/^[\s.]+/u, '')
    .replace(/[\s.]+$/u, '');

/** One name made safe (not yet unique): its stem and its extension (with its dot, or empty). */
export function safeZipName(name: string, fallbackStem = 'audio'): { stem: string; extension: string } {
  // Not cut to length yet: the extension must survive the cut (see uniqueZipNames).
  const cleaned = safeFilename(name.replace(SEPARATORS, ' '), Number.MAX_SAFE_INTEGER);
  const extension = EXTENSION.exec(cleaned)?.[0] ?? '';
  let stem = tidy(extension ? cleaned.slice(0, -extension.length) : cleaned);
  if (stem === '') stem = fallbackStem;
  // `CON.mp3` is the device too, whatever its extension; so is `con .mp3` once Windows drops the blank.
  if (DEVICE.test(stem.split('.')[0]!.trim())) stem = `_${stem}`;
  return { stem, extension };
}

const fold = (name: string) => name.normalize('NFC').toLowerCase();

/** Safe names for `names`, in their order, unique without regard to case. */
export function uniqueZipNames(names: readonly string[]): string[] {
  const taken = new Set<string>();
  const wanted = names.map((n) => safeZipName(n));
  const fit = (stem: string, rest: string) => `${tidy(truncateUtf8(stem, MAX_FILENAME_BYTES - Buffer.byteLength(rest))) || 'audio'}${rest}`;
  // Names as they are come first: an entry really called `talk (2).mp3` keeps its name over a second `talk.mp3`.
  const plain = wanted.map(({ stem, extension }) => fit(stem, extension));
  const firstOf = new Map<string, number>();
  plain.forEach((name, i) => {
    if (!firstOf.has(fold(name))) firstOf.set(fold(name), i);
  });
  for (const name of firstOf.keys()) taken.add(name);
  // Where the numbering of a name goes on from: the same name 70,000 times costs no more than 70,000 names.
  const counters = new Map<string, number>();
  return plain.map((name, i) => {
    if (firstOf.get(fold(name)) === i) return name;
    const { stem, extension } = wanted[i]!;
    for (let n = counters.get(fold(name)) ?? 2; ; n++) {
      const candidate = fit(stem, ` (${n})${extension}`);
      if (!taken.has(fold(candidate))) {
        taken.add(fold(candidate));
        counters.set(fold(name), n + 1);
        return candidate;
      }
    }
  });
}
