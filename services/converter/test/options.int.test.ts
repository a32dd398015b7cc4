import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { type MongoClient, ObjectId } from '@mp3converter/shared/storage';
import { readGridFsFile, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { encodeMessage } from '@mp3converter/shared/contracts';
import { publishRaw } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mp3IdFor } from '../src/domain/mp3-id.js';
import { type Queues, type Worker, cleanupQueues, collect, mongoClient, newQueues, rabbitUrl, startWorker, storeVideoAsGateway } from './harness.js';

const run = promisify(execFile);
let dir: string;
let mongo: MongoClient;
let q: Queues;
let w: Worker;
let tagged: Buffer; // an MP4 with tags, container junk, two chapters and a cover picture
let mp3Source: Buffer; // an MP3 upload with tags

async function ffprobeJson(data: Buffer, name: string): Promise<any> {
  const path = join(dir, name);
  await writeFile(path, data);
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format=bit_rate:format_tags:stream=index,codec_type,codec_name,sample_rate,channels,bit_rate:stream_disposition=attached_pic:chapter=start_time:chapter_tags=title',
    '-of',
    'json',
    path,
  ]);
  return JSON.parse(stdout);
}

/** The MD5 of the audio packets as stored, without decoding: equal for bit-identical frames. */
async function audioPacketsMd5(data: Buffer, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-c', 'copy', '-f', 'md5', '-']);
  return stdout.trim();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'options-test-'));
  const src = join(dir, 'src.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5:duration=6', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=6'],
    ...['-f', 'lavfi', '-i', 'color=red:size=100x100:duration=1'],
    ...[
      '-map',
      '0:v',
      '-map',
      '1:a',
      '-map',
      '2:v',
      '-frames:v:1',
      '1',
      '-c:v:0',
      'libx264',
      '-c:v:1',
      'mjpeg',
      '-disposition:v:1',
      'attached_pic',
      '-c:a',
      'aac',
    ],
    ...['-metadata', 'title=Tïtle', '-metadata', 'artist=Artist', '-metadata', 'album=Album', '-metadata', 'date=2024', '-metadata', 'comment=junk'],
    ...['-movflags', '+faststart', '-y', src],
  ]);
  await writeFile(
    join(dir, 'chapters.txt'),
    ';FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=3000\ntitle=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=3000\nEND=6000\ntitle=Two\n',
  );
  await run('ffmpeg', [
    '-v',
    'error',
    '-i',
    src,
    '-i',
    join(dir, 'chapters.txt'),
    '-map',
    '0',
    '-map_metadata',
    '0',
    '-map_chapters',
    '1',
    '-c',
    'copy',
    '-y',
    join(dir, 'tagged.mp4'),
  ]);
  tagged = await readFile(join(dir, 'tagged.mp4'));
  await run('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=330:duration=5',
    '-c:a',
    'libmp3lame',
    '-q:a',
    '4',
    '-metadata',
    'title=Song',
    '-y',
    join(dir, 'song.mp3'),
  ]);
  mp3Source = await readFile(join(dir, 'song.mp3'));
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

/** Stores the video as the gateway does, sends its message with `options`, and returns its MP3's bytes. */
async function convert(data: Buffer, options?: Record<string, unknown>, name = 'clip.mp4'): Promise<{ fid: string; mp3: Buffer }> {
  const owner = uniqueEmail();
  const fid = await storeVideoAsGateway(mongo, data, owner, name);
  await publishRaw(rabbitUrl(), q.video, encodeMessage({ video_fid: fid, mp3_fid: null, username: owner, ...(options ? { options } : {}) }));
  await collect(q.mp3, 1);
  return { fid, mp3: await readGridFsFile(mongo, 'mp3s', mp3IdFor(fid)) };
}

/** Waits until the video's files document is gone (a job that ended drops its video in the background). */
const videoGone = (fid: string, what: string) =>
  waitFor(
    async () =>
      (await mongo
        .db('videos')
        .collection('fs.files')
        .countDocuments({ _id: new ObjectId(fid) })) === 0,
    { what },
  );

describe('output options', () => {
  it('when a bitrate, a sample rate and mono are asked, then the MP3 is CBR at them', async () => {
    const { mp3 } = await convert(tagged, { bitrate: 64, sample_rate: 32000, channels: 1 });
    const probe = await ffprobeJson(mp3, 'cbr.mp3');
    const audio = probe.streams.find((s: any) => s.codec_type === 'audio');
    expect(audio).toMatchObject({ codec_name: 'mp3', sample_rate: '32000', channels: 1, bit_rate: '64000' });
  });

  it('when a VBR quality is asked, then a lower one gives a smaller MP3 than the default', async () => {
    const small = await convert(tagged, { quality: 9 });
    const normal = await convert(tagged);
    expect(small.mp3.length).toBeLessThan(normal.mp3.length);
  });

  it('when nothing is asked, then title, artist, album, date, chapters and the cover are kept as ID3v2.3, and container junk is not', async () => {
    const { fid, mp3 } = await convert(tagged);
    expect(mp3.subarray(0, 4).toString('latin1')).toBe('ID3\x03');
    const probe = await ffprobeJson(mp3, 'tags.mp3');
    expect(probe.format.tags).toEqual({ title: 'Tïtle', artist: 'Artist', album: 'Album', date: '2024' });
    expect(probe.chapters.map((c: any) => c.tags.title)).toEqual(['One', 'Two']);
    expect(probe.streams.map((s: any) => [s.codec_type, s.codec_name, s.disposition.attached_pic])).toEqual([
      ['audio', 'mp3', 0],
      ['video', 'mjpeg', 1],
    ]);
    // The mp3 message goes out before the job is marked done.
    await waitFor(async () => (await mongoJobStore(mongo).get(fid))?.state === 'done', { what: 'the job to be done' });
    expect(await mongoJobStore(mongo).get(fid)).toMatchObject({ state: 'done', mp3Size: mp3.length, expiresAt: expect.any(Date) });
  });

  it('when tags are dropped, then the MP3 has no tags, no chapters and no cover', async () => {
    const { mp3 } = await convert(tagged, { tags: 'drop' });
    const probe = await ffprobeJson(mp3, 'bare.mp3');
    expect(probe.format.tags ?? {}).toEqual({});
    expect(probe.chapters).toEqual([]);
    expect(probe.streams.map((s: any) => s.codec_type)).toEqual(['audio']);
  });

  it('when the upload is an MP3 and nothing asks for a change, then its audio is copied: the frames are bit-identical', async () => {
    const { mp3 } = await convert(mp3Source, undefined, 'song.mp3');
    expect(await audioPacketsMd5(mp3, 'copied.mp3')).toBe(await audioPacketsMd5(mp3Source, 'source.mp3'));
    expect((await ffprobeJson(mp3, 'copied-tags.mp3')).format.tags).toEqual({ title: 'Song' });
    const reencoded = await convert(mp3Source, { quality: 7 }, 'song.mp3');
    expect(await audioPacketsMd5(reencoded.mp3, 're.mp3')).not.toBe(await audioPacketsMd5(mp3Source, 'source2.mp3'));
  });

  it('when the message carries options the converter refuses, then the job fails naming each problem, and the user is told', async () => {
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, tagged, owner);
    await publishRaw(
      rabbitUrl(),
      q.video,
      encodeMessage({ video_fid: fid, mp3_fid: null, username: owner, options: { bitrate: 100, channels: 5, loud: true } }),
    );
    const [notice] = await collect(q.failed, 1);
    expect(notice!.body.reason).toMatch(/^invalid output options: .*bitrate.*channels.*loud/);
    expect(await mongoJobStore(mongo).get(fid)).toMatchObject({ state: 'failed' });
  });

  it('when a job fails because its file cannot be converted, then its video is removed too', async () => {
    const owner = uniqueEmail();
    const fid = await storeVideoAsGateway(mongo, Buffer.from('not a video at all, only text'), owner, 'junk.mp4');
    await publishRaw(rabbitUrl(), q.video, encodeMessage({ video_fid: fid, mp3_fid: null, username: owner }));
    const [notice] = await collect(q.failed, 1);
    expect(notice!.body.video_fid).toBe(fid);
    expect(await mongoJobStore(mongo).get(fid)).toMatchObject({ state: 'failed' });
    await videoGone(fid, 'the failed job’s video to go');
  });

  it('when a job is done, then its video is removed', async () => {
    const { fid } = await convert(tagged);
    await videoGone(fid, 'the video to go');
  });
});
