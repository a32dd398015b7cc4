import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from './args.js';
import { upload } from './commands/upload.js';
import { conversionOptionsOf, fileTypeOf } from './upload-options.js';

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

  it('when a file is named, then its declared type follows the extension, and none for an unknown one', () => {
    expect([fileTypeOf('a.MP4'), fileTypeOf('b.mkv'), fileTypeOf('c.xyz'), fileTypeOf('noext')]).toEqual([
      'video/mp4',
      'video/x-matroska',
      undefined,
      undefined,
    ]);
  });
});
