import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { firstFrameOffset, xingLength } from './mp3-header.js';

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

describe('the length of an MP3 from its Xing/Info header', () => {
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
