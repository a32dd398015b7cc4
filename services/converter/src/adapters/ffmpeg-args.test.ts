import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConversionOptions } from '@mp3converter/shared/contracts';
import { KEPT_TAGS, planEncoding } from '../domain/encoding-plan.js';
import type { MediaLimits } from '../domain/media-limits.js';
import type { MediaProbe } from '../domain/ports.js';
import { type EncodeFiles, encodeArgs, ffmetadata, isStreamIndex } from './ffmpeg-args.js';

const limits: MediaLimits = { maxDurationSeconds: 3600, maxOutputBytes: 100_000_000 } as MediaLimits;
const files: EncodeFiles = { input: '/tmp/job/input', fed: false, metadata: '/tmp/job/output.mp3.ffmetadata', output: '/tmp/job/output.mp3' };
const defaults = { vbrQuality: 2 };

const source = (tags: Record<string, string>, over: Partial<MediaProbe> = {}): MediaProbe => ({
  durationSeconds: 60,
  bitRate: 128_000,
  sizeBytes: 1_000_000,
  hasAudio: true,
  hasVideo: false,
  audioCodec: 'aac',
  sampleRate: 44100,
  channels: 2,
  coverStream: 1,
  tags,
  chapters: 2,
  ...over,
});

/** ffmpeg's argv for a source with these tags; the same options and streams otherwise. */
const argvFor = (tags: Record<string, string>, options: ConversionOptions = {}, fed = false) =>
  encodeArgs(planEncoding(options, source(tags), defaults), { ...files, fed }, limits);

const every4 = (text: string) => Array.from({ length: Math.max(0, text.length - 3) }, (_, i) => text.slice(i, i + 4));

/**
 * That no hostile string, nor any 4-character piece of one, is in `argv`, unless the piece is part of
 * `baseline`, the argv of a source without tags (our own fixed words and file names). The arguments are
 * searched as one line, so a piece cut across two of them counts as well.
 */
function expectNoneIn(argv: string[], baseline: string[], hostile: string[]) {
  const ours = new Set(every4(baseline.join(' ')));
  const line = argv.join(' ');
  for (const text of hostile) {
    // `-y`, `-i`, `title`: words of ours too.
    if (!baseline.includes(text)) expect(argv).not.toContain(text);
    if (text.length >= 4 && !baseline.join(' ').includes(text)) expect(line).not.toContain(text);
    for (const piece of new Set(every4(text))) if (!ours.has(piece)) expect(line.includes(piece), `${JSON.stringify(piece)} in argv`).toBe(false);
  }
}

const CONTROL = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + '\x7f';
const HOSTILE = [
  'name with spaces',
  '-y',
  '-filter_complex',
  '-filter_complex movie=/etc/passwd:f=tty,null',
  'x=y -scodec:',
  '-progress tcp://127.0.0.1:9/',
  'tcp://127.0.0.1:9/',
  'http://127.0.0.1:9/x',
  '--',
  '-i',
  '-f mp3 /tmp/elsewhere.mp3',
  'a=b=c',
  'line\nbreak',
  'quo"te\'s `back`',
  `controls ${CONTROL}`,
  CONTROL,
  '[CHAPTER]',
  ';FFMETADATA1',
  '\\backslash\\',
  'ünïcödé ✓ 𝄞',
  'X'.repeat(64 * 1024),
  `-${'filter_complex'.repeat(4096)}`,
];

describe('encodeArgs', () => {
  it('when tag names and values are hostile, then ffmpeg’s argv is the one of a source without tags, and no piece of them is in it', () => {
    const tags = Object.fromEntries(HOSTILE.flatMap((h, i) => [[h, `value ${i}`] as const, [`name ${i}`, h] as const]));
    // Kept names with hostile values too: the values travel in the ffmetadata file, never in argv.
    for (const name of KEPT_TAGS) tags[name] = HOSTILE[name.length % HOSTILE.length]!;
    for (const fed of [false, true]) {
      const argv = argvFor(tags, {}, fed);
      expect(argv).toEqual(argvFor({}, {}, fed));
      expectNoneIn(argv, argvFor({}, {}, fed), HOSTILE);
    }
    const drop = { tags: 'drop', bitrate: 128 } as const;
    expectNoneIn(argvFor(tags, drop), argvFor({}, drop), HOSTILE);
  });

  it('when any tags at all, then ffmpeg’s argv is the same as without them and holds no piece of them', () => {
    const names = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.constantFrom(...HOSTILE, ...KEPT_TAGS, 'TITLE', 'Artist'));
    const values = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom(...HOSTILE));
    const options = fc.record({ tags: fc.constantFrom('keep', 'drop') as fc.Arbitrary<'keep' | 'drop'>, fed: fc.boolean() });
    fc.assert(
      fc.property(fc.dictionary(names, values, { maxKeys: 12 }), options, (tags, { tags: keep, fed }) => {
        const argv = argvFor(tags, { tags: keep }, fed);
        const baseline = argvFor({}, { tags: keep }, fed);
        expect(argv).toEqual(baseline);
        // A piece of an ordinary word (`title`, `null`) may well be a piece of ours: only the pieces that are not count.
        expectNoneIn(argv, baseline, [...Object.keys(tags), ...Object.values(tags)]);
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('when the plan keeps tags, then there is one output, the converter’s file, no filter graph, and every input is limited to file or pipe', () => {
    for (const fed of [false, true]) {
      const argv = argvFor({ title: 'T' }, {}, fed);
      const inputs = argv.flatMap((arg, i) => (arg === '-i' ? [i] : []));
      expect(inputs.map((i) => argv[i + 1])).toEqual([fed ? 'pipe:0' : 'file:/tmp/job/input', 'file:/tmp/job/output.mp3.ffmetadata']);
      // Each input's options, back to the previous input: its protocol whitelist.
      const guards = inputs.map((i, n) => argv.slice(n === 0 ? 0 : inputs[n - 1]! + 2, i));
      expect(guards[0]).toEqual(expect.arrayContaining(['-protocol_whitelist', fed ? 'pipe' : 'file', '-format_whitelist']));
      expect(guards[1]).toEqual(['-protocol_whitelist', 'file', '-format_whitelist', 'ffmetadata', '-f', 'ffmetadata']);
      expect(argv.slice(-3)).toEqual(['-f', 'mp3', 'file:/tmp/job/output.mp3']);
      expect(argv.filter((arg) => arg.startsWith('file:') || arg.startsWith('pipe:'))).toHaveLength(3);
      expect(argv.filter((arg) => /^-(filter|lavfi|af|vf|progress|vstats|sdp_file|attach|dump_attachment|report)/.test(arg))).toEqual([]);
      expect(argv).toEqual(expect.arrayContaining(['-map_metadata', '1', '-map_chapters', '0', '-id3v2_version', '3', '-write_id3v1', '0']));
    }
  });

  it('when tags are dropped, then there is no ffmetadata input and no tags, chapters or cover', () => {
    const argv = argvFor({ title: 'T' }, { tags: 'drop' });
    expect(argv.filter((arg) => arg === '-i')).toHaveLength(1);
    expect(argv).toEqual(expect.arrayContaining(['-map_metadata', '-1', '-map_chapters', '-1', '-vn']));
  });

  it('when the cover’s stream index is not a small non-negative integer, then no argv is built', () => {
    const plan = (coverStream: number) => planEncoding({}, source({}, { coverStream }), defaults);
    expect(encodeArgs(plan(7), files, limits)).toEqual(expect.arrayContaining(['-map', '0:7', '-c:v', 'copy']));
    for (const bad of [-1, 1.5, 1000, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) expect(() => encodeArgs(plan(bad), files, limits)).toThrow(RangeError);
  });

  it('when a file name is not an absolute path, then no argv is built', () => {
    const plan = planEncoding({}, source({}), defaults);
    for (const name of ['-y', 'tcp://127.0.0.1:9/', 'relative.mp3']) expect(() => encodeArgs(plan, { ...files, output: name }, limits)).toThrow(RangeError);
    expect(() => encodeArgs(plan, { ...files, metadata: null }, limits)).toThrow(RangeError);
  });
});

describe('isStreamIndex', () => {
  it('when ffprobe’s index is a small non-negative integer, then it is one; anything else is not', () => {
    expect([0, 1, 999].map(isStreamIndex)).toEqual([true, true, true]);
    expect([-1, 1000, 0.5, '1', null, undefined, Number.NaN, '0:1'].map(isStreamIndex)).toEqual(Array(8).fill(false));
  });
});

describe('ffmetadata', () => {
  it('when names and values hold =, ;, #, \\ or line ends, then each gets a backslash before it', () => {
    expect(ffmetadata({ title: 'a=b;c#d\\e\nf\rg', artist: 'plain' })).toBe(';FFMETADATA1\ntitle=a\\=b\\;c\\#d\\\\e\\\nf\\\rg\nartist=plain\n');
    expect(ffmetadata({ 'odd=name;#': 'v' })).toBe(';FFMETADATA1\nodd\\=name\\;\\#=v\n');
  });

  it('when a value ends in a backslash, then a NUL follows it, so the line end stays a line end; NULs of its own are dropped', () => {
    expect(ffmetadata({ title: 'ends in \\', album: 'x' })).toBe(';FFMETADATA1\ntitle=ends in \\\\\0\nalbum=x\n');
    expect(ffmetadata({ title: 'nul\0inside' })).toBe(';FFMETADATA1\ntitle=nulinside\n');
  });

  it('when there are no tags, then the file is the header alone', () => {
    expect(ffmetadata({})).toBe(';FFMETADATA1\n');
  });
});
