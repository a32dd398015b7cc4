import { MAX_SPLIT_PARTS } from '@mp3converter/shared/contracts';
import { describe, expect, it } from 'vitest';
import { MIN_PART_SECONDS, type SourceChapter, cleanTitle, partFilename, partTags, planParts, uniqueTitles } from './chapters.js';

const whole = (durationSeconds: number) => ({ startSeconds: 0, durationSeconds });
const chapter = (startSeconds: number, endSeconds: number, title: string | null = `at ${startSeconds}`): SourceChapter => ({ startSeconds, endSeconds, title });
const spans = (parts: ReturnType<typeof planParts>) => parts.map((p) => [p.startSeconds, p.endSeconds]);

describe('planParts: where the parts lie', () => {
  it('when the chapters tile the audio, then one part each, the last running to the end', () => {
    const parts = planParts([chapter(0, 10, 'One'), chapter(10, 25, 'Two'), chapter(25, 30, 'Three')], whole(30.04));
    expect(spans(parts)).toEqual([
      [0, 10],
      [10, 25],
      [25, 30.04],
    ]);
    expect(parts.map((p) => [p.number, p.title, p.filename, p.last])).toEqual([
      [1, 'One', '01 - One.mp3', false],
      [2, 'Two', '02 - Two.mp3', false],
      [3, 'Three', '03 - Three.mp3', true],
    ]);
  });

  it('when chapters come out of order, then they are taken in order of their starts', () => {
    const parts = planParts([chapter(20, 30, 'C'), chapter(0, 10, 'A'), chapter(10, 20, 'B')], whole(30));
    expect(parts.map((p) => p.title)).toEqual(['A', 'B', 'C']);
  });

  it('when chapters overlap, then each part is cut where the next starts, and no audio is in two parts', () => {
    const parts = planParts([chapter(0, 15), chapter(10, 25), chapter(20, 30)], whole(30));
    expect(spans(parts)).toEqual([
      [0, 10],
      [10, 20],
      [20, 30],
    ]);
  });

  it('when there are gaps (and audio before the first chapter and after the last), then they stay with the part before, and none is lost', () => {
    const parts = planParts([chapter(5, 8), chapter(12, 14), chapter(20, 22)], whole(30));
    expect(spans(parts)).toEqual([
      [0, 12],
      [12, 20],
      [20, 30],
    ]);
  });

  it('when a chapter has no length of its own, then it is dropped, even where no other chapter starts', () => {
    const parts = planParts([chapter(0, 10, 'A'), chapter(15, 15, 'marker'), chapter(12, 11, 'backwards'), chapter(20, 30, 'B')], whole(30));
    expect(parts.map((p) => [p.title, p.startSeconds, p.endSeconds])).toEqual([
      ['A', 0, 20],
      ['B', 20, 30],
    ]);
  });

  it('when chapters have zero length or share a start, then the last of them at that time counts, and no part is empty', () => {
    const parts = planParts(
      [chapter(0, 0, 'empty'), chapter(0, 10, 'Part One'), chapter(0, 10, 'Chapter 1'), chapter(10, 10, 'zero'), chapter(10.05, 20, 'Two')],
      whole(20),
    );
    expect(parts.map((p) => [p.title, p.startSeconds, p.endSeconds])).toEqual([
      ['Chapter 1', 0, 10.05],
      ['Two', 10.05, 20],
    ]);
    for (const p of parts) expect(p.endSeconds - p.startSeconds).toBeGreaterThanOrEqual(MIN_PART_SECONDS);
  });

  it('when chapters start at or past the end, or their times are not numbers, then they are dropped; none left, no parts', () => {
    expect(spans(planParts([chapter(0, 10), chapter(29.95, 40), chapter(35, 40), chapter(Number.NaN, 1)], whole(30)))).toEqual([[0, 30]]);
    expect(planParts([chapter(31, 40), chapter(Number.POSITIVE_INFINITY, 1)], whole(30))).toEqual([]);
    expect(planParts([], whole(30))).toEqual([]);
  });

  it('when only a part of the source is kept, then the parts are the chapters within it, counted from its start', () => {
    const chapters = [chapter(0, 10, 'A'), chapter(10, 20, 'B'), chapter(20, 30, 'C'), chapter(30, 40, 'D')];
    const parts = planParts(chapters, { startSeconds: 15, durationSeconds: 10 });
    expect(parts.map((p) => [p.title, p.startSeconds, p.endSeconds, p.number])).toEqual([
      ['B', 0, 5, 1],
      ['C', 5, 10, 2],
    ]);
  });

  it('when the source has more chapters than a split makes parts, then the first ones are kept and the last kept runs to the end', () => {
    const many = Array.from({ length: 1500 }, (_, i) => chapter(i, i + 1, `Chapter ${i + 1}`));
    const parts = planParts(many, whole(1500));
    expect(parts).toHaveLength(MAX_SPLIT_PARTS);
    expect(parts.at(-1)).toMatchObject({ number: 999, startSeconds: 998, endSeconds: 1500, last: true, filename: '999 - Chapter 999.mp3' });
    expect(parts[0]!.filename).toBe('001 - Chapter 1.mp3');
  });
});

describe('the parts’ titles and names, from hostile chapter titles', () => {
  it.each([
    ['option-shaped', '-i file:/etc/passwd -f mp3', '-i file:/etc/passwd -f mp3', '01 - -i file__etc_passwd -f mp3.mp3'],
    ['path-shaped', '../../x', '../../x', '01 - _._x.mp3'],
    ['a Windows path', 'C:\\Windows\\x', 'C:\\Windows\\x', '01 - C__Windows_x.mp3'],
    ['with control characters', 'a\nb\r\u0000c\u001b[31md\u202ee\u0085', 'a b c [31md e', '01 - a b c [31md e.mp3'],
    ['ffmetadata syntax', '[CHAPTER]\n;x=1#\\', '[CHAPTER] ;x=1#\\', '01 - [CHAPTER] ;x=1#_.mp3'],
    ['a device name', 'CON', 'CON', '01 - _CON.mp3'],
    ['only dots', '....', '....', '01 - Chapter 1.mp3'],
    ['empty', '', 'Chapter 1', '01 - Chapter 1.mp3'],
    ['blank', ' \t\n ', 'Chapter 1', '01 - Chapter 1.mp3'],
    ['missing', null, 'Chapter 1', '01 - Chapter 1.mp3'],
  ])('when a title is %s, then the part is titled %j and named %j', (_label, raw, title, filename) => {
    const [part] = planParts([chapter(0, 1, raw)], whole(1));
    expect(part).toMatchObject({ title, filename });
  });

  it('when a title is 10 KB, then the ID3 title keeps its first 256 characters and the name fits in 255 bytes', () => {
    const [part] = planParts([chapter(0, 1, 'ж'.repeat(10_240))], whole(1));
    expect(part!.title).toBe('ж'.repeat(256));
    expect(Buffer.byteLength(part!.filename)).toBeLessThanOrEqual(255);
    expect(part!.filename).toMatch(/^01 - ж+\.mp3$/);
  });

  it('when titles repeat (whatever their case) or are missing, then they are numbered so that each is its own', () => {
    expect(uniqueTitles(['Intro', 'intro', null, 'Intro', 'Chapter 3', '', 'Intro (2)'])).toEqual([
      'Intro',
      'intro (2)',
      'Chapter 3',
      'Intro (3)',
      'Chapter 3 (2)',
      'Chapter 6',
      'Intro (2) (2)',
    ]);
  });

  it('when a repeated title is as long as a title may be, then its number still fits', () => {
    const long = 'x'.repeat(300);
    const [first, second] = uniqueTitles([long, long]);
    expect(first).toBe('x'.repeat(256));
    expect(second).toBe(`${'x'.repeat(252)} (2)`);
  });

  it('when a title is decomposed, then it is kept composed', () => {
    expect(cleanTitle('й'.normalize('NFD'))).toBe('й');
  });

  it('when there are more than 99 parts, then numbers have three digits', () => {
    expect(partFilename(7, 120, 'x')).toBe('007 - x.mp3');
    expect(partFilename(7, 12, 'x')).toBe('07 - x.mp3');
  });
});

describe('partTags', () => {
  it("when the MP3 has tags, then a part keeps them, with its own title and track, and the source's album", () => {
    expect(partTags({ title: 'The Book', artist: 'Author', album: 'Series', date: '2020', track: '4' }, { number: 2, title: 'Two' }, 12)).toEqual({
      artist: 'Author',
      album: 'Series',
      date: '2020',
      title: 'Two',
      track: '2/12',
    });
  });

  it('when the MP3 has a title but no album, then the title is the album of its parts', () => {
    expect(partTags({ title: 'The Book' }, { number: 1, title: 'One' }, 1)).toEqual({ album: 'The Book', title: 'One', track: '1/1' });
    expect(partTags({}, { number: 1, title: 'One' }, 1)).toEqual({ title: 'One', track: '1/1' });
  });
});
