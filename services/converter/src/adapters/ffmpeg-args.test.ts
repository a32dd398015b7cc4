import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ConversionOptions, conversionOptionsSchema } from '@mp3converter/shared/contracts';
import { type EncodingPlan, KEPT_TAGS, type Levelling, planEncoding } from '../domain/encoding-plan.js';
import type { MediaLimits } from '../domain/media-limits.js';
import type { MediaProbe } from '../domain/ports.js';
import {
  ALLOWED_DEMUXERS,
  type EncodeFiles,
  decimal,
  encodeArgs,
  ffmetadata,
  isStreamIndex,
  measureArgs,
  parseLoudnessSummary,
  servedInput,
} from './ffmpeg-args.js';

const limits: MediaLimits = { maxDurationSeconds: 3600, maxOutputBytes: 100_000_000 } as MediaLimits;
const files: EncodeFiles = { input: '/tmp/job/input', fed: false, metadata: '/tmp/job/output.mp3.ffmetadata', output: '/tmp/job/output.mp3' };
const defaults = { vbrQuality: 2 };

const source = (tags: Record<string, string>, over: Partial<MediaProbe> = {}): MediaProbe => ({
  durationSeconds: 60,
  bitRate: 128_000,
  sizeBytes: 1_000_000,
  hasAudio: true,
  videoStream: null,
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

/**
 * The argv the same options give for a source with one plain tag, or none when these tags leave nothing to
 * write: whether there is an ffmetadata file to read is all that tags may change.
 */
const baselineFor = (tags: Record<string, string>, options: ConversionOptions = {}, fed = false) => {
  const written = Object.keys(planEncoding(options, source(tags), defaults).tags.tags).length > 0;
  return argvFor(written ? { title: 'T' } : {}, options, fed);
};

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
      expect(argv).toEqual(baselineFor(tags, {}, fed));
      expectNoneIn(argv, argvFor({}, {}, fed), HOSTILE);
    }
    const drop = { tags: 'drop', bitrate: 128 } as const;
    expect(argvFor(tags, drop)).toEqual(argvFor({}, drop));
    expectNoneIn(argvFor(tags, drop), argvFor({}, drop), HOSTILE);
  });

  it('when any tags at all, then ffmpeg’s argv is the same as without them and holds no piece of them', () => {
    const names = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.constantFrom(...HOSTILE, ...KEPT_TAGS, 'TITLE', 'Artist'));
    const values = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom(...HOSTILE));
    const options = fc.record({ tags: fc.constantFrom('keep', 'drop') as fc.Arbitrary<'keep' | 'drop'>, fed: fc.boolean() });
    fc.assert(
      fc.property(fc.dictionary(names, values, { maxKeys: 12 }), options, (tags, { tags: keep, fed }) => {
        const argv = argvFor(tags, { tags: keep }, fed);
        expect(argv).toEqual(baselineFor(tags, { tags: keep }, fed));
        // A piece of an ordinary word (`title`, `null`) may well be a piece of ours: only the pieces that are not count.
        expectNoneIn(argv, argvFor({}, { tags: keep }, fed), [...Object.keys(tags), ...Object.values(tags)]);
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('when the plan keeps tags, then there is one output, the converter’s file, no filters, and every input is limited to file or pipe', () => {
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
      expect(argv.filter((arg) => /^-(filter|lavfi|af|vf|progress|vstats|sdp_file|attach|dump_attachment|report|ss)/.test(arg))).toEqual([]);
      expect(argv).toEqual(expect.arrayContaining(['-map_metadata:g', '1', '-map_chapters', '0', '-id3v2_version', '3']));
      expect(argv).toEqual(expect.arrayContaining(['-write_id3v1', '0']));
    }
  });

  it('when tags are dropped, then there is no ffmetadata input and no tags, chapters or cover', () => {
    const argv = argvFor({ title: 'T' }, { tags: 'drop' });
    expect(argv.filter((arg) => arg === '-i')).toHaveLength(1);
    expect(argv).toEqual(expect.arrayContaining(['-map_metadata:g', '-1', '-map_metadata:s', '-1', '-map_chapters', '-1', '-vn']));
  });

  it('when the source has chapters but no tags worth keeping, then only its global tags are left out: its chapters keep their titles', () => {
    const argv = argvFor({ encoder: 'junk' });
    expect(argv).toEqual(expect.arrayContaining(['-map_metadata:g', '-1', '-map_chapters', '0']));
    expect(argv).not.toContain('-map_metadata');
    expect(argv).not.toContain('-map_metadata:s');
  });

  it('when the cover’s stream index is not a small non-negative integer, then no argv is built', () => {
    const plan = (coverStream: number) => planEncoding({}, source({}, { coverStream }), defaults);
    expect(encodeArgs(plan(7), files, limits)).toEqual(expect.arrayContaining(['-map', '0:7', '-c:v', 'copy']));
    for (const bad of [-1, 1.5, 1000, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) expect(() => encodeArgs(plan(bad), files, limits)).toThrow(RangeError);
  });

  it('when a file name is not an absolute path, then no argv is built', () => {
    const plan = planEncoding({}, source({}), defaults);
    for (const name of ['-y', 'tcp://127.0.0.1:9/', 'relative.mp3']) expect(() => encodeArgs(plan, { ...files, output: name }, limits)).toThrow(RangeError);
    const tagged = planEncoding({}, source({ title: 'T' }), defaults);
    expect(() => encodeArgs(tagged, { ...files, metadata: null }, limits)).toThrow(RangeError);
  });
});

/** A plan for `options` (as the gateway would read them) with the levelling a measurement gave, if any. */
function planOf(options: Record<string, unknown>, levelling: Levelling | null = null, over: Partial<MediaProbe> = {}): EncodingPlan {
  const plan = planEncoding(conversionOptionsSchema.parse(options), source({ title: 'T' }, { videoStream: 0, durationSeconds: 3 * 3600, ...over }), defaults);
  return plan.loudness ? { ...plan, loudness: { ...plan.loudness, levelling } } : plan;
}

const NUMBER = /^-?\d+(\.\d+)?k?$/;
const FLAG = /^-[a-z][a-z0-9_:]*$/;
const WORDS = new Set([
  'comment=Cover (front)',
  'error',
  'info',
  'file',
  'pipe',
  'mp3',
  'ffmetadata',
  'libmp3lame',
  'copy',
  'mjpeg',
  'attached_pic',
  '+bitexact',
  'null',
  '-',
  '0:a:0',
  ALLOWED_DEMUXERS.join(','),
]);
const OUR_FILES = new Set(['file:/tmp/job/input', 'pipe:0', 'file:/tmp/job/output.mp3', 'file:/tmp/job/output.mp3.ffmetadata']);
const FORMAT = /(aformat=(sample_rates=\d+)?:?(channel_layouts=(mono|stereo))?,)?/.source;
const METER = 'asplit[loudness][peak];[peak]volume=-12dB,aresample=192000:filter_size=16:osf=s16,volumedetect,anullsink;[loudness]ebur128=framelog=verbose';
const LEVEL = /volume=-?\d+(\.\d{1,3})?dB(,alimiter=limit=\d(\.\d{1,3})?:attack=5:release=50:level=0:latency=1)?/.source;
const AUDIO_FILTER = new RegExp(`^${FORMAT}(${METER.replace(/[[\]]/g, '\\$&')}|${LEVEL})$`);
const COVER_FILTER = 'scale=w=min(600\\,iw):h=min(600\\,ih):force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuvj420p';

/** Whether every argument is a fixed word, a number we formatted, a stream map of ours, one of our files or a filter of those. */
function expectOnlyOurWords(argv: string[]) {
  for (const arg of argv) {
    const ours =
      NUMBER.test(arg) || FLAG.test(arg) || WORDS.has(arg) || OUR_FILES.has(arg) || /^\d:\d{1,3}$/.test(arg) || AUDIO_FILTER.test(arg) || arg === COVER_FILTER;
    expect(ours, `${JSON.stringify(arg)} in ${JSON.stringify(argv)}`).toBe(true);
  }
}

describe('the audio options on ffmpeg’s command line', () => {
  it('when any options, tags and measurements at all, then every argument is a fixed word, a number we formatted, our file or a filter of those', () => {
    const time = fc.oneof(fc.double({ min: 0, max: 3 * 3600 - 61, noNaN: true }), fc.constantFrom('1:30', '0:00.5', '1:02:03.25'));
    const options = fc.record(
      {
        start: time,
        end: fc.double({ min: 3 * 3600 - 60, max: 3 * 3600, noNaN: true }),
        loudness: fc.double({ min: -50, max: -5, noNaN: true }),
        true_peak: fc.double({ min: -9, max: 0, noNaN: true }),
        cover: time.map((t) => `frame@${t}`),
        title: fc.constantFrom(...HOSTILE),
        artist: fc.string({ unit: 'binary', minLength: 1, maxLength: 50 }),
        bitrate: fc.constantFrom(32, 64, 128, 320),
        sample_rate: fc.constantFrom(32000, 44100, 48000),
        channels: fc.constantFrom(1, 2),
        tags: fc.constantFrom('keep', 'drop'),
      },
      { requiredKeys: [] },
    );
    const levelling = fc.record({
      gainDb: fc.double({ min: -60, max: 60, noNaN: true }),
      limitDbfs: fc.option(fc.double({ min: -11.5, max: -0.5, noNaN: true })),
      shortfallDb: fc.constant(0),
    });
    const hostileTags = fc.dictionary(fc.constantFrom(...HOSTILE, ...KEPT_TAGS), fc.constantFrom(...HOSTILE), { maxKeys: 6 });
    fc.assert(
      fc.property(options, levelling, hostileTags, (given, level, tags) => {
        // Text the schema would refuse (line breaks, control characters) reaches the plan all the same here.
        const parsed = conversionOptionsSchema.safeParse({ ...given, title: 'x', artist: 'y' });
        fc.pre(parsed.success);
        const asked: ConversionOptions = { ...parsed.data, title: given.title, artist: given.artist } as ConversionOptions;
        const base = planEncoding(asked, source(tags, { videoStream: 0, durationSeconds: 3 * 3600 }), defaults);
        const plan = base.loudness ? { ...base, loudness: { ...base.loudness, levelling: level } } : base;
        expectOnlyOurWords(encodeArgs(plan, files, limits));
        expectOnlyOurWords(measureArgs(plan, files, limits));
      }),
      { numRuns: 300 },
    );
  }, 60_000);

  it('when the user gives a title, artist and album shaped like options, then argv is the one of a plain title: they travel in the ffmetadata file', () => {
    for (const text of HOSTILE) {
      const argv = encodeArgs(planOf({ title: 'plain' }), files, limits);
      const plan = planEncoding({ title: text, artist: text, album: text }, source({}), defaults);
      expect(plan.tags.tags).toEqual({ title: text, artist: text, album: text });
      expect(encodeArgs(plan, files, limits)).toEqual(encodeArgs(planEncoding({ title: 'plain' }, source({}), defaults), files, limits));
      expectNoneIn(encodeArgs(plan, files, limits), argv, [text]);
    }
  });

  it('when a trim is asked, then the seek comes before the input (no decoding up to it) and ffmpeg writes the part kept', () => {
    const argv = encodeArgs(planOf({ start: '1:30:00', end: '1:40:00.5' }), files, limits);
    const input = argv.indexOf('-i');
    expect(argv.slice(0, input)).toEqual(expect.arrayContaining(['-ss', '5400']));
    expect(argv.indexOf('-ss')).toBeLessThan(input);
    expect(argv.slice(argv.indexOf('-t'), argv.indexOf('-t') + 2)).toEqual(['-t', '600.5']);
    const untrimmed = encodeArgs(planOf({}), files, limits);
    expect(untrimmed).not.toContain('-ss');
    expect(untrimmed[untrimmed.indexOf('-t') + 1]).toBe('3601');
  });

  it('when a trim only ends early, then the copy may be fed as it grows; a later start cannot be read through a pipe', () => {
    const argv = encodeArgs(planOf({ end: '10:00' }), { ...files, fed: true }, limits);
    expect(argv).toContain('pipe:0');
    expect(argv).not.toContain('-ss');
    expect(() => encodeArgs(planOf({ start: 5 }), { ...files, fed: true }, limits)).toThrow(RangeError);
  });

  it('when loudness is levelled, then one gain, a limiter only when asked, its automatic level off, and the rate and channels converted first', () => {
    const filterOf = (argv: string[]) => argv[argv.indexOf('-filter:a') + 1];
    expect(filterOf(encodeArgs(planOf({ loudness: -16 }, { gainDb: 6.25, limitDbfs: null, shortfallDb: 0 }), files, limits))).toBe('volume=6.25dB');
    expect(
      filterOf(encodeArgs(planOf({ loudness: -16, channels: 1, sample_rate: 32000 }, { gainDb: -3.5, limitDbfs: -2.5, shortfallDb: 0 }), files, limits)),
    ).toBe('aformat=sample_rates=32000:channel_layouts=mono,volume=-3.5dB,alimiter=limit=0.75:attack=5:release=50:level=0:latency=1');
    expect(encodeArgs(planOf({ channels: 1 }), files, limits)).not.toContain('-filter:a');
  });

  it('when the loudness is measured, then the part kept goes through the EBU R128 meter and a 4× oversampled peak, converted as it will be encoded, into nothing', () => {
    const argv = measureArgs(planOf({ loudness: -16, start: 60, end: 120, channels: 1 }), files, limits);
    expect(argv.slice(0, argv.indexOf('-i'))).toEqual(expect.arrayContaining(['-ss', '60']));
    expect(argv).toEqual(expect.arrayContaining(['-map', '0:a:0', '-filter:a', `aformat=channel_layouts=mono,${METER}`, '-t', '60']));
    expect(argv.slice(-3)).toEqual(['-f', 'null', '-']);
  });

  it('when a plan asks for even loudness but was not measured, then no argv is built', () => {
    expect(() => encodeArgs(planOf({ loudness: -16 }), files, limits)).toThrow(RangeError);
  });

  it('when the cover is a video frame, then the file is read a second time from that frame, scaled by a fixed filter, as one JPEG picture', () => {
    const argv = encodeArgs(planOf({ cover: 'frame@12.5' }, null, { videoStream: 2 }), files, limits);
    const inputs = argv.flatMap((arg, i) => (arg === '-i' ? [i] : []));
    expect(inputs.map((i) => argv[i + 1])).toEqual(['file:/tmp/job/input', 'file:/tmp/job/output.mp3.ffmetadata', 'file:/tmp/job/input']);
    expect(argv.slice(inputs[1]! + 2, inputs[2])).toEqual(['-ss', '12.5', '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED_DEMUXERS.join(',')]);
    expect(argv).toEqual(
      expect.arrayContaining(['-map', '2:2', '-frames:v', '1', '-filter:v', COVER_FILTER, '-c:v', 'mjpeg', '-disposition:v:0', 'attached_pic']),
    );
    expect(argv).not.toContain('0:1');
    expect(() => encodeArgs(planOf({ cover: 'frame@1' }), { ...files, fed: true }, limits)).toThrow(RangeError);
  });
});

describe('decimal', () => {
  it('when a number is finite, then it is written plainly to the millisecond, never as an exponent; anything else is refused', () => {
    expect([0, 1.5, -3.25, 1e-7, 5400.0004, 1e8, -0].map(decimal)).toEqual(['0', '1.5', '-3.25', '0', '5400', '100000000', '0']);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1e21]) expect(() => decimal(bad)).toThrow(RangeError);
  });
});

describe('parseLoudnessSummary', () => {
  const summary = (i: string, maxVolume: string) =>
    [
      `[Parsed_volumedetect_3 @ 0x555f195d2cc0] mean_volume: -30.2 dB`,
      `[Parsed_volumedetect_3 @ 0x555f195d2cc0] max_volume: ${maxVolume} dB`,
      '[Parsed_ebur128_5 @ 0x5623d16f0640] Summary:',
      '',
      '  Integrated loudness:',
      `    I:         ${i} LUFS`,
      '    Threshold: -17.9 LUFS',
      '',
      '  Loudness range:',
      '    LRA:         0.0 LU',
    ].join('\n');

  it('when ffmpeg wrote the meter’s summaries, then the integrated loudness and the true peak (less the attenuation) are read', () => {
    expect(parseLoudnessSummary(`Input #0, mov\n${summary('-7.9', '-12.8')}\n`)).toEqual({ integratedLufs: -7.9, truePeakDbtp: -0.8 });
    expect(parseLoudnessSummary(summary('-70.0', '-91.0'))).toEqual({ integratedLufs: -70, truePeakDbtp: -79 });
    expect(parseLoudnessSummary(summary('-23.0', '-inf'))).toEqual({ integratedLufs: -23, truePeakDbtp: Number.NEGATIVE_INFINITY });
  });

  it('when the file’s tags, echoed before, mimic a summary, then only the last summaries count', () => {
    const echoed = `Input #0, mov, from 'file:/tmp/job/input':\n  Metadata:\n    title           : x\n${summary('-5.0', '0.0')}\n`;
    expect(parseLoudnessSummary(`${echoed}${summary('-23.4', '-18.1')}\n[out#0/null] audio:0kB`)).toEqual({ integratedLufs: -23.4, truePeakDbtp: -6.1 });
  });

  it('when a summary is missing or cut short, then there is no reading', () => {
    expect(parseLoudnessSummary('Input #0, mov\nsomething failed')).toBeUndefined();
    expect(parseLoudnessSummary(summary('-7.9', '-0.8').split('\n').slice(0, 4).join('\n'))).toBeUndefined();
    expect(parseLoudnessSummary(summary('-7.9', '-0.8').split('\n').slice(2).join('\n'))).toBeUndefined();
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

describe('a video served by the loopback server', () => {
  const planOf = (options: ConversionOptions) =>
    planEncoding(conversionOptionsSchema.parse(options), source({ title: 'T' }, { videoStream: 0, durationSeconds: 3 * 3600 }), defaults);
  const served = { url: 'http://127.0.0.1:40123/Zm9vYmFyYmF6cXV4cXV1eGNvcmdl', timeoutMs: 30_000 };

  it('when a late cut reads it, then the seek comes before the input, and the input allows http and tcp alone, with a bounded wait and reconnects', () => {
    const argv = encodeArgs(planOf({ start: 5400, end: 6000 }), { ...files, input: served }, limits);
    const input = argv.indexOf('-i');
    expect(argv[input + 1]).toBe(served.url);
    expect(argv.slice(0, input)).toEqual(expect.arrayContaining(['-ss', '5400', '-protocol_whitelist', 'http,tcp', '-rw_timeout', '30000000']));
    expect(argv.slice(0, input)).toEqual(
      expect.arrayContaining(['-reconnect', '1', '-reconnect_on_network_error', '1', '-format_whitelist', ALLOWED_DEMUXERS.join(',')]),
    );
    expect(argv.filter((a) => a.startsWith('http'))).toEqual(['http,tcp', served.url]);
  });

  it('when the cover is a frame, then the second read of the video is the served one, with the same guards', () => {
    const argv = encodeArgs(planOf({ cover: 'frame@3', start: 1 }), { ...files, input: served }, limits);
    const inputs = argv.flatMap((arg, i) => (arg === '-i' ? [i] : []));
    expect(inputs.map((i) => argv[i + 1])).toEqual([served.url, 'file:/tmp/job/output.mp3.ffmetadata', served.url]);
    expect(argv.filter((a) => a === 'http,tcp')).toHaveLength(2);
  });

  it("when the URL is not the loopback server's own form, or would be fed through a pipe, then no argv is built", () => {
    for (const url of [
      'http://127.0.0.1:40123/',
      'https://127.0.0.1:40123/Zm9vYmFyYmF6cXV4cXV1eGNvcmdl',
      'http://10.0.0.1:40123/Zm9vYmFyYmF6cXV4cXV1eGNvcmdl',
      'http://127.0.0.1:40123/Zm9vYmFyYmF6cXV4cXV1eGNvcmdl/../etc',
      'http://127.0.0.1:40123/Zm9vYmFyYmF6cXV4cXV1eGNvcmdl?x=1',
      'http://user@127.0.0.1:40123/Zm9vYmFyYmF6cXV4cXV1eGNvcmdl',
      'file:/etc/passwd',
      '-i',
    ]) {
      expect(() => servedInput({ url, timeoutMs: 1000 }), url).toThrow(RangeError);
    }
    expect(() => servedInput({ ...served, timeoutMs: 0 })).toThrow(RangeError);
    expect(() => encodeArgs(planOf({ end: 5 }), { ...files, input: served, fed: true }, limits)).toThrow(RangeError);
  });
});
