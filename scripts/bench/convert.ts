/**
 * Converter benchmark: for generated videos of 1, 10 and 60 minutes, the time from publishing the `video`
 * message to receiving the `mp3` message, next to the unavoidable work done bare in the same run, one step
 * after the other (reading the video out of GridFS, a plain ffmpeg on a local copy, writing the MP3 into
 * GridFS), their ratio, and the worker's peak RSS after each size. Each size runs twice: as an MP4 made for
 * the web (index first, which the converter reads while it copies it) and with the index at the end
 * (ffmpeg's and most cameras' default, which must be whole before ffmpeg can start). Same packets in both.
 *
 *   bash scripts/bench.sh convert [MINUTES...]
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { GridFSBucket, MongoClient, ObjectId, deleteGridFsFile } from '@mp3converter/shared/storage';
import { deleteQueues, uniqueName } from '@mp3converter/shared/testing';
import { BENCH_INPUT, fmt, makeBenchVideo, mib, servers, startBenchConverter } from './common.js';

const run = promisify(execFile);
const minutes = process.argv.slice(2).map(Number);
const sizes = minutes.length > 0 ? minutes : [1, 10, 60];
const work = await mkdtemp(join(tmpdir(), 'bench-convert-'));
const queues = { video: uniqueName('bench_video'), mp3: uniqueName('bench_mp3'), failed: uniqueName('bench_failed') };
const mongo = new MongoClient(servers.mongoUrl);
const videos = new GridFSBucket(mongo.db('videos'));
const mp3s = new GridFSBucket(mongo.db('mp3s'));

async function store(path: string, owner: string): Promise<string> {
  const id = new ObjectId();
  await pipeline(createReadStream(path), videos.openUploadStreamWithId(id, `bench.mp4`, { metadata: { owner } }));
  await mongoJobStore(mongo).create({ videoFid: id.toHexString(), owner, filename: 'bench.mp4', size: null, contentType: 'video/mp4' });
  return id.toHexString();
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

// The bare run reads the same video after the job: the worker must not remove it meanwhile.
const worker = await startBenchConverter(8098, queues, work, { KEEP_VIDEOS: 'true' });
const conn = await amqp.connect(servers.rabbitUrl);
const ch = await conn.createConfirmChannel();
await ch.assertQueue(queues.mp3, { durable: true });
const arrivals = new Map<string, (value: string) => void>();
await ch.consume(queues.mp3, (msg) => {
  if (!msg) return;
  const body = JSON.parse(msg.content.toString()) as { video_fid: string; mp3_fid: string };
  arrivals.get(body.video_fid)?.(body.mp3_fid);
  ch.ack(msg);
});

/** Runs of each short video: their medians are the figures, as one run of a short job is mostly noise. */
const runsOf = (mins: number) => (mins <= 1 ? 5 : 1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: string[] = [];
try {
  // A first job pays once for what every later one reuses (indexes made, code compiled): not measured.
  process.stderr.write('warming the worker up with a 30-second video...\n');
  const warmUp = await makeBenchVideo(join(work, 'warm-up.mp4'), 30);
  await measure(warmUp);
  for (const mins of sizes) {
    process.stderr.write(`generating a ${mins}-minute video...\n`);
    const indexLast = await makeBenchVideo(join(work, `${mins}min.mp4`), mins * 60);
    const indexFirst = join(work, `${mins}min-faststart.mp4`);
    await run('ffmpeg', ['-v', 'error', '-i', indexLast, '-map', '0', '-c', 'copy', '-movflags', '+faststart', '-y', indexFirst]);
    const layouts = [
      { layout: 'index first', path: indexFirst, runs: [] as Run[] },
      { layout: 'index last', path: indexLast, runs: [] as Run[] },
    ];
    for (let i = 0; i < runsOf(mins); i++) for (const l of layouts) l.runs.push(await measure(l.path));
    for (const { layout, path, runs } of layouts) {
      const bytes = (await stat(path)).size;
      const m = (pick: (r: Run) => number) => median(runs.map(pick));
      const bare = (r: Run) => r.read + r.ffmpeg + r.write;
      const row = [
        `${String(mins).padStart(4)} min  ${layout.padEnd(11)}  ${String(runs.length).padStart(4)}  ${fmt(mib(bytes), 0).padStart(6)} MiB`,
        `${fmt(
          m((r) => r.pipeline),
          2,
        ).padStart(8)} s`,
        `${fmt(
          m((r) => r.read),
          2,
        ).padStart(6)} + ${fmt(
          m((r) => r.ffmpeg),
          2,
        ).padStart(7)} + ${fmt(
          m((r) => r.write),
          2,
        ).padStart(5)} =`,
        `${fmt(m(bare), 2).padStart(7)} s`,
        fmt(
          m((r) => r.pipeline / bare(r)),
          2,
        ).padStart(5),
        `${fmt(Math.max(...runs.map((r) => r.peak))).padStart(7)} MiB`,
      ].join('  ');
      rows.push(row);
      process.stderr.write(`${row}\n`);
      await rm(path, { force: true });
    }
  }
  console.log('\nconverter: video message -> mp3 message, against the bare work (read + ffmpeg + write)');
  console.log(`  input: ${BENCH_INPUT}`);
  console.log('  size      layout       runs     video    pipeline    read +  ffmpeg + write =     bare   ratio  peak RSS  (medians)');
  for (const row of rows) console.log(`  ${row}`);
  console.log('  targets: ratio <= 0.9 on the 60-minute file made for the web, <= 1.15 on the 1-minute one; peak RSS flat, under 200 MB');
} finally {
  await conn.close();
  await worker.stop();
  await mongo.close();
  await deleteQueues(
    servers.rabbitUrl,
    queues.video,
    queues.mp3,
    queues.failed,
    `${queues.video}.dead`,
    ...[5000, 30000, 120000].map((d) => `${queues.video}.retry.${d}ms`),
  );
  await rm(work, { recursive: true, force: true });
}
process.exit(0);

/** One run's figures, in seconds (peak RSS of the worker so far in MiB). */
interface Run {
  pipeline: number;
  read: number;
  ffmpeg: number;
  write: number;
  peak: number;
}

/** One video through the system, then the same work bare. */
async function measure(path: string): Promise<Run> {
  // Through the system: video message in, mp3 message out.
  const fid = await store(path, 'bench@example.test');
  const arrived = new Promise<string>((resolve) => arrivals.set(fid, resolve));
  let t = performance.now();
  ch.sendToQueue(queues.video, Buffer.from(JSON.stringify({ video_fid: fid, mp3_fid: null, username: 'bench@example.test' })), { persistent: true });
  const mp3Fid = await arrived;
  const pipelineSeconds = seconds(t);
  const peak = await worker.peakRssMiB();

  // The same work bare.
  t = performance.now();
  await pipeline(videos.openDownloadStream(new ObjectId(fid)), createWriteStream(join(work, 'copy.mp4')));
  const readSeconds = seconds(t);
  t = performance.now();
  await run('ffmpeg', ['-v', 'error', '-i', join(work, 'copy.mp4'), '-vn', '-c:a', 'libmp3lame', '-q:a', '2', '-y', join(work, 'bare.mp3')]);
  const ffmpegSeconds = seconds(t);
  t = performance.now();
  const bareId = new ObjectId();
  await pipeline(createReadStream(join(work, 'bare.mp3')), mp3s.openUploadStreamWithId(bareId, 'bare.mp3'));
  const writeSeconds = seconds(t);

  await deleteGridFsFile(mongo.db('videos'), new ObjectId(fid));
  await deleteGridFsFile(mongo.db('mp3s'), new ObjectId(mp3Fid));
  await deleteGridFsFile(mongo.db('mp3s'), bareId);
  await mongo
    .db('videos')
    .collection('jobs')
    .deleteOne({ _id: new ObjectId(fid) });
  return { pipeline: pipelineSeconds, read: readSeconds, ffmpeg: ffmpegSeconds, write: writeSeconds, peak };
}
