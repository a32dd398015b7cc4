import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planParts, partTags } from '../domain/chapters.js';
import type { MediaLimits } from '../domain/media-limits.js';
import { type CutFiles, type CutTarget, coverArgs, cutArgs, partsMetadata } from './split-args.js';

const limits = { maxDurationSeconds: 3600, maxOutputBytes: 100_000_000 } as MediaLimits;
const files: CutFiles = { source: '/tmp/job/input', metadata: '/tmp/job/parts.ffmetadata', cover: null };
const target = (startSeconds: number, endSeconds: number | null, n: number): CutTarget => ({ startSeconds, endSeconds, output: `/tmp/job/part-${n}.mp3` });

describe('cutArgs', () => {
  it('when parts are cut, then each output copies the audio between its cut points, with its own tag section and no chapters', () => {
    const args = cutArgs(files, [target(0, 10, 1), target(10, 25.5, 2)], limits);
    expect(args.join(' ')).toBe(
      [
        '-hide_banner -nostdin -y -v error -to 26.5',
        `-protocol_whitelist file -format_whitelist ${args[args.indexOf('-format_whitelist') + 1]} -i file:/tmp/job/input`,
        '-protocol_whitelist file -format_whitelist ffmetadata -f ffmetadata -i file:/tmp/job/parts.ffmetadata',
        '-map 0:a:0 -vn -c:a copy -to 10 -map_metadata 1:c:0 -map_chapters -1 -id3v2_version 3 -fflags +bitexact -write_id3v1 0',
        '-fs 100000000 -f mp3 file:/tmp/job/part-1.mp3',
        '-map 0:a:0 -vn -c:a copy -ss 10 -to 25.5 -map_metadata 1:c:1 -map_chapters -1 -id3v2_version 3 -fflags +bitexact -write_id3v1 0',
        '-fs 100000000 -f mp3 file:/tmp/job/part-2.mp3',
      ].join(' '),
    );
  });

  it('when the last part runs to the end, then the source is read to its end and that part has no end point', () => {
    const args = cutArgs(files, [target(0, 10, 1), target(10, null, 2)], limits);
    expect(args.indexOf('-to')).toBeGreaterThan(args.indexOf('-i'));
    expect(args.filter((a) => a === '-to')).toHaveLength(1);
  });

  it('when there is a cover, then each part takes it from an input of its own, moved to the part’s start', () => {
    const args = cutArgs({ ...files, cover: '/tmp/job/cover.mkv' }, [target(0, 10, 1), target(10, null, 2)], limits).join(' ');
    expect(args).toContain('-itsoffset 0 -protocol_whitelist file -format_whitelist matroska -i file:/tmp/job/cover.mkv');
    expect(args).toContain('-itsoffset 10 -protocol_whitelist file -format_whitelist matroska -i file:/tmp/job/cover.mkv');
    expect(args).toContain('-map 0:a:0 -map 2:v:0 -c:v copy -disposition:v:0 attached_pic');
    expect(args).toContain('-map 0:a:0 -map 3:v:0 -c:v copy -disposition:v:0 attached_pic');
  });

  it.each([
    ['a negative start', target(-1, 10, 1)],
    ['an end before its start', target(10, 5, 1)],
    ['no length', target(10, 10, 1)],
    ['a start that is not a number', target(Number.NaN, 10, 1)],
    ['an end that is not finite', target(0, Number.POSITIVE_INFINITY, 1)],
    ['a relative output', { startSeconds: 0, endSeconds: 1, output: 'part.mp3' }],
  ])('when a part has %s, then no command line is made', (_label, bad) => {
    expect(() => cutArgs(files, [bad], limits)).toThrow(RangeError);
  });

  it('when chapter titles are anything at all, then the command line is the same as for plain ones: titles only ever reach the ffmetadata file', () => {
    const plain = cutArgs(files, [target(0, 1, 1), target(1, null, 2)], limits);
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 300 }), { minLength: 2, maxLength: 2 }), (titles) => {
        const parts = planParts(
          titles.map((title, i) => ({ startSeconds: i, endSeconds: i + 1, title })),
          { startSeconds: 0, durationSeconds: 2 },
        );
        const args = cutArgs(
          files,
          parts.map((p) => target(p.startSeconds, p.last ? null : p.endSeconds, p.number)),
          limits,
        );
        expect(args).toEqual(plain);
      }),
    );
  });
});

describe('partsMetadata', () => {
  it('when titles are shaped like ffmetadata, then each stays text inside its own section', () => {
    const text = partsMetadata([
      { tags: partTags({ artist: 'A' }, { number: 1, title: '[CHAPTER]\ntitle=x' }, 2) },
      { tags: partTags({}, { number: 2, title: ';#=\\' }, 2) },
    ]);
    expect(text).toBe(
      [
        ';FFMETADATA1',
        '[CHAPTER]',
        'TIMEBASE=1/1000',
        'START=0',
        'END=1',
        'artist=A',
        'title=[CHAPTER]\\',
        'title\\=x',
        'track=1/2',
        '[CHAPTER]',
        'TIMEBASE=1/1000',
        'START=1',
        'END=2',
        'title=\\;\\#\\=\\\\\0',
        'track=2/2',
        '',
      ].join('\n'),
    );
  });
});

describe('coverArgs', () => {
  it('when a cover is taken out, then only a stream index read from a probe names it', () => {
    expect(coverArgs('/tmp/job/input', 1, '/tmp/job/cover.mkv').slice(-8)).toEqual([
      'file:/tmp/job/input',
      '-map',
      '0:1',
      '-c',
      'copy',
      '-f',
      'matroska',
      'file:/tmp/job/cover.mkv',
    ]);
    expect(() => coverArgs('/tmp/job/input', -1, '/tmp/job/cover.mkv')).toThrow(RangeError);
    expect(() => coverArgs('/tmp/job/input', 1.5, '/tmp/job/cover.mkv')).toThrow(RangeError);
  });
});
