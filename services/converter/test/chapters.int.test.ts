import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ConversionOptions, encodeMessage } from '@mp3converter/shared/contracts';
import type { Job } from '@mp3converter/shared/jobs';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import type { MongoClient } from '@mp3converter/shared/storage';
import { type QueuedMessage, makeVideo, publishRaw, readGridFsFile, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmetadataLines } from '../src/adapters/ffmpeg-args.js';
import { mp3IdFor, mp3PartIdFor } from '../src/domain/mp3-id.js';
import {
  type Queues,
  type Worker,
  cleanupQueues,
  collect,
  mongoClient,
  newQueues,
  rabbitUrl,
  startWorker,
  storeVideoAsGateway,
  tmpEntries,
} from './harness.js';

const run = promisify(execFile);

/** One MP3 frame at 44.1 kHz: what a part's length may be off by, as parts hold whole frames. */
const FRAME_SECONDS = 1152 / 44100;
/**
 * The samples an MP3 decoder spends starting up (the 529 every MP3 has): the first part's are the source's
 * own, skipped in the source too; a later part starts from a frame of the middle, so a player hears its
 * first frame less these.
 */
const DECODER_DELAY_SECONDS = 529 / 44100;

/** A part's length, as a player decodes it, is its chapter's to within a frame (see DECODER_DELAY_SECONDS). */
function expectLength(decoded: number, span: number, part: number): void {
  const played = part === 0 ? decoded : decoded + DECODER_DELAY_SECONDS;
  expect(Math.abs(played - span), `part ${part + 1}: ${decoded} s for ${span} s`).toBeLessThanOrEqual(FRAME_SECONDS);
}

let dir: string;
let mongo: MongoClient;
let q: Queues;
let w: Worker;
/** Every argument list ffmpeg and ffprobe were started with, one argument a line (see the wrapper). */
let argvLog: string;

interface Chapter {
  start: number;
  end: number;
  title: string;
}

/** An ffmetadata file's text: the tags, then a section per chapter, every value escaped as the converter escapes. */
function metadataOf(tags: Record<string, string>, chapters: readonly Chapter[]): string {
  const sections = chapters.map(
    (c) => `[CHAPTER]\nTIMEBASE=1/1000\nSTART=${Math.round(c.start * 1000)}\nEND=${Math.round(c.end * 1000)}\n${ffmetadataLines({ title: c.title })}`,
  );
  return `;FFMETADATA1\n${ffmetadataLines(tags)}${sections.join('')}`;
}

async function makeSource(options: Parameters<typeof makeVideo>[0]): Promise<Buffer> {
  const made = await makeVideo(options);
  try {
    return await readFile(made.path);
  } finally {
    await made.cleanup();
  }
}

interface Part {
  fid: string;
  filename: string;
  data: Buffer;
}

/** Uploads `data` as the gateway does, asks for `options`, and waits for its job to end; its parts when done. */
async function convert(data: Buffer, options: ConversionOptions, filename = 'book.mp3'): Promise<{ job: Job; parts: Part[]; message?: QueuedMessage }> {
  const owner = uniqueEmail();
  const videoFid = await storeVideoAsGateway(mongo, data, owner, filename);
  await publishRaw(rabbitUrl(), q.video, encodeMessage({ video_fid: videoFid, mp3_fid: null, username: owner, options }));
  const job = await waitFor(
    async () => {
      const got = await mongoJobStore(mongo).get(videoFid);
      return got?.state === 'done' || got?.state === 'failed' ? got : undefined;
    },
    { timeoutMs: 170_000, what: `job ${videoFid} to end` },
  );
  if (job.state !== 'done') return { job, parts: [] };
  const [message] = await collect(q.mp3, 1);
  const files = mongo.db('mp3s').collection<{ _id: ObjectId; filename: string }>('fs.files');
  const parts: Part[] = [];
  for (const { fid } of job.mp3s) {
    const file = await files.findOne({ _id: new ObjectId(fid) });
    parts.push({ fid, filename: file!.filename, data: await readGridFsFile(mongo, 'mp3s', fid) });
  }
  return { job, parts, message };
}

async function saved(data: Buffer, name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

/** The MP3's tags and streams as ffprobe reads them. */
async function ffprobeOf(
  data: Buffer,
  name: string,
): Promise<{ tags: Record<string, string>; streams: { codec_type: string; disposition: { attached_pic: number } }[] }> {
  const path = await saved(data, name);
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format_tags:stream=codec_type:stream_disposition=attached_pic',
    '-of',
    'json',
    path,
  ]);
  const json = JSON.parse(stdout) as { format: { tags?: Record<string, string> }; streams: { codec_type: string; disposition: { attached_pic: number } }[] };
  return { tags: json.format.tags ?? {}, streams: json.streams };
}

/** Seconds of audio a player gets from the MP3: its samples, decoded (encoder delay and padding skipped). */
async function decodedSeconds(data: Buffer, name: string): Promise<number> {
  const path = await saved(data, name);
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-f', 's16le', '-ac', '1', '-ar', '44100', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 256 << 20,
  });
  return stdout.length / 2 / 44100;
}

/** The audio frames as stored (size and MD5 of each packet), without decoding. */
async function audioFrames(data: Buffer, name: string): Promise<string[]> {
  const path = await saved(data, name);
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a', '-c', 'copy', '-f', 'framemd5', 'pipe:1'], { maxBuffer: 64 << 20 });
  return stdout
    .split('\n')
    .filter((line) => /^\d/.test(line))
    .map((line) => line.split(',').slice(4, 6).join(',').trim());
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chapters-test-'));
  // ffmpeg and ffprobe behind wrappers that log every argument they are given.
  argvLog = join(dir, 'argv.log');
  const tools: Record<string, string> = {};
  for (const tool of ['ffmpeg', 'ffprobe']) {
    tools[tool] = join(dir, tool);
    await writeFile(tools[tool], `#!/bin/sh\nprintf '%s\\n' "$@" >> "${argvLog}"\nexec ${tool} "$@"\n`);
    await chmod(tools[tool], 0o755);
  }
  mongo = mongoClient();
  q = newQueues();
  w = await startWorker(q, { FFMPEG_PATH: tools.ffmpeg!, FFPROBE_PATH: tools.ffprobe!, FFMPEG_TIMEOUT_MS: '150000' });
});
afterAll(async () => {
  await w.worker.stop(1_000);
  await cleanupQueues(q);
  await mongo.close();
  await rm(dir, { recursive: true, force: true });
});

describe('split=chapters', () => {
  it('when an MP3 audiobook with chapters, tags and a cover is split, then one MP3 per chapter, its frames as they were, named, tagged, numbered, each with the cover', async () => {
    const chapters = [
      { start: 0, end: 10, title: 'One' },
      { start: 10, end: 25, title: 'Two' },
      { start: 25, end: 30, title: 'Three' },
    ];
    const source = await makeSource({
      seconds: 30,
      container: 'mp3',
      cover: true,
      metadata: metadataOf({ title: 'The Book', artist: 'The Author' }, chapters),
    });
    const { job, parts, message } = await convert(source, { split: 'chapters' });

    expect(job).toMatchObject({ state: 'done', mp3Fid: null, mp3Size: parts.reduce((n, p) => n + p.data.length, 0) });
    expect(job.mp3s.map((m) => [m.fid, m.title, m.size])).toEqual(parts.map((p, i) => [mp3PartIdFor(job.videoFid, i + 1), chapters[i]!.title, p.data.length]));
    expect(parts.map((p) => p.filename)).toEqual(['01 - One.mp3', '02 - Two.mp3', '03 - Three.mp3']);
    expect(message?.body).toMatchObject({ video_fid: job.videoFid, mp3_fid: parts[0]!.fid, mp3_fids: parts.map((p) => p.fid) });

    // Cut, not encoded: the parts' frames, one after the other, are the source's, none twice and none left out.
    const frames = await Promise.all(parts.map((p, i) => audioFrames(p.data, `frames-${i}.mp3`)));
    expect(frames.flat()).toEqual(await audioFrames(source, 'source-frames.mp3'));

    for (const [i, part] of parts.entries()) {
      const { tags, streams } = await ffprobeOf(part.data, `part-${i}.mp3`);
      expect(tags).toMatchObject({ title: chapters[i]!.title, artist: 'The Author', album: 'The Book', track: `${i + 1}/3` });
      expect(streams.filter((s) => s.codec_type === 'video').map((s) => s.disposition.attached_pic)).toEqual([1]);
      const span = chapters[i]!.end - chapters[i]!.start;
      expectLength(await decodedSeconds(part.data, `decoded-${i}.mp3`), span, i);
      // As stored, in whole frames (the first with the encoder's delay): what the job view shows.
      expect(Math.abs(job.mp3s[i]!.durationSeconds! - span)).toBeLessThanOrEqual(2 * FRAME_SECONDS);
    }
  }, 60_000);

  it('when a video’s chapters overlap, leave gaps, start late, end early or lie past its end, then its audio is encoded once and cut where each chapter starts', async () => {
    const chapters = [
      { start: 2, end: 12, title: 'A' },
      { start: 10, end: 20, title: 'B' },
      { start: 15, end: 15, title: 'a marker' },
      { start: 22, end: 28, title: 'C' },
      { start: 40, end: 50, title: 'past the end' },
    ];
    const source = await makeSource({ seconds: 30, container: 'mkv', metadata: metadataOf({ title: 'Talk' }, chapters) });
    const { job, parts } = await convert(source, { split: 'chapters', bitrate: 96 }, 'talk.mkv');

    expect(parts.map((p) => p.filename)).toEqual(['01 - A.mp3', '02 - B.mp3', '03 - C.mp3']);
    const expected = [10, 12, 8]; // [0, 10), [10, 22), [22, 30]: audio before, between and after stays with a part
    for (const [i, part] of parts.entries()) {
      expectLength(await decodedSeconds(part.data, `gapped-${i}.mp3`), expected[i]!, i);
      expect((await ffprobeOf(part.data, `gapped-tags-${i}.mp3`)).tags).toMatchObject({
        title: chapters[[0, 1, 3][i]!]!.title,
        album: 'Talk',
        track: `${i + 1}/3`,
      });
    }
    expect(job.mp3s.map((m) => m.title)).toEqual(['A', 'B', 'C']);
  }, 60_000);

  it('when only a part of the source is kept, then the parts are the chapters within it, from its start', async () => {
    const chapters = [
      { start: 0, end: 10, title: 'A' },
      { start: 10, end: 22, title: 'B' },
      { start: 22, end: 30, title: 'C' },
    ];
    const source = await makeSource({ seconds: 30, container: 'mp3', metadata: metadataOf({}, chapters) });
    const { parts } = await convert(source, { split: 'chapters', start: 5, end: 25 });
    expect(parts.map((p) => p.filename)).toEqual(['01 - A.mp3', '02 - B.mp3', '03 - C.mp3']);
    const lengths = await Promise.all(parts.map((p, i) => decodedSeconds(p.data, `trimmed-${i}.mp3`)));
    for (const [i, expected] of [5, 12, 3].entries()) expectLength(lengths[i]!, expected, i);
  }, 60_000);

  it('when chapter titles are hostile (options, paths, control characters, 10 KB, empty, repeated), then none reaches a command line and each part is named and tagged safely', async () => {
    const long = 'ж'.repeat(5_120); // 10 KB of UTF-8
    const titles = ['-i file:/etc/passwd -f mp3', '../../x', 'tab\tbell\u0007esc\u001b[31m end', long, '', 'Intro', 'intro'];
    const chapters = titles.map((title, i) => ({ start: i * 2, end: i * 2 + 2, title }));
    const source = await makeSource({ seconds: 14, container: 'mkv', metadata: metadataOf({ artist: '--help' }, chapters) });
    const before = (await readFile(argvLog, 'utf8')).length;
    const { job, parts } = await convert(source, { split: 'chapters' }, 'hostile.mkv');

    expect(parts.map((p) => p.filename)).toEqual([
      '01 - -i file__etc_passwd -f mp3.mp3',
      '02 - _._x.mp3',
      '03 - tab bell esc [31m end.mp3',
      expect.stringMatching(/^04 - ж+\.mp3$/),
      '05 - Chapter 5.mp3',
      '06 - Intro.mp3',
      '07 - intro (2).mp3',
    ]);
    expect(Buffer.byteLength(parts[3]!.filename)).toBeLessThanOrEqual(255);
    const id3Titles = ['-i file:/etc/passwd -f mp3', '../../x', 'tab bell esc [31m end', 'ж'.repeat(256), 'Chapter 5', 'Intro', 'intro (2)'];
    expect(job.mp3s.map((m) => m.title)).toEqual(id3Titles);
    for (const [i, part] of parts.entries()) {
      expect((await ffprobeOf(part.data, `hostile-${i}.mp3`)).tags).toMatchObject({ title: id3Titles[i], artist: '--help', track: `${i + 1}/7` });
    }
    const argv = (await readFile(argvLog, 'utf8')).slice(before);
    for (const text of [...titles.filter(Boolean), ...id3Titles, '--help']) expect(argv).not.toContain(text);
    expect(await tmpEntries(w.tmpDir)).toEqual([]);
  }, 60_000);

  it('when a source lists more than 999 chapters, then 999 MP3s are made, the last running to the end', async () => {
    const chapters = Array.from({ length: 1_010 }, (_, i) => ({ start: i * 0.25, end: (i + 1) * 0.25, title: `Track ${i + 1}` }));
    const source = await makeSource({ seconds: 252.5, container: 'mp3', metadata: metadataOf({ album: 'Many' }, chapters) });
    const { job, parts, message } = await convert(source, { split: 'chapters' });

    expect(job.state).toBe('done');
    expect(parts).toHaveLength(999);
    expect(parts[0]!.filename).toBe('001 - Track 1.mp3');
    expect(parts[998]!.filename).toBe('999 - Track 999.mp3');
    expect(message?.body.mp3_fids).toHaveLength(999);
    for (const i of [0, 1, 500, 997]) expectLength(await decodedSeconds(parts[i]!.data, `many-${i}.mp3`), 0.25, i);
    expectLength(await decodedSeconds(parts[998]!.data, 'many-998.mp3'), 252.5 - 998 * 0.25, 998);
    expect((await ffprobeOf(parts[998]!.data, 'many-last.mp3')).tags).toMatchObject({ title: 'Track 999', album: 'Many', track: '999/999' });
  }, 180_000);

  it('when a source without chapters is split, then it becomes one MP3, as without the option', async () => {
    const source = await makeSource({ seconds: 5, container: 'mp3' });
    const { job, parts } = await convert(source, { split: 'chapters' }, 'plain.mp3');
    expect(job).toMatchObject({ state: 'done', mp3Fid: mp3IdFor(job.videoFid) });
    expect(parts.map((p) => p.filename)).toEqual(['plain.mp3']);
  }, 60_000);
});
