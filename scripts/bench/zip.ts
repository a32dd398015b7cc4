/**
 * ZIP download benchmark: FILES done jobs whose MP3s make SIZE_MIB in all (random bytes, as MP3 does not
 * compress), stored in GridFS, then downloaded as one ZIP through GET /download.zip from a gateway process
 * of their own, against a raw GridFS read of the same files. Prints throughput, the gateway's peak RSS
 * before and after, the cost of resuming the ZIP half-way (Range with If-Range), and what `unzip -t` and
 * Python's `zipfile` say of the ZIP written to disk.
 *
 *   bash scripts/bench.sh zip [SIZE_MIB] [FILES]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { jobsCollection, mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { GridFSBucket, MongoClient, ObjectId, deleteGridFsFile } from '@mp3converter/shared/storage';
import { uniqueName } from '@mp3converter/shared/testing';
import { BENCH_GATEWAY, BENCH_USER, benchToken, endBench, fmt, mib, pgLookups, servers, startBenchAuth, startBenchGateway } from './common.js';

const sizeMiB = Number(process.argv[2] ?? 2048);
const files = Number(process.argv[3] ?? 16);
const run = promisify(execFile);
const work = await mkdtemp(join(tmpdir(), 'bench-zip-'));
const videoQueue = uniqueName('bench_video');
const mongo = new MongoClient(servers.mongoUrl);
const mp3s = new GridFSBucket(mongo.db('mp3s'));
const jobs: { videoFid: string; mp3Fid: ObjectId }[] = [];

/** `mib` MiB of fresh random bytes, a MiB at a time. */
async function* randomMiB(count: number) {
  for (let i = 0; i < count; i++) yield randomBytes(1024 * 1024);
}

const auth = await startBenchAuth();
const gateway = await startBenchGateway(videoQueue);
try {
  // The MP3s and their done jobs, as the converter leaves them.
  const perFile = Math.floor(sizeMiB / files);
  let t = performance.now();
  for (let i = 0; i < files; i++) {
    const mp3Fid = new ObjectId();
    await pipeline(Readable.from(randomMiB(perFile)), mp3s.openUploadStreamWithId(mp3Fid, `part ${i}.mp3`, { metadata: { owner: BENCH_USER.email } }));
    const videoFid = new ObjectId().toHexString();
    await mongoJobStore(mongo).create({ videoFid, owner: BENCH_USER.email, filename: `part ${i}.mp4`, size: null, contentType: 'video/mp4' });
    await jobsCollection(mongo).updateOne(
      { _id: new ObjectId(videoFid) },
      { $set: { state: 'done', mp3_fid: mp3Fid.toHexString(), mp3_size: perFile * 1024 * 1024, finished_at: new Date() } },
    );
    jobs.push({ videoFid, mp3Fid });
  }
  console.log(`stored ${files} MP3s of ${perFile} MiB in ${fmt((performance.now() - t) / 1000)} s`);
  // FerretDB on PostgreSQL: the chunk lookups by file from an index, as start.sh sets them up.
  await pgLookups('mp3s', 'fs.chunks', 'files_id,n');
  await pgLookups('mp3s', 'fs.files', '_id');

  const token = await benchToken(BENCH_GATEWAY);
  const url = `${BENCH_GATEWAY}/download.zip?${jobs.map((j) => `fid=${j.videoFid}`).join('&')}`;
  const headers = { authorization: `Bearer ${token}` };
  const before = await gateway.peakRssMiB();

  // The ZIP through the gateway, to disk as a browser would save it.
  const zipPath = join(work, 'mp3s.zip');
  t = performance.now();
  const res = await fetch(url, { headers });
  if (res.status !== 200) throw new Error(`GET /download.zip answered ${res.status}: ${await res.text()}`);
  const etag = res.headers.get('etag')!;
  const size = Number(res.headers.get('content-length'));
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(zipPath));
  const zipSeconds = (performance.now() - t) / 1000;
  const peak = await gateway.peakRssMiB();

  // The same files read straight from GridFS: the floor the gateway is compared with.
  t = performance.now();
  let raw = 0;
  for (const job of jobs) for await (const chunk of mp3s.openDownloadStream(job.mp3Fid)) raw += (chunk as Buffer).length;
  const rawSeconds = (performance.now() - t) / 1000;

  // A download cut half-way, resumed on the same ETag: the CRCs of what came before are remembered.
  const half = Math.floor(size / 2);
  t = performance.now();
  const resumed = await fetch(url, { headers: { ...headers, range: `bytes=${half}-`, 'if-range': etag } });
  const reader = resumed.body!.getReader();
  await reader.read();
  const firstByteMs = performance.now() - t;
  let rest = 0;
  for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value.length;
  const resumeSeconds = (performance.now() - t) / 1000;
  const peakAfterResume = await gateway.peakRssMiB();

  t = performance.now();
  const unzip = await run('unzip', ['-tqq', zipPath]).then(
    (r) => `${r.stdout}${r.stderr}`.trim() || 'no errors',
    (err: { stdout: string; stderr: string }) => `${err.stdout}${err.stderr}`.trim(),
  );
  const python = await run('python3', ['-m', 'zipfile', '-t', zipPath]).then(
    (r) => r.stdout.trim().split('\n').at(-1),
    (err: { stderr: string }) => err.stderr.trim(),
  );
  const sevenZip = await run('7zz', ['t', zipPath], { maxBuffer: 1 << 26 }).then(
    (r) => (/Everything is Ok/.test(r.stdout) ? 'Everything is Ok' : r.stdout.trim().split('\n').at(-1)),
    (err: { code?: string; stdout?: string }) => (err.code === 'ENOENT' ? 'not installed' : `${err.stdout ?? ''}`.trim().split('\n').at(-1)),
  );
  const checkSeconds = (performance.now() - t) / 1000;

  console.log(`\nZIP of ${files} MP3s, ${fmt(mib(size), 0)} MiB (${resumed.status} for the resumed half)`);
  console.log(`  gateway GET /download.zip  ${fmt(zipSeconds, 2)} s   ${fmt(mib(size) / zipSeconds)} MiB/s`);
  console.log(`  raw GridFS read            ${fmt(rawSeconds, 2)} s   ${fmt(mib(raw) / rawSeconds)} MiB/s`);
  console.log(`  throughput ratio           ${fmt((rawSeconds / zipSeconds) * 100, 0)} % of the raw read`);
  console.log(`  gateway peak RSS           ${fmt(peak)} MiB (${fmt(before)} MiB before the download; ${fmt(peakAfterResume)} MiB after the resume)`);
  console.log(
    `  resumed from ${fmt(mib(half), 0)} MiB       first byte after ${fmt(firstByteMs, 0)} ms, ${fmt(mib(rest + 1), 0)} MiB in ${fmt(resumeSeconds, 2)} s`,
  );
  console.log(`  unzip -t: ${unzip}; python3 -m zipfile -t: ${python}; 7zz t: ${sevenZip} (${fmt(checkSeconds, 1)} s)`);
  console.log(
    `  load average ${loadavg()
      .map((l) => fmt(l, 2))
      .join(' ')} (2 cores)`,
  );
} finally {
  for (const job of jobs) {
    await deleteGridFsFile(mongo.db('mp3s'), job.mp3Fid);
    await jobsCollection(mongo).deleteOne({ _id: new ObjectId(job.videoFid) });
  }
  await endBench([gateway, auth], mongo, videoQueue, work);
}
process.exit(0);
