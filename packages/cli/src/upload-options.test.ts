import { conversionOptionsSchema } from '@mp3converter/shared/contracts';
import { describe, expect, it } from 'vitest';
import { COMMON_OPTIONS, parseCommandArgs } from './args.js';
import { upload } from './commands/upload.js';
import { OPTION_FLAGS, conversionOptionsOf, fileTypeOf } from './upload-options.js';

const parse = (...argv: string[]) => conversionOptionsOf(parseCommandArgs(argv, upload.options));

describe('upload options', () => {
  it('when options are given as flags, then they are checked by the shared schema and sent as tus metadata strings', () => {
    expect(parse('a.mp4', '--bitrate', '96', '--channels', '1', '--sample-rate', '44100', '--tags', 'drop')).toEqual({
      options: { bitrate: 96, channels: 1, sample_rate: 44100, tags: 'drop' },
      metadata: { bitrate: '96', channels: '1', sample_rate: '44100', tags: 'drop' },
    });
    expect(parse('a.mp4')).toEqual({ options: {}, metadata: {} });
  });

  it('when options are wrong, then a usage error (exit 2) names every problem by its flag', () => {
    let error: any;
    try {
      parse('a.mp4', '-q', '2', '-b', '7', '--channels', '5');
    } catch (err) {
      error = err;
    }
    expect(error.exitCode).toBe(2);
    expect(error.message.split('; ')).toEqual([
      expect.stringMatching(/^bad conversion options: --bitrate \(kbit\/s\): one of 8, 16, .*, 320$/),
      '--channels: one of 1, 2',
      '--bitrate: give --quality (VBR) or --bitrate (CBR), not both',
    ]);
  });

  it('when the shared schema has an option, then upload has its flag, named after it and described by it, clashing with no other flag', () => {
    const keys = Object.keys(conversionOptionsSchema.shape);
    expect(OPTION_FLAGS.map((f) => f.key)).toEqual(keys);
    for (const key of keys) {
      const flag = key.replaceAll('_', '-');
      expect(upload.options[flag], flag).toEqual(expect.objectContaining({ type: 'string' }));
      expect(upload.help).toMatch(new RegExp(`--${flag} \\S+ +\\S`));
      expect(Object.keys(COMMON_OPTIONS)).not.toContain(flag);
      expect(['chunk-size', 'wait']).not.toContain(flag);
    }
    // Every option's flag reaches the schema: given its own key's value from a good example, it parses.
    expect(parse('a.mp4', '--tags', 'keep').options).toEqual({ tags: 'keep' });
  });

  it('when a file is named, then its declared type follows the extension, and none for an unknown one', () => {
    expect([fileTypeOf('a.MP4'), fileTypeOf('b.mkv'), fileTypeOf('c.xyz'), fileTypeOf('noext')]).toEqual([
      'video/mp4',
      'video/x-matroska',
      undefined,
      undefined,
    ]);
  });
});
