import { MAX_SPLIT_PARTS, MAX_TAG_LENGTH } from '@mp3converter/shared/contracts';
import { MAX_FILENAME_BYTES, portableFilename } from '@mp3converter/shared/filenames';

/** A chapter as the source lists it: read from the file, so nothing about it is trusted. */
export interface SourceChapter {
  startSeconds: number;
  endSeconds: number;
  title: string | null;
}

/** The audio the parts are cut from: the whole source, or the part of it kept by a trim. */
export interface Span {
  /** Where it starts in the source, s. */
  startSeconds: number;
  durationSeconds: number;
}

/** One MP3 of a split: where it lies in the audio cut (the span, from 0), and what it is called. */
export interface PartPlan {
  /** 1, 2, …: its track number. */
  number: number;
  startSeconds: number;
  endSeconds: number;
  /** Whether it runs to the end of the audio (its end is then not a cut). */
  last: boolean;
  /** Its ID3 title: the chapter's, cleaned, unique within the split. */
  title: string;
  /** `NN - <title>.mp3`, a plain file name on every file system. */
  filename: string;
}

/**
 * A part shorter than this is no part: a chapter that starts less than this after the one before it takes
 * that one's place (a zero-length chapter, or one of several at one time), and one that starts less than
 * this before the end is dropped. Longer than an MP3 frame (at most 72 ms), so every part has audio.
 */
export const MIN_PART_SECONDS = 0.1;

/** Controls (C0, DEL, C1), bidirectional controls and line separators: a title is one line of plain text. */
const NOT_TEXT = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;

const ms = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * The parts of a split by chapters. The chapters' starts are what counts, their ends are not: each part runs
 * from its chapter's start to the next chapter's start, the last to the end of the audio. So a gap in the
 * list stays with the chapter before it, an overlap is cut where the next chapter starts, audio before the
 * first chapter goes with the first, and nothing is lost or repeated. The chapters are taken in order of
 * their starts (as listed, for equal ones); one the file gives no length (its end at or before its start)
 * is dropped, one that starts within MIN_PART_SECONDS of the one before takes its place (so of several at one
 * time the last counts), and one that starts at or past the end of the audio (or of the part kept) is dropped. At most MAX_SPLIT_PARTS parts: the last of
 * them then runs to the end, holding the chapters after it. Empty when no chapter is left.
 */
export function planParts(chapters: readonly SourceChapter[], span: Span): PartPlan[] {
  const end = span.durationSeconds;
  const starts = chapters
    .filter((c) => Number.isFinite(c.startSeconds) && !(c.endSeconds <= c.startSeconds))
    .map((c) => ({ at: ms(Math.min(Math.max(c.startSeconds - span.startSeconds, 0), end)), title: c.title }))
    .sort((a, b) => a.at - b.at);
  const kept: typeof starts = [];
  for (const chapter of starts) {
    if (chapter.at > end - MIN_PART_SECONDS) break;
    if (kept.length > 0 && chapter.at - kept.at(-1)!.at < MIN_PART_SECONDS) kept[kept.length - 1] = chapter;
    else kept.push(chapter);
  }
  const cut = kept.slice(0, MAX_SPLIT_PARTS);
  const titles = uniqueTitles(cut.map((c) => c.title));
  return cut.map((chapter, i) => {
    const number = i + 1;
    const title = titles[i]!;
    return {
      number,
      startSeconds: i === 0 ? 0 : chapter.at,
      endSeconds: i + 1 < cut.length ? cut[i + 1]!.at : ms(end),
      last: i + 1 === cut.length,
      title,
      filename: partFilename(number, cut.length, title),
    };
  });
}

/** A chapter's title as one line of text: controls out, blanks collapsed, NFC, at most MAX_TAG_LENGTH characters. */
export function cleanTitle(raw: string | null): string {
  const text = (raw ?? '').normalize('NFC').replace(NOT_TEXT, ' ').replace(/\s+/gu, ' ').trim();
  return truncateChars(text, MAX_TAG_LENGTH);
}

const truncateChars = (text: string, max: number) => {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max).join('').trimEnd();
};

/**
 * Titles for the parts, in order: each chapter's, cleaned; `Chapter N` for one without; a title met before
 * (whatever its case) gets ` (2)`, ` (3)`, … so that every part's title is its own.
 */
export function uniqueTitles(raw: readonly (string | null)[]): string[] {
  const taken = new Set<string>();
  return raw.map((title, i) => {
    const base = cleanTitle(title) || `Chapter ${i + 1}`;
    let name = base;
    for (let n = 2; taken.has(name.toLowerCase()); n++) {
      const suffix = ` (${n})`;
      name = `${truncateChars(base, MAX_TAG_LENGTH - suffix.length)}${suffix}`;
    }
    taken.add(name.toLowerCase());
    return name;
  });
}

/** `07 - Title.mp3`: two digits, three past 99 parts; the title made a plain file name (`Chapter N` if nothing of it is left). */
export function partFilename(number: number, total: number, title: string): string {
  const prefix = `${String(number).padStart(Math.max(2, String(total).length), '0')} - `;
  const room = MAX_FILENAME_BYTES - Buffer.byteLength(prefix) - '.mp3'.length;
  return `${prefix}${portableFilename(title, room) || `Chapter ${number}`}.mp3`;
}

/**
 * A part's tags: the MP3's tags (the source's kept ones and the user's), with the part's title and its track
 * number `N/total`; the album is the MP3's album, or its title when it has none (a book's title is the album
 * of its chapters).
 */
export function partTags(tags: Readonly<Record<string, string>>, part: Pick<PartPlan, 'number' | 'title'>, total: number): Record<string, string> {
  const { title, track: _track, ...rest } = tags;
  const album = rest.album ?? title;
  return { ...rest, ...(album === undefined ? {} : { album }), title: part.title, track: `${part.number}/${total}` };
}
