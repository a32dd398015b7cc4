import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ObjectId } from 'mongodb';
import type { MongoClient } from '@mp3converter/shared/storage';
import { TcpProxy, makeVideo, readGridFsFile, uniqueEmail, waitFor } from '@mp3converter/shared/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { xingLength, firstFrameOffset } from '../src/adapters/mp3-header.js';
import { mp3IdFor } from '../src/domain/mp3-id.js';
import { type Queues, type Worker, cleanupQueues, collect, mongoClient, newQueues, publishVideo, startWorker, storeVideoAsGateway } from './harness.js';

const run = promisify(execFile);

let mongo: MongoClient;
let proxy: TcpProxy;
let q: Queues;
let w: Worker;
/** Five minutes of video made for the web (index first), and its twin with the index at the end, same packets. */
let fastStart: Buffer;
let indexLast: Buffer;
/** Two minutes with cover art of some 700 kB: the MP3's header (ID3v2 tag, then the VBR frame) spans chunks. */
let bigCover: Buffer;
let dir: string;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  mongo = mongoClient();
  const made = await makeVideo({ seconds: 300 });
  cleanups.push(made.cleanup);
  const twin = join(dirname(made.path), 'index-last.mp4');
  await run('ffmpeg', ['-v', 'error', '-i', made.path, '-map', '0', '-c', 'copy', '-y', twin]);
  dir = dirname(made.path);
  const covered = join(dir, 'cover.mp4');
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5:duration=120', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=120'],
    ...['-f', 'lavfi', '-i', 'color=c=gray:size=800x800:duration=1,noise=alls=100:allf=t'],
    ...['-map', '0:v', '-map', '1:a', '-map', '2:v', '-frames:v:1', '1', '-c:v:0', 'libx264', '-c:v:1', 'mjpeg', '-q:v:1', '1'],
    ...['-disposition:v:1', 'attached_pic', '-c:a', 'aac', '-movflags', '+faststart', '-y', covered],
  ]);
  [fastStart, indexLast, bigCover] = await Promise.all([readFile(made.path), readFile(twin), readFile(covered)]);
  // The worker reaches MongoDB through a proxy that can slow the video's copy down to a trickle.
  const mongoUrl = new URL(inject('servers').mongoUrl);
  proxy = await new TcpProxy(mongoUrl.hostname, Number(mongoUrl.port || 27017)).start();
  mongoUrl.host = `127.0.0.1:${proxy.port}`;
  q = newQueues();
  w = await startWorker(q, { MONGODB_URI: mongoUrl.toString() });
});
afterAll(async () => {
  await w.worker.stop(1_000);
  await proxy.stop();
  await cleanupQueues(q);
  await mongo.close();
  for (const c of cleanups) await c();
});

/**
 * Converts `video` and returns its MP3, the worker's `conversion done` line for it, and whether chunks of
 * the MP3 were seen stored while it was not there yet (no files document).
 */
async function convert(video: Buffer) {
  const owner = uniqueEmail();
  const fid = await storeVideoAsGateway(mongo, video, owner);
  const id = new ObjectId(mp3IdFor(fid));
  const db = mongo.db('mp3s');
  let storedEarly = false;
  let watching = true;
  const watch = (async () => {
    while (watching && !storedEarly) {
      const [chunk, file] = await Promise.all([db.collection('fs.chunks').findOne({ files_id: id }), db.collection('fs.files').findOne({ _id: id })]);
      storedEarly = chunk !== null && file === null;
      if (file) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  await publishVideo(q.video, fid, owner);
  await collect(q.mp3, 1, 60_000);
  watching = false;
  await watch;
  const done = () => w.lines().find((l) => l.videoFid === fid && l.msg === 'conversion done');
  await waitFor(() => done() !== undefined, { what: 'the conversion to be logged' });
  const line = done() as { fed: boolean; ms: Record<string, number> };
  return { fid, mp3: await readGridFsFile(mongo, 'mp3s', mp3IdFor(fid)), line, storedEarly };
}

describe('reading, encoding and storing at once', () => {
  it('when a video made for the web arrives slowly, then it is encoded as it is copied and stored as it is encoded, to the very MP3 its whole copy gives', async () => {
    const reference = await convert(indexLast);
    expect(reference.line.fed).toBe(false);

    // About 4 s to copy the video, which comes in three reads: the encoder starts after the first.
    proxy.pace(Math.ceil(fastStart.length / 4));
    let streamed: Awaited<ReturnType<typeof convert>>;
    try {
      streamed = await convert(fastStart);
    } finally {
      proxy.pace(0);
    }
    expect(streamed.line.fed).toBe(true);
    expect(streamed.line.ms.probe! + 1000).toBeLessThan(streamed.line.ms.copy!);
    expect(streamed.storedEarly).toBe(true);
    expect(streamed.mp3.length).toBeGreaterThan(2 * 255 * 1024);

    // Byte for byte, its VBR header included (written last, over the first chunk already stored).
    expect(streamed.mp3.length).toBe(reference.mp3.length);
    expect(streamed.mp3.equals(reference.mp3)).toBe(true);
    const length = xingLength(streamed.mp3.subarray(firstFrameOffset(streamed.mp3)!));
    expect(length!.durationSeconds).toBeCloseTo(300, 0);

    const chunks = await mongo
      .db('mp3s')
      .collection('fs.chunks')
      .find({ files_id: new ObjectId(mp3IdFor(streamed.fid)) }, { projection: { n: 1 } })
      .toArray();
    expect(chunks.map((c) => c.n).sort((a, b) => a - b)).toEqual([...Array(Math.ceil(streamed.mp3.length / (255 * 1024))).keys()]);
  });

  it('when the cover art is larger than a chunk, then the header the encoder writes last is stored where it belongs', async () => {
    const { mp3 } = await convert(bigCover);
    const frameAt = firstFrameOffset(mp3)!;
    expect(frameAt).toBeGreaterThan(2 * 255 * 1024);
    expect(xingLength(mp3.subarray(frameAt))!.durationSeconds).toBeCloseTo(120, 0);
    // The picture's bytes, as the MP3 carries them and as the video did (its third stream).
    const cover = async (data: Buffer, name: string, stream: string) => {
      await writeFile(join(dir, name), data);
      const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', join(dir, name), '-map', stream, '-c', 'copy', '-f', 'md5', '-']);
      return stdout.trim();
    };
    expect(await cover(mp3, 'covered.mp3', '0:v')).toBe(await cover(bigCover, 'source.mp4', '0:2'));
  });
});
