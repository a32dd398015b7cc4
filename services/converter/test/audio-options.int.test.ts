import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MongoClient } from '@mp3converter/shared/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Queues, type Worker, cleanupQueues, collect, convertToEnd, mongoClient, newQueues, startWorker } from './harness.js';

const run = promisify(execFile);
let dir: string;
let mongo: MongoClient;
let q: Queues;
let w: Worker;

/** One MP3 frame at 44.1 kHz, s: the precision a length is checked to. */
const FRAME_SECONDS = 1152 / 44100;

const ffmpeg = (...args: string[]) => run('ffmpeg', ['-v', 'error', '-y', ...args], { maxBuffer: 1 << 26, encoding: 'buffer' });

/** A file made by ffmpeg from lavfi sources, read back. */
async function made(name: string, ...args: string[]): Promise<Buffer> {
  await ffmpeg(...args, join(dir, name));
  return readFile(join(dir, name));
}

/** Stores the upload as the gateway does, sends its message with `options`, and waits for its job to end. */
const convert = (data: Buffer, options: Record<string, unknown>, filename = 'clip.mp4') => convertToEnd(mongo, q.video, data, { options, filename });

async function saved(data: Buffer, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

/** Seconds of audio a decoder gets out of the MP3 (LAME's delay and padding taken off, as players do). */
async function decodedSeconds(mp3: Buffer, name: string): Promise<number> {
  const { stdout } = await ffmpeg('-i', await saved(mp3, name), '-map', '0:a', '-ac', '1', '-ar', '44100', '-f', 's16le', 'pipe:1');
  return stdout.length / 2 / 44100;
}

/** ffmpeg's EBU R128 meter, true peak on, over a file: its summary's integrated loudness and true peak. */
async function ebur128(path: string): Promise<{ integrated: number; truePeak: number }> {
  const { stderr } = await run('ffmpeg', [
    '-hide_banner',
    '-nostats',
    '-i',
    path,
    '-map',
    '0:a',
    '-af',
    'ebur128=peak=true:framelog=verbose',
    '-f',
    'null',
    '-',
  ]);
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const integrated = Number(/I:\s+(-?[\d.]+) LUFS/.exec(summary)?.[1]);
  const truePeak = Number(/Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary)?.[1]?.replace('-inf', '-Infinity'));
  return { integrated, truePeak };
}

async function ffprobeJson(data: Buffer, name: string, entries: string): Promise<any> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', entries, '-of', 'json', await saved(data, name)]);
  return JSON.parse(stdout);
}

let chaptered: Buffer; // 20 s of H.264 + AAC, chapters One (0–5 s), Two (5–12 s), Three (12–20 s)
let mp3Source: Buffer; // 20 s of MP3

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audio-options-'));
  await ffmpeg(
    ...['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=25:duration=20', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=20'],
    ...['-c:v', 'libx264', '-c:a', 'aac', join(dir, 'plain.mp4')],
  );
  await writeFile(
    join(dir, 'chapters.txt'),
    ';FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=5000\ntitle=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=5000\nEND=12000\ntitle=Two\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=12000\nEND=20000\ntitle=Three\n',
  );
  chaptered = await made('chaptered.mp4', '-i', join(dir, 'plain.mp4'), '-i', join(dir, 'chapters.txt'), '-map', '0', '-map_chapters', '1', '-c', 'copy');
  mp3Source = await made('source.mp3', '-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=44100:duration=20', '-c:a', 'libmp3lame', '-q:a', '4');
  mongo = mongoClient();
  q = newQueues();
  w = await startWorker(q);
});
afterAll(async () => {
  await w.worker.stop(1_000);
  await cleanupQueues(q);
  await mongo.close();
  await rm(dir, { recursive: true, force: true });
});

describe('trim', () => {
  it('when start and end are asked, then the MP3 is the part between them, to a frame, and the job’s duration is that part’s', async () => {
    const { job, mp3 } = await convert(chaptered, { start: '0:06.5', end: '9.75' });
    expect(job.state).toBe('done');
    expect(Math.abs((await decodedSeconds(mp3!, 'trim.mp3')) - 3.25)).toBeLessThanOrEqual(FRAME_SECONDS);
    expect(job.durationSeconds).toBeCloseTo(3.25, 3);
  });

  it('when a trim keeps part of a chaptered video, then the chapters are cut to the part kept, those outside it dropped', async () => {
    const { mp3 } = await convert(chaptered, { start: 6.5, end: 9.75 });
    const probe = await ffprobeJson(mp3!, 'chapters.mp3', 'chapter=start_time,end_time:chapter_tags=title');
    expect(probe.chapters.map((c: any) => [c.tags.title, Number(c.start_time), Number(c.end_time)])).toEqual([['Two', 0, 3.25]]);
  });

  it('when only a start or only an end is asked, then the MP3 runs from there to the end, or from the beginning to there', async () => {
    const [fromStart, toEnd] = await Promise.all([convert(chaptered, { start: 15 }), convert(chaptered, { end: '0:04' })]);
    expect(Math.abs((await decodedSeconds(fromStart.mp3!, 'from.mp3')) - 5)).toBeLessThanOrEqual(FRAME_SECONDS);
    expect(Math.abs((await decodedSeconds(toEnd.mp3!, 'to.mp3')) - 4)).toBeLessThanOrEqual(FRAME_SECONDS);
  });

  it('when an MP3 upload is trimmed, then it is cut to the sample too (re-encoded, not cut on its own frames)', async () => {
    const { mp3 } = await convert(mp3Source, { start: 7.013, end: 10.263 }, 'song.mp3');
    expect(Math.abs((await decodedSeconds(mp3!, 'trim-mp3.mp3')) - 3.25)).toBeLessThanOrEqual(FRAME_SECONDS);
  });

  it('when the trim lies past the end of the video, then the job fails once, saying where, and the user is told', async () => {
    const { job } = await convert(chaptered, { start: '0:30' });
    const reason = /^the start \(0:30\) is past the end of the video \(0:20(\.\d+)?\)$/;
    expect(job).toMatchObject({ state: 'failed', attempts: 1, reason: expect.stringMatching(reason) });
    const [notice] = await collect(q.failed, 1);
    expect(notice!.body).toMatchObject({ video_fid: job.videoFid, reason: expect.stringMatching(reason) });
  });
});

describe('even loudness (EBU R128)', () => {
  /** Quiet speech: a voice-like buzz in syllables and pauses, about -35 LUFS, peaky (a crest of ~14 dB). */
  const SPEECH =
    "aevalsrc=exprs='0.05*(sin(2*PI*180*t)+0.5*sin(2*PI*360*t)+0.3*sin(2*PI*540*t+1)+0.2*(random(0)-0.5))*max(0\\,sin(2*PI*2.5*t))*gt(sin(2*PI*0.3*t)\\,-0.4)':s=44100:d=20";
  /** Loud music: dense stereo chords and noise, limited just under full scale, about -8 LUFS. */
  const MUSIC =
    "aevalsrc=exprs='0.3*sin(2*PI*110*t)+0.25*sin(2*PI*220.5*t)+0.2*sin(2*PI*331*t)+0.2*(random(0)-0.5)|0.3*sin(2*PI*110.7*t)+0.25*sin(2*PI*440*t)+0.2*sin(2*PI*660*t)+0.2*(random(1)-0.5)':s=44100:d=20,alimiter=limit=0.97:level=0";
  /** A tone, ten seconds of digital silence, the tone again. */
  const WITH_SILENCE = "aevalsrc=exprs='0.1*sin(2*PI*440*t)*(lt(t\\,4)+gte(t\\,14))':s=44100:d=18";

  const cases = [
    { what: 'quiet speech', filter: SPEECH, loudness: -16, ceiling: -1.5, options: {} },
    { what: 'quiet speech at 64 kbit/s mono', filter: SPEECH, loudness: -16, ceiling: -1.5, options: { bitrate: 64, channels: 1 } },
    { what: 'loud music', filter: MUSIC, loudness: -14, ceiling: -1.5, options: {} },
    { what: 'loud music under a ceiling of -3 dBTP', filter: MUSIC, loudness: -12, ceiling: -3, options: { true_peak: -3 } },
    { what: 'a file with silence', filter: WITH_SILENCE, loudness: -16, ceiling: -1.5, options: {} },
  ];

  for (const { what, filter, loudness, ceiling, options } of cases) {
    it(`when ${what} is levelled to ${loudness} LUFS, then the MP3 measures within 1 LU of it, its true peak at most ${ceiling} dBTP`, async () => {
      const name = what.replace(/[^a-z0-9]+/g, '-');
      const upload = await made(`${name}.m4a`, '-f', 'lavfi', '-i', filter, '-c:a', 'aac', '-b:a', '192k');
      const { job, mp3 } = await convert(upload, { loudness, ...options }, `${name}.m4a`);
      expect(job.state, job.reason ?? undefined).toBe('done');
      const measured = await ebur128(await saved(mp3!, `${name}.mp3`));
      expect(Math.abs(measured.integrated - loudness), `integrated ${measured.integrated} LUFS`).toBeLessThanOrEqual(1);
      expect(measured.truePeak, 'true peak, dBTP').toBeLessThanOrEqual(ceiling);
    });
  }

  /** What the worker logged of the levelling of a job. */
  const levellingOf = (fid: string) => w.lines().find((line) => line.videoFid === fid && String(line.msg).startsWith('loudness'));

  it('when loud music is brought down, then one gain alone does it: no limiter', async () => {
    const upload = await made('loud-music.m4a', '-f', 'lavfi', '-i', MUSIC, '-c:a', 'aac', '-b:a', '192k');
    const { job } = await convert(upload, { loudness: -14 }, 'loud-music.m4a');
    expect(levellingOf(job.videoFid)).toMatchObject({ msg: 'loudness measured: a gain alone', levelling: { limitDbfs: null, shortfallDb: 0 } });
  });

  it('when the target is out of reach under the ceiling without heavy limiting, then the MP3 is quieter than asked, never past the ceiling, and the log says so', async () => {
    const upload = await made('speech-to-9.m4a', '-f', 'lavfi', '-i', SPEECH, '-c:a', 'aac', '-b:a', '192k');
    const { job, mp3 } = await convert(upload, { loudness: -9, true_peak: -1 }, 'speech-to-9.m4a');
    const measured = await ebur128(await saved(mp3!, 'speech-to-9.mp3'));
    expect(measured.truePeak).toBeLessThanOrEqual(-1);
    expect(measured.integrated).toBeLessThan(-10);
    expect(levellingOf(job.videoFid)).toMatchObject({ level: 'warn', levelling: { limitDbfs: -3, shortfallDb: expect.any(Number) } });
    expect((levellingOf(job.videoFid)!.levelling as { shortfallDb: number }).shortfallDb).toBeGreaterThan(0);
  });

  it('when loudness and a trim are asked, then the part kept is what is measured and levelled', async () => {
    // Loud for its first 10 s, quiet after: levelling the quiet part alone lifts it to the target.
    const upload = await made(
      'loud-then-quiet.m4a',
      ...['-f', 'lavfi', '-i', "aevalsrc=exprs='sin(2*PI*440*t)*if(lt(t\\,10)\\,0.5\\,0.02)':s=44100:d=20", '-c:a', 'aac'],
    );
    const { mp3 } = await convert(upload, { loudness: -20, start: 11, end: 19 }, 'loud-then-quiet.m4a');
    const measured = await ebur128(await saved(mp3!, 'quiet-part.mp3'));
    expect(Math.abs(measured.integrated + 20)).toBeLessThanOrEqual(1);
  });
});

describe('a cover from a video frame', () => {
  let redThenBlue: Buffer; // 10 s, 1280×720: red for 5 s, then blue

  beforeAll(async () => {
    redThenBlue = await made(
      'red-then-blue.mp4',
      ...['-f', 'lavfi', '-i', 'color=c=red:s=1280x720:r=5:d=5', '-f', 'lavfi', '-i', 'color=c=blue:s=1280x720:r=5:d=5'],
      ...['-f', 'lavfi', '-i', 'sine=duration=10', '-filter_complex', '[0:v][1:v]concat=n=2:v=1:a=0[v]', '-map', '[v]', '-map', '2:a'],
      ...['-c:v', 'libx264', '-c:a', 'aac'],
    );
  });

  /** The cover's size and its mean colour (one pixel, RGB). */
  async function coverOf(mp3: Buffer, name: string) {
    const path = await saved(mp3, name);
    const probe = await ffprobeJson(mp3, `${name}.probe.mp3`, 'stream=codec_type,codec_name,width,height:stream_disposition=attached_pic');
    const { stdout } = await ffmpeg('-i', path, '-map', '0:v', '-frames:v', '1', '-vf', 'scale=1:1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
    return { streams: probe.streams, rgb: [...stdout] };
  }

  it('when the cover is the frame at a time, then the MP3’s picture is that frame, a JPEG of at most 600 px', async () => {
    const { mp3 } = await convert(redThenBlue, { cover: 'frame@0:07' });
    const { streams, rgb } = await coverOf(mp3!, 'blue.mp3');
    expect(streams).toEqual([
      expect.objectContaining({ codec_type: 'audio' }),
      expect.objectContaining({ codec_type: 'video', codec_name: 'mjpeg', width: 600, disposition: { attached_pic: 1 } }),
    ]);
    expect(streams[1].height).toBeGreaterThanOrEqual(336);
    expect(streams[1].height).toBeLessThanOrEqual(338);
    const [r, g, b] = rgb as [number, number, number];
    expect(b).toBeGreaterThan(200);
    expect(Math.max(r, g)).toBeLessThan(40);
  });

  it('when the video is small, then its frame is not enlarged; the source’s own tags stay', async () => {
    const { mp3 } = await convert(chaptered, { cover: 'frame@2', title: 'Mine' });
    const probe = await ffprobeJson(mp3!, 'small.mp3', 'stream=codec_type,width,height:format_tags');
    expect(probe.streams[1]).toMatchObject({ codec_type: 'video', width: 64, height: 48 });
    expect(probe.format.tags).toMatchObject({ title: 'Mine' });
  });

  it('when the upload has no video, then the job fails saying so', async () => {
    const { job } = await convert(mp3Source, { cover: 'frame@1' }, 'song.mp3');
    expect(job).toMatchObject({ state: 'failed', reason: 'the file has no video to take a cover frame from' });
  });
});
