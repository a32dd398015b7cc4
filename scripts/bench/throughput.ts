/**
 * Converter throughput: N jobs of a 10-minute video through N workers (one job each) at once, against N bare
 * ffmpeg runs of the same conversion in parallel on local copies. Prints the aggregate × realtime of each,
 * per core, and their ratio; and where the CPU went while the system ran: the encoders (ffmpeg and ffprobe,
 * children of the workers), the workers themselves, the MongoDB server (FerretDB and the PostgreSQL behind
 * it, when that is what serves), and everything else on the machine.
 *
 *   bash scripts/bench.sh throughput [N] [MINUTES]     (default 2 10)
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { GridFSBucket, MongoClient, ObjectId, deleteGridFsFile } from '@mp3converter/shared/storage';
import { deleteQueues, uniqueName } from '@mp3converter/shared/testing';
import { mp3IdFor } from '../../services/converter/src/domain/mp3-id.js';
import { BENCH_INPUT, type Service, fmt, makeBenchVideo, servers, startBenchConverter } from './common.js';

const run = promisify(execFile);
const n = Number(process.argv[2] ?? 2);
const minutes = Number(process.argv[3] ?? 10);
const cores = Math.min(n, availableParallelism());
const work = await mkdtemp(join(tmpdir(), 'bench-throughput-'));
const queues = { video: uniqueName('bench_video'), mp3: uniqueName('bench_mp3'), failed: uniqueName('bench_failed') };
const mongo = new MongoClient(servers.mongoUrl);
const videos = new GridFSBucket(mongo.db('videos'));
const seconds = minutes * 60;

process.stderr.write(`generating a ${minutes}-minute video...\n`);
const source = join(work, 'source.mp4');
await makeBenchVideo(source, seconds);

const workers: Service[] = [];
const fids: string[] = [];
const conn = await amqp.connect(servers.rabbitUrl);
try {
  for (let i = 0; i < n; i++) {
    workers.push(await startBenchConverter(8110 + i, queues, work, { CONCURRENCY: '1' }));
  }
  for (let i = 0; i < n; i++) {
    const id = new ObjectId();
    await pipeline(createReadStream(source), videos.openUploadStreamWithId(id, 'bench.mp4', { metadata: { owner: 'bench@example.test' } }));
    await mongoJobStore(mongo).create({ videoFid: id.toHexString(), owner: 'bench@example.test', filename: 'bench.mp4', size: null, contentType: 'video/mp4' });
    fids.push(id.toHexString());
  }
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queues.mp3, { durable: true });
  const pending = new Set(fids);
  const done = new Promise<void>((resolve) => {
    void ch.consume(queues.mp3, (msg) => {
      if (!msg) return;
      pending.delete((JSON.parse(msg.content.toString()) as { video_fid: string }).video_fid);
      ch.ack(msg);
      if (pending.size === 0) resolve();
    });
  });
  const cpuBefore = await cpuSeconds(workers);
  const cpuFrom = performance.now();
  let t = performance.now();
  for (const fid of fids)
    ch.sendToQueue(queues.video, Buffer.from(JSON.stringify({ video_fid: fid, mp3_fid: null, username: 'bench@example.test' })), { persistent: true });
  await done;
  const systemSeconds = (performance.now() - t) / 1000;
  // Workers reap their encoders as they exit: a moment for the last one to be counted.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const cpuAfter = await cpuSeconds(workers);
  const cpuWall = (performance.now() - cpuFrom) / 1000;

  const copies = await Promise.all(fids.map(async (_, i) => copyFile(source, join(work, `copy${i}.mp4`)).then(() => join(work, `copy${i}.mp4`))));
  t = performance.now();
  await Promise.all(
    copies.map((copy, i) => run('ffmpeg', ['-v', 'error', '-i', copy, '-vn', '-c:a', 'libmp3lame', '-q:a', '2', '-y', join(work, `bare${i}.mp3`)])),
  );
  const bareSeconds = (performance.now() - t) / 1000;

  const perCore = (wall: number) => (n * seconds) / wall / cores;
  console.log(`\nthroughput: ${n} jobs of a ${minutes}-minute video at once, ${n} workers, ${cores} of ${availableParallelism()} cores`);
  console.log(`  input: ${BENCH_INPUT}`);
  console.log(`  through the system   ${fmt(systemSeconds, 2).padStart(7)} s   ${fmt(perCore(systemSeconds)).padStart(6)} x realtime per core`);
  console.log(`  bare ffmpeg runs     ${fmt(bareSeconds, 2).padStart(7)} s   ${fmt(perCore(bareSeconds)).padStart(6)} x realtime per core`);
  console.log(`  ratio                ${fmt(bareSeconds / systemSeconds, 2)} (target >= 0.9)`);
  const used = Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, v - cpuBefore[k as keyof typeof cpuAfter]]));
  const budget = cpuWall * availableParallelism();
  const share = (x: number) => `${fmt(x, 2).padStart(6)} s ${fmt((100 * x) / budget, 0).padStart(3)} %`;
  console.log(`  CPU while the system ran (${fmt(budget, 2)} core-seconds):`);
  console.log(`    ffmpeg + ffprobe    ${share(used.encoders!)}`);
  console.log(`    converter workers   ${share(used.workers!)}`);
  console.log(`    MongoDB server      ${share(used.store!)}${used.postgres ? `   (of which PostgreSQL ${fmt(used.postgres, 2)} s)` : ''}`);
  console.log(`    everything else     ${share(used.total! - used.encoders! - used.workers! - used.store!)}`);
  console.log(`    idle                ${share(budget - used.total!)}`);
} finally {
  await conn.close();
  for (const worker of workers) await worker.stop();
  for (const fid of fids) {
    await deleteGridFsFile(mongo.db('mp3s'), new ObjectId(mp3IdFor(fid))).catch(() => undefined);
    await mongo
      .db('videos')
      .collection('jobs')
      .deleteOne({ _id: new ObjectId(fid) });
  }
  await mongo.close();
  await deleteQueues(servers.rabbitUrl, ...Object.values(queues), `${queues.video}.dead`, ...[5000, 30000, 120000].map((d) => `${queues.video}.retry.${d}ms`));
  await rm(work, { recursive: true, force: true });
}
process.exit(0);

/**
 * CPU seconds so far: of the workers (their own, and their reaped children's: the encoders), of the MongoDB
 * server's processes (FerretDB, PostgreSQL, mongod), and of the whole machine, from /proc.
 */
async function cpuSeconds(of: Service[]): Promise<{ workers: number; encoders: number; store: number; postgres: number; total: number }> {
  const tick = 100; // USER_HZ
  const statOf = async (pid: number | string) => {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const name = /\((.*)\)/.exec(text)?.[1] ?? '';
    const fields = text
      .slice(text.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // utime, stime, cutime, cstime are fields 14-17 of stat, 12-15 after the name.
    return { name, own: (fields[11]! + fields[12]!) / tick, children: (fields[13]! + fields[14]!) / tick };
  };
  let workers = 0;
  let encoders = 0;
  for (const w of of) {
    const s = await statOf(w.process.pid!);
    workers += s.own;
    encoders += s.children;
  }
  let store = 0;
  let postgres = 0;
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const s = await statOf(pid);
    if (/^(ferretdb|postgres|mongod)/.test(s.name)) store += s.own;
    if (/^postgres/.test(s.name)) postgres += s.own;
  }
  const cpu = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const total = (cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!) / tick;
  return { workers, encoders, store, postgres, total };
}
