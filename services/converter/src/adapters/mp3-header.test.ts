import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { encoderDelayOf, firstFrameOffset, withEncoderDelay, xingLength } from './mp3-header.js';

const run = promisify(execFile);

async function lengthOf(args: string[]): Promise<{ header: number | undefined; ffprobe: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'mp3-header-'));
  try {
    const path = join(dir, 'a.mp3');
    await run('ffmpeg', ['-v', 'error', ...args, '-y', path]);
    const data = await readFile(path);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path]);
    const offset = firstFrameOffset(data);
    return { header: offset === undefined ? undefined : xingLength(data.subarray(offset))?.durationSeconds, ffprobe: Number(stdout) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Each test runs a real ffmpeg, which on a busy machine can take longer than the default 5 s.
describe('the length of an MP3 from its Xing/Info header', { timeout: 30_000 }, () => {
  it('when ffmpeg wrote a VBR stereo MP3 behind an ID3v2 tag, then the length is what ffprobe says', async () => {
    const { header, ffprobe } = await lengthOf([
      '-f',
      'lavfi',
      '-i',
      'anoisesrc=color=pink:sample_rate=44100:duration=61.3',
      '-c:a',
      'libmp3lame',
      '-q:a',
      '2',
      '-id3v2_version',
      '3',
    ]);
    expect(header).toBeCloseTo(ffprobe, 5);
  });

  it('when it is a CBR mono MPEG-2 MP3, then the length is what ffprobe says', async () => {
    const { header, ffprobe } = await lengthOf(['-f', 'lavfi', '-i', 'sine=sample_rate=22050:duration=7.7', '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '64k']);
    expect(header).toBeCloseTo(ffprobe, 5);
  });

  it('when the bytes are not an MP3 frame, then there is no length (ffprobe is asked instead)', () => {
    expect(xingLength(Buffer.alloc(300))).toBeUndefined();
    expect(firstFrameOffset(Buffer.from('ID3\x03\x00\x00\x00\x00\x02\x01', 'latin1'))).toBe(10 + 257);
  });
});

describe('a cut MP3 whose LAME tag claims an encoder delay', { timeout: 30_000 }, () => {
  /** The samples a decoder skips at the start of the MP3 (ffprobe's start_time × rate), and its decoded length. */
  const offset = (data: Buffer) => firstFrameOffset(data)!;
  const startSkip = async (path: string) => {
    const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=start_time', '-of', 'csv=p=0', path]);
    return Math.round(Number(stdout) * 44100);
  };

  it.each([
    ['mono', '1'],
    ['stereo', '2'],
  ])(
    'when the last part of a %s MP3 is cut with ffmpeg, then its bogus delay is cleared, its padding kept, and it decodes from its first sample',
    async (_label, channels) => {
      const dir = await mkdtemp(join(tmpdir(), 'mp3-delay-'));
      try {
        const source = join(dir, 'source.mp3');
        const part = join(dir, 'part.mp3');
        await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=duration=5', '-ac', channels, '-c:a', 'libmp3lame', '-b:a', '128k', '-y', source]);
        await run('ffmpeg', ['-v', 'error', '-i', source, '-map', '0:a', '-c:a', 'copy', '-ss', '2', '-id3v2_version', '3', '-y', part]);
        const data = await readFile(part);
        const frame = Buffer.from(data.subarray(offset(data)));
        expect(encoderDelayOf(frame)).toBe(3567);
        expect(await startSkip(part)).toBe(529 + 3567);
        const fixed = withEncoderDelay(frame, 0)!;
        fixed.copy(data, offset(data));
        await writeFile(part, data);
        // 529 samples: the decoder's own delay, which every MP3 has.
        expect(encoderDelayOf(data.subarray(offset(data)))).toBe(0);
        expect(await startSkip(part)).toBe(529);
        // The CRC is made as ffmpeg makes it: setting the delay back gives ffmpeg's frame, byte for byte.
        expect(withEncoderDelay(data.subarray(offset(data)), 3567)).toEqual(frame.subarray(0, fixed.length));
        const sourceData = await readFile(source);
        const sourceFrame = sourceData.subarray(offset(sourceData));
        expect(withEncoderDelay(sourceFrame, encoderDelayOf(sourceFrame)!)).toEqual(sourceFrame.subarray(0, fixed.length));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
