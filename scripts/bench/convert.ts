/**
 * Converter benchmark: for generated videos of 1, 10 and 60 minutes, the time from publishing the `video`
 * message to receiving the `mp3` message, next to the unavoidable work done bare in the same run, one step
 * after the other (reading the video out of GridFS, a plain ffmpeg on a local copy, writing the MP3 into
 * GridFS), their ratio, and the worker's peak RSS after each size. Each size runs twice: as an MP4 made for
 * the web (index first, which the converter reads while it copies it) and with the index at the end
 * (ffmpeg's and most cameras' default, which must be whole before ffmpeg can start). Same packets in both.
 *
 * Then `split=chapters` on a 60-minute MP3 audiobook: its parts are cut from its frames, not encoded (see
 * benchSplit). Then the audio options (`audio`): a 10-minute cut from a 3-hour video against the 10-minute
 * video whole, and even loudness against a plain encode of the same 10-minute video, as the converter's ffmpeg
 * runs on a local copy (wall and CPU time, medians of three) and through the system (medians of three, with
 * how much of each video the worker read out of GridFS: a late cut reads only what ffmpeg seeks to).
 *
 *   bash scripts/bench.sh convert [MINUTES...]     the sizes, then the split and the audio options
 *   bash scripts/bench.sh convert split            the split alone
 *   bash scripts/bench.sh convert audio            the audio options alone
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';

import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import type { ConversionOptions } from '@mp3converter/shared/contracts';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { GridFSBucket, MongoClient, ObjectId, deleteGridFsFile } from '@mp3converter/shared/storage';
import { deleteQueues, uniqueName } from '@mp3converter/shared/testing';
import { FfmpegTranscoder } from '../../services/converter/src/adapters/ffmpeg.transcoder.js';
import { planEncoding } from '../../services/converter/src/domain/encoding-plan.js';
import { levelled } from '../../services/converter/src/domain/loudness.js';
import { mediaLimits } from '../../services/converter/src/domain/media-limits.js';
import { BENCH_INPUT, fmt, makeBenchVideo, mib, pgLookups, servers, startBenchConverter } from './common.js';

const run = promisify(execFile);
const args = process.argv.slice(2);
// `split` or `audio` alone: only the split by chapters (see benchSplit), only the audio options.
const only = args.includes('split') || args.includes('audio');
const minutes = args.filter((a) => a !== 'audio' && a !== 'split').map(Number);
const sizes = minutes.length > 0 ? minutes : only ? [] : [1, 10, 60];
const splitBench = !only || args.includes('split');
const audioOptions = !only || args.includes('audio');
const work = await mkdtemp(join(tmpdir(), 'bench-convert-'));
const queues = { video: uniqueName('bench_video'), mp3: uniqueName('bench_mp3'), failed: uniqueName('bench_failed') };
const mongo = new MongoClient(servers.mongoUrl);
const videos = new GridFSBucket(mongo.db('videos'));
const mp3s = new GridFSBucket(mongo.db('mp3s'));

async function store(path: string, owner: string): Promise<string> {
  const id = new ObjectId();
  await pipeline(createReadStream(path), videos.openUploadStreamWithId(id, `bench.mp4`, { metadata: { owner } }));
  await mongoJobStore(mongo).create({ videoFid: id.toHexString(), owner, filename: 'bench.mp4', size: null, contentType: 'video/mp4' });
  // On FerretDB over PostgreSQL, the chunks found by file and number from an index, as start.sh has it.
  if (!chunksIndexed) {
    await pgLookups('videos', 'fs.chunks', 'files_id,n');
    chunksIndexed = true;
  }
  return id.toHexString();
}
let chunksIndexed = false;

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** A loopback port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// The bare run reads the same video after the job: the worker must not remove it meanwhile. Its probes on a
// free port: another benchmark may run on the same machine.
const workerPort = await freePort();
// Range reads (a late cut reads only what ffmpeg asks for), as the converter's default: each chunk found by
// file and number, from MongoDB's index, or on FerretDB over PostgreSQL from the index start.sh (and `store`
// above) makes. RANGE_READS=false measures the whole copy instead.
const rangeReads = process.env.RANGE_READS ?? 'true';
const worker = await startBenchConverter(workerPort, queues, work, { KEEP_VIDEOS: 'true', RANGE_READS: rangeReads });

/** Bytes of videos the worker read out of GridFS so far, served by ranges and copied (its metrics). */
async function videoBytesRead(): Promise<{ served: number; copied: number }> {
  const text = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text();
  const of = (how: string) => Number(new RegExp(`^converter_video_read_bytes_total\\{how="${how}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { served: of('served'), copied: of('copied') };
}
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
  if (rows.length > 0) {
    console.log('\nconverter: video message -> mp3 message, against the bare work (read + ffmpeg + write)');
    console.log(`  input: ${BENCH_INPUT}`);
    console.log('  size      layout       runs     video    pipeline    read +  ffmpeg + write =     bare   ratio  peak RSS  (medians)');
    for (const row of rows) console.log(`  ${row}`);
    console.log('  targets: ratio <= 0.9 on the 60-minute file made for the web, <= 1.15 on the 1-minute one; peak RSS flat, under 200 MB');
  }
  if (audioOptions) await benchAudioOptions();
  if (splitBench) await benchSplit();
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

/** One video through the system, with `options`: seconds from the video message to the mp3 message, and the MP3's id. */
async function throughSystem(path: string, options?: Record<string, unknown>): Promise<{ fid: string; mp3Fid: string; seconds: number }> {
  const fid = await store(path, 'bench@example.test');
  const arrived = new Promise<string>((resolve) => arrivals.set(fid, resolve));
  const t = performance.now();
  const message = { video_fid: fid, mp3_fid: null, username: 'bench@example.test', ...(options ? { options } : {}) };
  ch.sendToQueue(queues.video, Buffer.from(JSON.stringify(message)), { persistent: true });
  const mp3Fid = await arrived;
  return { fid, mp3Fid, seconds: seconds(t) };
}

/** Removes a job's video, MP3 and record. */
async function removeJob(fid: string, mp3Fid: string): Promise<void> {
  await deleteGridFsFile(mongo.db('videos'), new ObjectId(fid));
  await deleteGridFsFile(mongo.db('mp3s'), new ObjectId(mp3Fid));
  await mongo
    .db('videos')
    .collection('jobs')
    .deleteOne({ _id: new ObjectId(fid) });
}

/** One video through the system, then the same work bare. */
async function measure(path: string): Promise<Run> {
  // Through the system: video message in, mp3 message out.
  const { fid, mp3Fid, seconds: pipelineSeconds } = await throughSystem(path);
  let t: number;
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

  await removeJob(fid, mp3Fid);
  await deleteGridFsFile(mongo.db('mp3s'), bareId);
  return { pipeline: pipelineSeconds, read: readSeconds, ffmpeg: ffmpegSeconds, write: writeSeconds, peak };
}

/** Of a process: CPU seconds of the children it reaped (ffmpeg, ffprobe), from /proc (cutime + cstime). */
async function childCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const { stdout } = await run('getconf', ['CLK_TCK']);
  return (Number(fields[13]) + Number(fields[14])) / Number(stdout);
}

/**
 * `split=chapters` on a 60-minute MP3 audiobook (mono, 64 kbit/s, 30 chapters, a cover): the time from the
 * `video` message to the `mp3` message (reading the book out of GridFS, probing it, cutting 30 parts, storing
 * them), and the CPU the worker's ffmpeg and ffprobe runs took, each as × realtime; next to the same work
 * bare (reading the book out of GridFS, one `ffmpeg -c copy` of the whole file, writing that into GridFS).
 * Target: the cutting at 1,000x realtime or more.
 */
async function benchSplit(): Promise<void> {
  const minutes = 60;
  const chapters = 30;
  process.stderr.write(`generating a ${minutes}-minute MP3 audiobook with ${chapters} chapters...\n`);
  const book = join(work, 'book.mp3');
  const metadata = join(work, 'book.ffmetadata');
  const step = (minutes * 60_000) / chapters;
  const sections = Array.from({ length: chapters }, (_, i) => `[CHAPTER]\nTIMEBASE=1/1000\nSTART=${i * step}\nEND=${(i + 1) * step}\ntitle=Chapter ${i + 1}\n`);
  await writeFile(metadata, `;FFMETADATA1\ntitle=The Book\nartist=The Author\n${sections.join('')}`);
  await run('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', `anoisesrc=color=pink:sample_rate=44100:amplitude=0.2:duration=${minutes * 60}`],
    ...['-f', 'lavfi', '-i', 'color=c=red:size=300x300:duration=1', '-f', 'ffmetadata', '-i', metadata],
    ...['-map', '0:a', '-map', '1:v', '-frames:v', '1', '-c:v', 'mjpeg', '-disposition:v', 'attached_pic', '-map_metadata', '2', '-map_chapters', '2'],
    ...['-c:a', 'libmp3lame', '-b:a', '64k', '-id3v2_version', '3', '-y', book],
  ]);
  const bytes = (await stat(book)).size;
  const owner = 'bench@example.test';
  const fid = await store(book, owner);
  const cpuBefore = await childCpuSeconds(worker.process.pid!);
  const arrived = new Promise<string>((resolve) => arrivals.set(fid, resolve));
  const t0 = performance.now();
  ch.sendToQueue(queues.video, Buffer.from(JSON.stringify({ video_fid: fid, mp3_fid: null, username: owner, options: { split: 'chapters' } })), {
    persistent: true,
  });
  await arrived;
  const pipelineSeconds = seconds(t0);
  const cpu = (await childCpuSeconds(worker.process.pid!)) - cpuBefore;
  // The `mp3` message goes out just before the job is marked done.
  let job = await mongoJobStore(mongo).get(fid);
  for (let i = 0; i < 100 && job?.state !== 'done'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    job = await mongoJobStore(mongo).get(fid);
  }
  // The same work bare, one step after the other: read the book out of GridFS, copy its audio whole with one
  // ffmpeg, write that into GridFS.
  let t = performance.now();
  await pipeline(videos.openDownloadStream(new ObjectId(fid)), createWriteStream(join(work, 'book-copy.mp3')));
  const readSeconds = seconds(t);
  t = performance.now();
  await run('ffmpeg', ['-v', 'error', '-i', join(work, 'book-copy.mp3'), '-map', '0:a', '-c', 'copy', '-f', 'mp3', '-y', join(work, 'bare-copy.mp3')]);
  const copySeconds = seconds(t);
  t = performance.now();
  const bareId = new ObjectId();
  await pipeline(createReadStream(join(work, 'bare-copy.mp3')), mp3s.openUploadStreamWithId(bareId, 'bare.mp3'));
  const writeSeconds = seconds(t);
  await deleteGridFsFile(mongo.db('mp3s'), bareId);
  const bareSeconds = readSeconds + copySeconds + writeSeconds;

  for (const m of job?.mp3s ?? []) await deleteGridFsFile(mongo.db('mp3s'), new ObjectId(m.fid));
  await deleteGridFsFile(mongo.db('videos'), new ObjectId(fid));
  await mongo
    .db('videos')
    .collection('jobs')
    .deleteOne({ _id: new ObjectId(fid) });

  const realtime = (s: number) => `${fmt((minutes * 60) / s, 0)}x`;
  console.log(
    `\nsplit=chapters: a ${minutes}-minute MP3 audiobook (mono, 64 kb/s, ${fmt(mib(bytes), 1)} MiB, ${chapters} chapters, a cover), cut, not encoded`,
  );
  console.log(`  parts made                          ${job?.mp3s.length ?? 0}`);
  console.log(`  video message -> mp3 message        ${fmt(pipelineSeconds, 2).padStart(6)} s   ${realtime(pipelineSeconds).padStart(7)} realtime`);
  console.log(`  ffmpeg + ffprobe CPU in the worker  ${fmt(cpu, 2).padStart(6)} s   ${realtime(cpu).padStart(7)} realtime`);
  console.log(
    `  bare: read + ffmpeg -c copy + write ${fmt(bareSeconds, 2).padStart(6)} s   ${realtime(bareSeconds).padStart(7)} realtime` +
      `  (${fmt(readSeconds, 2)} + ${fmt(copySeconds, 2)} + ${fmt(writeSeconds, 2)} s); pipeline / bare ${fmt(pipelineSeconds / bareSeconds, 2)}`,
  );
  console.log('  target: the cutting (ffmpeg CPU) at >= 1000x realtime');
}

/** Wall and CPU seconds of `work`, which runs ffmpeg; the median of three runs of each. */
async function timed(work: () => Promise<void>, runs = 3): Promise<{ wall: number; cpu: number }> {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const cpu0 = await childCpuSeconds(process.pid);
    const t = performance.now();
    await work();
    walls.push(seconds(t));
    cpus.push((await childCpuSeconds(process.pid)) - cpu0);
  }
  return { wall: median(walls), cpu: median(cpus) };
}

/**
 * The audio options' costs: a 10-minute cut from a 3-hour video (18 copies of the 10-minute one, joined
 * without re-encoding) against the 10-minute video whole, and even loudness (measure, then encode with the
 * gain) against a plain encode of the 10-minute video: the converter's own ffmpeg runs on a local copy,
 * then the same jobs through the system (which adds reading the video out of GridFS and storing the MP3).
 */
async function benchAudioOptions(): Promise<void> {
  const transcoder = new FfmpegTranscoder({
    ffmpegPath: 'ffmpeg',
    ffprobePath: 'ffprobe',
    timeoutMs: 3_600_000,
    probeTimeoutMs: 60_000,
    limits: mediaLimits(4 * 3600),
  });
  const signal = new AbortController().signal;
  const defaults = { vbrQuality: 2 };
  const loadAtStart = loadavg();
  process.stderr.write('audio options: generating a 10-minute video and a 3-hour one made of 18 copies of it...\n');
  const tenMinutes = await makeBenchVideo(join(work, 'audio-10min.mp4'), 600);
  await writeFile(join(work, 'copies.txt'), `${'file audio-10min.mp4\n'.repeat(18)}`);
  const threeHours = join(work, 'audio-3h.mp4');
  await run('ffmpeg', ['-v', 'error', '-f', 'concat', '-safe', '0', '-i', join(work, 'copies.txt'), '-c', 'copy', '-y', threeHours]);
  const out = join(work, 'audio-options.mp3');
  const encode = async (path: string, options: ConversionOptions) => {
    const source = await transcoder.probe({ path }, signal);
    let plan = planEncoding(options, source, defaults);
    if (plan.loudness) plan = levelled(plan, await transcoder.measureLoudness({ path }, plan, signal), source.channels);
    await transcoder.toMp3({ path }, out, plan, signal);
  };
  const cut = { start: 5400, end: 6000 };
  const loud = { loudness: -16 };
  process.stderr.write("audio options: the converter's ffmpeg runs, three of each...\n");
  const plain = await timed(() => encode(tenMinutes, {}));
  const trimmed = await timed(() => encode(threeHours, cut));
  // What the cut would cost decoding up to its start (a seek after the input, as `-ss` after `-i`), once.
  const decodedUpTo = await timed(
    () =>
      run('ffmpeg', ['-v', 'error', '-i', threeHours, '-ss', '5400', '-t', '600', '-vn', '-c:a', 'libmp3lame', '-q:a', '2', '-y', out]).then(() => undefined),
    1,
  );
  const withLoudness = await timed(() => encode(tenMinutes, loud));
  // Through the system, message to message: the GridFS read, ffprobe, ffmpeg and storing the MP3. With range
  // reads the cut reads only what ffmpeg asks for; the whole 10 minutes are copied as they stream.
  process.stderr.write('audio options: the same jobs through the system, three of each...\n');
  const system: Record<string, number> = {};
  const read: Record<string, { served: number; copied: number }> = {};
  for (const [name, path, options] of [
    ['plain', tenMinutes, undefined],
    ['cut', threeHours, cut],
    ['loudness', tenMinutes, loud],
  ] as const) {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = await videoBytesRead();
      const job = await throughSystem(path, options);
      runs.push(job.seconds);
      const after = await videoBytesRead();
      read[name] = { served: after.served - before.served, copied: after.copied - before.copied };
      await removeJob(job.fid, job.mp3Fid);
    }
    system[name] = median(runs);
  }
  const mb = async (path: string) => fmt(mib((await stat(path)).size), 0);
  const row = (what: string, t: { wall: number; cpu: number }, pipeline: number | undefined, ratioOf?: { wall: number; cpu: number }, pipelineOf?: number) =>
    [
      `  ${what.padEnd(44)}`,
      `${fmt(t.wall, 2).padStart(7)} s`,
      `${fmt(t.cpu, 2).padStart(7)} s`,
      ratioOf ? `${fmt(t.wall / ratioOf.wall, 2).padStart(5)} ${fmt(t.cpu / ratioOf.cpu, 2).padStart(5)}` : '    -     -',
      pipeline === undefined ? '' : `${fmt(pipeline, 2).padStart(8)} s`,
      pipeline !== undefined && pipelineOf !== undefined ? fmt(pipeline / pipelineOf, 2).padStart(6) : '',
    ].join('  ');
  console.log("\naudio options: the converter's ffmpeg runs on a local copy (medians of 3), and the job through the system");
  console.log(`  input: ${BENCH_INPUT}; 10 min: ${await mb(tenMinutes)} MiB, 3 h (18 copies, joined): ${await mb(threeHours)} MiB`);
  console.log('  job                                              ffmpeg      CPU   ratio wall/CPU   system  ratio');
  console.log(row('10-minute video, whole', plain, system.plain));
  console.log(row('3-hour video, 1:30:00 to 1:40:00 (input seek)', trimmed, system.cut, plain, system.plain));
  console.log(row('  the same cut decoding up to it (one run)', decodedUpTo, undefined, plain));
  console.log(row('10-minute video, loudness -16 LUFS', withLoudness, system.loudness, plain, system.plain));
  const readOf = (name: string, path: string) =>
    stat(path).then(
      ({ size }) =>
        `${fmt(mib(read[name]!.served + read[name]!.copied), 1)} of ${fmt(mib(size), 1)} MiB (${fmt(mib(read[name]!.served), 1)} served by ranges, ${fmt(mib(read[name]!.copied), 1)} copied)`,
    );
  console.log('  targets: the cut <= 1.2x the whole 10 minutes; loudness <= 1.5x the plain encode (the ffmpeg columns);');
  console.log(
    `  end to end (system, medians of 3, GridFS read included) the cut is ${fmt(system.cut! / system.plain!, 2)}x the whole 10 minutes (target <= 1.2x)`,
  );
  console.log(
    `  range reads: ${rangeReads} (RANGE_READS); read out of GridFS per job: the cut ${await readOf('cut', threeHours)}; the 10 minutes ${await readOf('plain', tenMinutes)}`,
  );
  const load = (l: number[]) => l.map((x) => fmt(x, 1)).join(', ');
  console.log(`  load average (1, 5, 15 min): ${load(loadAtStart)} at the start, ${load(loadavg())} at the end (2 cores)`);
  await rm(threeHours, { force: true });
}
