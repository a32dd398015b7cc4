import { describe, expect, it } from 'vitest';
import { MAX_TAG_LENGTH, conversionOptionsSchema, describeOptionProblems, formatTimecode, parseTimecode } from './conversion-options.js';

const parse = (raw: unknown) => conversionOptionsSchema.safeParse(raw);
const problems = (raw: unknown) => {
  const result = parse(raw);
  if (result.success) throw new Error(`accepted: ${JSON.stringify(result.data)}`);
  return describeOptionProblems(result.error);
};

describe('parseTimecode', () => {
  it('when a time is seconds, mm:ss or hh:mm:ss, with up to three decimals, then it is that many seconds', () => {
    expect(parseTimecode('90')).toBe(90);
    expect(parseTimecode('90.5')).toBe(90.5);
    expect(parseTimecode('0.125')).toBe(0.125);
    expect(parseTimecode('1:30')).toBe(90);
    expect(parseTimecode('01:30.250')).toBe(90.25);
    expect(parseTimecode('90:00')).toBe(5400);
    expect(parseTimecode('1:02:03.5')).toBe(3723.5);
    expect(parseTimecode('02:00:00')).toBe(7200);
  });

  it('when a time is anything else, then it is not one', () => {
    for (const text of [
      '',
      ' 5',
      '5 ',
      '-5',
      '+5',
      '1e3',
      '0x10',
      'Infinity',
      'NaN',
      '1.2345',
      '1.',
      '.5',
      '1:60',
      '1:5',
      '1:60:00',
      '1:2:3:4',
      '1::00',
      '5s',
      '-ss 5',
      '5,-f,null',
      '٣',
      '1:30\n',
      'frame@5',
    ]) {
      expect(parseTimecode(text), JSON.stringify(text)).toBeUndefined();
    }
  });

  it('when a time is formatted, then it reads back as the same seconds', () => {
    for (const seconds of [0, 0.5, 59.999, 90, 3599.25, 3723.5, 360_000]) expect(parseTimecode(formatTimecode(seconds))).toBe(seconds);
    expect(formatTimecode(90)).toBe('1:30');
    expect(formatTimecode(3723.5)).toBe('1:02:03.5');
  });
});

describe('conversionOptionsSchema: trim', () => {
  it('when start and end are given as text (a query string) or numbers (a message), then both are seconds', () => {
    expect(parse({ start: '1:30', end: '01:02:03.5' }).data).toEqual({ start: 90, end: 3723.5 });
    expect(parse({ start: 90, end: 120.25 }).data).toEqual({ start: 90, end: 120.25 });
    expect(parse({ end: '10' }).data).toEqual({ end: 10 });
  });

  it('when a time is not one, is negative or past 100 hours, or end is not after start, then each problem is named', () => {
    expect(problems({ start: '-5' })).toMatch(/^start: /);
    expect(problems({ start: -5 })).toMatch(/^start: /);
    expect(problems({ start: Number.NaN })).toMatch(/^start: /);
    expect(problems({ end: '1:60' })).toMatch(/^end: .*\[hh:\]mm:ss/);
    expect(problems({ end: 360_001 })).toMatch(/^end: /);
    expect(problems({ start: ['1', '2'] })).toMatch(/^start: /);
    expect(problems({ start: '2:00', end: '1:59.999' })).toBe('end: must be after start (2:00)');
    expect(problems({ start: 5, end: 5 })).toMatch(/^end: must be after start/);
  });
});

describe('conversionOptionsSchema: loudness', () => {
  it('when a loudness is given, with or without a true-peak ceiling, then both are numbers', () => {
    expect(parse({ loudness: '-16' }).data).toEqual({ loudness: -16 });
    expect(parse({ loudness: '-14.5', true_peak: '-1' }).data).toEqual({ loudness: -14.5, true_peak: -1 });
  });

  it('when the loudness or the ceiling is out of range, or a ceiling comes without a loudness, then each problem is named', () => {
    expect(problems({ loudness: '0' })).toMatch(/^loudness: /);
    expect(problems({ loudness: '-51' })).toMatch(/^loudness: /);
    expect(problems({ loudness: 'loud' })).toMatch(/^loudness: /);
    expect(problems({ loudness: '-16', true_peak: '1' })).toMatch(/^true_peak: /);
    expect(problems({ loudness: '-16', true_peak: '-10' })).toMatch(/^true_peak: /);
    expect(problems({ true_peak: '-1' })).toBe('true_peak: applies to loudness: give loudness too');
  });
});

describe('conversionOptionsSchema: cover', () => {
  it('when the cover is a frame at a time, then the time is kept in seconds', () => {
    expect(parse({ cover: 'frame@1:30.5' }).data).toEqual({ cover: 'frame@90.5' });
    expect(parse({ cover: 'frame@0' }).data).toEqual({ cover: 'frame@0' });
  });

  it('when the cover is anything else, then it is refused', () => {
    for (const cover of ['frame@', 'frame@-1', 'frame', 'FRAME@1', 'frame@1;movie=/etc/passwd', 'file:/etc/passwd', 'http://127.0.0.1/x.jpg', 'frame@1 ', 5]) {
      expect(problems({ cover }), JSON.stringify(cover)).toMatch(/^cover: /);
    }
  });
});

describe('conversionOptionsSchema: title, artist, album', () => {
  const HOSTILE = [
    '-f mp3 /tmp/elsewhere.mp3',
    '-filter_complex movie=/etc/passwd',
    'a=b;c#d\\e',
    ';FFMETADATA1',
    '[CHAPTER]',
    'tcp://127.0.0.1:9/',
    '$(touch /tmp/x) `id`',
    'ünïcödé ✓ 𝄞',
  ];

  it('when the text is shaped like options, syntax or URLs, then it is kept exactly, as text', () => {
    for (const text of HOSTILE) expect(parse({ title: text, artist: text, album: text }).data).toEqual({ title: text, artist: text, album: text });
  });

  it('when the text holds a line break, a tab, a NUL or another control character, then it is refused, naming the field', () => {
    for (const text of ['two\nlines', 'cr\rlf', 'tab\there', 'nul\0inside', 'esc\x1b[31m', 'del\x7f', 'c1\x85']) {
      expect(problems({ title: text }), JSON.stringify(text)).toBe('title: no control characters (line breaks, tabs, NUL, …)');
    }
  });

  it(`when the text is empty or longer than ${MAX_TAG_LENGTH} characters, then it is refused, naming the limit`, () => {
    expect(parse({ album: 'x'.repeat(MAX_TAG_LENGTH) }).success).toBe(true);
    expect(problems({ album: 'x'.repeat(MAX_TAG_LENGTH + 1) })).toBe(`album: at most ${MAX_TAG_LENGTH} characters`);
    expect(problems({ artist: 'x'.repeat(1 << 20) })).toBe(`artist: at most ${MAX_TAG_LENGTH} characters`);
    expect(problems({ title: '' })).toMatch(/^title: /);
  });

  it('when the text is not one string (repeated, nested), then it is refused', () => {
    expect(problems({ title: ['a', 'b'] })).toMatch(/^title: /);
    expect(problems({ title: { toString: 'x' } })).toMatch(/^title: /);
  });
});

describe('conversionOptionsSchema as a whole', () => {
  it('when options are checked twice, or sent on as text (tus metadata, the CLI), then they read back the same', () => {
    const given = {
      start: '1:30',
      end: '2:00.5',
      loudness: '-16',
      true_peak: '-2',
      cover: 'frame@0:45',
      title: 'T = ; #',
      artist: 'A',
      album: 'B',
      bitrate: '128',
    };
    const once = conversionOptionsSchema.parse(given);
    expect(conversionOptionsSchema.parse(once)).toEqual(once);
    expect(conversionOptionsSchema.parse(Object.fromEntries(Object.entries(once).map(([k, v]) => [k, String(v)])))).toEqual(once);
    expect(once).toEqual({ start: 90, end: 120.5, loudness: -16, true_peak: -2, cover: 'frame@45', title: 'T = ; #', artist: 'A', album: 'B', bitrate: 128 });
  });

  it('when several options are wrong, then every problem is named at once', () => {
    const text = problems({ start: 'x', loudness: '3', title: 'a\nb', cover: 'y', shout: 'yes' });
    for (const word of ['start', 'loudness', 'title', 'cover', 'shout']) expect(text).toContain(word);
  });
});
