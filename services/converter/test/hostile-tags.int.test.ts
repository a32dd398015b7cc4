import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MongoClient } from '@mp3converter/shared/storage';
import { id3TaggedMp3, optionInjectionTags } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Queues, type Worker, cleanupQueues, convertToEnd, mongoClient, newQueues, startWorker } from './harness.js';

const run = promisify(execFile);

let dir: string;
let mongo: MongoClient;
let q: Queues;
let w: Worker;
/** Loopback connections an upload made the converter open. */
let listener: net.Server;
let connections = 0;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function ffprobeJson(data: Buffer, name: string): Promise<any> {
  const path = join(dir, name);
  await writeFile(path, data);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format_tags:stream=codec_type,codec_name', '-of', 'json', path]);
  return JSON.parse(stdout);
}

/** Uploads `data` as an MP3 with `options`, waits for its job to end, and returns the job and its MP3 (when done). */
const convert = (data: Buffer, options?: Record<string, unknown>) => convertToEnd(mongo, q.video, data, { options, filename: 'song.mp3', timeoutMs: 30_000 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-tags-'));
  listener = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  mongo = mongoClient();
  q = newQueues();
  w = await startWorker(q);
});
afterAll(async () => {
  await w.worker.stop(1_000);
  await cleanupQueues(q);
  await mongo.close();
  listener.close();
  await rm(dir, { recursive: true, force: true });
});

describe('uploads whose tag names are ffmpeg options', () => {
  it('when the tag names would read a local file into a picture, then the MP3 holds one audio stream and no picture, its title kept', async () => {
    const secret = join(dir, 'secret.txt');
    await writeFile(secret, 'a local file no upload may read\n');
    const tags = optionInjectionTags.readFile(secret);
    const upload = await id3TaggedMp3(tags);
    // The hostile names are in the upload as made, exactly.
    expect(Object.keys((await ffprobeJson(upload, 'upload-read.mp3')).format.tags)).toEqual(expect.arrayContaining(tags.map(([k]) => k)));

    const { job, mp3 } = await convert(upload);

    expect(job.state).toBe('done');
    const probe = await ffprobeJson(mp3!, 'read.mp3');
    expect(probe.streams.map((s: any) => s.codec_type)).toEqual(['audio']);
    expect(probe.format.tags).toEqual({ title: 'Hostile' });
  });

  it('when the tag names would have ffmpeg write a file of the uploader’s choosing, then no such file appears', async () => {
    const target = join(dir, 'written-by-an-upload');
    const upload = await id3TaggedMp3(optionInjectionTags.progressTo(target));

    const { job, mp3 } = await convert(upload);

    expect(['done', 'failed']).toContain(job.state);
    expect(await exists(target)).toBe(false);
    expect(await exists(`${target}=`)).toBe(false);
    if (mp3) expect((await ffprobeJson(mp3, 'write.mp3')).streams.map((s: any) => s.codec_type)).toEqual(['audio']);
  });

  it('when the tag names would add an output file of the uploader’s naming, then no such file appears', async () => {
    const target = join(dir, 'extra-output.mp3');
    const upload = await id3TaggedMp3(optionInjectionTags.extraOutput(target));

    const { job, mp3 } = await convert(upload);

    expect(['done', 'failed']).toContain(job.state);
    expect(await exists(target)).toBe(false);
    if (mp3) expect((await ffprobeJson(mp3, 'extra.mp3')).streams.map((s: any) => s.codec_type)).toEqual(['audio']);
  });

  it('when the tag names would have ffmpeg connect to a URL, then no connection is attempted', async () => {
    const { port } = listener.address() as net.AddressInfo;
    const upload = await id3TaggedMp3(optionInjectionTags.progressTo(`tcp://127.0.0.1:${port}/x`));

    const { job, mp3 } = await convert(upload);

    expect(['done', 'failed']).toContain(job.state);
    expect(connections).toBe(0);
    if (mp3) expect((await ffprobeJson(mp3, 'connect.mp3')).streams.map((s: any) => s.codec_type)).toEqual(['audio']);
  });
});

describe('titles, artists and albums given by the uploader', () => {
  it('when they are shaped like ffmpeg options, files, URLs and ffmetadata syntax, then the MP3 holds them exactly, and nothing else happens', async () => {
    const { port } = listener.address() as net.AddressInfo;
    const target = join(dir, 'written-by-a-title.mp3');
    const given = {
      title: `-y -f mp3 file:${target}`,
      artist: `-progress tcp://127.0.0.1:${port}/x -i /etc/passwd`,
      album: ';FFMETADATA1 [CHAPTER] title=x; #not a comment \\',
    };
    const upload = await id3TaggedMp3([['title', 'Source title']]);

    const { job, mp3 } = await convert(upload, given);

    expect(job.state).toBe('done');
    expect((await ffprobeJson(mp3!, 'user-tags.mp3')).format.tags).toEqual(given);
    expect(await exists(target)).toBe(false);
    expect(connections).toBe(0);
  });

  it('when one holds a line break or is too long (the gateway refuses both), then a message carrying it fails its job, naming the field', async () => {
    const { job } = await convert(await id3TaggedMp3([['title', 'T']]), { title: 'two\nlines', album: 'x'.repeat(100_000) });
    expect(job.state).toBe('failed');
    expect(job.reason).toMatch(/^invalid output options: title: no control characters .*; album: at most 256 characters$/);
  });
});
