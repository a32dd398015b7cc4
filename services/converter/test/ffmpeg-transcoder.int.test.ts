import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegTranscoder } from '../src/adapters/ffmpeg.transcoder.js';
import { planEncoding } from '../src/domain/encoding-plan.js';
import { mediaLimits } from '../src/domain/media-limits.js';

const run = promisify(execFile);
let dir: string;
const transcoder = new FfmpegTranscoder({ ffmpegPath: 'ffmpeg', ffprobePath: 'ffprobe', timeoutMs: 60_000, probeTimeoutMs: 30_000, limits: mediaLimits(3600) });
const signal = new AbortController().signal;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffmetadata-test-'));
  await run('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=duration=2', '-c:a', 'aac', '-metadata', 'comment=junk', join(dir, 'source.m4a')]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('encoding', () => {
  it('when ffmpeg encodes, then the progress heard ends at the length of the audio, from its statistics line', async () => {
    const source = await transcoder.probe({ path: join(dir, 'source.m4a') }, signal);
    const heard: number[] = [];
    const output = join(dir, 'progress.mp3');

    await transcoder.toMp3({ path: join(dir, 'source.m4a') }, output, planEncoding({ tags: 'drop' }, source, { vbrQuality: 4 }), signal, {
      onProgress: (seconds) => heard.push(seconds),
    });
    await rm(output);

    expect(heard.length).toBeGreaterThan(0);
    expect(heard.at(-1)).toBeCloseTo(2, 0);
  });

  it('when the input is not media, then the failure names that, from what ffmpeg said', async () => {
    const junk = join(dir, 'junk');
    await writeFile(junk, 'not media at all');
    const plan = planEncoding({}, await transcoder.probe({ path: join(dir, 'source.m4a') }, signal), { vbrQuality: 4 });
    try {
      await expect(transcoder.toMp3({ path: junk }, join(dir, 'junk.mp3'), plan, signal)).rejects.toMatchObject({
        reason: 'the file is not a video or audio file that can be read',
      });
    } finally {
      await rm(junk);
      await rm(join(dir, 'junk.mp3'), { force: true });
    }
  });
});

describe('kept tags through the ffmetadata file', () => {
  it('when kept tags hold =, ;, #, backslashes, line ends and other scripts, then the MP3 holds them exactly, and only them', async () => {
    const tags = {
      title: 'a=b;c#d\\e\nf',
      artist: 'ends in a backslash \\',
      album: 'two lines\r\nand a CR\ralone',
      composer: '#not a comment',
      publisher: ';not a comment either',
      genre: 'ünïcödé ✓ 𝄞',
      track: '3/12',
      album_artist: '[CHAPTER]',
      language: '\\\\',
    };
    const source = await transcoder.probe({ path: join(dir, 'source.m4a') }, signal);
    const plan = planEncoding({}, { ...source, tags: { ...tags, 'x=y -scodec:': 'dropped', encoder: 'dropped' } }, { vbrQuality: 4 });
    const output = join(dir, 'output.mp3');

    await transcoder.toMp3({ path: join(dir, 'source.m4a') }, output, plan, signal);

    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format_tags', '-of', 'json', output]);
    expect(JSON.parse(stdout).format.tags).toEqual(tags);
    // The ffmetadata file is gone with the run.
    expect((await readdir(dir)).sort()).toEqual(['output.mp3', 'source.m4a']);
  });
});
